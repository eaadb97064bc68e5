"""RMSprop, with torch's momentum and centered options."""

from __future__ import annotations

import torch
from torch import Tensor

from optimizers._catalogue import register
from optimizers._optimizer import (
    FLAG,
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
)

__all__: list[str] = []


def init(x: Tensor) -> State:
    return {
        "square_avg": torch.zeros_like(x),
        "grad_avg": torch.zeros_like(x),
        "momentum_buffer": torch.zeros_like(x),
    }


def step(x: Tensor, grad: Tensor, state: State, hp: HP) -> tuple[Tensor, State]:
    r"""One RMSprop step on every row (``torch.optim.RMSprop``).

    .. math::
        g_t &= \nabla f(x_{t-1}) + \lambda x_{t-1} \\
        v_t &= \alpha v_{t-1} + (1 - \alpha)\, g_t^2 \\
        \bar g_t &= \alpha \bar g_{t-1} + (1 - \alpha)\, g_t
            \quad\text{(centered only)} \\
        s_t &= \sqrt{v_t - \bar g_t^2}\ \text{(centered) or}\ \sqrt{v_t},
            \qquad u_t = g_t / (s_t + \epsilon) \\
        b_t &= \mu b_{t-1} + u_t, \quad x_t = x_{t-1} - \eta b_t
            \quad\text{(}\mu > 0\text{; else } x_t = x_{t-1} - \eta u_t)

    with ``lr`` = :math:`\eta`, ``alpha`` = :math:`\alpha`, ``momentum`` = :math:`\mu`,
    ``weight_decay`` = :math:`\lambda`, ``centered`` a 0/1 flag (per row allowed). The
    buffers start at zero (no first-step special case in torch's RMSprop).
    """
    alpha, wd = as_rows(hp["alpha"], x), hp["weight_decay"]
    mu, centered = as_rows(hp["momentum"], x), as_rows(hp["centered"], x)
    g = grad if is_zero(wd) else add_scaled(grad, as_rows(wd, x), x)
    square_avg = torch.addcmul(alpha * state["square_avg"], (1 - alpha) * g, g)
    grad_avg = state["grad_avg"]
    if not is_zero(centered):
        grad_avg = torch.lerp(grad_avg, g, 1 - alpha)
        centred_avg = torch.addcmul(square_avg, -grad_avg, grad_avg).sqrt()
    if is_zero(centered):
        avg = square_avg.sqrt()
    elif isinstance(centered, Tensor):
        avg = torch.where(centered != 0, centred_avg, square_avg.sqrt())
    else:
        avg = centred_avg
    avg = avg + as_rows(hp["eps"], x)
    lr = as_rows(hp["lr"], x)
    buf = state["momentum_buffer"]
    if is_zero(mu):
        x = x - lr * g / avg
    elif isinstance(mu, Tensor):  # rows with momentum 0 take torch's no-buffer branch
        buf = mu * buf + g / avg
        x = torch.where(mu != 0, add_scaled(x, -lr, buf), x - lr * g / avg)
    else:
        buf = mu * buf + g / avg
        x = add_scaled(x, -lr, buf)
    return x, {"square_avg": square_avg, "grad_avg": grad_avg, "momentum_buffer": buf}


@register("rmsprop")
def rmsprop() -> Optimizer:
    """RMSprop. Tieleman & Hinton (2012), Graves (2013, centered); torch.optim.RMSprop."""
    return Optimizer(
        "rmsprop",
        init,
        step,
        defaults={
            "lr": 1e-2,
            "alpha": 0.99,
            "eps": 1e-8,
            "weight_decay": 0.0,
            "momentum": 0.0,
            "centered": 0.0,
        },
        rules={
            "lr": POSITIVE,
            "alpha": UNIT,
            "eps": POSITIVE,
            "weight_decay": NONNEGATIVE,
            "momentum": UNIT,
            "centered": FLAG,
        },
        space={
            "lr": Range(1e-5, 1.0, log=True),
            "alpha": Range(0.9, 0.999),
            "momentum": Range(0.0, 0.99),
        },
        summary=(
            "v <- alpha v + (1-alpha) g^2; x <- x - lr g / (sqrt(v [- g_avg^2]) + eps) "
            "[with momentum]. Tieleman & Hinton (2012); torch.optim.RMSprop"
        ),
    )
