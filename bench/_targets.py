"""First-hitting steps of target precisions, tracked on the device without host syncs.

The best-so-far gap is monotone, so the first step at which target ``t_j`` is reached is the
first step at which the gap was at or below ``t_j``. The tracker keeps one column per target,
ordered tight -> loose (``ascending``), plus a last column that collects "none reached". Each
step, ``searchsorted(ascending, gap)`` is the number of targets tighter than the gap, which is
exactly the column of the tightest target reached (or the last column when none is), and a
``scatter_reduce`` with ``amin`` writes the step number there, keeping the first write. A
forward cumulative minimum afterwards fills in the looser targets passed in the same step as
a tighter one. That costs two ``[R]``-sized ops per step instead of an ``[R, T]`` comparison.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

__all__ = ["TargetTracker"]

NEVER = torch.iinfo(torch.int32).max  # steps are counted in int32: 2^31 - 1 at most


class TargetTracker:
    """Tracks, per row, the first step at which ``value <= target`` for each target."""

    def __init__(
        self,
        targets: list[float],
        rows: int,
        device: torch.device,
        dtype: torch.dtype,
        *,
        column_major: bool = False,
    ):
        """``column_major=True`` stores the ``[R, T + 1]`` table as ``[T + 1, R]`` in memory,
        the layout of the compiled step (`bench._engine`), whose kernels run along R."""
        self.targets = sorted(targets, reverse=True)  # loose -> tight
        self.ascending = torch.tensor(self.targets[::-1], device=device, dtype=dtype)
        self.padded = torch.cat([self.ascending, self.ascending.new_full((1,), -math.inf)])
        count = len(self.targets)
        shape = (count + 1, rows) if column_major else (rows, count + 1)
        first = torch.full(shape, NEVER, device=device, dtype=torch.int32)
        self.first = first.T if column_major else first
        self._count = count

    def reset(self) -> None:
        """Forget every hit (after warm-up steps)."""
        self.first.fill_(NEVER)

    def update(self, value: Tensor, step: Tensor, *, elementwise: bool = False) -> None:
        """Record that at `step` (an int32 tensor broadcastable to ``[R, 1]``, e.g. 0-d) the
        rows' monotone `value` (``[R]``) was reached.

        ``searchsorted(..., right=False)`` counts the targets strictly below the value: a
        value equal to a target reaches it, as ``value <= target`` says.

        ``elementwise=True`` computes the same table as one ``[R, T]`` comparison
        (``first = min(first, step where value <= target)``), which `torch.compile` fuses
        into the step's kernel; eagerly it would be T times the memory traffic, and
        ``searchsorted`` and ``scatter_reduce`` are library calls the compiler cannot fuse.
        """
        if elementwise:  # the whole table (the last column never reached), in place
            reached = value.unsqueeze(-1) <= self.padded
            now = torch.where(reached, step, NEVER).to(torch.int32)
            self.first.copy_(torch.minimum(self.first, now))
            return
        column = torch.searchsorted(self.ascending, value.unsqueeze(-1))
        self.first.scatter_reduce_(1, column, step.expand(column.shape), reduce="amin")

    def hits(self) -> Tensor:
        """``[R, T]`` first-hit steps (``-1`` where never reached), targets loose -> tight.

        Computed in place, column by column (a cumulative minimum from tight to loose), so
        that a million rows need no ``[R, T]`` temporaries; the tracker is spent afterwards.
        """
        first = self.first[:, : self._count]
        for j in range(1, self._count):
            torch.minimum(first[:, j], first[:, j - 1], out=first[:, j])
        return first.masked_fill_(first == NEVER, -1).flip(-1)
