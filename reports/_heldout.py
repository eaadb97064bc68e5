"""ML problems: held-out loss against epochs, with the noise floor where it is recorded."""

from __future__ import annotations

import pandas as pd
from matplotlib.figure import Figure

from reports._convergence import median_band, solver_styles
from reports._load import with_solver
from reports._select import records, sorted_unique
from reports._style import (
    Palette,
    finish,
    legend_handles,
    log_scale,
    new_figure,
    plot_context,
    title,
)

__all__ = ["heldout_figure"]


def heldout_figure(results: pd.DataFrame, *, palette: Palette | None = None) -> Figure | None:
    """Median and interquartile band of the held-out loss over seeds against epochs.

    The x axis is ``epoch`` where recorded, else ``step``; a dashed line marks the median of
    the ``noise_floor`` column when the results have it.

    Args:
        results: the results table.
        palette: optimizer -> colour.

    Returns:
        The figure, or None when no checkpoint row has a held-out loss.
    """
    if "heldout_loss" not in results:
        return None
    results = with_solver(results)
    ck = records(results, "checkpoint").dropna(subset=["heldout_loss"])
    if ck.empty:
        return None
    styles = solver_styles(results, palette)
    problems = sorted_unique(ck["problem"])[:8]
    with plot_context():
        fig, axes = new_figure(len(problems), ncols=2, width=12.0, height=3.6)
        for ax, problem in zip(axes, problems):
            rows = ck[ck["problem"] == problem]
            x = "epoch" if "epoch" in rows and rows["epoch"].notna().any() else "step"
            band = median_band(rows, x, "heldout_loss")
            if (band["x"] > 0).any():  # log x: the start (epoch 0) cannot be drawn
                band = band[band["x"] > 0]
            positive = bool((band[["median", "q25", "q75"]] > 0).all().all())
            for solver, line in band.groupby("solver", sort=True):
                colour, style = styles.get(str(solver), ((0.3, 0.3, 0.3), "-"))
                ax.plot(line["x"], line["median"], color=colour, linestyle=style)
                ax.fill_between(
                    line["x"], line["q25"], line["q75"], color=colour, alpha=0.18, linewidth=0
                )
            if "noise_floor" in rows and rows["noise_floor"].notna().any():
                floor = float(rows["noise_floor"].median())
                ax.axhline(floor, color="black", linestyle="--", linewidth=1.0)
                ax.annotate(
                    "noise floor",
                    (0.01, floor),
                    xycoords=("axes fraction", "data"),
                    fontsize=8,
                    va="bottom",
                )
                positive = positive and floor > 0
            if positive and len(band):
                log_scale(ax, y=True)
            if len(band) and (band["x"] > 0).all():
                log_scale(ax, x=True)
            ax.set_xlabel(x)
            ax.set_ylabel("held-out loss")
            ax.set_title(title(problem))
        finish(fig, legend_handles(styles), legend="bottom", legend_cols=3)
    return fig
