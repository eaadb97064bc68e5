"""`bench show`: a summary table per problem x optimizer from a run directory, as text.

The targets are the study's, chosen as the report chooses them (`shown_targets`), so the
same run reads the same in both; notes under the table say what the numbers hide: seeds that
are one distinct run, gaps rounded to 0, and every distinct failure reason with its count.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from reports._metrics import summary, target_label
from reports._select import records, shown_targets, study_targets
from reports._store import load, load_meta

__all__ = ["WIDTH", "compact_view", "failure_reasons", "show_text", "summary_view", "text_table"]

WIDTH = 100
"""The terminal width `bench show` fits by default (``--wide``: every column, unwrapped)."""


def summary_view(frame: pd.DataFrame, targets: Sequence[float]) -> pd.DataFrame:
    """The columns a reader needs first: median gap [IQR], success and time to each target.

    Args:
        frame: the results table (all record kinds; see docs/RESULTS.md).
        targets: the targets with a success, time-to-target and ERT column each.

    Returns:
        One row per cell, ready to print; ``device`` only when the run has more than one.
        ``runs`` counts distinct runs (``1/10``: ten seeds that are one run); a success rate
        has its 95% Wilson interval, except for one distinct run.
    """
    table = summary(frame, targets=list(targets))
    view = pd.DataFrame({"problem": table["problem"], "optimizer": table["optimizer"]})
    if table["device"].nunique() > 1:
        view["device"] = table["device"]
    view["runs"] = [
        f"{d}" if d == n else f"{d}/{n}" for d, n in zip(table["distinct_runs"], table["n_seeds"])
    ]
    view["median gap [IQR]"] = [
        f"{m:.2e} [{a:.1e}, {b:.1e}]" if np.isfinite(m) else "-"
        for m, a, b in zip(table["gap_median"], table["gap_q25"], table["gap_q75"])
    ]
    for t in targets:
        label = target_label(t)
        view[f"ok@{label}"] = [
            "-"
            if not np.isfinite(s)
            else f"{s:.2f}"
            if not (np.isfinite(lo) and np.isfinite(hi))
            else f"{s:.2f} [{lo:.2f},{hi:.2f}]"
            for s, lo, hi in zip(
                table[f"success@{label}"],
                table[f"success_low@{label}"],
                table[f"success_high@{label}"],
            )
        ]
        view[f"t@{label} s"] = table[f"time_to_target@{label}"]
        view[f"ERT@{label}"] = table[f"ert@{label}"]
    view["ms/step"] = table["step_time_s"] * 1e3
    view["diverged"] = table["diverged"]
    view["failed"] = table["failed"]
    view.attrs["notes"] = _notes(table) + _row_by_row(frame)
    return view


def compact_view(view: pd.DataFrame, targets: Sequence[float]) -> pd.DataFrame:
    """The columns of `summary_view` that fit a 100-column terminal: the names, the runs, the
    median gap, the success rate at each target (its interval is in ``--wide``), the step
    time and the diverged/failed counts."""
    out = view[[c for c in ("problem", "optimizer", "device", "runs") if c in view]].copy()
    out["median gap"] = [g.split(" ")[0] for g in view["median gap [IQR]"]]
    for t in targets:
        label = target_label(t)
        out[f"ok@{label}"] = [v.split(" ")[0] for v in view[f"ok@{label}"]]
    out["ms/step"] = view["ms/step"]
    out["div/fail"] = [f"{d}/{f}" for d, f in zip(view["diverged"], view["failed"])]
    out.attrs.update(view.attrs)
    return out


def text_table(frame: pd.DataFrame, *, width: int | None = WIDTH) -> str:
    """`frame` as an aligned text table (rich), numbers to 3 significant digits.

    Args:
        frame: the table; text columns are left-aligned, numbers right-aligned.
        width: the terminal width to fit (long names fold onto a second line); None for
            no limit (every column at its full width).
    """
    from rich import box
    from rich.console import Console
    from rich.table import Table

    numeric = {c: pd.api.types.is_numeric_dtype(frame[c]) for c in frame.columns}
    console = Console(
        width=width or 10_000, file=io.StringIO(), record=True, color_system=None, soft_wrap=False
    )

    def build(gap: int) -> Table:
        table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, padding=(0, gap, 0, 0))
        for column in frame.columns:
            table.add_column(
                str(column),
                justify="right" if numeric[column] else "left",
                overflow="fold",
                no_wrap=numeric[column],  # names fold onto a second line, numbers never
            )
        for row in frame.itertuples(index=False):
            table.add_row(*(_cell(v) for v in row))
        return table

    table = build(1)  # two spaces between columns where they fit, else one
    unlimited = Console(width=10_000, file=io.StringIO(), color_system=None)
    if width is not None and unlimited.measure(table).maximum > width:
        table = build(0)
    console.print(table)
    return "\n".join(line.rstrip() for line in console.export_text().splitlines())


def _cell(value: object) -> str:
    if isinstance(value, (float, np.floating)):
        return "-" if np.isnan(value) else f"{value:.3g}"
    return str(value)


def _row_by_row(frame: pd.DataFrame) -> list[str]:
    """A note naming the optimizers that ran row by row (the ``mode`` column)."""
    if "mode" not in frame:
        return []
    slow = sorted(set(frame.loc[frame["mode"] == "row by row", "optimizer"].astype(str)))
    if not slow:
        return []
    return [
        f"row by row (not elementwise; slower): {', '.join(slow)}; every other cell ran batched"
    ]


def _notes(table: pd.DataFrame) -> list[str]:
    notes = []
    repeated = table[table["distinct_runs"] < table["n_seeds"]]
    for row in repeated.itertuples(index=False):
        runs = "1 distinct run" if row.distinct_runs == 1 else f"{row.distinct_runs} distinct runs"
        notes.append(
            f"{row.problem} x {row.optimizer}: {row.n_seeds} seeds are {runs} (a fixed start "
            "on a deterministic problem; no interval for one run); --start uniform samples "
            "the domain"
        )
    rounded = int(table["gap_rounded"].sum())
    if rounded:
        notes.append(
            f"{rounded} run(s) ended below f* by float rounding of f*: their gap counts as 0"
        )
    return notes


_NUMBER = re.compile(r"\d+(?:\.\d+)?")


def _merge(reasons: list[str]) -> str:
    """One reason for several that differ only in their numbers: each differing number
    becomes its range (``loss became non-finite at step 6–13``)."""
    if len(set(reasons)) == 1:
        return reasons[0]
    skeleton = _NUMBER.split(reasons[0])
    numbers = [[float(n) for n in _NUMBER.findall(r)] for r in reasons]
    parts = [skeleton[0]]
    for i, text in enumerate(skeleton[1:]):
        values = [row[i] for row in numbers]
        lo, hi = min(values), max(values)
        parts.append(f"{lo:g}" if lo == hi else f"{lo:g}–{hi:g}")
        parts.append(text)
    return "".join(parts)


def failure_reasons(frame: pd.DataFrame) -> pd.DataFrame:
    """Every distinct reason a run diverged or failed, with its count of runs.

    Reasons that differ only in a number (the step a run diverged at) are one reason, the
    number shown as its range.

    Returns:
        Columns ``status``, ``reason``, ``runs`` (seeds with that outcome), ``cells``,
        most frequent first.
    """
    columns = ["status", "reason", "runs", "cells"]
    ck = records(frame, "checkpoint") if "record" in frame else frame
    if "status" not in ck:
        return pd.DataFrame(columns=columns)
    bad = ck[ck["status"] != "ok"]
    keys = [k for k in ("problem", "optimizer", "device", "seed") if k in bad]
    runs = bad.drop_duplicates(keys)
    if runs.empty:
        return pd.DataFrame(columns=columns)
    reason = runs["reason"].fillna("").astype(str) if "reason" in runs else ""
    runs = runs.assign(reason=reason)
    runs = runs.assign(pattern=runs["reason"].map(lambda r: _NUMBER.sub("#", r)))
    cell = [k for k in ("problem", "optimizer", "device") if k in runs]
    rows = []
    for (status, _), group in runs.groupby(["status", "pattern"], sort=True):
        rows.append(
            {
                "status": status,
                "reason": _merge(sorted(group["reason"])),
                "runs": len(group),
                "cells": len(group[cell].drop_duplicates()),
            }
        )
    out = pd.DataFrame(rows, columns=columns)
    return out.sort_values(["runs", "status", "reason"], ascending=[False, True, True])


def show_text(
    run_dir: str | Path, targets: Sequence[float] | None = None, *, wide: bool = False
) -> str:
    """The summary of `run_dir` as aligned text, with notes and the failure reasons under it.

    Args:
        run_dir: a run directory.
        targets: the targets to show (default: `shown_targets` of the study's, as the report).
        wide: every column of `summary_view` (success rates with their 95% Wilson
            intervals, time to target, ERT), unwrapped; by default the `compact_view`
            columns, fitted to `WIDTH` characters.

    Raises:
        StoreError: the directory holds no results, or a part is corrupt (named).
    """
    frame = load(run_dir, record=None)
    metas = {"run": load_meta(run_dir)}
    chosen = list(targets) if targets else shown_targets(study_targets(frame, metas))
    view = summary_view(frame, chosen)
    text = text_table(view, width=None) if wide else text_table(compact_view(view, chosen))
    notes = [*view.attrs["notes"], *([] if wide else ["bench show --wide: intervals, ERT"])]
    lines = [text, *(_wrap(f"note: {n}", wide) for n in notes)]
    reasons = failure_reasons(frame)
    if not reasons.empty:
        lines.append("diverged and failed runs, by reason:")
        for row in reasons.itertuples(index=False):
            reason = row.reason or "(no reason recorded)"
            line = f"  {row.runs:>5} {row.status:<8} in {row.cells} cell(s): {reason}"
            lines.append(_wrap(line, wide, indent="    "))
    return "\n".join(lines)


def _wrap(text: str, wide: bool, indent: str = "      ") -> str:
    if wide:
        return text
    import textwrap

    return textwrap.fill(text, WIDTH, subsequent_indent=indent, break_on_hyphens=False)
