"""The harness: study specs, the batched engine, the results store, metrics and the CLI.

Example:
    >>> import bench
    >>> study = bench.Study.from_toml("studies/quick.toml")        # doctest: +SKIP
    >>> bench.run_study(study, "runs/quick")                         # doctest: +SKIP
    >>> bench.load("runs/quick").groupby("optimizer")["gap"].median()  # doctest: +SKIP
"""

from __future__ import annotations

from bench._cell import run_cell
from bench._checkpoints import log_checkpoints
from bench._engine import Trace, run_rows, starts
from bench._metrics import ert, success_table, summary, wilson_interval
from bench._runner import RunSummary, run_study
from bench._store import StoreError, load, load_meta
from bench._study import DEFAULT_TARGETS, Cell, Study

__all__ = [
    "DEFAULT_TARGETS",
    "Cell",
    "RunSummary",
    "StoreError",
    "Study",
    "Trace",
    "ert",
    "load",
    "load_meta",
    "log_checkpoints",
    "run_cell",
    "run_rows",
    "run_study",
    "starts",
    "success_table",
    "summary",
    "wilson_interval",
]
