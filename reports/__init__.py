"""Comparison reports: pure functions from the results table to figures to one HTML file.

Example:
    >>> import reports
    >>> reports.write(["runs/quick"], "runs/quick/report.html")  # doctest: +SKIP

``bench report RUN_DIR [RUN_DIR ...] -o report.html [--label L ...]`` calls `write`. Several
run directories combine into one report (each row labelled by its ``run``); the same
optimizer from two runs or on two devices keeps its colour and differs by line style.

Plot functions take the results table (docs/RESULTS.md) and return a matplotlib `Figure`
(Agg backend); table functions return HTML strings; `render` assembles them and `write`
loads run directories and writes the file.
"""

from __future__ import annotations

from reports._convergence import convergence_figure, median_band
from reports._devices import device_figure, device_times
from reports._ecdf import ecdf_figure, runtime_ecdf
from reports._heldout import heldout_figure
from reports._landscape import landscape_figure, landscape_grid
from reports._load import add_solver, load_runs
from reports._profiles import (
    TAU_MAX,
    benchmark_score,
    performance_profile,
    performance_ratios,
    profile_figure,
    times_to_target,
)
from reports._render import render, write
from reports._style import figure_html, palette_for
from reports._summary import summary_frame
from reports._tables import failures_table, header_html, scores_table, summary_table
from reports._winloss import holm, paired_scores, win_loss, win_loss_figure

__all__ = [
    "TAU_MAX",
    "add_solver",
    "benchmark_score",
    "convergence_figure",
    "device_figure",
    "device_times",
    "ecdf_figure",
    "failures_table",
    "figure_html",
    "header_html",
    "heldout_figure",
    "holm",
    "landscape_figure",
    "landscape_grid",
    "load_runs",
    "median_band",
    "paired_scores",
    "palette_for",
    "performance_profile",
    "performance_ratios",
    "profile_figure",
    "render",
    "runtime_ecdf",
    "scores_table",
    "summary_frame",
    "summary_table",
    "times_to_target",
    "win_loss",
    "win_loss_figure",
    "write",
]
