"""pytest-benchmark JSON in the report: step times, the convergence they bought, and the change.

Reads the files ``pytest --benchmark-json=FILE`` and ``--benchmark-autosave`` write (one file,
several, or the ``.benchmarks/`` folder) into one tidy table, `load_benchmarks`, one row per
benchmark per saved run; the optbench fields come from ``extra_info`` (problem, optimizer,
rows, device, dtype, run-steps per second, final gap, success at 1e-4, evaluations to target;
bench/pytest_plugin.py writes them), and other benchmarks keep their group and name.

`benchmarks_html` renders three tables with a jinja2 template (autoescape on):

- step time per optimizer x problem x device (x rows) of the newest run: the median round with
  its interquartile range;
- the convergence each timing bought: run-steps per second beside the median final gap (IQR),
  success at 1e-4 and evaluations to target;
- the change between the two newest runs, per benchmark: the ratio of median times and of
  median gaps, a regression marked where time grew by more than `SPEED` or the gap by more
  than `GAP_FACTOR` (the rule of ``--convergence-compare-fail``: gaps under
  ``eps(dtype) * max(1, |f*|)`` count as that floor).

Pure functions of the files; no torch, no harness.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from problems import SpecError, StoreError, float_precision
from reports._tables import number, seconds

__all__ = [
    "GAP_FACTOR",
    "SPEED",
    "benchmarks_html",
    "benchmarks_page",
    "change_table",
    "is_benchmark_source",
    "load_benchmarks",
    "split_sources",
]

SPEED = 0.10
"""A benchmark whose median time grew by more than this fraction is marked slower."""
GAP_FACTOR = 2.0
"""A benchmark whose median final gap grew by more than this factor is marked worse."""

EXTRA = (
    "kind", "problem", "optimizer", "rows", "seeds", "device", "dtype", "f_star",
    "run_steps_per_s", "gap_median", "gap_q1", "gap_q3", "gap_iqr", "success@1e-04",
    "evals_to_target", "diverged", "steps", "convergence_rows", "optbench_version",
)  # fmt: skip
STATS = ("median", "iqr", "q1", "q3", "mean", "stddev", "min", "max", "rounds")


def is_benchmark_source(path: Path | str) -> bool:
    """A pytest-benchmark JSON file, or a folder of them (``.benchmarks/``) that is not a run
    directory (no ``meta.json``)."""
    p = Path(path)
    if p.suffix == ".json" or p.is_file():
        return p.suffix == ".json"  # a missing .json file is reported as such by the loader
    return p.is_dir() and not (p / "meta.json").exists() and any(p.rglob("*.json"))


def split_sources(paths: Sequence[Path | str]) -> tuple[list[Path], list[Path]]:
    """``(run directories, pytest-benchmark sources)`` of `paths`, each in the given order."""
    runs: list[Path] = []
    benches: list[Path] = []
    for path in map(Path, paths):
        (benches if is_benchmark_source(path) else runs).append(path)
    return runs, benches


def _files(sources: Iterable[Path | str]) -> list[Path]:
    files: list[Path] = []
    for source in map(Path, sources):
        if source.is_dir():
            found = sorted(source.rglob("*.json"))
            if not found:
                msg = f"{source}: no pytest-benchmark JSON files in this folder"
                raise StoreError(msg)
            files.extend(found)
        elif source.is_file():
            files.append(source)
        else:
            msg = f"{source}: no such file or folder"
            raise StoreError(msg)
    return files


def _read(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        msg = f"{path}: not a readable JSON file ({type(error).__name__}: {error})"
        raise StoreError(msg) from None
    if not isinstance(data, dict) or not isinstance(data.get("benchmarks"), list):
        msg = f"{path}: not a pytest-benchmark file (no 'benchmarks' list)"
        raise StoreError(msg)
    return data


def load_benchmarks(sources: Sequence[Path | str]) -> pd.DataFrame:
    """One row per benchmark per saved run, from JSON files or folders of them.

    Columns: ``run`` (the file's name without ``.json``), ``datetime``, ``commit`` (short id),
    ``order`` (runs by time, 0 = oldest), ``fullname``, ``name``, ``group``, the `EXTRA`
    fields (None where a benchmark lacks them; ``problem`` falls back to the group and
    ``optimizer`` to the name) and the round statistics in seconds (`STATS`).

    Raises:
        StoreError: a source that is missing, unreadable or not pytest-benchmark's.
        SpecError: no sources.
    """
    if not sources:
        msg = "no pytest-benchmark files given"
        raise SpecError(msg)
    rows = []
    for path in _files(sources):
        data = _read(path)
        commit = (data.get("commit_info") or {}).get("id") or ""
        for bench in data["benchmarks"]:
            info = bench.get("extra_info") or {}
            stats = bench.get("stats") or {}
            row: dict[str, Any] = {
                "run": path.stem,
                "file": str(path),
                "datetime": str(data.get("datetime") or ""),
                "commit": str(commit)[:8],
                "fullname": str(bench.get("fullname", bench.get("name", ""))),
                "name": str(bench.get("name", "")),
                "group": str(bench.get("group") or ""),
            }
            row.update({key: info.get(key) for key in EXTRA})
            row["problem"] = str(row["problem"] or row["group"])
            row["optimizer"] = str(row["optimizer"] or row["name"])
            row["device"] = str(row["device"] or "")
            row["kind"] = str(row["kind"] or "")
            row.update({key: stats.get(key) for key in STATS})
            rows.append(row)
    frame = pd.DataFrame(rows, columns=[*_COLUMNS])
    runs = frame[["run", "datetime"]].drop_duplicates().sort_values(["datetime", "run"])
    frame["order"] = frame["run"].map({r: i for i, r in enumerate(runs["run"])})
    return frame


_COLUMNS = ("run", "file", "datetime", "commit", "fullname", "name", "group", *EXTRA, *STATS)


# ------------------------------------------------------------------------------- formatting


def _rate(value: object) -> str:
    if value is None:
        return "–"
    v = float(value)  # type: ignore[arg-type]
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if v >= scale:
            return f"{v / scale:.3g}{unit}/s"
    return f"{v:.3g}/s"


def _value(value: object) -> float | None:
    """A number from the table, None where it is missing (None or NaN in pandas)."""
    if value is None:
        return None
    v = float(value)  # type: ignore[arg-type]
    return None if math.isnan(v) else v


def _gap(row: pd.Series) -> str | None:
    """A benchmark's gap, or None when it has no convergence data; diverged medians show ∞."""
    gap = _value(row.get("gap_median"))
    if row.get("kind") not in ("step", "convergence") and gap is None:
        return None
    return number(math.inf if gap is None else gap)


def _label(frame: pd.DataFrame, order: int) -> str:
    first = frame[frame["order"] == order].iloc[0]
    parts = [str(first["run"])]
    if first["commit"]:
        parts.append(f"commit {first['commit']}")
    if first["datetime"]:
        parts.append(str(first["datetime"])[:19].replace("T", " "))
    return " · ".join(parts)


def _column(row: pd.Series) -> str:
    rows = row["rows"]
    rows_text = f"rows={int(rows):,}" if rows is not None and not pd.isna(rows) else ""
    return " · ".join(p for p in (str(row["device"]), rows_text) if p) or "time"


def step_rows(frame: pd.DataFrame) -> dict[str, Any]:
    """The step-time table of the newest run: per problem, optimizer rows x device/rows columns.

    Benchmarks of kind ``step`` (every benchmark when none has a kind: a user's own).
    """
    latest = frame[frame["order"] == frame["order"].max()]
    steps = latest[latest["kind"] == "step"] if (latest["kind"] == "step").any() else latest
    steps = steps[steps["kind"] != "convergence"] if (latest["kind"] == "step").any() else steps
    keyed = steps.assign(column=steps.apply(_column, axis=1))
    order = keyed.sort_values(["device", "rows"], na_position="first")["column"]
    columns = list(dict.fromkeys(order))
    groups = []
    for problem, part in keyed.groupby("problem", sort=True):
        lines = []
        for optimizer, cells in part.groupby("optimizer", sort=True):
            values = {}
            for _, cell in cells.iterrows():
                values[cell["column"]] = {
                    "median": seconds(cell["median"]),
                    "iqr": seconds(cell["iqr"]),
                    "rate": _rate(cell["run_steps_per_s"]),
                }
            lines.append({"optimizer": str(optimizer), "cells": [values.get(c) for c in columns]})
        groups.append({"problem": str(problem), "lines": lines})
    return {"columns": columns, "groups": groups}


def convergence_rows(frame: pd.DataFrame) -> list[dict[str, str]]:
    """One line per benchmark of the newest run that carries convergence data."""
    latest = frame[frame["order"] == frame["order"].max()]
    lines = []
    ordered = latest.sort_values(
        ["problem", "optimizer", "device", "kind", "rows"], na_position="first"
    )
    for _, row in ordered.iterrows():
        gap = _gap(row)
        if gap is None:
            continue
        success = row["success@1e-04"]
        lines.append(
            {
                "problem": str(row["problem"]),
                "optimizer": str(row["optimizer"]),
                "device": str(row["device"]),
                "kind": str(row["kind"]),
                "rows": number(row["rows"], ",.0f"),
                "runs": number(row["convergence_rows"], ",.0f"),
                "steps": number(row["steps"], ".0f"),
                "rate": _rate(row["run_steps_per_s"]),
                "time": seconds(row["median"]),
                "gap": gap,
                "iqr": number(
                    _value(row["gap_iqr"]) if _value(row["gap_iqr"]) is not None else math.inf
                ),
                "success": "–" if success is None else f"{100 * float(success):.0f}%",
                "evals": number(row["evals_to_target"], ".4g"),
                "diverged": "" if not row["diverged"] else f"{100 * float(row['diverged']):.0f}%",
            }
        )
    return lines


def _floor(row: pd.Series) -> float:
    f_star = row.get("f_star")
    return float_precision(None if pd.isna(f_star) else float(f_star), str(row.get("dtype")))


def change_table(
    frame: pd.DataFrame, *, speed: float = SPEED, gap: float = GAP_FACTOR
) -> pd.DataFrame:
    """The change from the second-newest run to the newest, per benchmark both ran.

    Columns: ``fullname``, ``problem``, ``optimizer``, ``device``, ``rows``, ``before_s``,
    ``now_s``, ``time_ratio`` (median now / before), ``gap_before``, ``gap_now``,
    ``gap_ratio`` (on gaps raised to the rounding floor; NaN without convergence data),
    ``slower`` and ``worse`` (the regressions). Empty with fewer than two runs.
    """
    columns = [
        "fullname", "problem", "optimizer", "device", "rows", "before_s", "now_s", "time_ratio",
        "gap_before", "gap_now", "gap_ratio", "slower", "worse",
    ]  # fmt: skip
    last = frame["order"].max() if len(frame) else 0
    if last < 1:
        return pd.DataFrame(columns=columns)
    now = frame[frame["order"] == last].set_index("fullname")
    before = frame[frame["order"] == last - 1].set_index("fullname")
    lines = []
    for name in now.index.intersection(before.index):
        a, b = before.loc[name], now.loc[name]
        ratio = float(b["median"]) / float(a["median"]) if a["median"] else math.nan
        has_gap = _gap(a) is not None and _gap(b) is not None
        g_before = _value(a["gap_median"])
        g_now = _value(b["gap_median"])
        g_before = math.inf if g_before is None else g_before
        g_now = math.inf if g_now is None else g_now
        floor = _floor(b)
        if has_gap:
            lo, hi = max(g_before, floor), max(g_now, floor)
            g_ratio = hi / lo if math.isfinite(lo) else (1.0 if not math.isfinite(hi) else 0.0)
        else:
            g_ratio = math.nan
        lines.append(
            {
                "fullname": str(name),
                "problem": str(b["problem"]),
                "optimizer": str(b["optimizer"]),
                "device": str(b["device"]),
                "rows": b["rows"],
                "before_s": a["median"],
                "now_s": b["median"],
                "time_ratio": ratio,
                "gap_before": g_before if has_gap else math.nan,
                "gap_now": g_now if has_gap else math.nan,
                "gap_ratio": g_ratio,
                "slower": bool(ratio > 1 + speed),
                "worse": bool(has_gap and g_ratio > gap),
            }
        )
    return pd.DataFrame(lines, columns=columns).sort_values("fullname", ignore_index=True)


def _change_rows(change: pd.DataFrame) -> list[dict[str, Any]]:
    return [
        {
            "name": row["fullname"],
            "before": seconds(row["before_s"]),
            "now": seconds(row["now_s"]),
            "ratio": f"{row['time_ratio']:.2f}×" if math.isfinite(row["time_ratio"]) else "–",
            "slower": row["slower"],
            "gap_before": number(row["gap_before"]),
            "gap_now": number(row["gap_now"]),
            "gap_ratio": number(row["gap_ratio"], ".3g")
            + ("×" if math.isfinite(row["gap_ratio"]) else ""),
            "worse": row["worse"],
        }
        for _, row in change.iterrows()
    ]


@functools.cache
def _environment() -> Any:
    import jinja2

    return jinja2.Environment(
        loader=jinja2.PackageLoader("reports", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _context(frame: pd.DataFrame, speed: float, gap: float) -> dict[str, Any]:
    last = int(frame["order"].max()) if len(frame) else 0
    change = change_table(frame, speed=speed, gap=gap)
    return {
        "newest": _label(frame, last) if len(frame) else "",
        "previous": _label(frame, last - 1) if last >= 1 else "",
        "runs": int(frame["run"].nunique()),
        "steps": step_rows(frame),
        "convergence": convergence_rows(frame),
        "change": _change_rows(change),
        "slower": int(change["slower"].sum()),
        "worse": int(change["worse"].sum()),
        "speed": f"{100 * speed:g}%",
        "gap_factor": f"{gap:g}×",
    }


def benchmarks_html(frame: pd.DataFrame, *, speed: float = SPEED, gap: float = GAP_FACTOR) -> str:
    """The pytest-benchmark section's body: step times, convergence, change (HTML)."""
    template = _environment().get_template("benchmarks.html")
    return str(template.render(**_context(frame, speed, gap)))


def benchmarks_page(
    frame: pd.DataFrame,
    *,
    css: str,
    generated: str,
    speed: float = SPEED,
    gap: float = GAP_FACTOR,
) -> str:
    """A whole page of the pytest-benchmark section alone (``bench report`` with only JSON)."""
    from markupsafe import Markup  # jinja2's own dependency

    template = _environment().get_template("benchmarks_page.html")
    body = Markup(benchmarks_html(frame, speed=speed, gap=gap))  # rendered with autoescape
    runs = int(frame["run"].nunique())
    return str(template.render(css=Markup(css), body=body, generated=generated, runs=runs))
