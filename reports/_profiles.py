r"""Performance profiles (Dolan & Moré, "Benchmarking optimization software with performance
profiles", 2002) and the AlgoPerf benchmark score (Dahl et al., "Benchmarking Neural Network
Training Algorithms", 2023).

For solver s on problem p with time to target :math:`t_{s,p}` (infinite when it fails), the
performance ratio is :math:`r_{s,p} = t_{s,p} / \min_{s'} t_{s',p}`; the profile is
:math:`\rho_s(\tau) = |\{p : r_{s,p} \le \tau\}| / |P|`, and the score is the normalised area
:math:`B_s = \frac{1}{\tau_{max} - 1} \int_1^{\tau_{max}} \rho_s(\tau)\, d\tau`
(:math:`\tau_{max} = 4` in AlgoPerf), which for step profiles is exactly
:math:`\frac{1}{|P|} \sum_p \max(0, \tau_{max} - r_{s,p}) / (\tau_{max} - 1)`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from reports._convergence import solver_styles
from reports._load import with_solver
from reports._metrics import target_label
from reports._outcomes import target_outcomes
from reports._style import (
    Palette,
    finish,
    legend_handles,
    log_scale,
    new_figure,
    plot_context,
)

__all__ = [
    "TAU_MAX",
    "benchmark_score",
    "performance_profile",
    "performance_ratios",
    "profile_figure",
    "times_to_target",
]

TAU_MAX = 4.0
"""AlgoPerf's upper limit of the performance ratio."""


def times_to_target(
    results: pd.DataFrame,
    target: float,
    *,
    by: str = "time_s",
    outcomes: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Median over seeds of the runtime to reach `target`, per solver and problem.

    A seed that never reaches the target (or diverged or failed before it) takes an infinite
    time, so the median is infinite when half the seeds or more fail. Success is judged by
    `success_table`; problems without a known optimum are left out.

    Args:
        results: the results table.
        target: the precision on the gap (one of the study's targets).
        by: ``time_s`` (wall time) or ``evals``.
        outcomes: ``target_outcomes(results, [target])``, when the caller has it already.

    Returns:
        A solver x problem frame of times (inf where it fails).
    """
    if outcomes is None:
        outcomes = target_outcomes(results, [target])
    if outcomes.empty:
        return pd.DataFrame(dtype=float)
    runtime = outcomes[by].astype(float).where(outcomes["success"].astype(bool), np.inf)
    table = outcomes.assign(runtime=runtime.fillna(np.inf))
    median = table.groupby(["solver", "problem"])["runtime"].median().unstack("problem")
    return median.fillna(np.inf).astype(float)


def performance_ratios(times: pd.DataFrame) -> pd.DataFrame:
    """Performance ratios r = time / best time on each problem (inf where it fails).

    Args:
        times: solver x problem times (see `times_to_target`).

    Returns:
        A frame like `times`; a problem no solver solves is all inf.
    """
    if times.empty:
        return times
    best = times.min(axis=0)
    ratios = times.divide(best.where(best > 0, np.nan), axis=1)
    ratios = ratios.where(np.isfinite(ratios), np.inf)
    zero = (best == 0).to_numpy()
    if zero.any():  # a zero best time: ratio 1 for the best, inf for the others
        ratios.loc[:, zero] = np.where(times.loc[:, zero] == 0, 1.0, np.inf)
    return ratios


def performance_profile(ratios: pd.DataFrame, taus: np.ndarray) -> pd.DataFrame:
    """rho_s(tau): the fraction of problems where solver s is within tau of the best.

    Args:
        ratios: solver x problem performance ratios.
        taus: the ratios to evaluate at.

    Returns:
        A solver x tau frame of fractions.
    """
    values = ratios.to_numpy(dtype=float)
    n = max(values.shape[1], 1)
    rho = (values[:, :, None] <= np.asarray(taus)[None, None, :]).sum(axis=1) / n
    return pd.DataFrame(rho, index=ratios.index, columns=np.asarray(taus))


def benchmark_score(ratios: pd.DataFrame, tau_max: float = TAU_MAX) -> pd.Series:
    """The AlgoPerf score: the area under rho_s on [1, tau_max], divided by tau_max - 1.

    Args:
        ratios: solver x problem performance ratios.
        tau_max: the upper limit (4 in AlgoPerf).

    Returns:
        One score in [0, 1] per solver (1: fastest on every problem).
    """
    if ratios.empty:
        return pd.Series(dtype=float)
    r = ratios.to_numpy(dtype=float).clip(min=1.0)
    area = np.clip(tau_max - r, 0.0, tau_max - 1.0) / (tau_max - 1.0)
    return pd.Series(area.mean(axis=1), index=ratios.index, name="score")


def profile_figure(
    results: pd.DataFrame,
    target: float,
    *,
    palette: Palette | None = None,
    tau_max: float = TAU_MAX,
    outcomes: pd.DataFrame | None = None,
) -> Figure:
    """Performance profiles over problems by wall time and by evaluations.

    Args:
        results: the results table.
        target: the precision on the gap that defines "solved".
        palette: optimizer -> colour.
        tau_max: the right end of the profile and of the score's integral.
        outcomes: ``target_outcomes(results, [target])``, when the caller has it already.

    Returns:
        The figure (two panels).
    """
    results = with_solver(results)
    if outcomes is None:
        outcomes = target_outcomes(results, [target])
    styles = solver_styles(results, palette)
    taus = np.geomspace(1.0, tau_max, 200)
    with plot_context():
        fig, axes = new_figure(2, ncols=2, width=11.0, height=3.6)
        for ax, by, label in zip(axes, ["time_s", "evals"], ["wall time", "evaluations"]):
            ratios = performance_ratios(times_to_target(results, target, by=by, outcomes=outcomes))
            if ratios.empty:
                ax.set_title(f"no target rows ({label})")
                continue
            rho = performance_profile(ratios, taus)
            for solver in rho.index:
                colour, style = styles.get(str(solver), ((0.3, 0.3, 0.3), "-"))
                ax.step(
                    taus,
                    rho.loc[solver].to_numpy(),
                    where="post",
                    color=colour,
                    linestyle=style,
                    linewidth=1.5,
                )
            log_scale(ax, x=True, base=2)
            ax.set_xlim(1.0, tau_max)
            ax.set_ylim(-0.02, 1.02)
            ax.set_xlabel("performance ratio τ")
            ax.set_ylabel("fraction of problems ρ(τ)")
            ax.set_title(f"{label} to gap ≤ {target_label(target)}")
        finish(fig, legend_handles(styles), legend="right")
    return fig
