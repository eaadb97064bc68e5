"""AMSGrad: Adam normalised by the running maximum of the second moment."""

from __future__ import annotations

import torch
from torch import Tensor

from optimizers._catalogue import register
from optimizers._optimizer import HP, Optimizer, State
from optimizers.adam import ADAM_DEFAULTS, ADAM_RULES, ADAM_SPACE, adam_step
from optimizers.adam import init as adam_init

__all__: list[str] = []


def init(x: Tensor) -> State:
    return {**adam_init(x), "max_exp_avg_sq": torch.zeros_like(x)}


def step(x: Tensor, grad: Tensor, state: State, hp: HP) -> tuple[Tensor, State]:
    r"""One AMSGrad step (torch.optim.Adam with ``amsgrad=True``, L2 weight decay).

    .. math::
        \hat v_t = \max(\hat v_{t-1}, v_t), \qquad
        x_t = x_{t-1} - \frac{\eta}{1 - \beta_1^t}
              \frac{m_t}{\sqrt{\hat v_t} / \sqrt{1 - \beta_2^t} + \epsilon}

    (see `optimizers.adam.adam_step` for ``m_t`` and ``v_t``).
    """
    return adam_step(x, grad, state, hp, decoupled=False, amsgrad=True)


@register("amsgrad")
def amsgrad() -> Optimizer:
    """AMSGrad. Reddi, Kale & Kumar (2018); torch.optim.Adam(amsgrad=True)."""
    return Optimizer(
        "amsgrad",
        init,
        step,
        defaults=dict(ADAM_DEFAULTS),
        rules=ADAM_RULES,
        space=ADAM_SPACE,
        summary=(
            "Adam with v_hat <- max(v_hat, v). Reddi, Kale & Kumar (2018); "
            "torch.optim.Adam(amsgrad=True)"
        ),
    )
