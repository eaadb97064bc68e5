"""A win/loss matrix of solvers with a paired test and a multiple-comparison correction.

Each pair of solvers is compared on every (problem, seed) both ran — seeds are paired, as seed
s starts from the same point for every optimizer — by the final gap on a log scale (the best
loss where f_star is unknown). Diverged and failed runs count as worse than every finished
one. The test is the Wilcoxon signed-rank test (`scipy.stats.wilcoxon`, ties dropped); the
p-values of all pairs are adjusted by Holm's step-down method (Holm 1979).
"""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure
from scipy import stats

from reports._convergence import FLOOR
from reports._load import with_solver
from reports._select import finals
from reports._style import legend_label, new_figure, plot_context

__all__ = ["ALPHA", "holm", "paired_scores", "win_loss", "win_loss_figure"]

ALPHA = 0.05
"""Family-wise error rate of the marked cells."""


def holm(pvalues: np.ndarray) -> np.ndarray:
    """Holm-adjusted p-values (step-down, family-wise error control).

    Args:
        pvalues: raw p-values.

    Returns:
        Adjusted p-values in the same order, each in [0, 1].
    """
    p = np.asarray(pvalues, dtype=float)
    m = len(p)
    if m == 0:
        return p
    order = np.argsort(p)
    adjusted = np.maximum.accumulate((m - np.arange(m)) * p[order]).clip(max=1.0)
    out = np.empty(m)
    out[order] = adjusted
    return out


def paired_scores(results: pd.DataFrame) -> pd.DataFrame:
    """Final scores to compare, lower is better: a (problem, seed) x solver frame.

    The score is log10 of the final gap (floored at 1e-16), or of the final best loss where
    f_star is unknown and all losses are positive (the loss itself otherwise). Runs that
    diverged or failed score one above the worst finished run of their problem.
    """
    results = with_solver(results)
    last = finals(results)
    if last.empty:
        return pd.DataFrame()
    frames = []
    for _, rows in last.groupby("problem", sort=True):
        value = rows["value"].astype(float)
        if rows["gap"].notna().any():
            score = np.log10(value.clip(lower=FLOOR))
        elif (value > 0).all():
            score = np.log10(value)
        else:
            score = value
        bad = (rows["status"] != "ok") | ~np.isfinite(score)
        worst = score[~bad].max() if (~bad).any() else 0.0
        frames.append(rows.assign(score=score.where(~bad, worst + 1.0)))
    scored = pd.concat(frames)
    return scored.pivot_table(
        index=["problem", "seed"], columns="solver", values="score", aggfunc="first"
    )


def win_loss(results: pd.DataFrame, *, alpha: float = ALPHA) -> pd.DataFrame:
    """Wins, losses and the Holm-adjusted Wilcoxon test for every ordered pair of solvers.

    Args:
        results: the results table.
        alpha: the family-wise significance level.

    Returns:
        One row per ordered pair (``a``, ``b``): ``wins`` (a better), ``losses``, ``ties``,
        ``n`` (pairs compared), ``p`` (two-sided Wilcoxon), ``p_holm`` and ``significant``
        (``p_holm < alpha`` and a wins more often than it loses).
    """
    scores = paired_scores(results)
    solvers = [str(s) for s in scores.columns]
    rows = []
    for a, b in itertools.combinations(solvers, 2):
        both = scores[[a, b]].dropna()
        d = (both[a] - both[b]).to_numpy(dtype=float)
        wins, losses = int((d < 0).sum()), int((d > 0).sum())
        p = 1.0
        if wins + losses > 0:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                p = float(stats.wilcoxon(d, zero_method="wilcox").pvalue)
            p = 1.0 if not np.isfinite(p) else p
        rows.append(
            {
                "a": a,
                "b": b,
                "wins": wins,
                "losses": losses,
                "ties": len(d) - wins - losses,
                "n": len(d),
                "p": p,
            }
        )
    table = pd.DataFrame(rows, columns=["a", "b", "wins", "losses", "ties", "n", "p"])
    table["p_holm"] = holm(table["p"].to_numpy())
    mirror = table.rename(columns={"a": "b", "b": "a", "wins": "losses", "losses": "wins"})
    both = pd.concat([table, mirror], ignore_index=True)
    both["significant"] = (both["p_holm"] < alpha) & (both["wins"] > both["losses"])
    cols = ["a", "b", "wins", "losses", "ties", "n", "p", "p_holm", "significant"]
    return both[cols].sort_values(["a", "b"], ignore_index=True)


def win_loss_figure(results: pd.DataFrame, *, alpha: float = ALPHA) -> Figure:
    """The matrix: the row solver's share of wins against the column solver.

    Cells read ``wins–losses``; a star marks a row solver significantly better after Holm's
    correction at `alpha`.
    """
    table = win_loss(results, alpha=alpha)
    solvers = sorted(set(table["a"]) | set(table["b"]))
    n = len(solvers)
    share = pd.DataFrame(np.nan, index=solvers, columns=solvers)
    notes = pd.DataFrame("", index=solvers, columns=solvers)
    for row in table.itertuples(index=False):
        decided = row.wins + row.losses
        share.loc[row.a, row.b] = row.wins / decided if decided else 0.5
        notes.loc[row.a, row.b] = f"{row.wins}–{row.losses}" + ("*" if row.significant else "")
    size = min(2.0 + 0.8 * n, 13.0)
    with plot_context():
        fig, (ax,) = new_figure(1, ncols=1, width=size + 2.0, height=size)
        if n < 2:
            ax.set_title("fewer than two solvers: nothing to compare")
            return fig
        labels = [legend_label(s) for s in solvers]
        sns.heatmap(
            share.astype(float),
            ax=ax,
            vmin=0,
            vmax=1,
            cmap="RdBu",
            annot=notes.to_numpy() if n <= 20 else False,
            fmt="",
            annot_kws={"fontsize": 8 if n <= 8 else 6},
            xticklabels=labels,
            yticklabels=labels,
            square=True,
            cbar_kws={"label": "share of wins (row against column)"},
        )
        ax.grid(False)
        ax.tick_params(axis="y", labelrotation=0)
        ax.tick_params(axis="x", labelrotation=30)
        for tick in ax.get_xticklabels():
            tick.set_horizontalalignment("right")
        ax.set_xlabel("against")
        ax.set_ylabel("solver")
        ax.set_title(f"wins–losses over (problem, seed)\n* Holm-adjusted Wilcoxon p < {alpha:g}")
    return fig
