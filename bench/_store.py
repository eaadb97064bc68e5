"""The writing side of the results store: one Parquet part per finished cell, and meta.json.

Layout of a run directory::

    runs/quick-20261130-010203/
        meta.json              study spec, command line, versions, CPU/GPU, git commit
        parts/<cell_id>.parquet

The columns are the schema of docs/RESULTS.md, the contract with the reading side
(``reports.load``, ``reports.SCHEMA``), which never imports this package. The writer reads
back only what resuming needs: which cells are finished, and the study in meta.json.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pandas as pd

from problems import StoreError

__all__ = ["finished_cells", "load_meta", "write_meta", "write_part"]


def _parts(run_dir: Path) -> Path:
    return Path(run_dir) / "parts"


def write_part(run_dir: Path, cell_id: str, frame: pd.DataFrame) -> Path:
    """Write a cell's rows to ``parts/<cell_id>.parquet``: temporary file, fsync, rename."""
    folder = _parts(run_dir)
    folder.mkdir(parents=True, exist_ok=True)
    final = folder / f"{cell_id}.parquet"
    temporary = folder / f".{cell_id}.parquet.tmp"
    frame.to_parquet(temporary, index=False)
    with open(temporary, "rb") as handle:
        os.fsync(handle.fileno())
    os.replace(temporary, final)
    return final


def finished_cells(run_dir: Path) -> set[str]:
    """Ids of the cells whose part file exists (temporary files do not count)."""
    folder = _parts(run_dir)
    return {p.stem for p in folder.glob("*.parquet")} if folder.is_dir() else set()


def load_meta(run_dir: str | Path) -> dict[str, Any]:
    """meta.json of a run directory being resumed (empty dict when absent).

    The writer's own read, for resume; readers of results use ``reports.load_meta``.

    Raises:
        StoreError: meta.json is corrupt (named).
    """
    path = Path(run_dir) / "meta.json"
    if not path.exists():
        return {}
    try:
        return dict(json.loads(path.read_text()))
    except (json.JSONDecodeError, TypeError, ValueError) as error:
        msg = f"{path}: corrupt meta.json ({error})"
        raise StoreError(msg) from None


def write_meta(run_dir: Path, meta: dict[str, object]) -> None:
    """Write meta.json atomically."""
    run_dir.mkdir(parents=True, exist_ok=True)
    temporary = run_dir / ".meta.json.tmp"
    temporary.write_text(json.dumps(meta, indent=2, default=str))
    os.replace(temporary, run_dir / "meta.json")
