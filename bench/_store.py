"""The writing side of the results store: one Parquet part per finished cell, and meta.json.

Layout of a run directory::

    runs/quick-20261130-010203/
        meta.json              study spec, command line, versions, CPU/GPU, git commit
        parts/<cell_id>.parquet
        claims/<cell_id>.json  cells being computed right now (bench._claims)
        corrupt/<timestamp>/   parts that failed to read back on resume, kept for a look

The columns are the schema of docs/RESULTS.md, the contract with the reading side
(``reports.load``, ``reports.SCHEMA``), which never imports this package. The writer reads
back only what resuming needs: which cells are finished (and whether their parts read back
whole), and the study in meta.json.

Every file is written whole or not at all: to a temporary file named after the writing
process, fsynced, then renamed over the final name (``os.replace`` is atomic on POSIX), so a
process killed mid-write leaves a temporary file that is never read, never a half part. A
write that fails (a full disk, a read-only directory) removes its temporary file and raises
`StoreError` naming the file and the reason.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import uuid
from pathlib import Path
from typing import Any

import pandas as pd

from problems import StoreError

__all__ = [
    "check_run_dir",
    "finished_cells",
    "load_meta",
    "part_bytes",
    "set_aside_corrupt",
    "write_meta",
    "write_part",
    "write_part_bytes",
]


def _parts(run_dir: Path) -> Path:
    return Path(run_dir) / "parts"


def check_run_dir(run_dir: Path) -> None:
    """Create `run_dir` if needed and check that this process can write into it.

    Raises:
        StoreError: a file is in the way, the directory cannot be created, or it is not
            writable (one line naming it).
    """
    run_dir = Path(run_dir)
    if run_dir.exists() and not run_dir.is_dir():
        msg = f"run directory {run_dir} is a file, not a directory: give another --out"
        raise StoreError(msg)
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        msg = f"cannot create run directory {run_dir}: {error.strerror or error}"
        raise StoreError(msg) from None
    if not os.access(run_dir, os.W_OK | os.X_OK):
        msg = f"run directory {run_dir} is not writable by this user: give another --out"
        raise StoreError(msg)


def _write_atomic(final: Path, data: bytes) -> None:
    """Write `data` to `final`: temporary file, fsync, rename (see the module docstring)."""
    # named after the process and unique within it: two writers never share a temporary file
    temporary = final.with_name(f".{final.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp")
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        with open(temporary, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, final)
    except OSError as error:
        temporary.unlink(missing_ok=True)
        reason = error.strerror or str(error)
        msg = f"cannot write {final}: {reason}"
        raise StoreError(msg) from error


def part_bytes(frame: pd.DataFrame) -> bytes:
    """A cell's rows as the bytes of its Parquet part (what a Dask worker sends back)."""
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return buffer.getvalue()


def write_part(run_dir: Path, cell_id: str, frame: pd.DataFrame) -> Path:
    """Write a cell's rows to ``parts/<cell_id>.parquet`` atomically."""
    return write_part_bytes(run_dir, cell_id, part_bytes(frame))


def write_part_bytes(run_dir: Path, cell_id: str, data: bytes) -> Path:
    """Write a part's bytes (`part_bytes`) to ``parts/<cell_id>.parquet`` atomically."""
    final = _parts(run_dir) / f"{cell_id}.parquet"
    _write_atomic(final, data)
    return final


def finished_cells(run_dir: Path) -> set[str]:
    """Ids of the cells whose part file exists (temporary files do not count)."""
    folder = _parts(run_dir)
    return {p.stem for p in folder.glob("*.parquet")} if folder.is_dir() else set()


def _unreadable(path: Path) -> str | None:
    """Why the part at `path` does not read back as a cell's rows, or None when it does."""
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except (OSError, ValueError) as error:  # pyarrow's ArrowInvalid is a ValueError
        return str(error).splitlines()[0][:200]
    if table.num_rows == 0 or "cell_id" not in table.column_names:
        return "no rows" if table.num_rows == 0 else "no cell_id column"
    if set(table.column("cell_id").to_pylist()) != {path.stem}:
        return "its rows belong to another cell"
    return None


def set_aside_corrupt(run_dir: Path) -> list[tuple[str, str]]:
    """Move every part that does not read back whole to ``corrupt/<timestamp>/``.

    Returns:
        ``(cell_id, reason)`` of each part moved: their cells count as not finished.
    """
    moved: list[tuple[str, str]] = []
    folder: Path | None = None
    for cell_id in sorted(finished_cells(run_dir)):
        path = _parts(run_dir) / f"{cell_id}.parquet"
        reason = _unreadable(path)
        if reason is None:
            continue
        if folder is None:
            stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S-%f")
            folder = Path(run_dir) / "corrupt" / stamp
            folder.mkdir(parents=True, exist_ok=True)
        try:
            os.replace(path, folder / path.name)
        except FileNotFoundError:  # another process on this directory moved it first
            continue
        moved.append((cell_id, reason))
    return moved


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
    _write_atomic(Path(run_dir) / "meta.json", json.dumps(meta, indent=2, default=str).encode())
