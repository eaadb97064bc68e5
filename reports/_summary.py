"""The per-(problem, solver) summary numbers behind the report's main table."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from reports._load import with_solver
from reports._select import finals, records

__all__ = ["summary_frame"]


def _to_target(results: pd.DataFrame, target: float) -> pd.DataFrame:
    tg = records(results, "target")
    return tg[np.isclose(tg["target"].astype(float), target, rtol=1e-9, atol=0.0)]


def summary_frame(
    results: pd.DataFrame, targets: Sequence[float], target: float | None
) -> pd.DataFrame:
    """One row per (problem, solver) with the numbers of the summary table.

    Args:
        results: the results table.
        targets: the targets whose success rates are shown.
        target: the target of the runtime columns (steps, evals, time to target, ERT).

    Returns:
        Columns ``problem``, ``solver``, ``optimizer``, ``measure`` (``gap`` or
        ``best_loss``), ``runs``, ``final_median``, ``final_q25``, ``final_q75``,
        ``success@<t>`` and ``hits@<t>`` per target, ``steps_to``, ``evals_to``, ``time_to``,
        ``ert``, ``step_time_s``, ``diverged``, ``failed``.
    """
    results = with_solver(results)
    last = finals(results)
    keys = ["problem", "solver"]
    if last.empty:
        return pd.DataFrame(columns=keys)
    g = last.groupby(keys, sort=True)
    out = pd.DataFrame(
        {
            "optimizer": g["optimizer"].first().astype(str),
            "measure": g["gap"].apply(lambda s: "gap" if s.notna().any() else "best_loss"),
            "runs": g["seed"].nunique(),
            "final_median": g["value"].median(),
            "final_q25": g["value"].quantile(0.25),
            "final_q75": g["value"].quantile(0.75),
            "step_time_s": g["step_time_s"].median() if "step_time_s" in last else np.nan,
            "diverged": g["status"].apply(lambda s: int((s == "diverged").sum())),
            "failed": g["status"].apply(lambda s: int((s == "failed").sum())),
        }
    )
    budget = last.set_index([*keys, "seed"])["evals"].astype(float)
    for t in targets:
        tg = _to_target(results, t)
        hits = tg.assign(hit=tg["step"].notna()).groupby(keys)["hit"].sum()
        out[f"hits@{t:g}"] = hits.reindex(out.index)
        out[f"success@{t:g}"] = out[f"hits@{t:g}"] / out["runs"]
    for col in ("steps_to", "evals_to", "time_to", "ert"):
        out[col] = np.nan
    if target is not None:
        tg = _to_target(results, target)
        reached = tg[tg["step"].notna()]
        rg = reached.groupby(keys)
        out["steps_to"] = rg["step"].median().reindex(out.index)
        out["evals_to"] = rg["evals"].median().reindex(out.index)
        out["time_to"] = rg["time_s"].median().reindex(out.index)
        # ERT (Price 1997; Hansen et al. COCO): evaluations of all runs until they reached the
        # target or stopped, divided by the number of runs that reached it.
        spent = tg.set_index([*keys, "seed"])["evals"].astype(float)
        spent = spent.where(tg.set_index([*keys, "seed"])["step"].notna(), budget)
        total = spent.groupby(level=keys).sum()
        n_hit = rg["step"].count()
        out["ert"] = (total / n_hit.where(n_hit > 0)).reindex(out.index)
    return out.reset_index()
