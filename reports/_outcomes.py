"""Per-run outcomes and per-cell summaries from the metrics, keyed by the report's solver.

`success_table` and `summary` group by (problem, optimizer, device); a report may combine
several runs, so they are applied run by run and their rows named by ``solver`` (see
`add_solver`). The success rules (what counts as reaching a target; failed runs left out) are
the metrics', so the report and ``bench show`` agree.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pandas as pd

from reports._load import with_solver
from reports._metrics import success_table, summary

__all__ = ["cell_summary", "run_outcomes", "target_outcomes"]

_KEYS = ["run", "problem", "optimizer", "device"]


def _by_run(results: pd.DataFrame, fn: Callable[[pd.DataFrame], pd.DataFrame]) -> pd.DataFrame:
    results = with_solver(results)
    runs = results[results["record"].isin(["checkpoint", "target"])]  # not grid, trajectory
    frames = []
    for run, rows in runs.groupby("run", sort=True):
        out = fn(rows.drop(columns=["run", "solver", "variant"]))
        if not out.empty:
            frames.append(out.assign(run=run))
    if not frames:
        return pd.DataFrame(columns=[*_KEYS, "solver"])
    table = pd.concat(frames, ignore_index=True)
    names = results[[*_KEYS, "solver"]].drop_duplicates(_KEYS)
    for key in _KEYS:  # the metrics keep keys as they are; match their dtypes
        table[key] = table[key].astype(str)
        names[key] = names[key].astype(str)
    return table.merge(names, on=_KEYS, how="left")


def run_outcomes(results: pd.DataFrame, targets: Sequence[float]) -> pd.DataFrame:
    """`success_table` of every run directory, with ``run`` and ``solver``.

    One row per (solver, problem, seed, target): ``success`` and the ``step``, ``evals``
    and ``time_s`` to the target (NaN when not reached), ``status``, ``evals_total``.
    """
    return _by_run(results, lambda rows: success_table(rows, list(targets)))


def cell_summary(results: pd.DataFrame, targets: Sequence[float]) -> pd.DataFrame:
    """`summary` of every run directory, with ``run`` and ``solver``.

    One row per (solver, problem); see `summary` for the columns.
    """
    return _by_run(results, lambda rows: summary(rows, list(targets)))


def target_outcomes(results: pd.DataFrame, targets: Sequence[float] | None = None) -> pd.DataFrame:
    """`run_outcomes` at the study's targets, on the problems where a target means something.

    Those are the problems with a known optimum (a gap) and those with target rows (the
    harness records targets on the loss where f_star is unknown).

    Args:
        results: the results table.
        targets: the targets (default: those of the target rows).

    Returns:
        As `run_outcomes`; empty when no problem has a gap or there is no target.
    """
    results = with_solver(results)
    if targets is None:
        tg = results[results["record"] == "target"]
        targets = sorted(set(tg["target"].dropna().astype(float)), reverse=True)
    ck = results[results["record"] == "checkpoint"]
    tg = results[(results["record"] == "target") & results["target"].notna()]
    with_gap = set(ck.loc[ck["gap"].notna(), "problem"]) | set(tg["problem"])
    if not len(targets) or not with_gap:
        return pd.DataFrame(
            columns=[*_KEYS, "solver", "seed", "target", "success", "step", "evals", "time_s"]
        )
    return run_outcomes(results[results["problem"].isin(sorted(with_gap))], targets)
