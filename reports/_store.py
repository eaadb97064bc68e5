"""The reading side of the results store: the schema of docs/RESULTS.md, `load` and `load_meta`.

A run directory is the contract between the harness that writes it (``bench``) and everything
that reads it (this package, notebooks, other tools): Parquet part files whose columns are
`SCHEMA`, and a JSON ``meta.json``. Nothing here imports the harness, torch or the catalogue,
as benchopt's plotting reads only its Parquet files.

Layout of a run directory::

    runs/quick-20261130-010203/
        meta.json              study spec, command line, versions, CPU/GPU, git commit
        parts/<cell_id>.parquet

Example:
    >>> import reports
    >>> frame = reports.load("runs/quick")                                 # doctest: +SKIP
    >>> frame.groupby(list(reports.CELL_KEYS))["gap"].median()             # doctest: +SKIP
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from problems import StoreError

__all__ = [
    "CELL_KEYS",
    "HP_PREFIX",
    "RECORDS",
    "RUN_KEYS",
    "SCHEMA",
    "STATUSES",
    "StoreError",
    "load",
    "load_meta",
]

RECORDS = ("checkpoint", "target", "trajectory", "grid")
"""The values of the ``record`` column: what a row is (see docs/RESULTS.md)."""

SCHEMA: dict[str, str] = {
    "record": "str",
    "study": "str",
    "cell_id": "str",
    "problem": "str",
    "problem_name": "str",
    "dim": "int",
    "tags": "str",
    "f_star": "float",
    "optimizer": "str",
    "optimizer_name": "str",
    "device": "str",
    "dtype": "str",
    "seed": "int",
    "status": "str",
    "reason": "str",
    "step": "float",
    "evals": "float",
    "time_s": "float",
    "loss": "float",
    "best_loss": "float",
    "gap": "float",
    "target": "float",
    "epoch": "float",
    "heldout_loss": "float",
    "warmup_s": "float",
    "step_mode": "str",
    "step_time_s": "float",
    "x0": "float",
    "x1": "float",
    "row": "int",
    "evals_per_step": "int",
    "mode": "str",
    "steps_budget": "float",
    "rows_per_block": "float",
    "peak_rss_mb": "float",
    "cuda_max_allocated_mb": "float",
    "noise_floor": "float",
    "baseline_loss": "float",
}
"""Every named column of the results table and its type, as docs/RESULTS.md lists them
(hyperparameters add ``hp_<name>`` columns, see `HP_PREFIX`). A column that is NaN on every
row of a table is dropped by `load`."""

HP_PREFIX = "hp_"
"""Prefix of the hyperparameter columns (``hp_lr``, ``hp_betas0``...)."""

CELL_KEYS = ("problem", "optimizer", "device")
"""The columns that name a cell of one run (problem x optimizer configuration x device)."""

RUN_KEYS = (*CELL_KEYS, "seed")
"""The columns that name one run: a seed of a cell."""

STATUSES = ("ok", "diverged", "failed")
"""The values of the ``status`` column."""


def _parts(run_dir: Path) -> Path:
    return Path(run_dir) / "parts"


def load(run_dir: str | Path, record: str | None = "checkpoint") -> pd.DataFrame:
    """The tidy long table of a run directory (see docs/RESULTS.md).

    Args:
        run_dir: a directory written by ``bench run``.
        record: which rows: ``checkpoint`` (default), ``target``, ``trajectory``, ``grid``,
            or None for all.

    Returns:
        One row per (cell, seed, checkpoint) for ``checkpoint`` (and likewise for the other
        record kinds); columns that are NaN on every row are dropped.

    Raises:
        StoreError: an unknown record kind, a missing directory, a directory without parts,
            or a truncated or corrupt part (named).
    """
    run_dir = Path(run_dir)
    if record is not None and record not in RECORDS:
        msg = f"unknown record kind {record!r}; allowed: {', '.join(RECORDS)}"
        raise StoreError(msg)
    if not run_dir.is_dir():
        msg = f"{run_dir}: no such run directory"
        raise StoreError(msg)
    files = sorted(_parts(run_dir).glob("*.parquet"))
    if not files:
        msg = f"{run_dir}: no results (no parts/*.parquet)"
        raise StoreError(msg)
    frames = []
    for path in files:
        try:
            frame = pd.read_parquet(path)
        except Exception as error:
            msg = f"{path}: corrupt or truncated Parquet part ({type(error).__name__}: {error})"
            raise StoreError(msg) from None
        frames.append(frame if record is None else frame[frame["record"] == record])
    frames = [f for f in frames if not f.empty]
    if not frames:
        return pd.DataFrame()
    table = pd.concat(frames, ignore_index=True).dropna(axis=1, how="all")
    # Plain Python strings: the report filters and groups by these columns thousands of
    # times, and pyarrow-backed strings pay a kernel call each time (0.6 s of a 9-cell report).
    text = [c for c in table.columns if pd.api.types.is_string_dtype(table[c].dtype)]
    return table.astype(dict.fromkeys(text, object)) if text else table


def load_meta(run_dir: str | Path) -> dict[str, Any]:
    """The run's meta.json as a dict (empty when the file is absent).

    Raises:
        StoreError: meta.json is not valid JSON, or not a JSON object (named).
    """
    path = Path(run_dir) / "meta.json"
    if not path.exists():
        return {}
    try:
        meta = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        msg = f"{path}: corrupt meta.json ({error})"
        raise StoreError(msg) from None
    if not isinstance(meta, dict):
        msg = f"{path}: meta.json holds a {type(meta).__name__}; allowed: a JSON object"
        raise StoreError(msg)
    return meta
