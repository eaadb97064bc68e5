"""First-hitting steps of target precisions, tracked on the device without host syncs.

The best-so-far gap is monotone, so the first step at which target ``t_j`` (sorted from
loose to tight) is reached is the smallest step at which the *number* of reached targets
was at least ``j + 1``. Each step writes its step number into the column of the tightest
target reached (``scatter_reduce`` with ``amin`` keeps the first write); a reverse cumulative
minimum afterwards fills in the targets that were passed in the same step as a tighter one.
That costs a few ``[R]``-sized ops per step instead of an ``[R, T]`` comparison.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["TargetTracker"]

NEVER = torch.iinfo(torch.int32).max  # steps are counted in int32: 2^31 - 1 at most


class TargetTracker:
    """Tracks, per row, the first step at which ``value <= target`` for each target."""

    def __init__(self, targets: list[float], rows: int, device: torch.device, dtype: torch.dtype):
        self.targets = sorted(targets, reverse=True)  # loose -> tight
        self.ascending = torch.tensor(self.targets[::-1], device=device, dtype=dtype)
        count = len(self.targets)
        self.first = torch.full((rows, count + 1), NEVER, device=device, dtype=torch.int32)
        self._count = count

    def update(self, value: Tensor, step: Tensor) -> None:
        """Record that at `step` (``[R, 1]`` int32) the rows' monotone `value` was reached."""
        below = torch.searchsorted(self.ascending, value.contiguous().unsqueeze(-1), right=False)
        reached = self._count - below.squeeze(-1)  # how many targets value <= t
        column = torch.where(reached > 0, reached - 1, self._count).unsqueeze(-1)
        self.first.scatter_reduce_(1, column, step, reduce="amin")

    def hits(self) -> Tensor:
        """``[R, T]`` first-hit steps (``-1`` where never reached), targets loose -> tight.

        Computed in place, column by column (a reverse cumulative minimum), so that a million
        rows need no ``[R, T]`` temporaries; the tracker is spent afterwards.
        """
        first = self.first[:, : self._count]
        for j in range(self._count - 2, -1, -1):
            torch.minimum(first[:, j], first[:, j + 1], out=first[:, j])
        return first.masked_fill_(first == NEVER, -1)
