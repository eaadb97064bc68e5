"""Heavy-ball momentum (SGD with momentum and dampening), as torch.optim.SGD runs it."""

from __future__ import annotations

import torch
from torch import Tensor

from optimizers._catalogue import register
from optimizers._optimizer import (
    CLOSED_UNIT,
    HP,
    NONNEGATIVE,
    POSITIVE,
    UNIT,
    Optimizer,
    Range,
    State,
    add_scaled,
    as_rows,
    is_zero,
    step_counter,
)

__all__ = ["heavy_ball"]


def init(x: Tensor) -> State:
    return {"momentum_buffer": torch.zeros_like(x), "step": step_counter(x)}


def heavy_ball(
    grad: Tensor, buf: Tensor, step: Tensor, momentum: float | Tensor, dampening: float | Tensor
) -> Tensor:
    r"""The momentum buffer after this step: ``b_1 = g_1``, ``b_t = mu b_{t-1} + (1 - tau) g_t``.

    torch.optim.SGD creates the buffer as a copy of the first gradient (no dampening on the
    first step); here that is a ``torch.where`` on the per-row step counter (already
    incremented), so there is no host synchronisation.
    """
    return torch.where(step == 1, grad, add_scaled(momentum * buf, 1 - dampening, grad))


def step(x: Tensor, grad: Tensor, state: State, hp: HP) -> tuple[Tensor, State]:
    r"""One heavy-ball step on every row (torch.optim.SGD with ``momentum``, ``dampening``).

    .. math::
        g_t &= \nabla f(x_t) + \lambda x_t \\
        b_1 &= g_1, \qquad b_t = \mu\, b_{t-1} + (1 - \tau)\, g_t \\
        x_{t+1} &= x_t - \eta\, b_t

    with :math:`\eta` = ``lr``, :math:`\mu` = ``momentum``, :math:`\tau` = ``dampening``,
    :math:`\lambda` = ``weight_decay``. Where ``momentum`` is 0, torch keeps no buffer and
    ``x_{t+1} = x_t - \eta g_t`` (dampening ignored); so does this step, per row.
    """
    mu, wd = as_rows(hp["momentum"], x), hp["weight_decay"]
    g = grad if is_zero(wd) else add_scaled(grad, as_rows(wd, x), x)
    t = state["step"] + 1
    buf = heavy_ball(g, state["momentum_buffer"], t, mu, as_rows(hp["dampening"], x))
    if is_zero(mu):
        direction = g
    elif isinstance(mu, Tensor):
        direction = torch.where(mu != 0, buf, g)
    else:
        direction = buf
    return add_scaled(x, -as_rows(hp["lr"], x), direction), {"momentum_buffer": buf, "step": t}


@register("momentum")
def momentum() -> Optimizer:
    """Heavy ball: ``b <- mu b + (1 - dampening) g; x <- x - lr b``. Polyak (1964); torch SGD."""
    return Optimizer(
        "momentum",
        init,
        step,
        defaults={"lr": 1e-3, "momentum": 0.9, "dampening": 0.0, "weight_decay": 0.0},
        rules={
            "lr": POSITIVE,
            "momentum": UNIT,
            "dampening": CLOSED_UNIT,
            "weight_decay": NONNEGATIVE,
        },
        space={"lr": Range(1e-5, 1.0, log=True), "momentum": Range(0.0, 0.99)},
        summary=(
            "b <- mu b + (1 - dampening) g (b_1 = g_1); x <- x - lr b. "
            "Polyak (1964); torch.optim.SGD(momentum=, dampening=)"
        ),
    )
