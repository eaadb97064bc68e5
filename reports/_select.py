"""Small selections of the results table that several figures and tables share."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from problems import DEFAULT_TARGETS

__all__ = [
    "LOOSEST_SHOWN",
    "RUN_KEYS",
    "finals",
    "has_f_star",
    "measure",
    "pick_targets",
    "records",
    "shown_targets",
    "sorted_unique",
    "study_targets",
]

LOOSEST_SHOWN = 1e-1
"""Targets looser than this are left out of the shown ones when enough tighter ones remain."""

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


def pick_targets(targets: Sequence[float], k: int = 3) -> list[float]:
    """Up to `k` targets spread over `targets` (loose, middle, tight), sorted descending.

    The middle one is the lower middle: of eight decades 1e-1..1e-8, ``1e-4``.

    Example:
        >>> pick_targets([1e-1, 1e-2, 1e-3, 1e-4, 1e-5, 1e-6, 1e-7, 1e-8])
        [0.1, 0.0001, 1e-08]
    """
    ts = sorted({float(t) for t in targets if np.isfinite(t)}, reverse=True)
    if len(ts) <= k:
        return ts
    idx = np.unique(np.floor(np.linspace(0, len(ts) - 1, k)).astype(int))
    return [ts[i] for i in idx]


def study_targets(
    results: pd.DataFrame, metas: Mapping[str, Mapping[str, Any]] | None = None
) -> list[float]:
    """The study's targets, loose to tight: from meta.json's study spec, else the target rows,
    else `problems.DEFAULT_TARGETS`."""
    values: set[float] = set()
    for meta in (metas or {}).values():
        spec = meta.get("study")
        if isinstance(spec, Mapping):
            values |= {float(t) for t in spec.get("targets", []) or []}
    if not values:
        tg = records(results, "target")
        values = set(tg["target"].dropna().astype(float)) if "target" in tg else set()
    return sorted(values or DEFAULT_TARGETS, reverse=True)


def shown_targets(targets: Sequence[float], k: int = 3) -> list[float]:
    """The targets every summary shows (``bench show`` and the report alike): `pick_targets`
    of the study's, leaving out those looser than `LOOSEST_SHOWN` when `k` tighter remain.

    Example:
        >>> shown_targets([1e1, 1e0, 1e-1, 1e-2, 1e-3, 1e-4, 1e-5, 1e-6, 1e-7, 1e-8])
        [0.1, 0.0001, 1e-08]
        >>> shown_targets([10.0, 1.0])
        [10.0, 1.0]
    """
    tight = [t for t in targets if t <= LOOSEST_SHOWN]
    return pick_targets(tight if len(tight) >= k else targets, k)
