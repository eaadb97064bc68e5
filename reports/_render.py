"""The report: `render(results, meta) -> html` and `write(run_dirs, out) -> path`."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from reports._benchmarks import benchmarks_html, benchmarks_page, load_benchmarks, split_sources
from reports._convergence import MAX_FACETS, convergence_figure
from reports._devices import device_figure
from reports._ecdf import ecdf_figure
from reports._heldout import heldout_figure
from reports._landscape import MAX_LANDSCAPES, landscape_figure
from reports._load import load_runs, with_solver
from reports._metrics import target_label
from reports._outcomes import target_outcomes
from reports._profiles import (
    TAU_MAX,
    benchmark_score,
    performance_ratios,
    profile_figure,
    times_to_target,
)
from reports._select import pick_targets, records, sorted_unique
from reports._style import figure_html, palette_for
from reports._summary import summary_frame
from reports._tables import esc, failures_table, header_html, scores_table, summary_table
from reports._winloss import ALPHA, win_loss_figure

__all__ = ["CSS", "generated_text", "render", "study_targets", "write"]

CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#222;
background:#fafafa}
main{max-width:1400px;margin:0 auto;padding:12px 20px 40px}
h1{font-size:22px;margin:8px 0}h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid #ccc}
h3{font-size:15px;margin:10px 0 4px}
nav{position:sticky;top:0;background:#fff;border-bottom:1px solid #ddd;padding:6px 20px;
z-index:1;font-size:13px}nav a{margin-right:14px;color:#0b5394;text-decoration:none}
img{max-width:100%;height:auto;display:block;margin:6px 0;background:#fff}
table{border-collapse:collapse;font-size:12.5px;background:#fff}
th,td{border:1px solid #ddd;padding:3px 7px;text-align:right;vertical-align:top}
th{background:#f0f0f0}td.name,th.prob,table.list td,table.kv td,table.kv th{text-align:left}
th.prob{background:#f7f7f7;max-width:200px;word-break:break-all}
td.best{font-weight:700;background:#e3f4e1}td.name{white-space:nowrap}
table.list th,table.kv th{text-align:left}td.bad{color:#b00020;font-weight:600}
.iqr{color:#666;font-weight:400;font-size:11.5px;white-space:nowrap}
.sw{display:inline-block;width:10px;height:10px;margin-right:5px;border-radius:2px}
.scroll{overflow-x:auto;max-width:100%}.cols{display:flex;gap:16px;flex-wrap:wrap}
.run{background:#fff;border:1px solid #ddd;padding:6px 12px;margin:8px 0}
pre{background:#f5f5f5;padding:8px;overflow-x:auto;font-size:12px;max-height:400px}
p.note{color:#555;font-size:13px;max-width:1000px}
"""

PREFERRED_TARGET = 1e-4
"""The runtime target when the study has it (else the middle of the chosen targets)."""


def study_targets(results: pd.DataFrame, metas: Mapping[str, Mapping[str, Any]]) -> list[float]:
    """The study's targets: from the target rows, else from the specs in meta."""
    tg = records(results, "target")
    values = set(tg["target"].dropna().astype(float)) if "target" in tg else set()
    if not values:
        for meta in metas.values():
            spec = meta.get("study")
            if isinstance(spec, Mapping):
                values |= {float(t) for t in spec.get("targets", []) or []}
    return sorted(values, reverse=True)


def _per_run(results: pd.DataFrame, meta: Mapping[str, Any]) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Normalise `meta` to ``{run label: meta}`` and make sure `results` has a ``run`` column."""
    runs = sorted_unique(results["run"]) if "run" in results else []
    if (
        runs
        and set(map(str, meta.keys())) == set(runs)
        and all(isinstance(v, Mapping) for v in meta.values())
    ):
        return results, {str(k): dict(v) for k, v in meta.items()}
    label = str(meta.get("label") or meta.get("name") or (runs[0] if runs else "run"))
    if "run" not in results:
        results = results.assign(run=label)
    return results, {label: dict(meta)}


def generated_text(generated: dt.datetime | str) -> str:
    """How the page shows its generation time: ``2026-12-01 10:20 UTC`` for a datetime.

    Example:
        >>> generated_text(dt.datetime(2026, 12, 1, 10, 20, tzinfo=dt.timezone.utc))
        '2026-12-01 10:20 UTC'
        >>> generated_text("yesterday")
        'yesterday'
    """
    if isinstance(generated, str):
        return generated
    if generated.tzinfo is None:
        return generated.strftime("%Y-%m-%d %H:%M")
    return generated.astimezone(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def _figure(make: Callable[[], Figure | None], alt: str, note: str = "") -> str:
    fig = make()
    if fig is None:
        return ""
    return figure_html(fig, alt) + (f'<p class="note">{note}</p>' if note else "")


def _section(anchor: str, title: str, body: str) -> tuple[str, str]:
    return (
        f'<a href="#{anchor}">{esc(title)}</a>',
        f'<section id="{anchor}"><h2>{esc(title)}</h2>{body}</section>',
    )


def render(
    results: pd.DataFrame,
    meta: Mapping[str, Any],
    *,
    targets: Sequence[float] | None = None,
    target: float | None = None,
    tau_max: float = TAU_MAX,
    generated: dt.datetime | str,
    benchmarks: pd.DataFrame | None = None,
) -> str:
    """Render the comparison report of a results table as one self-contained HTML page.

    A pure function of its arguments: the same results, metadata and `generated` give the
    same page, byte for byte.

    Args:
        results: the results table (docs/RESULTS.md), with a ``run`` column when it combines
            several runs (see `load_runs`).
        meta: one run's meta.json, or ``{run label: meta}`` for several.
        targets: the targets with a success-rate column (default: up to three of the study's,
            loose to tight).
        target: the target of the runtime columns, the profiles and the score (default: 1e-4
            when the study has it, else the middle of `targets`).
        tau_max: the performance profile's range and the score's upper limit.
        generated: when the report was made, shown on the page: a datetime (an aware one is
            shown in UTC) or the text to show.
        benchmarks: pytest-benchmark results (`load_benchmarks`), rendered as a section.

    Returns:
        The HTML page (figures embedded as PNG, inline CSS, no script).
    """
    results, metas = _per_run(results, meta)
    results = with_solver(results)
    palette = palette_for(results["optimizer"].astype(str))
    all_targets = study_targets(results, metas)
    chosen = list(targets) if targets is not None else pick_targets(all_targets)
    if target is None and all_targets:
        target = (
            PREFERRED_TARGET
            if any(np.isclose(all_targets, PREFERRED_TARGET))
            else (chosen or all_targets)[len(chosen or all_targets) // 2]
        )
    problems = sorted_unique(records(results, "checkpoint")["problem"])
    optimizers = dict(
        results[["solver", "optimizer"]].drop_duplicates().astype(str).itertuples(index=False)
    )

    sections: list[tuple[str, str]] = []
    sections.append(_section("setup", "Study and environment", header_html(metas)))
    summary = summary_frame(results, chosen, target)
    sections.append(
        _section(
            "summary",
            "Summary per problem and solver",
            '<p class="note">Final gap to f* over seeds (* best loss where f* is unknown); '
            "success: runs that reached the target gap (the target loss where f* is unknown), "
            "of the runs that did not fail, with the 95% Wilson interval; steps, evaluations "
            "and time to target: medians over the runs that reached it; ERT: evaluations of "
            "all runs until success or stop divided by the successes. Best entries per "
            "problem in bold.</p>" + summary_table(summary, chosen, target, palette=palette),
        )
    )

    more = (
        f" Only the first {MAX_FACETS} of {len(problems)} problems are drawn."
        if len(problems) > MAX_FACETS
        else ""
    )
    conv = []
    for x, label in (("step", "steps"), ("evals", "evaluations"), ("time_s", "wall time")):
        conv.append(
            f"<h3>against {label}</h3>"
            + _figure(
                functools.partial(convergence_figure, results, x, palette=palette),
                f"convergence against {label}",
            )
        )
    sections.append(
        _section(
            "convergence",
            "Convergence",
            '<p class="note">Median over seeds (line) and interquartile range (band); gap to f* '
            "(best loss where f* is unknown), log scales." + esc(more) + "</p>" + "".join(conv),
        )
    )

    reached = target_outcomes(results)  # once for both ECDF panels
    sections.append(
        _section(
            "ecdf",
            "Runtime ECDFs",
            _figure(
                lambda: ecdf_figure(results, palette=palette, outcomes=reached),
                "runtime ECDFs",
                "Fraction of (problem, target) pairs reached, over all the study's targets and the "
                "problems with a known f*, each seed weighted equally (COCO style); a cross "
                "marks the median budget.",
            ),
        )
    )

    if target is not None:
        at = target_outcomes(results, [target])  # once for the scores and the profiles
        scores = {}
        for by, label in (("time_s", "score (wall time)"), ("evals", "score (evaluations)")):
            scores[label] = benchmark_score(
                performance_ratios(times_to_target(results, target, by=by, outcomes=at)), tau_max
            )
        body = _figure(
            lambda: profile_figure(results, target, palette=palette, tau_max=tau_max, outcomes=at),
            "performance profiles",
            f"Dolan–Moré performance profiles over problems: the fraction of problems a solver "
            f"solves (median seed reaches gap ≤ {target_label(target)}) within τ times the best "
            "solver's "
            f"runtime; failures count as infinite. Score: the AlgoPerf benchmark score, the "
            f"area under the profile on [1, {tau_max:g}] divided by {tau_max - 1:g}.",
        )
        body += scores_table(scores, palette=palette, optimizers=optimizers)
        sections.append(_section("profiles", "Performance profiles and scores", body))

    sections.append(
        _section(
            "winloss",
            "Win/loss matrix",
            _figure(
                lambda: win_loss_figure(results),
                "win/loss matrix",
                "Each cell: the row solver's wins and losses against the column solver over the "
                "(problem, seed) pairs both ran, by final gap (log scale; best loss where f* is "
                "unknown; diverged or failed runs lose). * marks a significant Wilcoxon "
                f"signed-rank test after Holm's correction over all pairs (α = {ALPHA:g}).",
            ),
        )
    )

    n2d = records(results, "grid")["problem"].nunique() if "problem" in results else 0
    land = _figure(
        lambda: landscape_figure(results, palette=palette),
        "2-D landscapes",
        "log10 of the loss above the grid minimum (dark: low); lines: the first seeds' "
        "trajectories (dot: start, star: end)."
        + (f" Only {MAX_LANDSCAPES} of {n2d} problems drawn." if n2d > MAX_LANDSCAPES else ""),
    )
    if land:
        sections.append(_section("landscapes", "2-D landscapes", land))
    dev = _figure(
        lambda: device_figure(results, palette=palette),
        "devices",
        "Median wall time of one step of each cell on each device.",
    )
    if dev:
        sections.append(_section("devices", "CPU against GPU", dev))
    held = _figure(
        lambda: heldout_figure(results, palette=palette),
        "held-out loss",
        "Median and interquartile range over seeds; dashed: the noise floor.",
    )
    if held:
        sections.append(_section("heldout", "Held-out loss", held))
    sections.append(_section("failures", "Diverged and failed runs", failures_table(results)))
    if benchmarks is not None:
        sections.append(
            _section("benchmarks", "pytest-benchmark timings", benchmarks_html(benchmarks))
        )

    names = ", ".join(sorted({str(m.get("name") or k) for k, m in metas.items()}))
    now = generated_text(generated)
    nav = "".join(link for link, _ in sections)
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>optbench report: {esc(names)}</title><style>{CSS}</style></head><body>"
        f"<nav>{nav}</nav><main><h1>optbench report: {esc(names)}</h1>"
        f'<p class="note">{len(problems)} problems, {results["solver"].nunique()} solvers, '
        f"{len(metas)} run(s); generated {esc(now)}.</p>"
        + "".join(body for _, body in sections)
        + "</main></body></html>"
    )


def write(
    run_dirs: Sequence[Path | str],
    out: Path | str,
    *,
    labels: Sequence[str] | None = None,
    targets: Sequence[float] | None = None,
    target: float | None = None,
    tau_max: float = TAU_MAX,
    generated: dt.datetime | str | None = None,
) -> Path:
    """Load run directories, render their combined report and write it to `out`.

    Args:
        run_dirs: one or more run directories (``parts/*.parquet`` and ``meta.json``), and
            any pytest-benchmark JSON files or ``.benchmarks/`` folders (`split_sources`),
            alone or beside them.
        out: the HTML file to write (parent directories are created).
        labels: one label per run (default: meta's label or name, else the directory name).
        targets: the targets with a success-rate column (see `render`).
        target: the target of the runtime columns, profiles and score (see `render`).
        tau_max: the performance profile's range and the score's upper limit.
        generated: the generation time shown on the page (default: now, in UTC).

    Returns:
        The path written.
    """
    run_dirs, bench_files = split_sources(run_dirs)
    benchmarks = load_benchmarks(bench_files) if bench_files else None
    when = generated if generated is not None else dt.datetime.now(dt.timezone.utc)
    if benchmarks is not None and not run_dirs:
        page = benchmarks_page(benchmarks, css=CSS, generated=generated_text(when))
    else:
        results, metas = load_runs(run_dirs, labels=labels)
        page = render(
            results,
            metas,
            targets=targets,
            target=target,
            tau_max=tau_max,
            generated=when,
            benchmarks=benchmarks,
        )
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(page, encoding="utf-8")
    tmp.replace(path)
    return path
