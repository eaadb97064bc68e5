"""Success rates, confidence intervals and expected running time over the results table.

Pure pandas/numpy functions of the tidy table described in docs/RESULTS.md (no torch, no
plotting, no harness), shared by ``bench show`` and the HTML report.

A *run* is one seed of one cell: the rows sharing (problem, optimizer[, device], seed). A run
*succeeds at target* ``t`` when its best gap to ``f_star`` reaches ``t`` (``gap <= t``), which
the harness records as a non-NaN ``step`` on the run's ``record == "target"`` row for ``t``.
Targets that the study did not record are judged from the checkpoint rows instead (the first
checkpoint with ``gap <= t``; steps, evaluations and time to target are then only as fine as
the checkpoints).

Runs with ``status == "failed"`` (the harness raised; no algorithmic outcome) are counted in
``failed`` and left out of success rates and ERT; diverged runs count as unsuccessful unless
they reached the target before diverging.

*Distinct runs*, not seed labels, are what is counted: seeds whose checkpoints agree (step,
loss and best loss to `SIGNIFICANT` digits) are one run, as every seed of a deterministic
problem from a fixed start is (``start = "default"``). The first seed stands for them; the
others are left out of every statistic, and one distinct run has no confidence interval.

A final gap below zero by no more than the float rounding of f* (`rounding_tolerance`) is
the optimum reached: it is counted as 0 and flagged (``gap_rounded``).

Reference for ERT and the run-length conventions: N. Hansen, A. Auger, D. Brockhoff,
D. Tusar, T. Tusar, "COCO: Performance Assessment", arXiv:1605.03560 (2016), and
N. Hansen et al., "COCO: a platform for comparing continuous optimizers in a black-box
setting", Optimization Methods and Software 36(1), 2021.

Example:
    >>> import reports
    >>> table = reports.summary(reports.load("runs/quick", record=None))  # doctest: +SKIP
    >>> table[["problem", "optimizer", "success@1e-04", "ert@1e-04"]]       # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from statistics import NormalDist
from typing import Any

import numpy as np
import pandas as pd

from problems import DEFAULT_TARGETS, EPSILON
from reports._store import CELL_KEYS

__all__ = [
    "SIGNIFICANT",
    "distinct_runs",
    "ert",
    "expected_running_time",
    "group_keys",
    "rounding_tolerance",
    "success_table",
    "summary",
    "target_label",
    "wilson_interval",
]

_TO_TARGET = ("step", "evals", "time_s")

SIGNIFICANT = 10
"""Digits to which two seeds' checkpoints must agree to be the same run."""

ROUNDING_ULPS = 64
"""How many units of float precision of f* a gap may fall below zero by rounding."""


def rounding_tolerance(f_star: float | np.ndarray | pd.Series, dtype: object = "float64") -> Any:
    r"""The float precision of f*: ``ROUNDING_ULPS * eps(dtype) * max(|f*|, 1)``.

    A loss evaluated in `dtype` near its minimum :math:`f^*` is exact only to about
    :math:`\epsilon |f^*|` (and about :math:`\epsilon` times the size of its terms where
    :math:`f^* = 0`), so differences of gaps finer than this are rounding, not progress.

    Example:
        >>> float(rounding_tolerance(0.0)) == 64 * 2.0**-52
        True
    """
    eps = EPSILON.get(str(dtype), EPSILON["float32"])  # float_precision's epsilon, vectorised
    return ROUNDING_ULPS * eps * np.maximum(np.abs(np.asarray(f_star, dtype=float)), 1.0)


def target_label(t: float) -> str:
    """The one spelling of target ``t`` in column names and on the page: ``1e-04``, ``2.5e-03``.

    Lossless (the shortest repr that round-trips) and the same width for every power of ten.

    Example:
        >>> target_label(1e-4), target_label(2.5e-3), target_label(10)
        ('1e-04', '2.5e-03', '1e+01')
    """
    return np.format_float_scientific(float(t), trim="-")


def group_keys(df: pd.DataFrame) -> list[str]:
    """The columns that identify a cell in `df`: problem, optimizer and device when present."""
    return [k for k in CELL_KEYS if k in df.columns]


def wilson_interval(
    successes: int | np.ndarray | pd.Series,
    n: int | np.ndarray | pd.Series,
    confidence: float = 0.95,
) -> tuple[np.ndarray, np.ndarray]:
    r"""Wilson score interval for a binomial proportion (vectorised).

    With :math:`\hat p = k/n` and :math:`z = \Phi^{-1}(1 - \alpha/2)`,

    .. math::
        \frac{\hat p + z^2/(2n)}{1 + z^2/n} \pm
        \frac{z}{1 + z^2/n}\sqrt{\frac{\hat p(1-\hat p)}{n} + \frac{z^2}{4n^2}}.

    Source: E. B. Wilson, "Probable inference, the law of succession, and statistical
    inference", JASA 22 (1927); Brown, Cai & DasGupta, Statistical Science 16 (2001).

    Args:
        successes: number of successes k.
        n: number of trials (NaN bounds where n == 0).
        confidence: two-sided confidence level in (0, 1).

    Returns:
        ``(low, high)`` arrays (0-d for scalar inputs), clipped to [0, 1].

    Example:
        >>> lo, hi = wilson_interval(9, 10)
        >>> round(float(lo), 4), round(float(hi), 4)
        (0.5958, 0.9821)
    """
    if not 0.0 < confidence < 1.0:
        msg = f"invalid confidence {confidence!r}; allowed: (0, 1)"
        raise ValueError(msg)
    k = np.asarray(successes, dtype=float)
    m = np.asarray(n, dtype=float)
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = k / m
        denom = 1.0 + z * z / m
        center = (p + z * z / (2 * m)) / denom
        half = z / denom * np.sqrt(p * (1 - p) / m + z * z / (4 * m * m))
        low = np.where(m > 0, np.clip(center - half, 0.0, 1.0), np.nan)
        high = np.where(m > 0, np.clip(center + half, 0.0, 1.0), np.nan)
    return low, high


def expected_running_time(
    success: Sequence[bool] | np.ndarray,
    evals_to_target: Sequence[float] | np.ndarray,
    evals_total: Sequence[float] | np.ndarray,
) -> float:
    r"""COCO's expected running time from per-run outcomes.

    .. math::
        \mathrm{ERT} = \frac{\sum_{i\,\text{succ}} e_i^{\text{target}}
        + \sum_{i\,\text{unsucc}} e_i^{\text{total}}}{\#\text{successes}},

    infinite when no run succeeds (NaN when there are no runs). Source: Hansen et al.,
    COCO: Performance Assessment (2016/2021), section "Expected running time".

    Example:
        >>> expected_running_time([True, False, True], [100, 0, 300], [1000, 1000, 1000])
        700.0
    """
    ok = np.asarray(success, dtype=bool)
    if ok.size == 0:
        return float("nan")
    spent = np.where(ok, np.asarray(evals_to_target, float), np.asarray(evals_total, float))
    n_ok = int(ok.sum())
    return float(np.nansum(spent) / n_ok) if n_ok else float("inf")


def distinct_runs(rows: pd.DataFrame, keys: Sequence[str]) -> pd.Series:
    """Whether each run is distinct: not a repeat of an earlier seed of its cell.

    Two seeds of a cell are the same run when their checkpoint and target rows agree on
    step, loss, best loss and target to `SIGNIFICANT` digits. Failed runs are always
    distinct (their outcome is the error, counted in ``failed``).

    Args:
        rows: checkpoint (and target) rows with the cell `keys`, ``seed`` and ``status``.
        keys: the cell keys (`group_keys`).

    Returns:
        A bool Series indexed by the run keys (cell keys and ``seed``).
    """
    run_keys = [*keys, "seed"]
    cols = [c for c in ("target", "step", "loss", "best_loss") if c in rows.columns]
    order = [c for c in ("record", "target", "step") if c in rows.columns]
    rows = rows.sort_values([*run_keys, *order], kind="stable")
    text = rows[cols].astype(float).map(lambda v: f"{v:.{SIGNIFICANT - 1}e}")
    signature = (
        text.agg(" ".join, axis=1)
        .groupby([rows[k] for k in run_keys], sort=True, dropna=False)
        .agg("|".join)
    )
    status = rows.groupby(run_keys, sort=True, dropna=False)["status"].first()
    frame = pd.DataFrame({"signature": signature, "status": status}).reset_index()
    repeat = frame.duplicated([*keys, "signature"]) & (frame["status"] != "failed")
    return pd.Series(~repeat.to_numpy(), index=signature.index, name="distinct")


def _runs(df: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """One row per run: status, distinct, total evaluations, final gap, time per step."""
    run_keys = [*keys, "seed"]
    if "record" in df.columns:  # trajectory and grid rows are not runs
        df = df[df["record"].isin(["checkpoint", "target"])]
    checkpoints = df[df["record"] == "checkpoint"] if "record" in df.columns else df
    runs = df.groupby(run_keys, sort=True, dropna=False).agg(status=("status", "first"))
    last = checkpoints.sort_values("step").groupby(run_keys, dropna=False).tail(1)
    last = last.set_index(run_keys)
    runs["distinct"] = distinct_runs(df, keys).reindex(runs.index, fill_value=True)
    runs["evals_total"] = checkpoints.groupby(run_keys, dropna=False)["evals"].max()
    gap = last["gap"].astype(float)
    f_star = last["f_star"] if "f_star" in last else pd.Series(0.0, index=last.index)
    dtype = last["dtype"] if "dtype" in last else pd.Series("float64", index=last.index)
    tolerance = pd.Series(
        [float(rounding_tolerance(f, d)) for f, d in zip(f_star.fillna(0.0), dtype)],
        index=last.index,
        dtype=float,
    )
    rounded = (gap < 0) & (gap >= -tolerance)
    runs["final_gap"] = gap.where(~rounded, 0.0)
    runs["gap_rounded"] = rounded.reindex(runs.index, fill_value=False)
    runs["final_loss"] = last["best_loss"]
    if "step_time_s" in df.columns:
        runs["step_time_s"] = df.groupby(run_keys, dropna=False)["step_time_s"].mean()
    return runs.reset_index()


def _from_targets(df: pd.DataFrame, run_keys: list[str], t: float) -> pd.DataFrame | None:
    """Per-run step/evals/time to `t` from the harness's target rows, or None if not recorded."""
    if "record" not in df.columns or "target" not in df.columns:
        return None
    rows = df[(df["record"] == "target") & np.isclose(df["target"], t, rtol=1e-9, atol=0.0)]
    if rows.empty:
        return None
    return rows.groupby(run_keys, dropna=False)[list(_TO_TARGET)].first()


def _from_checkpoints(df: pd.DataFrame, run_keys: list[str], t: float) -> pd.DataFrame:
    """Per-run step/evals/time of the first checkpoint whose gap is <= `t`."""
    checkpoints = df[df["record"] == "checkpoint"] if "record" in df.columns else df
    hit = checkpoints[checkpoints["gap"] <= t].sort_values("step")
    return hit.groupby(run_keys, dropna=False)[list(_TO_TARGET)].first()


def success_table(df: pd.DataFrame, targets: Sequence[float] = DEFAULT_TARGETS) -> pd.DataFrame:
    """One row per (run, target): did the run reach the target, and at what cost.

    Args:
        df: the results table (docs/RESULTS.md).
        targets: precisions on the gap.

    Returns:
        Columns: the cell keys, ``seed``, ``status``, ``distinct`` (False for a repeat of an
        earlier seed, see `distinct_runs`), ``evals_total`` (evaluations the run spent in
        all), ``final_gap``, ``target``, ``success`` (bool), and ``step``, ``evals``,
        ``time_s`` to the target (NaN when not reached).
    """
    keys = group_keys(df)
    run_keys = [*keys, "seed"]
    runs = _runs(df, keys).set_index(run_keys)
    parts = []
    for t in targets:
        found = _from_targets(df, run_keys, t)
        if found is None:
            found = _from_checkpoints(df, run_keys, t)
        part = runs.join(found, how="left")
        part["target"] = float(t)
        part["success"] = part["step"].notna() & (part["status"] != "failed")
        parts.append(part.reset_index())
    columns = [
        *run_keys,
        "status",
        "distinct",
        "evals_total",
        "final_gap",
        "target",
        "success",
        *_TO_TARGET,
    ]
    if not parts:
        return pd.DataFrame(columns=columns)
    return pd.concat(parts, ignore_index=True)[columns]


def _per_target(table: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Success counts, Wilson CI, medians to target and ERT per (cell, target), over the
    distinct runs that did not fail (one distinct run has no interval)."""
    distinct = table["distinct"].astype(bool) if "distinct" in table else True
    valid = table[(table["status"] != "failed") & distinct]

    def one(group: pd.DataFrame) -> pd.Series:
        ok = group["success"].to_numpy(bool)
        hits = group[ok]
        return pd.Series(
            {
                "runs": len(group),
                "successes": int(ok.sum()),
                "steps_to_target": hits["step"].median(),
                "evals_to_target": hits["evals"].median(),
                "time_to_target": hits["time_s"].median(),
                "ert": expected_running_time(ok, group["evals"], group["evals_total"]),
            }
        )

    out = valid.groupby([*keys, "target"], sort=True, dropna=False).apply(one, include_groups=False)
    if out.empty:
        return pd.DataFrame(
            columns=[
                *keys,
                "target",
                "runs",
                "successes",
                "success_rate",
                "success_low",
                "success_high",
                "steps_to_target",
                "evals_to_target",
                "time_to_target",
                "ert",
            ]
        )
    out = out.reset_index()
    out["runs"] = out["runs"].astype(int)
    out["successes"] = out["successes"].astype(int)
    out["success_rate"] = out["successes"] / out["runs"]
    low, high = wilson_interval(out["successes"], out["runs"])
    single = (out["runs"] < 2).to_numpy()
    out["success_low"] = np.where(single, np.nan, low)
    out["success_high"] = np.where(single, np.nan, high)
    return out


def ert(df: pd.DataFrame, targets: Sequence[float] = DEFAULT_TARGETS) -> pd.DataFrame:
    """Expected running time per (cell, target), in objective evaluations (COCO's ERT).

    Returns:
        Long table: the cell keys, ``target``, ``runs`` (non-failed seeds), ``successes``,
        ``success_rate``, ``success_low`` / ``success_high`` (95 % Wilson interval),
        median ``steps_to_target`` / ``evals_to_target`` / ``time_to_target`` over the
        successful runs, and ``ert`` (inf when no run succeeded). See
        `expected_running_time`.
    """
    keys = group_keys(df)
    return _per_target(success_table(df, targets), keys)


def summary(df: pd.DataFrame, targets: Sequence[float] = DEFAULT_TARGETS) -> pd.DataFrame:
    """One row per cell (problem, optimizer[, device]): the headline numbers.

    Columns: ``n_seeds`` (seed labels), ``distinct_runs`` (seeds that are not a repeat of
    another, `distinct_runs`), ``diverged``, ``failed`` (counts of distinct runs by status),
    ``gap_rounded`` (runs whose final gap fell below zero by rounding of f*, counted as 0),
    ``gap_median`` / ``gap_q25`` / ``gap_q75`` (final gap over non-failed runs; the IQR is
    ``gap_q75 - gap_q25``), ``loss_median`` (final best loss), ``step_time_s`` (mean wall
    time of one step of the whole cell), and for each target ``t`` (suffix
    `target_label(t)`, e.g. ``success@1e-04``): ``success@t``, ``success_low@t``,
    ``success_high@t`` (95 % Wilson interval; NaN for one distinct run), ``steps_to_target@t``,
    ``evals_to_target@t``, ``time_to_target@t`` (medians over successful seeds) and
    ``ert@t`` (expected running time in evaluations).
    """
    keys = group_keys(df)
    all_runs = _runs(df, keys)
    runs = all_runs[all_runs["distinct"]]
    grouped = runs.groupby(keys, sort=True, dropna=False)
    valid = runs[runs["status"] != "failed"].groupby(keys, sort=True, dropna=False)
    out = pd.DataFrame(
        {
            "n_seeds": all_runs.groupby(keys, sort=True, dropna=False)["seed"].nunique(),
            "distinct_runs": grouped["seed"].nunique(),
            "diverged": grouped["status"].agg(lambda s: int((s == "diverged").sum())),
            "failed": grouped["status"].agg(lambda s: int((s == "failed").sum())),
            "gap_rounded": grouped["gap_rounded"].agg(lambda s: int(s.sum())),
        }
    )
    out["gap_median"] = valid["final_gap"].median()
    out["gap_q25"] = valid["final_gap"].quantile(0.25)
    out["gap_q75"] = valid["final_gap"].quantile(0.75)
    out["loss_median"] = valid["final_loss"].median()
    out["step_time_s"] = grouped["step_time_s"].mean() if "step_time_s" in runs else np.nan
    per_target = _per_target(success_table(df, targets), keys)
    wide = {
        "success": "success_rate",
        "success_low": "success_low",
        "success_high": "success_high",
        "steps_to_target": "steps_to_target",
        "evals_to_target": "evals_to_target",
        "time_to_target": "time_to_target",
        "ert": "ert",
    }
    for t in targets:
        at = per_target[np.isclose(per_target["target"], t, rtol=1e-9, atol=0.0)]
        at = at.set_index(keys)
        for name, column in wide.items():
            out[f"{name}@{target_label(t)}"] = at[column] if not at.empty else np.nan
    return out.reset_index()
