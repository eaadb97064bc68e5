"""AdamW: Adam with decoupled weight decay."""

from __future__ import annotations

from torch import Tensor

from optimizers._catalogue import register
from optimizers._optimizer import HP, Optimizer, State
from optimizers.adam import ADAM_DEFAULTS, ADAM_RULES, ADAM_SPACE, adam_step, init

__all__: list[str] = []


def step(x: Tensor, grad: Tensor, state: State, hp: HP) -> tuple[Tensor, State]:
    r"""One AdamW step: ``x <- (1 - lr wd) x`` first, then the Adam update with ``wd = 0``.

    .. math::
        x_{t-1}' = (1 - \eta\lambda)\, x_{t-1}, \qquad
        x_t = x_{t-1}' - \frac{\eta}{1 - \beta_1^t}
              \frac{m_t}{\sqrt{v_t / (1 - \beta_2^t)} + \epsilon}

    (see `optimizers.adam.adam_step` for ``m_t`` and ``v_t``).
    """
    return adam_step(x, grad, state, hp, decoupled=True, amsgrad=False)


@register("adamw")
def adamw() -> Optimizer:
    """AdamW: decoupled weight decay. Loshchilov & Hutter (2019); torch.optim.AdamW."""
    return Optimizer(
        "adamw",
        init,
        step,
        defaults={**ADAM_DEFAULTS, "weight_decay": 1e-2},
        rules=ADAM_RULES,
        space=ADAM_SPACE,
        summary=("x <- (1 - lr wd) x, then Adam. Loshchilov & Hutter (2019); torch.optim.AdamW"),
    )
