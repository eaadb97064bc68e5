"""The reading side: results files -> tables and metrics -> figures -> one HTML file.

Everything here reads the files ``bench run`` writes (Parquet parts and meta.json, the schema
of docs/RESULTS.md) and nothing else: no harness, no torch, no catalogue.

- the store: `load`, `load_meta`, the schema (`SCHEMA`, `RECORDS`, `CELL_KEYS`, ...);
- the metrics: `success_table`, `wilson_interval`, `ert`, `summary`, `target_label`;
- ``bench show``: `show_text`;
- the report: plot functions that take the results table and return a matplotlib `Figure`
  (Agg canvas), table functions that return HTML, `render` that assembles one page and
  `write` that loads run directories and writes the file.

Example:
    >>> import reports
    >>> reports.target_label(1e-4)
    '1e-04'
    >>> reports.write(["runs/quick"], "runs/quick/report.html")  # doctest: +SKIP

``bench report RUN_DIR [RUN_DIR ...] -o report.html [--label L ...]`` calls `write`;
pytest-benchmark JSON files or ``.benchmarks/`` folders among the paths add a section of step
times, their convergence and the change between the two newest saved runs (`load_benchmarks`).
Several run directories combine into one report (each row labelled by its ``run``); the same
optimizer from two runs or on two devices keeps its colour and differs by line style.

Names are imported on first use (PEP 562): reading a table or printing ``bench show`` loads
pandas but not matplotlib.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from problems import lazy_exports

_EXPORTS = {
    "benchmarks_html": "reports._benchmarks",
    "change_table": "reports._benchmarks",
    "load_benchmarks": "reports._benchmarks",
    "split_sources": "reports._benchmarks",
    "convergence_figure": "reports._convergence",
    "median_band": "reports._convergence",
    "device_figure": "reports._devices",
    "device_times": "reports._devices",
    "ecdf_figure": "reports._ecdf",
    "runtime_ecdf": "reports._ecdf",
    "heldout_figure": "reports._heldout",
    "landscape_figure": "reports._landscape",
    "landscape_grid": "reports._landscape",
    "add_solver": "reports._load",
    "load_runs": "reports._load",
    "ert": "reports._metrics",
    "expected_running_time": "reports._metrics",
    "group_keys": "reports._metrics",
    "distinct_runs": "reports._metrics",
    "rounding_tolerance": "reports._metrics",
    "success_table": "reports._metrics",
    "summary": "reports._metrics",
    "target_label": "reports._metrics",
    "wilson_interval": "reports._metrics",
    "TAU_MAX": "reports._profiles",
    "benchmark_score": "reports._profiles",
    "performance_profile": "reports._profiles",
    "performance_ratios": "reports._profiles",
    "profile_figure": "reports._profiles",
    "times_to_target": "reports._profiles",
    "render": "reports._render",
    "build_report": "reports._render",
    "SECTIONS": "reports._render",
    "Section": "reports._render",
    "Report": "reports._render",
    "profile_target": "reports._render",
    "shown_targets": "reports._select",
    "study_targets": "reports._select",
    "failure_reasons": "reports._show",
    "optimizer_style": "reports._style",
    "write": "reports._render",
    "show_text": "reports._show",
    "summary_view": "reports._show",
    "compact_view": "reports._show",
    "text_table": "reports._show",
    "CELL_KEYS": "reports._store",
    "HP_PREFIX": "reports._store",
    "RECORDS": "reports._store",
    "RUN_KEYS": "reports._store",
    "SCHEMA": "reports._store",
    "STATUSES": "reports._store",
    "StoreError": "reports._store",
    "load": "reports._store",
    "load_meta": "reports._store",
    "figure_html": "reports._style",
    "palette_for": "reports._style",
    "summary_frame": "reports._summary",
    "failures_table": "reports._tables",
    "header_html": "reports._tables",
    "scores_table": "reports._tables",
    "summary_table": "reports._tables",
    "holm": "reports._winloss",
    "outcomes": "reports._winloss",
    "paired_scores": "reports._winloss",
    "signed_rank_test": "reports._winloss",
    "win_loss": "reports._winloss",
    "win_loss_figure": "reports._winloss",
}

__all__ = [
    "CELL_KEYS",
    "HP_PREFIX",
    "RECORDS",
    "RUN_KEYS",
    "SCHEMA",
    "SECTIONS",
    "STATUSES",
    "TAU_MAX",
    "Report",
    "Section",
    "StoreError",
    "add_solver",
    "benchmark_score",
    "benchmarks_html",
    "build_report",
    "change_table",
    "compact_view",
    "convergence_figure",
    "device_figure",
    "device_times",
    "distinct_runs",
    "ecdf_figure",
    "ert",
    "expected_running_time",
    "failure_reasons",
    "failures_table",
    "figure_html",
    "group_keys",
    "header_html",
    "heldout_figure",
    "holm",
    "landscape_figure",
    "landscape_grid",
    "load",
    "load_benchmarks",
    "load_meta",
    "load_runs",
    "median_band",
    "optimizer_style",
    "outcomes",
    "paired_scores",
    "palette_for",
    "performance_profile",
    "performance_ratios",
    "profile_figure",
    "profile_target",
    "render",
    "rounding_tolerance",
    "runtime_ecdf",
    "scores_table",
    "show_text",
    "shown_targets",
    "signed_rank_test",
    "split_sources",
    "study_targets",
    "success_table",
    "summary",
    "summary_frame",
    "summary_table",
    "summary_view",
    "target_label",
    "text_table",
    "times_to_target",
    "wilson_interval",
    "win_loss",
    "win_loss_figure",
    "write",
]


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())


if TYPE_CHECKING:
    from reports._benchmarks import benchmarks_html, change_table, load_benchmarks, split_sources
    from reports._convergence import convergence_figure, median_band
    from reports._devices import device_figure, device_times
    from reports._ecdf import ecdf_figure, runtime_ecdf
    from reports._heldout import heldout_figure
    from reports._landscape import landscape_figure, landscape_grid
    from reports._load import add_solver, load_runs
    from reports._metrics import (
        distinct_runs,
        ert,
        expected_running_time,
        group_keys,
        rounding_tolerance,
        success_table,
        summary,
        target_label,
        wilson_interval,
    )
    from reports._profiles import (
        TAU_MAX,
        benchmark_score,
        performance_profile,
        performance_ratios,
        profile_figure,
        times_to_target,
    )
    from reports._render import (
        SECTIONS,
        Report,
        Section,
        build_report,
        profile_target,
        render,
        write,
    )
    from reports._select import shown_targets, study_targets
    from reports._show import compact_view, failure_reasons, show_text, summary_view, text_table
    from reports._store import (
        CELL_KEYS,
        HP_PREFIX,
        RECORDS,
        RUN_KEYS,
        SCHEMA,
        STATUSES,
        StoreError,
        load,
        load_meta,
    )
    from reports._style import figure_html, optimizer_style, palette_for
    from reports._summary import summary_frame
    from reports._tables import failures_table, header_html, scores_table, summary_table
    from reports._winloss import (
        holm,
        outcomes,
        paired_scores,
        signed_rank_test,
        win_loss,
        win_loss_figure,
    )
