"""First-hitting steps of target precisions, tracked on the device without host syncs.

The best-so-far gap is monotone, so the first step at which target ``t_j`` is reached is the
first step at which the gap was at or below ``t_j``. The tracker keeps one column per target,
ordered tight -> loose (``ascending``), plus a last column that collects "none reached".
``searchsorted(ascending, gap)`` is the number of targets tighter than the gap, which is
exactly the column of the tightest target reached (or the last column when none is); the
step number is written there the first time, and a forward cumulative minimum afterwards
(`TargetTracker.hits`) fills in the looser targets passed in the same step as a tighter one.

Each step's values reach the table in one of three ways, whichever the step's device and mode
make cheapest; one tracker is used the same way throughout a run:

- ``"sparse"`` (eager, CPU; `update`): each step's values are copied into a window of W
  steps (``[W, R]``, W = 64 in 32 MB at most) that is resolved when it is full (or the hits
  are read): only the rows whose value crossed their next target inside the window are
  searched and written. Each row keeps the float just above its next target,
  ``u = nextafter(t, inf)``, so ``u > value`` exactly where ``value <= t``; a row's hits
  inside the window are where the column it reached (``searchsorted``) falls from one step
  to the next. The window is resolved in NumPy, on views of the tensors: between compiled
  steps torch's eager ops cost 5 to 15 us each at R = 10^4 on the 2-core machine whatever
  their size, NumPy's 1 to 10 (the first touch of a step's output is the dearest). On the
  CPU reading back costs no synchronisation.
- ``"scatter"`` (eager, CUDA; `update`): ``searchsorted`` and a ``scatter_reduce`` with
  ``amin`` on every row, which keeps the first write; no row list, so no host
  synchronisation.
- ``"held"`` (compiled; `hold` inside the step, `note` after it): the step writes its
  values into their window slot, ``(k - 1) mod W``, a store along R that inductor
  vectorises (the slot is one number for all rows), and the host resolves full windows as
  above (on CUDA by a scatter of the whole window, with no host read). The compiled step
  used to compare with all T targets and store one table element per row at every step
  (inductor writes such an indexed store lane by lane): 10 to 13 us of a 76 us Adam step
  at R = 10^4 on the 2-core machine, against about 4 this way (docs/PERFORMANCE.md).
"""

from __future__ import annotations

import math

import numpy as np
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
        window: int | None = None,
        holds: bool = True,
    ):
        """``window``: steps held before they are resolved (default: 64, fewer where 64
        steps of values would pass 32 MB); ``holds=False``: no step will `hold` values, so
        off the CPU (where `update` scatters) no window is allocated."""
        self.targets = sorted(targets, reverse=True)  # loose -> tight
        if dtype not in (torch.float32, torch.float64):  # NumPy has no bfloat16: compare wider
            dtype = torch.float32
        self.ascending = torch.tensor(self.targets[::-1], device=device, dtype=dtype)
        count = len(self.targets)
        self.first = torch.full((rows, count + 1), NEVER, device=device, dtype=torch.int32)
        self._count = count
        self.sparse = device.type == "cpu"
        # just above the loosest target a row has not reached (-inf once it reached all)
        left = torch.cat([self.ascending.new_full((1,), -math.inf), self.ascending])
        self._above_left = torch.nextafter(left, left.new_full((), math.inf))
        self._above_next = self._above_left[count].repeat(rows)
        size = torch.finfo(dtype).bits // 8
        self._window = window or max(1, min(64, 2**25 // max(1, rows * size)))
        slots = self._window if self.sparse or holds else 0
        self._held = torch.empty((slots, rows), device=device, dtype=dtype)
        self._held_steps: list[int] = []

    def reset(self) -> None:
        """Forget every hit (after warm-up steps)."""
        self.first.fill_(NEVER)
        self._above_next.fill_(self._above_left[self._count])
        self._held_steps.clear()

    def update(self, value: Tensor, step: Tensor) -> None:
        """Record that at `step` (a 0-d int32 tensor) the rows' monotone `value` (``[R]``)
        was reached (eager steps).

        ``searchsorted(..., right=False)`` counts the targets strictly below the value: a
        value equal to a target reaches it, as ``value <= target`` says.
        """
        if self.sparse:
            self._held[len(self._held_steps)].copy_(value)
            self.note(int(step))
        else:
            column = torch.searchsorted(self.ascending, value.unsqueeze(-1))
            self.first.scatter_reduce_(1, column, step.expand(column.shape), reduce="amin")

    def hold(self, value: Tensor, step: Tensor) -> None:
        """Write `value`, reached at `step` (a 0-d int32 tensor, from 1), into its window
        slot, ``(step - 1) mod W``, with no host read (inside a compiled step); `note`
        must follow with the same step."""
        slot = torch.remainder(step - 1, self._window).view(1).to(torch.int64)
        self._held.index_copy_(0, slot, value.unsqueeze(0).to(self._held.dtype))

    def note(self, step: int) -> None:
        """The host's side of `hold` and `update`: `step`'s values are in the window, which
        is resolved when it is full."""
        self._held_steps.append(step)
        if len(self._held_steps) == self._window:
            self._resolve()

    def _resolve(self) -> None:
        """Write the held steps' first hits and empty the window."""
        if not self._held_steps:
            return
        n = len(self._held_steps)
        if not self.sparse:  # the scatter way, the whole window at once
            column = torch.searchsorted(self.ascending, self._held[:n].T.contiguous())  # [R, n]
            first = self._held_steps[0]
            assert self._held_steps == list(range(first, first + n))  # the held way's steps
            steps = torch.arange(first, first + n, device=column.device, dtype=torch.int32)
            self.first.scatter_reduce_(1, column, steps.expand(column.shape), reduce="amin")
        else:  # in NumPy, on views of the CPU tensors: a few us an op where torch's take 10
            self._crossed(self._held.numpy()[:n])
        self._held_steps.clear()

    def _crossed(self, held: np.ndarray) -> None:
        """Write the first hits inside the window `held` (``[n, R]``) of the rows that
        crossed their next target there, and move their next target on."""
        above_next, above_left = self._above_next.numpy(), self._above_left.numpy()
        rows = np.flatnonzero(above_next > held[-1])  # exactly where value <= next target
        if not rows.size:
            return
        ascending, first = self.ascending.numpy(), self.first.numpy()
        # ``side="left"`` counts the targets strictly below a value: the column it reached
        column = np.searchsorted(ascending, held[:, rows])  # [n, m], falling down each column
        # the column each row had reached before the window: its next target's index
        before = np.searchsorted(above_left, above_next[rows])
        # a step hits a target where the tightest column reached falls below the last one
        last = np.concatenate([before[None], column[:-1]])
        step, row = np.nonzero(column < last)
        first[rows[row], column[step, row]] = np.asarray(self._held_steps, np.int32)[step]
        above_next[rows] = above_left[column[-1]]

    def hits(self) -> Tensor:
        """``[R, T]`` first-hit steps (``-1`` where never reached), targets loose -> tight.

        Computed in place, column by column (a cumulative minimum from tight to loose), so
        that a million rows need no ``[R, T]`` temporaries; the tracker is spent afterwards.
        """
        self._resolve()
        first = self.first[:, : self._count]
        for j in range(1, self._count):
            torch.minimum(first[:, j], first[:, j - 1], out=first[:, j])
        return first.masked_fill_(first == NEVER, -1).flip(-1)
