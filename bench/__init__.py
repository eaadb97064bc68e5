"""The harness: study specs, the batched engine, the results store's writer and the CLI.

Reading results (the table, the metrics, ``bench show``) is the ``reports`` package's job;
it reads the files this package writes and never imports it.

A notebook runs a study with `run` (the tidy table back, no run directory unless asked);
`check` runs the conformance checks of ``bench check``; `load_plugins` imports plugins.

Example:
    >>> import bench
    >>> import reports
    >>> study = bench.Study.from_toml("studies/quick.toml")        # doctest: +SKIP
    >>> bench.run_study(study, "runs/quick")                         # doctest: +SKIP
    >>> reports.load("runs/quick").groupby("optimizer")["gap"].median()  # doctest: +SKIP

Names are imported on first use (PEP 562), so ``bench list`` and the engine start without
pandas and pyarrow.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

if "torch" not in sys.modules:  # before torch's first allocation: see bench._allocator
    os.environ.setdefault("THP_MEM_ALLOC_ENABLE", "1")

from problems import lazy_exports  # imports torch

_EXPORTS = {
    "run": "bench._api",
    "Outcome": "bench._check",
    "check": "bench._check",
    "check_optimizer": "bench._check",
    "check_problem": "bench._check",
    "load_plugins": "bench._plugins",
    "run_cell": "bench._cell",
    "log_checkpoints": "bench._checkpoints",
    "Trace": "bench._engine",
    "make_objective": "bench._engine",
    "run_rows": "bench._engine",
    "starts": "bench._engine",
    "RunSummary": "bench._runner",
    "run_study": "bench._runner",
    "DEFAULT_TARGETS": "bench._study",
    "Cell": "bench._study",
    "Study": "bench._study",
}

__all__ = [
    "DEFAULT_TARGETS",
    "Cell",
    "Outcome",
    "RunSummary",
    "Study",
    "Trace",
    "check",
    "check_optimizer",
    "check_problem",
    "load_plugins",
    "log_checkpoints",
    "make_objective",
    "run",
    "run_cell",
    "run_rows",
    "run_study",
    "starts",
]


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())


if TYPE_CHECKING:
    from bench._api import run
    from bench._cell import run_cell
    from bench._check import Outcome, check, check_optimizer, check_problem
    from bench._checkpoints import log_checkpoints
    from bench._engine import Trace, make_objective, run_rows, starts
    from bench._plugins import load_plugins
    from bench._runner import RunSummary, run_study
    from bench._study import DEFAULT_TARGETS, Cell, Study
