r"""What a tuning trial minimises: one number from its seeds' runs.

Each objective is a median over the trial's seeds of a per-seed value computed from the
seed's gap curve (gap = best loss so far - f*, or the best loss where f* is unknown; the
best over a seed's rows when a method runs several per seed):

- ``final``: the gap of the last point, ``loss(x_T) - f*`` (a seed whose loss became
  non-finite counts as infinite: it ended nowhere);
- ``best``: the best gap reached, the results table's ``gap`` at the last checkpoint;
- ``auc``: the area under the log-gap curve against the fraction of the budget spent,
  :math:`\int_0^1 \log_{10} \max(\text{gap}(t), 10^{-300})\,dt` by the trapezoid rule over
  the checkpoints (DeepOBS and AlgoPerf rank by time-to-result; this rewards being low early
  as well as at the end);
- ``evals-to-target``: evaluations until the gap first falls to ``target``, the exact first
  step (the engine's target tracker) times the seed's evaluations per step, capped at the
  budget's evaluations (a seed that never gets there counts as the cap).

At a checkpoint the same per-seed values over the prefix of the curves are the trial's
intermediate values (`trial.report`, on the objective's scale); for ``evals-to-target``,
where the count is unknown until the target is hit, the intermediate value is the best gap
reached so far. Lower is
better for all four.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["DEFAULT_TARGET", "OBJECTIVES", "per_seed", "summarise"]

OBJECTIVES = ("final", "best", "auc", "evals-to-target")
DEFAULT_TARGET = 1e-6
"""The target of ``evals-to-target`` unless ``--target`` says otherwise."""

FLOOR = 1e-300  # log of a zero gap (an exact hit of f*)


def per_seed(
    objective: str,
    loss_gap: np.ndarray,
    best_gap: np.ndarray,
    steps: np.ndarray,
    *,
    budget_steps: int,
    evals_per_step: float,
    hit_steps: np.ndarray | None = None,
    partial: bool = False,
) -> np.ndarray:
    """One value per seed from its curves.

    Args:
        objective: one of `OBJECTIVES`.
        loss_gap: ``[C, S]`` the gap of the current point at each recorded checkpoint (NaN
            or inf: the loss was not finite).
        best_gap: ``[C, S]`` the best gap so far at each recorded checkpoint.
        steps: ``[C]`` the checkpoints' steps.
        budget_steps: the step budget (``auc`` integrates over it, ``evals-to-target`` caps
            at it).
        evals_per_step: a seed's evaluations per step.
        hit_steps: ``[S]`` the exact first step at which the seed reached the target (NaN:
            never), for ``evals-to-target``.
        partial: an intermediate value (the curves so far) rather than the final one.
    """
    loss_gap = np.where(np.isfinite(loss_gap), loss_gap, np.inf)
    best_gap = np.where(np.isnan(best_gap), np.inf, best_gap)
    if objective == "final":
        return loss_gap[-1]
    if objective == "best" or (objective == "evals-to-target" and partial):
        return best_gap[-1]
    if objective == "auc":
        logs = np.log10(np.maximum(best_gap, FLOOR))
        if len(steps) < 2:
            return logs[-1]
        widths = (np.diff(steps) / float(budget_steps))[:, None]
        return ((logs[1:] + logs[:-1]) / 2 * widths).sum(axis=0)
    if objective == "evals-to-target":
        cap = float(budget_steps * evals_per_step)
        if hit_steps is None:
            return np.full(best_gap.shape[1], cap)
        return np.where(np.isnan(hit_steps), cap, hit_steps * evals_per_step)
    msg = f"unknown objective {objective!r}"
    raise ValueError(msg)


def summarise(values: np.ndarray) -> float:
    """The trial's objective: the median over its seeds (infinite when most seeds are)."""
    if values.size == 0:
        return math.inf
    return float(np.median(values))
