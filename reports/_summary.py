"""The per-(problem, solver) numbers behind the report's main table, from the metrics."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from reports._load import with_solver
from reports._metrics import target_label
from reports._outcomes import cell_summary
from reports._select import finals

__all__ = ["summary_frame"]


def summary_frame(
    results: pd.DataFrame, targets: Sequence[float], target: float | None
) -> pd.DataFrame:
    """One row per (problem, solver) with the numbers of the summary table.

    Success rates (with 95 % Wilson intervals), medians to target and ERT are
    `summary`'s; failed runs are left out of them, as there. Where f_star is unknown
    the harness's target rows (on the loss) are used; without them these are NaN
    (shown as "–").

    Args:
        results: the results table.
        targets: the targets whose success rates are shown.
        target: the target of the runtime columns (steps, evals, time to target, ERT).

    Returns:
        Columns ``problem``, ``solver``, ``optimizer``, ``measure`` (``gap``, or
        ``best_loss`` where f_star is unknown), ``runs`` (distinct runs), ``seeds`` (seed
        labels; more than ``runs`` when seeds repeat a run), ``final_median``, ``final_q25``,
        ``final_q75``; per target ``t`` (spelled by `target_label`, e.g. ``success@1e-04``):
        ``success@t``, ``success_low@t``, ``success_high@t``, ``hits@t`` and ``valid@t``
        (successes of the non-failed runs);
        ``steps_to``, ``evals_to``, ``time_to``, ``ert``, ``success_at`` (the success rate at
        `target`), ``step_time_s``, ``diverged``, ``failed``, ``gap_rounded`` (runs whose gap
        fell below zero by rounding of f*, counted as 0) and ``mode`` (how the cell ran:
        ``batched`` or ``row by row``; empty when the results do not say).
    """
    results = with_solver(results)
    wanted = sorted({*targets, *([target] if target is not None else [])}, reverse=True)
    cells = cell_summary(results, wanted)
    if cells.empty:
        return pd.DataFrame(columns=["problem", "solver"])
    last = finals(results)
    loss = last[last["status"] != "failed"].groupby(["problem", "solver"])["best_loss"]
    quartiles = pd.DataFrame({"q25": loss.quantile(0.25), "q75": loss.quantile(0.75)})
    cells = cells.join(quartiles, on=["problem", "solver"])
    known = cells["gap_median"].notna()
    valid = cells["n_seeds"] - cells["failed"]
    out = pd.DataFrame(
        {
            "problem": cells["problem"].astype(str),
            "solver": cells["solver"].astype(str),
            "optimizer": cells["optimizer"].astype(str),
            "measure": np.where(known, "gap", "best_loss"),
            "runs": cells["distinct_runs"],
            "seeds": cells["n_seeds"],
            "final_median": cells["gap_median"].where(known, cells["loss_median"]),
            "final_q25": cells["gap_q25"].where(known, cells["q25"]),
            "final_q75": cells["gap_q75"].where(known, cells["q75"]),
        }
    )
    for t in targets:
        lab = target_label(t)
        out[f"success@{lab}"] = cells[f"success@{lab}"]
        out[f"success_low@{lab}"] = cells[f"success_low@{lab}"]
        out[f"success_high@{lab}"] = cells[f"success_high@{lab}"]
        out[f"hits@{lab}"] = (cells[f"success@{lab}"] * valid).round()
        out[f"valid@{lab}"] = valid
    for col, name in (
        ("steps_to", "steps_to_target"),
        ("evals_to", "evals_to_target"),
        ("time_to", "time_to_target"),
        ("ert", "ert"),
    ):
        out[col] = cells[f"{name}@{target_label(target)}"] if target is not None else np.nan
    tg = results[results["record"] == "target"]
    targeted = cells["problem"].isin(tg.loc[tg["target"].notna(), "problem"].unique())
    unknown = ~(known | targeted).to_numpy()  # no gap and no target rows: nothing to reach
    target_columns = [c for c in out if "@" in c and not c.startswith("valid@")]
    out.loc[unknown, [*target_columns, "steps_to", "evals_to", "time_to", "ert"]] = np.nan
    out["success_at"] = cells[f"success@{target_label(target)}"] if target is not None else np.nan
    out.loc[unknown, "success_at"] = np.nan
    out["step_time_s"] = cells["step_time_s"]
    out["diverged"] = cells["diverged"]
    out["failed"] = cells["failed"]
    out["gap_rounded"] = cells["gap_rounded"]
    out["mode"] = _modes(results, out)
    return out.sort_values(["problem", "solver"], ignore_index=True)


def _modes(results: pd.DataFrame, out: pd.DataFrame) -> list[str]:
    """How each cell ran (``batched`` or ``row by row``), from the ``mode`` column; empty
    for results written before it existed."""
    if "mode" not in results:
        return [""] * len(out)
    pairs = results[["problem", "solver", "mode"]].dropna().drop_duplicates(["problem", "solver"])
    modes = {(str(p), str(s)): str(m) for p, s, m in pairs.itertuples(index=False)}
    return [modes.get((p, s), "") for p, s in zip(out["problem"], out["solver"])]
