"""Read one or more run directories (Parquet part files and meta.json only) into one table."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from problems import SpecError
from reports._store import load, load_meta

__all__ = ["COLUMNS", "add_solver", "load_runs", "run_labels", "with_solver"]

COLUMNS = (
    "record", "run", "problem", "optimizer", "device", "seed", "status", "reason", "step",
    "evals", "time_s", "loss", "best_loss", "gap", "f_star", "target", "epoch", "heldout_loss",
    "step_time_s", "x0", "x1",
)  # fmt: skip
"""Columns the report reads; `add_solver` adds any that a table lacks (`load` drops all-NaN
columns, e.g. ``gap`` when no problem has a known optimum). All but ``run`` (the label of a
run directory, added by `load_runs`) are columns of the schema (`SCHEMA`)."""


def run_labels(run_dirs: Sequence[Path], metas: Sequence[dict[str, Any]]) -> list[str]:
    """One unique label per run: meta's ``label`` or ``name``, else the directory name.

    Duplicates fall back to the directory name, then get a ``#n`` suffix.
    """
    labels = [str(m.get("label") or m.get("name") or d.name) for d, m in zip(run_dirs, metas)]
    if len(set(labels)) < len(labels):
        labels = [d.name or str(d) for d in run_dirs]
    seen: dict[str, int] = {}
    unique = []
    for label in labels:
        seen[label] = seen.get(label, 0) + 1
        unique.append(label if seen[label] == 1 else f"{label} #{seen[label]}")
    return unique


def add_solver(results: pd.DataFrame) -> pd.DataFrame:
    """Add the ``variant`` and ``solver`` columns the report compares by.

    ``variant`` names the run and/or device when the table holds more than one of them
    (empty otherwise); ``solver`` is ``optimizer`` followed by the variant in brackets, so the
    same optimizer from two runs or on two devices is two solvers with one colour.
    """
    out = results.copy()
    for column in COLUMNS:
        if column not in out:
            out[column] = "" if column in ("run", "reason") else np.nan
    parts = []
    if "run" in out and out["run"].nunique() > 1:
        parts.append(out["run"].astype(str))
    if "device" in out and out["device"].nunique() > 1:
        parts.append(out["device"].astype(str))
    if parts:
        variant = parts[0]
        for extra in parts[1:]:
            variant = variant + " · " + extra
        out["variant"] = variant
        out["solver"] = out["optimizer"].astype(str) + " [" + variant + "]"
    else:
        out["variant"] = ""
        out["solver"] = out["optimizer"].astype(str)
    return out


def load_runs(
    run_dirs: Sequence[Path | str], *, labels: Sequence[str] | None = None
) -> tuple[pd.DataFrame, dict[str, dict[str, Any]]]:
    """Load run directories into one results table with a ``run`` label column.

    Reads only Parquet and JSON, through `load` (all record kinds) and `load_meta`.

    Args:
        run_dirs: directories holding ``parts/*.parquet`` and ``meta.json``.
        labels: one label per run (default: meta's label or name, else the directory name).

    Returns:
        The combined table (docs/RESULTS.md columns plus ``run``) and ``{run label: meta}``.

    Raises:
        StoreError: a directory without results, or a corrupt file (named).
        SpecError: no run directories, or labels that do not match them one to one.
    """
    dirs = [Path(d) for d in run_dirs]
    if not dirs:
        msg = "no run directories given"
        raise SpecError(msg)
    metas = [load_meta(d) for d in dirs]
    if labels is None:
        names = run_labels(dirs, metas)
    else:
        names = [str(label) for label in labels]
        if len(names) != len(dirs) or len(set(names)) != len(names):
            msg = f"labels {names!r} must be unique, one per run directory ({len(dirs)})"
            raise SpecError(msg)
    frames = []
    for name, d in zip(names, dirs):
        frame = load(d, record=None)
        frame.insert(0, "run", name)
        frames.append(frame)
    results = pd.concat(frames, ignore_index=True)
    return results, dict(zip(names, metas))


def with_solver(results: pd.DataFrame) -> pd.DataFrame:
    """`results` with ``solver`` and ``variant`` columns (added by `add_solver` when missing)."""
    if "solver" in results and "variant" in results:
        return results
    return add_solver(results)
