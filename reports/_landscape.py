"""2-D landscapes: the stored grid as filled contours with a few trajectories per solver."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from reports._convergence import solver_styles
from reports._load import with_solver
from reports._select import records, sorted_unique
from reports._style import Palette, finish, legend_handles, new_figure, plot_context, title

__all__ = ["MAX_LANDSCAPES", "TRAJECTORIES", "landscape_figure", "landscape_grid"]

MAX_LANDSCAPES = 12
"""At most this many 2-D problems are drawn."""

TRAJECTORIES = 3
"""Trajectories drawn per solver and problem (the lowest seeds; for multi-start methods, the
first starts of the lowest seed)."""


def landscape_grid(results: pd.DataFrame, problem: str) -> tuple[np.ndarray, ...] | None:
    """The landscape grid of `problem` as meshgrid arrays ``(X0, X1, LOSS)``.

    The grid comes from ``record == "grid"`` rows (``x0``, ``x1``, ``loss``); every cell of a
    problem holds the same grid, so the first cell's is used. None when there is none.
    """
    grid = records(results, "grid")
    grid = grid[grid["problem"] == problem]
    if grid.empty:
        return None
    grid = grid[grid["cell_id"] == grid["cell_id"].iloc[0]] if "cell_id" in grid else grid
    table = grid.pivot_table(index="x1", columns="x0", values="loss", aggfunc="mean")
    if table.shape[0] < 2 or table.shape[1] < 2:
        return None
    x0, x1 = np.meshgrid(table.columns.to_numpy(float), table.index.to_numpy(float))
    return x0, x1, table.to_numpy(float)


def _paths(rows: pd.DataFrame, k: int) -> list[tuple[tuple[str, float, float], pd.DataFrame]]:
    """The first `k` paths of each solver: one per (seed, row of a multi-start seed)."""
    has_row = "row" in rows and bool(rows["row"].notna().any())
    rows = rows.assign(row=rows["row"].fillna(0.0) if has_row else 0.0)
    out = []
    for _, mine in rows.groupby("solver", sort=True):
        for key, path in list(mine.groupby(["solver", "seed", "row"], sort=True))[:k]:
            out.append((key, path))
    return out


def _display(loss: np.ndarray) -> np.ndarray:
    """log10 of the loss above its grid minimum: contours where the landscape is flat too."""
    finite = np.isfinite(loss)
    if not finite.any():
        return np.zeros_like(loss)
    shifted = loss - np.nanmin(loss[finite])
    span = float(np.nanmax(shifted[finite])) or 1.0
    out = np.log10(np.where(finite, shifted, span) + span * 1e-6)
    return out


def landscape_figure(
    results: pd.DataFrame,
    *,
    palette: Palette | None = None,
    max_problems: int = MAX_LANDSCAPES,
    trajectories: int = TRAJECTORIES,
) -> Figure | None:
    """Contours of each 2-D problem's landscape with the first seeds' trajectories.

    Args:
        results: the results table (grid and trajectory rows are used).
        palette: optimizer -> colour.
        max_problems: the most problems drawn.
        trajectories: trajectories per solver (seeds in ascending order).

    Returns:
        The figure, or None when no problem has a grid.
    """
    results = with_solver(results)
    grids = records(results, "grid")
    problems = sorted_unique(grids["problem"])[:max_problems]
    if not problems:
        return None
    styles = solver_styles(results, palette)
    traj = records(results, "trajectory").dropna(subset=["x0", "x1"])
    with plot_context():
        fig, axes = new_figure(len(problems), ncols=4, width=13.0, height=3.2)
        for ax, problem in zip(axes, problems):
            grid = landscape_grid(results, problem)
            ax.set_title(title(problem))
            if grid is None:
                continue
            x0, x1, loss = grid
            ax.contourf(x0, x1, _display(loss), levels=20, cmap="Greys_r", alpha=0.85)
            ax.contour(x0, x1, _display(loss), levels=10, colors="white", linewidths=0.4)
            rows = traj[traj["problem"] == problem]
            for (solver, _, _), path in _paths(rows, trajectories):
                colour, style = styles.get(str(solver), ((0.3, 0.3, 0.3), "-"))
                path = path.sort_values("step")
                ax.plot(path["x0"], path["x1"], color=colour, linestyle=style, linewidth=1.2)
                ax.plot(path["x0"].iloc[:1], path["x1"].iloc[:1], "o", color=colour, markersize=3)
                ax.plot(
                    path["x0"].iloc[-1:],
                    path["x1"].iloc[-1:],
                    "*",
                    color=colour,
                    markersize=7,
                    markeredgecolor="black",
                    markeredgewidth=0.4,
                )
            ax.set_xlim(float(x0.min()), float(x0.max()))
            ax.set_ylim(float(x1.min()), float(x1.max()))
            ax.set_xlabel("x0")
            ax.set_ylabel("x1")
            ax.grid(False)
        finish(fig, legend_handles(styles), legend="bottom", legend_cols=5)
    return fig
