"""Plain stochastic gradient descent."""

from __future__ import annotations

from torch import Tensor

from optimizers._catalogue import register
from optimizers._optimizer import HP, NONNEGATIVE, POSITIVE, Optimizer, Range, State, as_rows


def init(x: Tensor) -> State:
    return {}


def step(x: Tensor, grad: Tensor, state: State, hp: HP) -> tuple[Tensor, State]:
    r"""``g = grad + weight_decay * x``;  ``x <- x - lr * g``  (torch.optim.SGD, no momentum)."""
    g = grad + as_rows(hp["weight_decay"], x) * x if _nonzero(hp["weight_decay"]) else grad
    return x - as_rows(hp["lr"], x) * g, state


def _nonzero(v: float | Tensor) -> bool:
    return isinstance(v, Tensor) or v != 0


@register("sgd")
def sgd() -> Optimizer:
    """SGD: ``x_{t+1} = x_t - lr (g_t + wd x_t)``. Source: Robbins & Monro (1951); torch.optim.SGD."""
    return Optimizer(
        "sgd",
        init,
        step,
        defaults={"lr": 1e-3, "weight_decay": 0.0},
        rules={"lr": POSITIVE, "weight_decay": NONNEGATIVE},
        space={"lr": Range(1e-5, 1.0, log=True)},
    )
