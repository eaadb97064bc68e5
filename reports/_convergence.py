"""Convergence: gap (or loss) against steps, evaluations or wall time, faceted by problem."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from reports._load import with_solver
from reports._select import measure, records, sorted_unique
from reports._style import (
    LINESTYLES,
    Palette,
    finish,
    legend_handles,
    log_scale,
    new_figure,
    optimizer_style,
    palette_for,
    plot_context,
    title,
)

__all__ = ["FLOOR", "MAX_FACETS", "convergence_figure", "median_band", "solver_styles"]

MAX_FACETS = 24
"""At most this many problems per figure (the rest are named in a note)."""

FLOOR = 1e-16
"""Gaps below this are drawn at this value on the log axis."""

XLABELS = {
    "step": "steps",
    "evals": "objective evaluations",
    "time_s": "wall time (s)",
    "epoch": "epoch",
}


def median_band(frame: pd.DataFrame, x: str, y: str) -> pd.DataFrame:
    """Median and interquartile range of `y` over seeds at each step, per solver.

    Args:
        frame: checkpoint rows of one problem with ``solver``, ``step``, `x` and `y`.
        x: the x column (its median over seeds at each step is the x position).
        y: the measured column.

    Returns:
        Columns ``solver``, ``step``, ``x``, ``median``, ``q25``, ``q75``, sorted by step.
    """
    rows = frame[list(dict.fromkeys(["solver", "step", x, y]))].dropna(subset=[x, y])
    if rows.empty:
        return pd.DataFrame(columns=["solver", "step", "x", "median", "q25", "q75"])
    grouped = rows.groupby(["solver", "step"], sort=True)
    out = pd.DataFrame(
        {
            "x": grouped[x].median(),
            "median": grouped[y].median(),
            "q25": grouped[y].quantile(0.25),
            "q75": grouped[y].quantile(0.75),
        }
    ).reset_index()
    return out


def solver_styles(
    results: pd.DataFrame, palette: Palette | None = None
) -> dict[str, tuple[tuple[float, float, float], str]]:
    """``{solver: (colour, line style)}``: both from the optimizer's name
    (`optimizer_style`), except that the line style tells the runs or devices apart when the
    table holds more than one."""
    palette = palette or palette_for(results["optimizer"].astype(str))
    pairs = results[["solver", "optimizer", "variant"]].drop_duplicates()
    variants = sorted_unique(pairs["variant"])
    styles = {}
    for solver, optimizer, variant in pairs.itertuples(index=False):
        colour = palette.get(str(optimizer), optimizer_style(str(optimizer))[0])
        if len(variants) > 1:
            style = LINESTYLES[variants.index(str(variant)) % len(LINESTYLES)]
        else:
            style = optimizer_style(str(optimizer))[1]
        styles[str(solver)] = (colour, style)
    return styles


def _draw(ax, band: pd.DataFrame, styles: dict, *, logy: bool) -> None:  # type: ignore[no-untyped-def]
    for solver, line in band.groupby("solver", sort=True):
        colour, style = styles.get(str(solver), ((0.3, 0.3, 0.3), "-"))
        ys = [line["median"], line["q25"], line["q75"]]
        if logy:
            ys = [np.maximum(v, FLOOR) for v in ys]
        ax.plot(line["x"], ys[0], color=colour, linestyle=style, linewidth=1.4)
        ax.fill_between(line["x"], ys[1], ys[2], color=colour, alpha=0.18, linewidth=0)


def convergence_figure(
    results: pd.DataFrame,
    x: str = "step",
    *,
    y: str | None = None,
    palette: Palette | None = None,
    max_facets: int = MAX_FACETS,
) -> Figure:
    """Median (line) and interquartile band (shade) over seeds, one facet per problem.

    The y axis is the gap to f_star where it is known, else the best loss; both axes are
    logarithmic where the values are positive.

    Args:
        results: the results table (with ``solver`` and ``variant``; see `add_solver`).
        x: ``step``, ``evals``, ``time_s`` or ``epoch``.
        y: the measured column; default: ``gap`` or ``best_loss`` per problem.
        palette: optimizer -> colour.
        max_facets: the most problems drawn.

    Returns:
        The figure.
    """
    results = with_solver(results)
    ck = records(results, "checkpoint")
    problems = sorted_unique(ck["problem"])[:max_facets]
    styles = solver_styles(results, palette)
    with plot_context():
        fig, axes = new_figure(len(problems))
        for ax, problem in zip(axes, problems):
            rows = ck[ck["problem"] == problem]
            col = y or measure(rows)
            band = median_band(rows, x, col)
            if (band["x"] > 0).any():  # log x: the start (step 0, time 0) cannot be drawn
                band = band[band["x"] > 0]
            values = band[["median", "q25", "q75"]].to_numpy(dtype=float)
            logy = col == "gap" or bool(values.size and np.nanmin(values) > 0)
            _draw(ax, band, styles, logy=logy)
            if logy and band.size:
                log_scale(ax, y=True)
            if band.size and (band["x"] > 0).all():
                log_scale(ax, x=True)
            ax.set_title(title(problem))
            ax.set_xlabel(XLABELS.get(x, x))
            ax.set_ylabel("gap to f*" if col == "gap" else col.replace("_", " "))
        if not problems:
            axes[0].set_title("no checkpoint rows")
        finish(fig, legend_handles(styles), legend="bottom", legend_cols=5)
    return fig
