"""HTML tables: the run header, the summary per problem x solver, failures, scores.

Python chooses what each cell says (numbers formatted, best entries flagged); the jinja2
templates under ``reports/templates/`` lay them out, with autoescape on, so every name and
value from the results or the metadata is printed as text.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from reports._load import with_solver
from reports._metrics import target_label
from reports._select import records
from reports._show import failure_reasons
from reports._style import Palette
from reports._templates import Markup, render_template

__all__ = [
    "MAX_FAILURE_ROWS",
    "failures_table",
    "header_html",
    "scores_table",
    "summary_table",
]

MAX_FAILURE_ROWS = 300
"""The failures table lists at most this many groups."""


def number(value: object, fmt: str = ".3g") -> str:
    """A table cell: `value` formatted by `fmt`, "–" where missing (None, NaN), "∞" for inf."""
    if value is None:
        return "–"
    try:
        v = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return str(value)
    if math.isnan(v):
        return "–"
    if math.isinf(v):
        return "∞"
    return format(v, fmt)


def seconds(value: object) -> str:
    """A duration with its unit (``1.2 ms``); missing and infinite values as `number` shows them."""
    if value is None:
        return "–"
    try:
        v = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return str(value)
    if not math.isfinite(v):
        return number(v)
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6), ("ns", 1e-9)):
        if abs(v) >= scale or unit == "ns":
            return f"{v / scale:.3g} {unit}"
    return str(v)  # pragma: no cover


def _rgb(colour: Sequence[float] | None) -> str | None:
    if colour is None:
        return None
    r, g, b = (round(255 * c) for c in colour[:3])
    return f"rgb({r},{g},{b})"


def _success(row: pd.Series, key: str, best: bool) -> dict[str, Any]:
    """``90% (9/10)`` with the 95 % Wilson interval (none for one distinct run)."""
    rate = row.get(f"success@{key}")
    if rate is None or pd.isna(rate):
        return {"rate": None, "best": best}
    lo, hi = row.get(f"success_low@{key}"), row.get(f"success_high@{key}")
    ci = (
        f"{100 * float(lo):.0f}–{100 * float(hi):.0f}%"
        if lo is not None and hi is not None and not (pd.isna(lo) or pd.isna(hi))
        else ""
    )
    counts = f"{number(row.get(f'hits@{key}'), '.0f')}/{number(row.get(f'valid@{key}'), '.0f')}"
    return {"rate": f"{100 * float(rate):.0f}%", "counts": counts, "ci": ci, "best": best}


def header_html(metas: Mapping[str, Mapping[str, Any]]) -> Markup:
    """One block per run: study, command, dates, run time, commit, environment, the spec.

    Args:
        metas: ``{run label: meta.json contents}``.

    Returns:
        HTML.
    """
    runs = []
    for label, meta in metas.items():
        versions = meta.get("versions") or {}
        general = {
            "study": meta.get("name", "?"),
            "command": meta.get("command", "?"),
            "started": meta.get("started", "?"),
            "finished": meta.get("finished", "?"),
            "run time": (
                f"{float(meta['wall_s']):.1f} s"
                if isinstance(meta.get("wall_s"), (int, float))
                else "?"
            ),
            "git commit": meta.get("git_commit", "?"),
        }
        env = {
            "CPU": meta.get("cpu") or "?",
            "GPU": meta.get("gpu") or "none",
            "CUDA": meta.get("cuda") or "none",
        }
        if isinstance(versions, Mapping):
            env.update({str(k): v for k, v in versions.items()})
        spec = json.dumps(meta.get("study", {}), indent=2, sort_keys=False, default=str)
        runs.append({"label": label, "general": general, "env": env, "spec": spec})
    return render_template("header.html.j2", runs=runs)


def _best(values: pd.Series, lower: bool, among: pd.Series | None = None) -> pd.Series:
    """Flags of the best entries of `values` (lowest or highest), only `among` these rows."""
    v = pd.to_numeric(values, errors="coerce").astype(float)
    if among is not None:
        v = v.where(among.astype(bool), np.nan)
    if not np.isfinite(v).any():
        return pd.Series(False, index=values.index)
    finite = v[np.isfinite(v)]
    target = finite.min() if lower else finite.max()
    if (not lower and target <= 0) or (len(finite) == len(v) and finite.min() == finite.max()):
        return pd.Series(False, index=values.index)  # nothing stands out
    flags = np.isclose(v.to_numpy(), target, rtol=1e-12, atol=0.0) & (len(v) > 1)
    return pd.Series(flags, index=values.index)


def _most_successful(rows: pd.DataFrame) -> pd.Series:
    """The rows with the highest success rate at the runtime target (and some success)."""
    rate = pd.to_numeric(rows.get("success_at"), errors="coerce").astype(float)
    if not np.isfinite(rate).any() or rate.max() <= 0:
        return pd.Series(False, index=rows.index)
    return pd.Series(np.isclose(rate.to_numpy(), rate.max(), rtol=0, atol=1e-12), rows.index)


def summary_table(
    summary: pd.DataFrame,
    targets: Sequence[float],
    target: float | None,
    *,
    palette: Palette | None = None,
    notes: Sequence[str] = (),
) -> Markup:
    """The summary table: one row group per problem, the best entries highlighted.

    "Best" for steps, evaluations and time to target goes to the fastest among the solvers
    with the highest success rate at that target (a solver that reached it in 1 of 10 runs
    is not faster than one that reached it in 8 of 10); the final gap, ERT and time per step
    go to the lowest, the success rates to the highest.

    Args:
        summary: `summary_frame`'s output.
        targets: the targets with a success-rate column.
        target: the target of the runtime columns.
        palette: optimizer -> colour (a swatch beside each name).
        notes: sentences printed above the table.

    Returns:
        HTML.
    """
    palette = palette or {}
    groups = []
    for problem, rows in summary.groupby("problem", sort=True):
        leaders = _most_successful(rows)
        best = {c: _best(rows[c], True) for c in ("final_median", "ert", "step_time_s")}
        for c in ("steps_to", "evals_to", "time_to"):
            best[c] = _best(rows[c], True, among=leaders)
        for t in targets:
            key = f"success@{target_label(t)}"
            best[key] = _best(rows[key], False)
        out = []
        for idx, row in rows.iterrows():
            distinct, seeds = int(row["runs"]), int(row.get("seeds", row["runs"]))
            out.append(
                {
                    "solver": str(row["solver"]),
                    "mode": str(row.get("mode") or ""),
                    "colour": _rgb(palette.get(str(row["optimizer"]))),
                    "runs": str(distinct) if distinct == seeds else f"{distinct} of {seeds}",
                    "final": {
                        "text": number(row["final_median"]),
                        "best": bool(best["final_median"].loc[idx]),
                    },
                    "star": "" if row["measure"] == "gap" else "*",
                    "q25": number(row["final_q25"]),
                    "q75": number(row["final_q75"]),
                    "success": [
                        _success(
                            row,
                            target_label(t),
                            bool(best[f"success@{target_label(t)}"].loc[idx]),
                        )
                        for t in targets
                    ],
                    "runtime": [
                        {"text": number(row["steps_to"], ".4g"), "best": best["steps_to"].loc[idx]},
                        {"text": number(row["evals_to"], ".4g"), "best": best["evals_to"].loc[idx]},
                        {"text": seconds(row["time_to"]), "best": best["time_to"].loc[idx]},
                        {"text": number(row["ert"], ".4g"), "best": best["ert"].loc[idx]},
                        {
                            "text": seconds(row["step_time_s"]),
                            "best": best["step_time_s"].loc[idx],
                        },
                    ],
                    "bad": [int(row["diverged"]), int(row["failed"])],
                }
            )
        groups.append({"problem": str(problem), "rows": out})
    return render_template(
        "summary.html.j2",
        groups=groups,
        targets=[target_label(t) for t in targets],
        target=target_label(target) if target is not None else "–",
        notes=list(notes),
    )


def failures_table(results: pd.DataFrame, *, max_rows: int = MAX_FAILURE_ROWS) -> Markup:
    """Runs that diverged or failed: each distinct reason with its count, then the groups by
    cell and reason with their seeds.

    Args:
        results: the results table.
        max_rows: the most groups listed.

    Returns:
        HTML (a sentence when every run finished).
    """
    ck = records(with_solver(results), "checkpoint")
    bad = ck[ck["status"] != "ok"] if "status" in ck else ck.iloc[:0]
    if bad.empty:
        return render_template("failures.html.j2", groups=[])
    keys = [k for k in ("run", "problem", "optimizer", "device", "status", "reason") if k in bad]
    runs = bad.drop_duplicates([*keys, "seed"])
    groups = (
        runs.assign(reason=runs["reason"].fillna("").astype(str))
        .groupby(keys, sort=True, dropna=False)["seed"]
        .apply(lambda s: ", ".join(f"{v:g}" for v in sorted(s.dropna().unique())))
        .reset_index()
    )
    total = len(ck.drop_duplicates([k for k in ("solver", "problem", "seed") if k in ck]))
    reasons = failure_reasons(bad.drop(columns=["run", "solver", "variant"], errors="ignore"))
    return render_template(
        "failures.html.j2",
        groups=[list(map(str, row)) for row in groups.head(max_rows).itertuples(index=False)],
        keys=keys,
        failed=len(runs),
        total=total,
        reasons=reasons.to_dict("records"),
        more=max(len(groups) - max_rows, 0),
    )


def scores_table(
    scores: Mapping[str, pd.Series],
    *,
    palette: Palette | None = None,
    optimizers: Mapping[str, str] | None = None,
) -> Markup:
    """Benchmark scores per solver, one column per runtime measure, best in bold.

    Args:
        scores: ``{measure label: Series(solver -> score)}``.
        palette: optimizer -> colour.
        optimizers: solver -> optimizer label (for the swatch).

    Returns:
        HTML.
    """
    palette = palette or {}
    optimizers = optimizers or {}
    frame = pd.DataFrame(dict(scores))
    if frame.empty:
        return render_template("scores.html.j2", rows=[], columns=[])
    best = {c: _best(frame[c], False) for c in frame.columns}
    rows = [
        {
            "solver": str(solver),
            "colour": _rgb(palette.get(optimizers.get(str(solver), ""))),
            "cells": [
                {"text": number(row[c], ".3f"), "best": bool(best[c].loc[solver])}
                for c in frame.columns
            ],
        }
        for solver, row in frame.sort_index().iterrows()
    ]
    return render_template("scores.html.j2", rows=rows, columns=[str(c) for c in frame.columns])
