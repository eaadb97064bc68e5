"""Each row's status and best loss, marked after every step of `bench._engine.run_rows`.

A row's status is one int32: `RUNNING`, `STOPPED` (by a study's control, a pruned trial), or
the step at which its loss first became NaN or infinite, after which the row stays dead.
``best`` is the best loss of the running rows so far. After step ``k`` with losses ``loss``:

    diverged  = running and not isfinite(loss)     -> status = k
    best      = min(best, loss)   where running and isfinite(loss)

Two ways compute it, with the same result:

- `mark` (compiled steps, CUDA): the formula above on every row, elementwise, with no value
  read back to the host; inductor fuses it into the step's kernel.
- `HostMark` (eager on the CPU, where reading a number back costs no synchronisation): one
  sum answers whether every running row's loss is finite (a sum of floats is finite only
  when every term is; an overflow only sends a step to the long way), and then
  ``best = min(best, loss)`` is the whole update; only a step where a running row's loss is
  not finite goes the long way. Eager ops that make boolean tensors cost 5 to 15 us each at
  R = 10^4 on the 2-core machine, a float sum 1.5 (docs/PERFORMANCE.md).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

__all__ = ["RUNNING", "STOPPED", "HostMark", "mark"]

RUNNING, STOPPED = -1, -2


def mark(status: Tensor, best: Tensor | None, loss: Tensor, k: Tensor) -> None:
    """Mark the rows whose loss became non-finite at step `k` (0-d int32) and lower `best`
    (None: not tracked per step, as for minibatch losses) on the running, finite rows.

    ``|loss| < inf`` rather than `isfinite` (NaN compares false; two kernels eagerly, not
    four); one int32 status rather than a boolean mask, whose one-byte loads and stores
    inductor's CPU code makes element by element; `minimum` rather than `fmin` (a live
    row's loss is finite here, and inductor vectorises minimum, not fmin).
    """
    finite = loss.abs() < math.inf
    running = status == RUNNING
    torch.where(torch.gt(running, finite), k, status, out=status)  # newly diverged
    if best is not None:
        torch.where(running.logical_and_(finite), torch.minimum(best, loss), best, out=best)


class HostMark:
    """`mark` with a host check first: the short way while every running row is finite.

    The running rows are found again only when ``status`` changed (its version counter
    moves with every in-place write: a divergence, a stop), as an index of rows, or None
    while every row runs.
    """

    def __init__(self) -> None:
        self._status: Tensor | None = None
        self._version = -1
        self._live: Tensor | None = None

    def _running(self, status: Tensor) -> Tensor | None:
        if status is not self._status or status._version != self._version:
            rows = (status == RUNNING).nonzero().view(-1)
            self._live = None if rows.numel() == status.numel() else rows
            self._status, self._version = status, status._version
        return self._live

    def __call__(self, status: Tensor, best: Tensor | None, loss: Tensor, k: Tensor) -> None:
        live = self._running(status)
        if live is None:
            if math.isfinite(loss.sum().item()):
                if best is not None:
                    torch.minimum(best, loss, out=best)
                return
        else:
            running = loss.index_select(0, live)
            if math.isfinite(running.sum().item()):
                if best is not None:
                    best.index_copy_(0, live, torch.minimum(best.index_select(0, live), running))
                return
        mark(status, best, loss, k)
