"""HTML tables: the run header, the summary per problem x solver, failures, scores.

Every name and value from the results or the metadata goes through `html.escape`.
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from reports._load import with_solver
from reports._metrics import target_label
from reports._select import records
from reports._style import Palette

__all__ = [
    "MAX_FAILURE_ROWS",
    "esc",
    "failures_table",
    "header_html",
    "scores_table",
    "summary_table",
]

MAX_FAILURE_ROWS = 300
"""The failures table lists at most this many groups."""


def esc(value: object) -> str:
    """`value` as escaped HTML text."""
    return html.escape(str(value), quote=True)


def _num(value: object, fmt: str = ".3g") -> str:
    try:
        v = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return esc(value)
    if math.isnan(v):
        return "–"
    if math.isinf(v):
        return "∞"
    return esc(format(v, fmt))


def _seconds(value: object) -> str:
    try:
        v = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return esc(value)
    if not math.isfinite(v):
        return _num(v)
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6), ("ns", 1e-9)):
        if abs(v) >= scale or unit == "ns":
            return esc(f"{v / scale:.3g} {unit}")
    return esc(v)  # pragma: no cover


def _swatch(colour: Sequence[float] | None) -> str:
    if colour is None:
        return ""
    r, g, b = (round(255 * c) for c in colour[:3])
    return f'<span class="sw" style="background:rgb({r},{g},{b})"></span>'


def _success(row: pd.Series, key: str) -> str:
    """``90% (9/10)`` with the 95 % Wilson interval as a tooltip and in small print."""
    rate = row.get(f"success@{key}")
    if rate is None or pd.isna(rate):
        return "–"
    lo, hi = row.get(f"success_low@{key}"), row.get(f"success_high@{key}")
    ci = (
        f"{100 * float(lo):.0f}–{100 * float(hi):.0f}%"
        if lo is not None and hi is not None and not (pd.isna(lo) or pd.isna(hi))
        else ""
    )
    counts = f"{_num(row.get(f'hits@{key}'), '.0f')}/{_num(row.get(f'valid@{key}'), '.0f')}"
    return (
        f'<span title="95% Wilson interval {esc(ci)}">{100 * float(rate):.0f}% '
        f'<span class="iqr">({counts})</span></span>'
        + (f'<br><span class="iqr">[{esc(ci)}]</span>' if ci else "")
    )


def _kv_rows(items: Mapping[str, Any]) -> str:
    return "".join(f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in items.items())


def header_html(metas: Mapping[str, Mapping[str, Any]]) -> str:
    """One block per run: study, command, dates, run time, commit, environment, the spec.

    Args:
        metas: ``{run label: meta.json contents}``.

    Returns:
        HTML.
    """
    blocks = []
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
        blocks.append(
            f'<div class="run"><h3>run {esc(label)}</h3><div class="cols">'
            f'<table class="kv">{_kv_rows(general)}</table>'
            f'<table class="kv">{_kv_rows(env)}</table></div>'
            f"<details><summary>study spec</summary><pre>{esc(spec)}</pre></details></div>"
        )
    return "".join(blocks)


def _best(values: pd.Series, lower: bool) -> pd.Series:
    v = pd.to_numeric(values, errors="coerce").astype(float)
    if not np.isfinite(v).any():
        return pd.Series(False, index=values.index)
    finite = v[np.isfinite(v)]
    target = finite.min() if lower else finite.max()
    if (not lower and target <= 0) or (len(finite) == len(v) and finite.min() == finite.max()):
        return pd.Series(False, index=values.index)  # nothing stands out
    flags = np.isclose(v.to_numpy(), target, rtol=1e-12, atol=0.0) & (len(v) > 1)
    return pd.Series(flags, index=values.index)


def summary_table(
    summary: pd.DataFrame,
    targets: Sequence[float],
    target: float | None,
    *,
    palette: Palette | None = None,
) -> str:
    """The summary table: one row group per problem, the best entries highlighted.

    Args:
        summary: `summary_frame`'s output.
        targets: the targets with a success-rate column.
        target: the target of the runtime columns.
        palette: optimizer -> colour (a swatch beside each name).

    Returns:
        HTML.
    """
    palette = palette or {}
    t_label = target_label(target) if target is not None else "–"
    head = (
        "<tr><th>problem</th><th>solver</th><th>runs</th>"
        "<th>final gap (loss*)<br>median [IQR]</th>"
        + "".join(f"<th>success<br>gap ≤ {esc(target_label(t))}</th>" for t in targets)
        + f"<th>steps to<br>{esc(t_label)}</th><th>evals to<br>{esc(t_label)}</th>"
        f"<th>time to<br>{esc(t_label)}</th><th>ERT (evals)<br>{esc(t_label)}</th>"
        "<th>time / step</th><th>diverged</th><th>failed</th></tr>"
    )
    body = []
    lower_cols = ["final_median", "steps_to", "evals_to", "time_to", "ert", "step_time_s"]
    for problem, rows in summary.groupby("problem", sort=True):
        best = {c: _best(rows[c], True) for c in lower_cols if c in rows}
        for t in targets:
            key = f"success@{target_label(t)}"
            best[key] = _best(rows[key], False)
        first = True
        for idx, row in rows.iterrows():

            def cell(col: str, text: str, idx: Any = idx, best: dict = best) -> str:
                flag = col in best and bool(best[col].loc[idx])
                return f'<td class="best">{text}</td>' if flag else f"<td>{text}</td>"

            cells = []
            if first:
                cells.append(f'<th class="prob" rowspan="{len(rows)}">{esc(problem)}</th>')
                first = False
            star = "" if row["measure"] == "gap" else "*"
            cells.append(
                f'<td class="name">{_swatch(palette.get(str(row["optimizer"])))}'
                f"{esc(row['solver'])}</td>"
            )
            cells.append(f"<td>{_num(row['runs'], '.0f')}</td>")
            cells.append(
                cell(
                    "final_median",
                    f"{_num(row['final_median'])}{star} "
                    f'<span class="iqr">[{_num(row["final_q25"])}, {_num(row["final_q75"])}]'
                    "</span>",
                )
            )
            for t in targets:
                lab = target_label(t)
                cells.append(cell(f"success@{lab}", _success(row, lab)))
            cells.append(cell("steps_to", _num(row["steps_to"], ".4g")))
            cells.append(cell("evals_to", _num(row["evals_to"], ".4g")))
            cells.append(cell("time_to", _seconds(row["time_to"])))
            cells.append(cell("ert", _num(row["ert"], ".4g")))
            cells.append(cell("step_time_s", _seconds(row["step_time_s"])))
            for col in ("diverged", "failed"):
                n = int(row[col])
                cells.append(f'<td class="bad">{n}</td>' if n else "<td>0</td>")
            body.append("<tr>" + "".join(cells) + "</tr>")
    return f'<div class="scroll"><table class="summary">{head}{"".join(body)}</table></div>'


def failures_table(results: pd.DataFrame, *, max_rows: int = MAX_FAILURE_ROWS) -> str:
    """Runs that diverged or failed, grouped by cell and reason, with their seeds.

    Args:
        results: the results table.
        max_rows: the most groups listed.

    Returns:
        HTML (a sentence when every run finished).
    """
    ck = records(with_solver(results), "checkpoint")
    bad = ck[ck["status"] != "ok"] if "status" in ck else ck.iloc[:0]
    if bad.empty:
        return "<p>Every run finished: none diverged or failed.</p>"
    keys = [k for k in ("run", "problem", "optimizer", "device", "status", "reason") if k in bad]
    runs = bad.drop_duplicates([*keys, "seed"])
    groups = (
        runs.assign(reason=runs["reason"].fillna("").astype(str))
        .groupby(keys, sort=True, dropna=False)["seed"]
        .apply(lambda s: ", ".join(f"{v:g}" for v in sorted(s.dropna().unique())))
        .reset_index()
    )
    head = "".join(f"<th>{esc(k)}</th>" for k in keys) + "<th>seeds</th>"
    rows = []
    for row in groups.head(max_rows).itertuples(index=False):
        rows.append("<tr>" + "".join(f"<td>{esc(v)}</td>" for v in row) + "</tr>")
    more = (
        f"<p>… and {len(groups) - max_rows} more groups (see the Parquet files).</p>"
        if len(groups) > max_rows
        else ""
    )
    total = len(ck.drop_duplicates([k for k in ("solver", "problem", "seed") if k in ck]))
    return (
        f"<p>{len(runs)} run(s) of {total}"
        f' did not finish.</p><div class="scroll"><table class="list failures"><tr>{head}</tr>'
        f"{''.join(rows)}</table></div>{more}"
    )


def scores_table(
    scores: Mapping[str, pd.Series],
    *,
    palette: Palette | None = None,
    optimizers: Mapping[str, str] | None = None,
) -> str:
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
        return "<p>No scores: no problem has target rows.</p>"
    head = "<tr><th>solver</th>" + "".join(f"<th>{esc(c)}</th>" for c in frame.columns) + "</tr>"
    best = {c: _best(frame[c], False) for c in frame.columns}
    body = []
    for solver, row in frame.sort_index().iterrows():
        colour = palette.get(optimizers.get(str(solver), ""))
        cells = [f'<td class="name">{_swatch(colour)}{esc(solver)}</td>']
        for c in frame.columns:
            text = _num(row[c], ".3f")
            cells.append(
                f'<td class="best">{text}</td>' if best[c].loc[solver] else f"<td>{text}</td>"
            )
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f'<table class="list scores">{head}{"".join(body)}</table>'
