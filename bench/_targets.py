"""First-hitting steps of target precisions, tracked on the device without host syncs.

The best-so-far gap is monotone, so the first step at which target ``t_j`` is reached is the
first step at which the gap was at or below ``t_j``. The tracker keeps one column per target,
ordered tight -> loose (``ascending``), plus a last column that collects "none reached".
``searchsorted(ascending, gap)`` is the number of targets tighter than the gap, which is
exactly the column of the tightest target reached (or the last column when none is); the
step number is written there the first time, and a forward cumulative minimum afterwards
(`TargetTracker.hits`) fills in the looser targets passed in the same step as a tighter one.

Each step writes the table in one of three ways, whichever the step's device and mode make
cheapest; one tracker is updated the same way throughout a run:

- ``"sparse"`` (eager, CPU): each step's values are kept in a window of W steps
  (``[W, R]``, at most 4 MB) and resolved when it is full (or the hits are read): only the
  rows whose value crossed their next target inside the window are searched and written.
  Each row keeps the float just above its next target, ``u = nextafter(t, inf)``, so
  ``margin = u - value`` is positive exactly where ``value <= t`` (IEEE subtraction keeps
  the sign of the comparison); ``max(margin)``, read on the host, says whether any row
  crossed, and ``nonzero(clamp(margin, 0))`` which; a row's hits inside the window are
  where the column it reached (``searchsorted``) falls from one step to the next. Per step
  that is one copy; per window about a dozen ops. Eager ops cost 2 to 15 us each at
  R = 10^4 whatever their size (``nonzero`` 8 to 12), and rows cross targets on most steps
  of a run (80 % of them at R = 10^4 and 10 targets), so resolving every step cost 45 us
  of a 410 us Adam step there (docs/PERFORMANCE.md). On the CPU reading back costs no
  synchronisation.
- ``"scatter"`` (eager, CUDA): ``searchsorted`` and a ``scatter_reduce`` with ``amin`` on
  every row, which keeps the first write; no row list, so no host synchronisation.
- ``"fused"`` (compiled): elementwise ops inductor fuses into the step's kernel (below).
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
        window: int | None = None,
    ):
        """``column_major=True`` stores the ``[R, T + 1]`` table as ``[T + 1, R]`` in memory,
        the layout of the compiled step (`bench._engine`), whose kernels run along R.
        ``window``: steps the sparse way holds before resolving them (default: 32, fewer
        where 32 rows of values would pass 4 MB)."""
        self.targets = sorted(targets, reverse=True)  # loose -> tight
        self.ascending = torch.tensor(self.targets[::-1], device=device, dtype=dtype)
        count = len(self.targets)
        shape = (count + 1, rows) if column_major else (rows, count + 1)
        self._table = torch.full(shape, NEVER, device=device, dtype=torch.int32)
        self.first = self._table.T if column_major else self._table  # [R, T + 1]
        self._count = count
        self.sparse = device.type == "cpu"
        # sparse: just above the loosest target a row has not reached (-inf once it reached all)
        left = torch.cat([self.ascending.new_full((1,), -math.inf), self.ascending])
        self._above_left = torch.nextafter(left, left.new_full((), math.inf))
        self._above_next = self._above_left[count].repeat(rows)
        size = torch.finfo(dtype).bits // 8
        self._window = window or max(1, min(32, 2**22 // max(1, rows * size)))
        self._held = torch.empty((self._window, rows), device=device, dtype=dtype)
        self._held_steps: list[int] = []
        # fused: how many targets each row has reached
        self._reached = torch.zeros(rows, device=device, dtype=torch.int32)

    def reset(self) -> None:
        """Forget every hit (after warm-up steps)."""
        self.first.fill_(NEVER)
        self._above_next.fill_(self._above_left[self._count])
        self._held_steps.clear()
        self._reached.zero_()

    def update(self, value: Tensor, step: Tensor, *, fused: bool = False) -> None:
        """Record that at `step` (a 0-d int32 tensor) the rows' monotone `value` (``[R]``)
        was reached.

        ``searchsorted(..., right=False)`` counts the targets strictly below the value: a
        value equal to a target reaches it, as ``value <= target`` says.

        ``fused=True`` (the compiled step; rows column-major) uses ops `torch.compile` fuses
        into the step's kernel, where ``searchsorted``, ``nonzero`` and ``scatter_reduce``
        are library calls it cannot fuse: the count of targets reached,
        ``sum_j [value <= t_j]``, is compared with the count the previous update left; a
        row whose count grew writes `step` into the column of its tightest target reached,
        every other row into the "none reached" column, which `hits` ignores. Per row and
        step that is one int32 count read and written and one table element written, where
        reading and writing the whole ``[T + 1]`` table row (``first = min(first, step
        where value <= t)``) cost the compiled step at R = 10^4 more than the Adam update.
        """
        if fused:
            self._update_fused(value, step)
        elif self.sparse:
            self._update_sparse(value, step)
        else:
            column = torch.searchsorted(self.ascending, value.unsqueeze(-1))
            self.first.scatter_reduce_(1, column, step.expand(column.shape), reduce="amin")

    def _update_sparse(self, value: Tensor, step: Tensor) -> None:
        self._held[len(self._held_steps)].copy_(value)
        self._held_steps.append(int(step))
        if len(self._held_steps) == self._window:
            self._resolve()

    def _resolve(self) -> None:
        """Write the held steps' first hits (the sparse way's window) and empty the window."""
        if not self._held_steps:
            return
        held = self._held[: len(self._held_steps)]
        margin = torch.sub(self._above_next, held[-1])  # > 0 exactly where value <= next
        if margin.amax().item() > 0:  # NaN (never: values are best gaps) would pass too
            rows = margin.clamp_(min=0).nonzero().view(-1)
            values = held.index_select(1, rows)  # [W, n], monotone down each column
            column = torch.searchsorted(self.ascending, values)  # [W, n]
            # the column each row had reached before the window: its next target's index
            before = torch.searchsorted(self._above_left, self._above_next.index_select(0, rows))
            # a step hits a target where the tightest column reached falls below the last one
            last = torch.cat([before.unsqueeze(0), column[:-1]])
            hit = column < last
            steps = torch.tensor(self._held_steps, dtype=torch.int32, device=held.device)
            where = hit.nonzero()
            self.first.index_put_(
                (rows.index_select(0, where[:, 1]), column[where[:, 0], where[:, 1]]),
                steps.index_select(0, where[:, 0]),
            )
            self._above_next.index_copy_(0, rows, self._above_left.index_select(0, column[-1]))
        self._held_steps.clear()

    def _update_fused(self, value: Tensor, step: Tensor) -> None:
        count, rows = self._count, value.shape[0]
        reached = (value <= self.ascending[0]).to(torch.int32)  # count >= 1
        for j in range(1, count):
            reached = reached + (value <= self.ascending[j])
        column = torch.where(reached > self._reached, count - reached, count)
        self._reached.copy_(reached)
        index = column * rows + torch.arange(rows, device=value.device)
        self._table.view(-1)[index] = step.to(torch.int32)

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
