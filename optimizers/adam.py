"""Adam, and the shared update that AdamW and AMSGrad reuse."""

from __future__ import annotations

import torch
from torch import Tensor

from optimizers._catalogue import register
from optimizers._fused_adam import fused_adam_rows, takes_fused
from optimizers._optimizer import (
    HP,
    NONNEGATIVE,
    POSITIVE,
    UNIT,
    Optimizer,
    Range,
    Rule,
    State,
    add_scaled,
    as_rows,
    is_zero,
    over_second,
    power,
    step_counter,
)

__all__ = ["ADAM_DEFAULTS", "ADAM_RULES", "ADAM_SPACE", "adam_step", "init"]

ADAM_DEFAULTS = {"lr": 1e-3, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "weight_decay": 0.0}
ADAM_RULES: dict[str, Rule] = {
    "lr": POSITIVE,
    "beta1": UNIT,
    "beta2": UNIT,
    "eps": POSITIVE,
    "weight_decay": NONNEGATIVE,
}
ADAM_SPACE = {
    "lr": Range(1e-5, 1.0, log=True),
    "beta1": Range(0.5, 0.99),
    "beta2": Range(0.9, 0.9999),
}


def init(x: Tensor) -> State:
    return {
        "exp_avg": torch.zeros_like(x),
        "exp_avg_sq": torch.zeros_like(x),
        "step": step_counter(x),
    }


def adam_step(
    x: Tensor, grad: Tensor, state: State, hp: HP, *, decoupled: bool, amsgrad: bool
) -> tuple[Tensor, State]:
    r"""The Adam family's update, as ``torch.optim.adam._single_tensor_adam`` computes it.

    .. math::
        g_t &= \nabla f(x_{t-1}) + \lambda x_{t-1} \quad\text{(L2; AdamW instead:}\;
               x_{t-1} \leftarrow (1 - \eta\lambda)\, x_{t-1}) \\
        m_t &= \beta_1 m_{t-1} + (1 - \beta_1)\, g_t \\
        v_t &= \beta_2 v_{t-1} + (1 - \beta_2)\, g_t^2 \\
        \hat v_t &= \max(\hat v_{t-1}, v_t) \quad\text{(AMSGrad; else } \hat v_t = v_t) \\
        x_t &= x_{t-1} - \frac{\eta}{1 - \beta_1^t}\,
               \frac{m_t}{\sqrt{\hat v_t} / \sqrt{1 - \beta_2^t} + \epsilon}

    Bias corrections use the per-row tensor ``step``; nothing is read back to the host.
    Wide rows (networks) on the CPU take torch's fused kernel instead, one row at a time
    (`optimizers._fused_adam`): one pass over memory where these tensor ops make a dozen.

    Args:
        x, grad: ``[R, d]``.
        state: ``exp_avg``, ``exp_avg_sq``, ``step`` and for AMSGrad ``max_exp_avg_sq``.
        hp: ``lr``, ``beta1``, ``beta2``, ``eps``, ``weight_decay`` (torch's
            ``betas=(beta1, beta2)``), each a float or one value per row.
        decoupled: AdamW's decoupled weight decay instead of an L2 term in the gradient.
        amsgrad: normalise by the running maximum of ``exp_avg_sq``.
    """
    if takes_fused(x, grad, state):  # networks on the CPU: one pass, torch's fused kernel
        return fused_adam_rows(x, grad, state, hp, decoupled=decoupled, amsgrad=amsgrad)
    lr, wd = as_rows(hp["lr"], x), hp["weight_decay"]
    beta1, beta2 = as_rows(hp["beta1"], x), as_rows(hp["beta2"], x)
    t = state["step"] + 1
    if not is_zero(wd):
        if decoupled:
            x = x * (1 - lr * as_rows(wd, x))
        else:
            grad = add_scaled(grad, as_rows(wd, x), x)
    # The moments are the optimizer's own state, so they update in place (as torch does):
    # at R networks of a million parameters each, every avoided temporary is a pass over
    # memory. The order of operations, and so the rounding, is the out-of-place formula's.
    exp_avg = state["exp_avg"].lerp_(grad, 1 - beta1)
    if isinstance(beta2, Tensor):  # per-row beta2: the factor is a tensor
        exp_avg_sq = state["exp_avg_sq"].mul_(beta2).addcmul_((1 - beta2) * grad, grad)
    else:  # the same rounding, without a full-size temporary
        exp_avg_sq = state["exp_avg_sq"].mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
    new: State = {"exp_avg": exp_avg, "exp_avg_sq": exp_avg_sq, "step": t}
    second = exp_avg_sq
    if amsgrad:
        second = new["max_exp_avg_sq"] = torch.maximum(state["max_exp_avg_sq"], exp_avg_sq)
    step_size = (lr / (1 - power(beta1, t))).to(x.dtype)  # .to: a no-op unless x is 16-bit
    correction2 = ((1 - power(beta2, t)) ** 0.5).to(x.dtype)
    denom = second.sqrt().div_(correction2).add_(as_rows(hp["eps"], x))
    # x - step_size m / denom, rounded as x - (m / denom) step_size, into the temporary
    update = over_second(torch.div, exp_avg, denom)
    return over_second(torch.sub, x, update.mul_(step_size)), new


def step(x: Tensor, grad: Tensor, state: State, hp: HP) -> tuple[Tensor, State]:
    """Adam with L2 weight decay (torch.optim.Adam); see `adam_step` for the rule."""
    return adam_step(x, grad, state, hp, decoupled=False, amsgrad=False)


@register("adam")
def adam() -> Optimizer:
    """Adam: ``x <- x - lr m_hat / (sqrt(v_hat) + eps)``. Kingma & Ba (2015); torch Adam."""
    return Optimizer(
        "adam",
        init,
        step,
        defaults=dict(ADAM_DEFAULTS),
        rules=ADAM_RULES,
        space=ADAM_SPACE,
        summary=(
            "m <- lerp(m, g, 1-beta1), v <- beta2 v + (1-beta2) g^2; "
            "x <- x - lr m_hat / (sqrt(v_hat) + eps). Kingma & Ba (2015); torch.optim.Adam"
        ),
    )
