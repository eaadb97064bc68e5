"""The Adam family's update for wide rows (networks) on the CPU: torch's fused kernel per row.

A step of torch-op Adam on ``[R, P]`` rows is about a dozen full passes over memory (the
moments' updates, the square root, the division, the bias corrections, the last line), each
its own kernel; at 8 networks of two million parameters that is ~25 ms per step on the 2-core
machine, more than torch.optim's own per-network loop spends on it. torch's fused Adam kernel
(``torch._fused_adam_``, what ``torch.optim.Adam(fused=True)`` calls; ``_fused_adamw_`` for
AdamW) does the whole update in one pass: it reads x, the gradient and the moments once and
writes x and the moments once. Its rounding is torch.optim's fused path's: the moments come
out bit for bit as the single-tensor loop's, x within an ulp of it per step.

Each row gets its own call, with its own hyperparameters (a learning-rate sweep is rows) and
its own step count (``state["step"][r]``). The rows are wide, so the Python loop costs
nothing next to the pass over memory, and reading per-row hyperparameters with ``.tolist()``
is a memory read on the CPU. The update stays out of place for x (the caller's x is copied
once first); the moments are updated in place, as the tensor-op path does.
"""

from __future__ import annotations

import torch
from torch import Tensor

from optimizers._optimizer import HP, State

__all__ = ["WIDE_ROW", "fused_adam_rows", "takes_fused"]

WIDE_ROW = 2**16
"""Rows of at least this many elements (networks) take the fused kernel."""

_FUSED_DTYPES = (torch.float32, torch.float64)


def takes_fused(x: Tensor, grad: Tensor, state: State) -> bool:
    """True for eager CPU rows of `WIDE_ROW` elements and more, float32 or float64, whose rows
    (x, gradient, moments) are contiguous: what `fused_adam_rows` handles."""
    rows = x.shape[0]
    if x.device.type != "cpu" or x.dtype not in _FUSED_DTYPES or rows == 0:
        return False
    if x.numel() // rows < WIDE_ROW or torch.compiler.is_compiling():
        return False
    tensors = [x, grad, *(v for k, v in state.items() if k != "step")]
    return all(t.is_contiguous() and t.dtype == x.dtype for t in tensors)


def _per_row(value: float | Tensor, rows: int) -> list[float]:
    """A hyperparameter as one Python float per row."""
    if not isinstance(value, Tensor):
        return [float(value)] * rows
    values = value.reshape(-1).tolist()
    return values * rows if len(values) == 1 else values


def fused_adam_rows(
    x: Tensor, grad: Tensor, state: State, hp: HP, *, decoupled: bool, amsgrad: bool
) -> tuple[Tensor, State]:
    """`optimizers.adam.adam_step`'s update through torch's fused kernel, row by row.

    Args and result as `adam_step`'s; `takes_fused` must hold.
    """
    rows = x.shape[0]
    new_x = x.clone()
    t = state["step"] + 1
    new: State = {"exp_avg": state["exp_avg"], "exp_avg_sq": state["exp_avg_sq"], "step": t}
    if amsgrad:
        new["max_exp_avg_sq"] = state["max_exp_avg_sq"]
    lr, beta1, beta2 = (_per_row(hp[k], rows) for k in ("lr", "beta1", "beta2"))
    eps, wd = _per_row(hp["eps"], rows), _per_row(hp["weight_decay"], rows)
    kernel = torch._fused_adamw_ if decoupled else torch._fused_adam_
    for r in range(rows):
        kernel(
            [new_x[r]],
            [grad[r]],
            [new["exp_avg"][r]],
            [new["exp_avg_sq"][r]],
            [new["max_exp_avg_sq"][r]] if amsgrad else [],
            [t[r]],
            lr=lr[r],
            beta1=beta1[r],
            beta2=beta2[r],
            weight_decay=wd[r],
            eps=eps[r],
            amsgrad=amsgrad,
            maximize=False,
        )
    return new_x, new
