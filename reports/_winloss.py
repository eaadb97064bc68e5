"""A win/loss matrix of solvers with a paired test and a multiple-comparison correction.

Each pair of solvers is compared on every (problem, seed) both ran — seeds are paired, as seed
s starts from the same point for every optimizer — by the final gap on a log scale (the best
loss where f_star is unknown). A pair is a win only when the two final values differ by
more than a practical tolerance: `RTOL` of the larger, and never less than the float
precision of f* (`outcomes`); closer values tie. Diverged and failed runs count as worse than
every finished one. Seeds that repeat the same pair of runs count once. The test is the
Wilcoxon signed-rank test (`signed_rank_test`: zero differences dropped, exact for up to
`EXACT_MAX` pairs, ties included); the p-values of all pairs are adjusted by Holm's step-down
method (Holm 1979).
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from reports._convergence import FLOOR
from reports._load import with_solver
from reports._metrics import rounding_tolerance
from reports._select import finals
from reports._style import CHAR_IN, TICKS_IN, finish, legend_label, new_figure, plot_context

__all__ = [
    "ALPHA",
    "EXACT_MAX",
    "RTOL",
    "holm",
    "outcomes",
    "paired_scores",
    "signed_rank_test",
    "win_loss",
    "win_loss_figure",
]

ALPHA = 0.05
"""Family-wise error rate of the marked cells."""

EXACT_MAX = 50
"""Up to this many non-zero differences the signed-rank test's p-value is exact."""

RTOL = 1e-2
"""Final values within this relative difference of each other tie (no win, no loss)."""


def _midranks(values: np.ndarray) -> np.ndarray:
    """Ranks 1..n of `values`, tied values sharing the mean of their ranks."""
    order = np.argsort(values, kind="mergesort")
    ordered = values[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    ends = np.r_[starts[1:], len(values)]
    ranks = np.empty(len(values))
    ranks[order] = np.repeat((starts + ends + 1) / 2.0, ends - starts)
    return ranks


def signed_rank_test(differences: np.ndarray | pd.Series) -> float:
    r"""Two-sided p-value of the Wilcoxon signed-rank test that `differences` centre on zero.

    Zero differences are dropped (Wilcoxon's convention). With :math:`r_i` the midranks of
    :math:`|d_i|` over the remaining n, the statistic is :math:`W^+ = \sum_{d_i > 0} r_i`.
    Under the null hypothesis each sign is + or - with probability 1/2 independently, so
    :math:`W^+` is the sum of a random subset of the ranks; for n <= `EXACT_MAX` its
    distribution is computed exactly (a convolution over the ranks in half units, so ties
    are exact too) and :math:`p = \min(1, 2\min(P(W \le W^+), P(W \ge W^+)))`. Beyond,
    the normal approximation with the tie correction,
    :math:`\sigma^2 = \frac{n(n+1)(2n+1)}{24} - \frac{\sum_t (t^3 - t)}{48}`, without a
    continuity correction.

    This is `scipy.stats.wilcoxon(d, zero_method="wilcox")` where that is exact (no ties and
    n <= 50, or n <= 13) and where it is asymptotic (n > 50); between, with ties, scipy
    approximates and this is exact. It lives here so that a report does not import
    ``scipy.stats``.

    Sources: F. Wilcoxon, "Individual comparisons by ranking methods", Biometrics Bulletin 1
    (1945); M. Hollander, D. A. Wolfe, E. Chicken, "Nonparametric Statistical Methods",
    3rd ed. (2014), section 3.1.

    Args:
        differences: paired differences; NaN entries are ignored.

    Returns:
        The p-value in [0, 1] (1 when no difference is non-zero).

    Example:
        >>> round(signed_rank_test(np.array([1.0, 2.0, 3.0, 4.0, 5.0])), 4)
        0.0625
    """
    d = np.asarray(differences, dtype=float)
    d = d[np.isfinite(d) & (d != 0)]
    n = len(d)
    if n == 0:
        return 1.0
    ranks = _midranks(np.abs(d))
    w_plus = float(ranks[d > 0].sum())
    if n <= EXACT_MAX:
        halves = np.rint(2 * ranks).astype(int)  # midranks are multiples of 1/2
        pmf = np.zeros(int(halves.sum()) + 1)
        pmf[0] = 1.0
        for r in halves:
            shifted = np.zeros_like(pmf)
            shifted[r:] = pmf[:-r]
            pmf = 0.5 * (pmf + shifted)
        k = round(2 * w_plus)
        p = 2.0 * min(float(pmf[: k + 1].sum()), float(pmf[k:].sum()))
    else:
        _, counts = np.unique(np.abs(d), return_counts=True)
        mean = n * (n + 1) / 4
        var = n * (n + 1) * (2 * n + 1) / 24 - float((counts**3 - counts).sum()) / 48
        if var <= 0:
            return 1.0
        z = (w_plus - mean) / math.sqrt(var)
        p = math.erfc(abs(z) / math.sqrt(2))
    return min(max(p, 0.0), 1.0)


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
    return _finals(results)["score"]


def _finals(results: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """(problem, seed) x solver frames: ``score`` (see `paired_scores`), ``value`` (the
    final gap or best loss), ``bad`` (diverged or failed) and ``floor`` (the float precision
    of f*, `rounding_tolerance`, in the run's dtype)."""
    results = with_solver(results)
    last = finals(results)
    if last.empty:
        return {k: pd.DataFrame() for k in ("score", "value", "bad", "floor")}
    frames = []
    for _, rows in last.groupby("problem", sort=True):
        value = rows["value"].astype(float)
        known = rows["gap"].notna().any()
        if known:
            score = np.log10(value.clip(lower=FLOOR))
        elif (value > 0).all():
            score = np.log10(value)
        else:
            score = value
        bad = (rows["status"] != "ok") | ~np.isfinite(score)
        worst = score[~bad].max() if (~bad).any() else 0.0
        scale = rows["f_star"].astype(float) if known else value.abs()
        dtypes = rows["dtype"] if "dtype" in rows else pd.Series("float64", index=rows.index)
        floor = [float(rounding_tolerance(f, d)) for f, d in zip(scale.fillna(0.0), dtypes)]
        frames.append(rows.assign(score=score.where(~bad, worst + 1.0), bad=bad, floor=floor))
    scored = pd.concat(frames)
    return {
        column: scored.pivot_table(
            index=["problem", "seed"], columns="solver", values=column, aggfunc="first"
        )
        for column in ("score", "value", "bad", "floor")
    }


def outcomes(
    value_a: np.ndarray,
    value_b: np.ndarray,
    bad_a: np.ndarray,
    bad_b: np.ndarray,
    floor: np.ndarray,
    *,
    rtol: float = RTOL,
) -> np.ndarray:
    r"""-1 where a wins, +1 where b wins, 0 for a tie, pair by pair.

    Finished runs with final values :math:`a, b` (gaps, or best losses where f* is unknown)
    tie when :math:`|a - b| \le \max(\text{rtol} \cdot \max(|a|, |b|), \epsilon_{f^*})`,
    with :math:`\epsilon_{f^*}` the float precision of f* (`rounding_tolerance`), so two
    runs in the same minimum, one jittering by the step size, tie. A run that diverged or
    failed loses to a finished one; two such runs tie.

    Example:
        >>> outcomes(np.array([1.0, 1.0, 1e-15]), np.array([1.0005, 2.0, 0.0]),
        ...          np.zeros(3, bool), np.zeros(3, bool), np.full(3, 1e-14)).tolist()
        [0, -1, 0]
    """
    with np.errstate(invalid="ignore"):  # NaN or inf values belong to bad runs, decided below
        gap = np.abs(value_a - value_b)
        tolerance = np.maximum(rtol * np.maximum(np.abs(value_a), np.abs(value_b)), floor)
        sign = np.nan_to_num(np.where(gap <= tolerance, 0.0, np.sign(value_a - value_b)))
    sign = sign.astype(int)
    sign = np.where(bad_a & ~bad_b, 1, sign)
    sign = np.where(bad_b & ~bad_a, -1, sign)
    return np.where(bad_a & bad_b, 0, sign)


def win_loss(results: pd.DataFrame, *, alpha: float = ALPHA, rtol: float = RTOL) -> pd.DataFrame:
    """Wins, losses and the Holm-adjusted Wilcoxon test for every ordered pair of solvers.

    Pairs are the (problem, seed) both solvers ran, counted once when several seeds repeat
    the same pair of runs (distinct runs, as the metrics count them). A pair is a win only
    when the final values differ by more than the tolerance (`outcomes`: relative `rtol`,
    never finer than the float precision of f*), else a tie. The signed-rank test runs on
    the log-scale differences with ties as zero differences.

    Args:
        results: the results table.
        alpha: the family-wise significance level.
        rtol: the relative tolerance below which two final values tie.

    Returns:
        One row per ordered pair (``a``, ``b``): ``wins`` (a better), ``losses``, ``ties``,
        ``n`` (distinct pairs compared), ``p`` (two-sided Wilcoxon signed-rank test,
        `signed_rank_test`), ``p_holm``, ``significant`` (``p_holm < alpha``: the same on
        both rows of a pair) and ``better`` (the solver of the pair that wins more often
        when significant, else empty).
    """
    tables = _finals(results)
    scores = tables["score"]
    solvers = [str(s) for s in scores.columns]
    rows = []
    for a, b in itertools.combinations(solvers, 2):
        both = pd.concat(
            {
                "sa": scores[a],
                "sb": scores[b],
                "va": tables["value"][a],
                "vb": tables["value"][b],
                "ba": tables["bad"][a],
                "bb": tables["bad"][b],
                "floor": tables["floor"][[a, b]].max(axis=1),
            },
            axis=1,
        ).dropna(subset=["sa", "sb"])
        both = both.reset_index().drop_duplicates(["problem", "sa", "sb", "va", "vb", "ba", "bb"])
        sign = outcomes(
            both["va"].to_numpy(float),
            both["vb"].to_numpy(float),
            both["ba"].to_numpy(bool),
            both["bb"].to_numpy(bool),
            both["floor"].fillna(0.0).to_numpy(float),
            rtol=rtol,
        )
        d = np.where(sign == 0, 0.0, (both["sa"] - both["sb"]).to_numpy(dtype=float))
        d = np.where((sign != 0) & (d == 0), sign.astype(float), d)  # a decided pair is non-zero
        wins, losses = int((sign < 0).sum()), int((sign > 0).sum())
        p = signed_rank_test(d) if wins + losses > 0 else 1.0
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
    both["significant"] = both["p_holm"] < alpha
    both["better"] = np.where(
        both["significant"],
        np.where(both["wins"] >= both["losses"], both["a"], both["b"]),
        "",
    )
    cols = ["a", "b", "wins", "losses", "ties", "n", "p", "p_holm", "significant", "better"]
    return both[cols].sort_values(["a", "b"], ignore_index=True)


def win_loss_figure(results: pd.DataFrame, *, alpha: float = ALPHA, rtol: float = RTOL) -> Figure:
    """The matrix: the row solver's share of wins against the column solver.

    Cells read ``wins–losses``; a star marks a significant pair after Holm's correction at
    `alpha`, on both of its cells (the colour says which side wins).
    """
    table = win_loss(results, alpha=alpha, rtol=rtol)
    solvers = sorted(set(table["a"]) | set(table["b"]))
    n = len(solvers)
    share = pd.DataFrame(np.nan, index=solvers, columns=solvers)
    notes = pd.DataFrame("", index=solvers, columns=solvers)
    for row in table.itertuples(index=False):
        decided = row.wins + row.losses
        share.loc[row.a, row.b] = row.wins / decided if decided else 0.5
        notes.loc[row.a, row.b] = f"{row.wins}–{row.losses}" + ("*" if row.significant else "")
    size = min(2.0 + 0.8 * n, 13.0)
    labels = [legend_label(s) for s in solvers]
    longest = CHAR_IN * max((len(label) for label in labels), default=0)
    with plot_context():
        fig, (ax,) = new_figure(1, ncols=1, width=size + 2.0 + longest, height=size + 0.5 * longest)
        if n < 2:
            ax.set_title("fewer than two solvers: nothing to compare")
            finish(fig)
            return fig
        _heatmap(ax, share.to_numpy(float), notes.to_numpy() if n <= 20 else None, n)
        ax.set_xticks(np.arange(n) + 0.5, labels, rotation=30, horizontalalignment="right")
        ax.set_yticks(np.arange(n) + 0.5, labels, rotation=0, verticalalignment="center")
        ax.set_xlabel("against")
        ax.set_ylabel("solver")
        ax.set_title(
            f"wins–losses over (problem, seed); within {100 * rtol:g}% is a tie\n"
            f"* Holm-adjusted Wilcoxon p < {alpha:g} (on both cells of a pair)"
        )
        finish(fig, left=0.45 + longest, bottom=TICKS_IN + 0.5 * longest)
        mesh = ax.collections[0]
        bar = fig.colorbar(mesh, ax=ax, label="share of wins (row against column)")  # type: ignore[arg-type]
        bar.outline.set_linewidth(0)  # type: ignore[operator]
    return fig


def _heatmap(ax, share: np.ndarray, notes: np.ndarray | None, n: int) -> None:  # type: ignore[no-untyped-def]
    """seaborn's ``heatmap(square=True, cmap="RdBu", vmin=0, vmax=1)`` look, drawn directly.

    Cells are unit squares, row 0 at the top, NaN (the diagonal) left blank; a note is dark
    on light cells and white on dark ones (seaborn's relative-luminance rule).
    """
    masked = np.ma.masked_invalid(share)
    mesh = ax.pcolormesh(masked, cmap="RdBu", vmin=0.0, vmax=1.0)
    ax.set_xlim(0, n)
    ax.set_ylim(n, 0)
    ax.set_aspect("equal")
    ax.grid(False)
    for spine in ax.spines.values():
        spine.set_visible(False)
    if notes is None:
        return
    colours = mesh.cmap(mesh.norm(masked))
    blank = np.ma.getmaskarray(masked)
    fontsize = 8 if n <= 8 else 6
    for i, j in itertools.product(range(n), range(n)):
        if blank[i, j]:
            continue
        r, g, b = (
            c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in colours[i, j, :3]
        )
        dark = 0.2126 * r + 0.7152 * g + 0.0722 * b > 0.408
        ax.text(
            j + 0.5,
            i + 0.5,
            str(notes[i, j]),
            color=".15" if dark else "w",
            ha="center",
            va="center",
            fontsize=fontsize,
        )
