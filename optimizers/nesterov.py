"""Nesterov momentum in the form torch.optim.SGD(nesterov=True) uses."""

from __future__ import annotations

from torch import Tensor

from optimizers._catalogue import register
from optimizers._optimizer import (
    HP,
    NONNEGATIVE,
    OPEN_UNIT,
    POSITIVE,
    Optimizer,
    Range,
    State,
    add_scaled,
    as_rows,
    is_zero,
)
from optimizers.momentum import heavy_ball
from optimizers.momentum import init as init

__all__: list[str] = []


def step(x: Tensor, grad: Tensor, state: State, hp: HP) -> tuple[Tensor, State]:
    r"""One Nesterov step on every row (torch.optim.SGD with ``nesterov=True, dampening=0``).

    .. math::
        g_t &= \nabla f(x_t) + \lambda x_t \\
        b_1 &= g_1, \qquad b_t = \mu\, b_{t-1} + g_t \\
        x_{t+1} &= x_t - \eta\, (g_t + \mu\, b_t)

    with :math:`\eta` = ``lr``, :math:`\mu` = ``momentum`` (torch requires it positive),
    :math:`\lambda` = ``weight_decay``. This is Sutskever et al.'s reformulation of
    Nesterov's accelerated gradient in terms of the gradient at the current point.
    """
    mu, wd = as_rows(hp["momentum"], x), hp["weight_decay"]
    g = grad if is_zero(wd) else add_scaled(grad, as_rows(wd, x), x)
    t = state["step"] + 1
    buf = heavy_ball(g, state["momentum_buffer"], t, mu, 0.0)
    lr = as_rows(hp["lr"], x)
    return add_scaled(x, -lr, add_scaled(g, mu, buf)), {"momentum_buffer": buf, "step": t}


@register("nesterov")
def nesterov() -> Optimizer:
    """Nesterov: ``b <- mu b + g; x <- x - lr (g + mu b)``. Nesterov (1983); torch SGD."""
    return Optimizer(
        "nesterov",
        init,
        step,
        defaults={"lr": 1e-3, "momentum": 0.9, "weight_decay": 0.0},
        rules={"lr": POSITIVE, "momentum": OPEN_UNIT, "weight_decay": NONNEGATIVE},
        space={"lr": Range(1e-5, 1.0, log=True), "momentum": Range(0.5, 0.99)},
        summary=(
            "b <- mu b + g (b_1 = g_1); x <- x - lr (g + mu b). Nesterov (1983), "
            "Sutskever et al. (2013); torch.optim.SGD(nesterov=True)"
        ),
    )
