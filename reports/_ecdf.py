"""Runtime ECDFs in the style of COCO (Hansen et al., "COCO: a platform for comparing
continuous optimizers in a black-box setting", 2021): the fraction of (problem, target) pairs
reached against the evaluations or the wall time spent, aggregated over the study."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from reports._convergence import solver_styles
from reports._load import with_solver
from reports._outcomes import target_outcomes
from reports._select import records
from reports._style import (
    Palette,
    finish,
    legend_handles,
    log_scale,
    new_figure,
    plot_context,
)

__all__ = ["ecdf_figure", "runtime_ecdf"]


def runtime_ecdf(
    results: pd.DataFrame, by: str = "evals", *, outcomes: pd.DataFrame | None = None
) -> pd.DataFrame:
    """The runtime ECDF of every solver.

    Each (problem, target) pair of the study weighs the same (problems with a known optimum,
    the targets of the target rows); within a pair, each seed of the solver weighs the same;
    a pair the solver never reached (or has no rows for) adds nothing. Success is judged by
    `success_table`.

    Args:
        results: the results table.
        by: ``evals`` or ``time_s``: the runtime measure.
        outcomes: `target_outcomes` of `results`, when the caller has it already.

    Returns:
        Columns ``solver``, ``runtime`` (ascending per solver) and ``fraction`` (the ECDF
        value just after that runtime, in [0, 1]).
    """
    if outcomes is None:
        outcomes = target_outcomes(results)
    if outcomes.empty:
        return pd.DataFrame(columns=["solver", "runtime", "fraction"])
    n_pairs = len(outcomes[["problem", "target"]].drop_duplicates())
    seeds = outcomes.groupby(["solver", "problem", "target"])["seed"].transform("size")
    weight = 1.0 / (seeds * n_pairs)
    hits = outcomes.assign(runtime=outcomes[by].astype(float), weight=weight)
    hits = hits[np.isfinite(hits["runtime"]) & hits["success"].astype(bool)]
    frames = []
    for solver in sorted(outcomes["solver"].astype(str).unique()):
        rows = hits[hits["solver"] == solver].sort_values("runtime")
        frames.append(
            pd.DataFrame(
                {
                    "solver": solver,
                    "runtime": rows["runtime"].to_numpy(),
                    "fraction": rows["weight"].cumsum().clip(upper=1.0).to_numpy(),
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def ecdf_figure(
    results: pd.DataFrame,
    *,
    palette: Palette | None = None,
    outcomes: pd.DataFrame | None = None,
) -> Figure:
    """Runtime ECDFs against evaluations and against wall time, one line per solver.

    A cross marks each solver's median budget (its runs' last checkpoint).

    Args:
        results: the results table.
        palette: optimizer -> colour.
        outcomes: `target_outcomes` of `results`, when the caller has it already.

    Returns:
        The figure (two panels).
    """
    results = with_solver(results)
    if outcomes is None:
        outcomes = target_outcomes(results)
    styles = solver_styles(results, palette)
    ck = records(results, "checkpoint")
    with plot_context():
        fig, axes = new_figure(2, ncols=2, width=11.0, height=3.6)
        for ax, by, label in zip(axes, ["evals", "time_s"], ["evaluations", "wall time (s)"]):
            ecdf = runtime_ecdf(results, by, outcomes=outcomes)
            budgets = ck.groupby(["solver", "problem", "seed"])[by].max().groupby("solver").median()
            lo = ecdf["runtime"][ecdf["runtime"] > 0].min() if len(ecdf) else np.nan
            hi = max(
                float(ecdf["runtime"].max()) if len(ecdf) else 0.0,
                float(budgets.max()) if len(budgets) else 0.0,
            )
            if not np.isfinite(lo) or hi <= 0:
                ax.set_title(f"no targets reached ({label})")
                continue
            for solver, rows in ecdf.groupby("solver", sort=True):
                colour, style = styles.get(str(solver), ((0.3, 0.3, 0.3), "-"))
                xs = np.concatenate([[lo / 1.5], rows["runtime"].clip(lower=lo), [hi * 1.5]])
                ys = np.concatenate([[0.0], rows["fraction"], rows["fraction"].iloc[-1:]])
                ax.step(xs, ys, where="post", color=colour, linestyle=style, linewidth=1.5)
                if solver in budgets.index and budgets[solver] > 0:
                    b = float(budgets[solver])
                    y_b = float(ys[max(int(np.searchsorted(xs, b, side="right")) - 1, 0)])
                    ax.plot([b], [y_b], marker="x", color=colour, markersize=8)
            log_scale(ax, x=True)
            ax.set_ylim(-0.02, 1.02)
            ax.set_xlabel(label)
            ax.set_ylabel("fraction of (problem, target) pairs")
            ax.set_title(f"runtime ECDF against {label}")
        finish(fig, legend_handles(styles), legend="right")
    return fig
