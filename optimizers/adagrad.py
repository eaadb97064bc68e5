"""Adagrad, with torch's learning-rate decay and initial accumulator."""

from __future__ import annotations

import torch
from torch import Tensor

from optimizers._catalogue import register
from optimizers._optimizer import (
    HP,
    NONNEGATIVE,
    POSITIVE,
    Optimizer,
    Range,
    State,
    add_scaled,
    as_rows,
    is_zero,
    step_counter,
)

__all__: list[str] = []


def init(x: Tensor) -> State:
    return {"sum": torch.zeros_like(x), "step": step_counter(x)}


def step(x: Tensor, grad: Tensor, state: State, hp: HP) -> tuple[Tensor, State]:
    r"""One Adagrad step on every row (``torch.optim.Adagrad``).

    .. math::
        g_t &= \nabla f(x_{t-1}) + \lambda x_{t-1} \\
        \tilde\eta_t &= \eta / (1 + (t - 1)\, \delta) \\
        s_t &= s_{t-1} + g_t^2, \qquad s_0 = \text{initial\_accumulator\_value} \\
        x_t &= x_{t-1} - \tilde\eta_t\, g_t / (\sqrt{s_t} + \epsilon)

    with ``lr`` = :math:`\eta`, ``lr_decay`` = :math:`\delta`. `init` does not know the
    hyperparameters, so ``sum`` starts at zero and takes ``initial_accumulator_value`` on the
    row's first step (a ``torch.where`` on ``step``; ``masked_fill`` for a plain number,
    which makes no tensor from it), which is torch's ``s_0``.
    """
    wd = hp["weight_decay"]
    g = grad if is_zero(wd) else add_scaled(grad, as_rows(wd, x), x)
    s0 = as_rows(hp["initial_accumulator_value"], x)
    first = state["step"] == 0
    if isinstance(s0, Tensor):
        start = torch.where(first, s0, state["sum"])
    else:
        start = state["sum"].masked_fill(first, s0)
    total = torch.addcmul(start, g, g)
    t = state["step"] + 1
    clr = (as_rows(hp["lr"], x) / (1 + (t - 1) * as_rows(hp["lr_decay"], x))).to(x.dtype)
    std = total.sqrt() + as_rows(hp["eps"], x)
    return x - clr * g / std, {"sum": total, "step": t}


@register("adagrad")
def adagrad() -> Optimizer:
    """Adagrad. Duchi, Hazan & Singer (2011); torch.optim.Adagrad."""
    return Optimizer(
        "adagrad",
        init,
        step,
        defaults={
            "lr": 1e-2,
            "lr_decay": 0.0,
            "weight_decay": 0.0,
            "initial_accumulator_value": 0.0,
            "eps": 1e-10,
        },
        rules={
            "lr": POSITIVE,
            "lr_decay": NONNEGATIVE,
            "weight_decay": NONNEGATIVE,
            "initial_accumulator_value": NONNEGATIVE,
            "eps": POSITIVE,
        },
        space={"lr": Range(1e-4, 10.0, log=True)},
        summary=(
            "s <- s + g^2; x <- x - lr/(1 + (t-1) lr_decay) g / (sqrt(s) + eps). "
            "Duchi, Hazan & Singer (2011); torch.optim.Adagrad"
        ),
    )
