"""Small selections of the results table that several figures and tables share."""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = [
    "RUN_KEYS",
    "finals",
    "has_f_star",
    "measure",
    "pick_targets",
    "records",
    "sorted_unique",
]

RUN_KEYS = ["solver", "problem", "seed"]
"""One run of the study: a seed of a solver on a problem."""


def records(results: pd.DataFrame, record: str) -> pd.DataFrame:
    """The rows of one record kind (``checkpoint``, ``target``, ``trajectory``, ``grid``)."""
    if "record" not in results:
        return results.iloc[:0]
    return results[results["record"] == record]


def sorted_unique(series: pd.Series) -> list[str]:
    """The distinct values of `series` as sorted strings."""
    return sorted({str(v) for v in series.dropna().unique()})


def has_f_star(frame: pd.DataFrame) -> bool:
    """Whether the rows have a known optimum (and so a gap)."""
    return bool("gap" in frame and frame["gap"].notna().any())


def measure(frame: pd.DataFrame) -> str:
    """The column to plot for one problem: ``gap`` where f_star is known, else ``best_loss``."""
    return "gap" if has_f_star(frame) else "best_loss"


def finals(results: pd.DataFrame) -> pd.DataFrame:
    """The last checkpoint row of every run, with ``value``: its final gap (or best loss)."""
    ck = records(results, "checkpoint")
    if ck.empty:
        return ck.assign(value=pd.Series(dtype=float))
    last = ck.sort_values("step").groupby(RUN_KEYS, sort=False).tail(1)
    value = last["gap"].where(last["gap"].notna(), last["best_loss"])
    return last.assign(value=value.astype(float))


def pick_targets(targets: list[float], k: int = 3) -> list[float]:
    """Up to `k` targets spread over the study's (loose, middle, tight), sorted descending."""
    ts = sorted({float(t) for t in targets if np.isfinite(t)}, reverse=True)
    if len(ts) <= k:
        return ts
    idx = np.unique(np.round(np.linspace(0, len(ts) - 1, k)).astype(int))
    return [ts[i] for i in idx]
