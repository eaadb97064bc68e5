"""The results store: one Parquet part per finished cell, written atomically, and meta.json.

Layout of a run directory::

    runs/quick-20261130-010203/
        meta.json              study spec, command line, versions, CPU/GPU, git commit
        parts/<cell_id>.parquet
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd

from problems import StoreError

__all__ = [
    "RECORDS",
    "StoreError",
    "finished_cells",
    "load",
    "load_meta",
    "write_meta",
    "write_part",
]

RECORDS = ("checkpoint", "target", "trajectory", "grid")


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


def load(run_dir: str | Path, record: str | None = "checkpoint") -> pd.DataFrame:
    """The tidy long table of a run directory (see docs/RESULTS.md).

    Args:
        run_dir: a directory written by ``bench run``.
        record: which rows: ``checkpoint`` (default), ``target``, ``trajectory``, ``grid``,
            or None for all.

    Raises:
        StoreError: the directory holds no parts, or a part is truncated or corrupt (named).
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
    return pd.concat(frames, ignore_index=True).dropna(axis=1, how="all")


def load_meta(run_dir: str | Path) -> dict[str, object]:
    """The run's meta.json (empty dict when absent)."""
    path = Path(run_dir) / "meta.json"
    if not path.exists():
        return {}
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as error:
        msg = f"{path}: corrupt meta.json ({error})"
        raise StoreError(msg) from None


def write_meta(run_dir: Path, meta: dict[str, object]) -> None:
    """Write meta.json atomically."""
    run_dir.mkdir(parents=True, exist_ok=True)
    temporary = run_dir / ".meta.json.tmp"
    temporary.write_text(json.dumps(meta, indent=2, default=str))
    os.replace(temporary, run_dir / "meta.json")
