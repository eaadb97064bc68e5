"""Plain stochastic gradient descent."""

from __future__ import annotations

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
)

__all__: list[str] = []


def init(x: Tensor) -> State:
    return {}


def step(x: Tensor, grad: Tensor, state: State, hp: HP) -> tuple[Tensor, State]:
    r"""One SGD step on every row.

    .. math::
        g_t = \nabla f(x_t) + \lambda x_t, \qquad x_{t+1} = x_t - \eta\, g_t

    with learning rate :math:`\eta` = ``lr`` and weight decay :math:`\lambda` (as
    ``torch.optim.SGD(lr=, weight_decay=)`` with ``momentum=0``).
    """
    wd = hp["weight_decay"]
    g = grad if is_zero(wd) else add_scaled(grad, as_rows(wd, x), x)
    return add_scaled(x, -as_rows(hp["lr"], x), g), state


@register("sgd")
def sgd() -> Optimizer:
    """SGD: ``x <- x - lr (g + wd x)``. Robbins & Monro (1951); torch.optim.SGD."""
    return Optimizer(
        "sgd",
        init,
        step,
        defaults={"lr": 1e-3, "weight_decay": 0.0},
        rules={"lr": POSITIVE, "weight_decay": NONNEGATIVE},
        space={"lr": Range(1e-5, 1.0, log=True)},
        summary="x <- x - lr (g + wd x). Robbins & Monro (1951); torch.optim.SGD",
    )
