"""The report: `render(results, meta) -> html` and `write(run_dirs, out) -> path`.

The page is a list of `Section` values (`SECTIONS`), each a name, a title and a function of
the `Report` (the results and the choices made once: palette, targets) that returns its
HTML or a context for its jinja2 template; ``report.html.j2`` lays them out.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from reports._benchmarks import benchmarks_html, benchmarks_page, load_benchmarks, split_sources
from reports._convergence import MAX_FACETS, convergence_figure
from reports._devices import device_figure
from reports._ecdf import ecdf_figure
from reports._encoder import PngEncoder
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
from reports._select import records, shown_targets, sorted_unique, study_targets
from reports._style import figure_html, palette_for
from reports._summary import summary_frame
from reports._tables import failures_table, header_html, scores_table, summary_table
from reports._templates import Markup, render_template
from reports._tuning import is_tune_dir, load_trials, tuning_context, tuning_page
from reports._winloss import ALPHA, RTOL, win_loss_figure

__all__ = [
    "CSS",
    "MOST",
    "SECTIONS",
    "Report",
    "Section",
    "build_report",
    "generated_text",
    "profile_target",
    "render",
    "study_targets",
    "write",
]

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


MOST = 0.5
"""The profiles' target is the tightest one that some solver reaches on more than this share
of the problems (its median seed reaching it)."""


@dataclass(frozen=True)
class Report:
    """What every section of a report draws from: the results and the choices made once.

    Attributes:
        results: the results table with ``run``, ``solver`` and ``variant``.
        metas: ``{run label: meta.json}``.
        palette: optimizer label -> colour (`palette_for`: from the name alone).
        targets: the targets with a success-rate column (the study's, as `bench show`).
        target: the target of the runtime columns.
        profile_target: the target of the performance profiles and scores (None: none).
        profile_note: how `profile_target` was chosen, or why there is no profile.
        tau_max: the profiles' range and the score's upper limit.
        reached: `target_outcomes` at every target of the study (shared by the sections).
    """

    results: pd.DataFrame
    metas: Mapping[str, Mapping[str, Any]]
    palette: Mapping[str, tuple[float, float, float]]
    targets: list[float]
    target: float | None
    profile_target: float | None
    profile_note: str
    tau_max: float
    reached: pd.DataFrame
    trials: pd.DataFrame | None = None  # bench tune's trials tables (reports._tuning)

    @property
    def problems(self) -> list[str]:
        return sorted_unique(records(self.results, "checkpoint")["problem"])

    def _repr_html_(self) -> str:
        """The summary table and the failures, for a notebook (Jupyter calls this)."""
        body = "".join(str(s) for s in (_summary(self), _failures(self)))
        return f'<div class="optbench"><style>{CSS}</style>{body}</div>'

    @property
    def optimizers(self) -> dict[str, str]:
        """solver -> optimizer label."""
        pairs = self.results[["solver", "optimizer"]].drop_duplicates().astype(str)
        return dict(pairs.itertuples(index=False))


@dataclass(frozen=True)
class Section:
    """One section of the page: an anchor `name`, a `title` and `build`, which returns the
    section's HTML (`Markup`, e.g. from `render_template`), or a context mapping for
    `template` (``reports/templates/<template>``), or None to leave the section out."""

    name: str
    title: str
    build: Callable[[Report], Markup | Mapping[str, Any] | None]
    template: str | None = None

    def body(self, report: Report) -> Markup | None:
        built = self.build(report)
        if built is None or isinstance(built, Markup):
            return built
        if self.template is None:
            msg = f"section {self.name!r} returned a context but names no template"
            raise TypeError(msg)
        return render_template(self.template, **built)


def _notes(*notes: str) -> Markup:
    return render_template("figure.html.j2", image=Markup(""), before=list(notes), after=[])


_ENCODER: ContextVar[PngEncoder | None] = ContextVar("encoder", default=None)
"""The encoder of the page being rendered (figures drawn in parallel, see `PngEncoder`)."""


def _figure(
    make: Callable[[], Figure | None], alt: str, note: str = "", *, before: Sequence[str] = ()
) -> Markup | None:
    fig = make()
    if fig is None:
        return None
    encoder = _ENCODER.get()
    image = encoder.submit(fig, alt) if encoder is not None else figure_html(fig, alt)
    return render_template(
        "figure.html.j2",
        image=Markup(image),  # the PNG as data (or its placeholder); alt escaped by figure_html
        before=[b for b in before if b],
        after=[note] if note else [],
    )


def _setup(report: Report) -> Markup:
    return header_html(report.metas)


def _summary(report: Report) -> Markup:
    summary = summary_frame(report.results, report.targets, report.target)
    t = target_label(report.target) if report.target is not None else "–"
    notes = [
        "Final gap to f* over runs (* best loss where f* is unknown); success: runs that "
        "reached the target gap (the target loss where f* is unknown), of the runs that did "
        "not fail, with the 95% Wilson interval; steps, evaluations and time to target: "
        "medians over the runs that reached it; ERT: evaluations of all runs until success "
        "or stop divided by the successes. Runs count distinct runs: seeds that repeat the "
        f"same run count once. Best per problem in bold; for the runtimes to {t}, the fastest "
        f"among the solvers with the highest success rate at {t}."
    ]
    if "seeds" in summary:
        repeated = summary[summary["runs"] < summary["seeds"]]
        if len(repeated):
            notes.append(
                f"{len(repeated)} cell(s) ran seeds that are the same run (a fixed start on a "
                "deterministic problem, start = default): they count 1 distinct run, with no "
                "interval; --start uniform samples the domain."
            )
    rounded = int(summary["gap_rounded"].sum()) if "gap_rounded" in summary else 0
    if rounded:
        notes.append(
            f"{rounded} run(s) ended below f* by the float rounding of f*: their gap shows as 0."
        )
    modes = summary["mode"] if "mode" in summary else pd.Series("", index=summary.index)
    slow = sorted(set(summary.loc[modes == "row by row", "solver"]))
    if slow:
        notes.append(
            "Row by row (a torch.optim class that is not elementwise; slower): "
            + ", ".join(slow)
            + ". Every other solver ran batched, all its runs as rows of one tensor."
        )
    return summary_table(
        summary, report.targets, report.target, palette=report.palette, notes=notes
    )


def _convergence(report: Report) -> Markup:
    problems = report.problems
    more = (
        f" Only the first {MAX_FACETS} of {len(problems)} problems are drawn."
        if len(problems) > MAX_FACETS
        else ""
    )
    parts = [
        _notes(
            "Median over seeds (line) and interquartile range (band); gap to f* (best loss "
            "where f* is unknown), log scales." + more
        )
    ]
    for x, label in (("step", "steps"), ("evals", "evaluations"), ("time_s", "wall time")):
        fig = _figure(
            functools.partial(convergence_figure, report.results, x, palette=report.palette),
            f"convergence against {label}",
        )
        parts.append(Markup("<h3>against {}</h3>").format(label) + (fig or Markup("")))
    return Markup("").join(parts)


def _ecdf(report: Report) -> Markup | None:
    return _figure(
        lambda: ecdf_figure(report.results, palette=report.palette, outcomes=report.reached),
        "runtime ECDFs",
        "Fraction of (problem, target) pairs reached, over all the study's targets and the "
        "problems with a known f*, each seed weighted equally (COCO style); a cross marks the "
        "median budget.",
    )


def _profiles(report: Report) -> Markup | None:
    target = report.profile_target
    if target is None:
        return _notes(report.profile_note) if report.profile_note else None
    at = target_outcomes(report.results, [target])
    scores = {}
    for by, label in (("time_s", "score (wall time)"), ("evals", "score (evaluations)")):
        times = times_to_target(report.results, target, by=by, outcomes=at)
        scores[label] = benchmark_score(performance_ratios(times), report.tau_max)
    body = _figure(
        lambda: profile_figure(
            report.results,
            target,
            palette=report.palette,
            tau_max=report.tau_max,
            outcomes=at,
        ),
        "performance profiles",
        f"Dolan–Moré performance profiles over problems: the fraction of problems a solver "
        f"solves (median seed reaches gap ≤ {target_label(target)}) within τ times the best "
        "solver's runtime; failures count as infinite. Score: the AlgoPerf benchmark score, "
        f"the area under the profile on [1, {report.tau_max:g}] divided by "
        f"{report.tau_max - 1:g}.",
        before=[report.profile_note],
    )
    return (body or Markup("")) + scores_table(
        scores, palette=report.palette, optimizers=report.optimizers
    )


def _winloss(report: Report) -> Markup | None:
    return _figure(
        lambda: win_loss_figure(report.results),
        "win/loss matrix",
        "Each cell: the row solver's wins and losses against the column solver over the "
        "distinct (problem, seed) pairs both ran, by final gap (best loss where f* is "
        f"unknown; diverged or failed runs lose). Final values within {100 * RTOL:g}% of each "
        "other, or within the float precision of f*, tie. * marks a significant pair, on both "
        "of its cells, by a Wilcoxon signed-rank test after Holm's correction over all pairs "
        f"(α = {ALPHA:g}); the colour says which side wins.",
    )


def _landscapes(report: Report) -> Markup | None:
    results = report.results
    n2d = records(results, "grid")["problem"].nunique() if "problem" in results else 0
    return _figure(
        lambda: landscape_figure(results, palette=report.palette),
        "2-D landscapes",
        "log10 of the loss above the grid minimum (dark: low); lines: the first seeds' "
        "trajectories (dot: start, star: end)."
        + (f" Only {MAX_LANDSCAPES} of {n2d} problems drawn." if n2d > MAX_LANDSCAPES else ""),
    )


def _devices(report: Report) -> Markup | None:
    return _figure(
        lambda: device_figure(report.results, palette=report.palette),
        "devices",
        "Median wall time of one step of each cell on each device.",
    )


def _heldout(report: Report) -> Markup | None:
    return _figure(
        lambda: heldout_figure(report.results, palette=report.palette),
        "held-out loss",
        "Median and interquartile range over seeds; dashed: the noise floor.",
    )


def _tuning(report: Report) -> Mapping[str, Any] | None:
    return tuning_context(
        report.metas, report.results, report.trials, _figure, palette=report.palette
    )


def _failures(report: Report) -> Markup:
    return failures_table(report.results)


SECTIONS: tuple[Section, ...] = (
    Section("setup", "Study and environment", _setup),
    Section("summary", "Summary per problem and solver", _summary),
    Section("convergence", "Convergence", _convergence),
    Section("ecdf", "Runtime ECDFs", _ecdf),
    Section("profiles", "Performance profiles and scores", _profiles),
    Section("winloss", "Win/loss matrix", _winloss),
    Section("landscapes", "2-D landscapes", _landscapes),
    Section("devices", "CPU against GPU", _devices),
    Section("heldout", "Held-out loss", _heldout),
    Section("tuning", "Tuning", _tuning, "tuning.html.j2"),
    Section("failures", "Diverged and failed runs", _failures),
)
"""The report's sections, in order. A new one is one more `Section` (pass
``sections=(*SECTIONS, Section(...))`` to `render`)."""


def profile_target(
    results: pd.DataFrame, targets: Sequence[float], reached: pd.DataFrame, *, most: float = MOST
) -> tuple[float | None, str]:
    """The target of the performance profiles, from the data, and a sentence saying why.

    The tightest of `targets` that some solver reaches on more than `most` of the problems
    (its median seed reaching it, as the profile counts a problem solved); else the
    tightest that some solver reaches on any problem; else None, with the sentence
    "no solver reached ...", so the page says so instead of drawing an empty plot.

    Args:
        results: the results table.
        targets: the study's targets.
        reached: ``target_outcomes(results, targets)``.
        most: the share of problems.
    """
    if reached.empty or not len(targets):
        return None, ""
    solved: dict[float, float] = {}
    for t in sorted(targets, reverse=True):
        at = reached[np.isclose(reached["target"].astype(float), t, rtol=1e-9, atol=0.0)]
        times = times_to_target(results, t, by="evals", outcomes=at)
        if times.empty:
            continue
        solved[t] = float(np.isfinite(times.to_numpy()).mean(axis=1).max())
    if not solved:
        return None, ""
    common = [t for t, share in solved.items() if share > most]
    if common:
        t = min(common)
        return t, (
            f"Profiles at gap ≤ {target_label(t)}: the tightest of the study's targets that "
            f"some solver reaches on most problems ({100 * solved[t]:.0f}% of them)."
        )
    some = [t for t, share in solved.items() if share > 0]
    if some:
        t = min(some)
        return t, (
            f"Profiles at gap ≤ {target_label(t)}: no solver reaches any of the study's targets "
            f"on most problems; this is the tightest that some solver reaches on any "
            f"({100 * solved[t]:.0f}% of them)."
        )
    loosest = max(solved)
    return None, (
        f"No solver reached gap ≤ {target_label(loosest)} (the study's loosest target) on any "
        "problem: no performance profile to draw."
    )


def _given_target(results: pd.DataFrame, target: float) -> tuple[float | None, str]:
    """The profiles at a target the reader chose: None with a sentence when nobody reached it."""
    at = target_outcomes(results, [target])
    if at.empty:
        return None, ""
    times = times_to_target(results, target, by="evals", outcomes=at)
    if not np.isfinite(times.to_numpy()).any():
        return None, (
            f"No solver reached gap ≤ {target_label(target)} on any problem: no performance "
            "profile to draw."
        )
    return target, f"Profiles at gap ≤ {target_label(target)}, the target asked for."


def render(
    results: pd.DataFrame,
    meta: Mapping[str, Any],
    *,
    targets: Sequence[float] | None = None,
    target: float | None = None,
    tau_max: float = TAU_MAX,
    generated: dt.datetime | str,
    sections: Sequence[Section] = SECTIONS,
    benchmarks: pd.DataFrame | None = None,
    trials: pd.DataFrame | None = None,
) -> str:
    """Render the comparison report of a results table as one self-contained HTML page.

    A pure function of its arguments: the same results, metadata and `generated` give the
    same page, byte for byte. The page is the jinja2 template ``report.html.j2`` around
    the `sections` (autoescape on: every name prints as text).

    Args:
        results: the results table (docs/RESULTS.md), with a ``run`` column when it combines
            several runs (see `load_runs`).
        meta: one run's meta.json, or ``{run label: meta}`` for several.
        targets: the targets with a success-rate column (default: `shown_targets` of the
            study's, loose, middle and tight, as ``bench show`` shows them).
        target: the target of the runtime columns, the profiles and the score (default: the
            middle of `targets` for the runtimes, and for the profiles the tightest target
            that some solver reaches on most problems, `profile_target`).
        tau_max: the performance profile's range and the score's upper limit.
        generated: when the report was made, shown on the page: a datetime (an aware one is
            shown in UTC) or the text to show.
        sections: the sections, in order (`SECTIONS`).
        benchmarks: pytest-benchmark results (`load_benchmarks`), rendered as a section.
        trials: `bench tune`'s trials tables (`reports._tuning.load_trials`), drawn in the
            tuning section.

    Returns:
        The HTML page (figures embedded as PNG, inline CSS, no script).
    """
    encoder = PngEncoder()
    reset = _ENCODER.set(encoder)
    try:
        if benchmarks is not None:
            table = benchmarks
            timings = Section(
                "benchmarks",
                "pytest-benchmark timings",
                lambda report: Markup(benchmarks_html(table)),
            )
            sections = (*sections, timings)
        page = _page(results, meta, targets, target, tau_max, generated, sections, trials)
        return encoder.resolve(page)
    finally:
        _ENCODER.reset(reset)


def _page(
    results: pd.DataFrame,
    meta: Mapping[str, Any],
    targets: Sequence[float] | None,
    target: float | None,
    tau_max: float,
    generated: dt.datetime | str,
    sections: Sequence[Section],
    trials: pd.DataFrame | None = None,
) -> str:
    report = build_report(results, meta, targets=targets, target=target, tau_max=tau_max)
    report = replace(report, trials=trials)
    results, metas = report.results, report.metas
    built = []
    for section in sections:
        body = section.body(report)
        if body is not None:
            built.append({"name": section.name, "title": section.title, "body": body})
    names = ", ".join(sorted({str(m.get("name") or k) for k, m in metas.items()}))
    return str(
        render_template(
            "report.html.j2",
            css=Markup(CSS),
            names=names,
            sections=built,
            n_problems=len(report.problems),
            n_solvers=results["solver"].nunique(),
            n_runs=len(metas),
            generated=generated_text(generated),
        )
    )


def build_report(
    results: pd.DataFrame,
    meta: Mapping[str, Any] | None = None,
    *,
    targets: Sequence[float] | None = None,
    target: float | None = None,
    tau_max: float = TAU_MAX,
) -> Report:
    """The `Report` of a results table: what `render` draws its sections from, and what a
    notebook shows inline (its ``_repr_html_``: the summary table and the failures).

    Args:
        results: the results table (all record kinds, as ``load(run_dir, record=None)``).
        meta: meta.json, or ``{run label: meta}`` for several runs (default: none).
        targets, target, tau_max: as for `render`.

    Example:
        >>> reports.build_report(reports.load("runs/quick", record=None))  # doctest: +SKIP
    """
    results, metas = _per_run(results, meta or {})
    results = with_solver(results)
    all_targets = study_targets(results, metas)
    chosen = list(targets) if targets is not None else shown_targets(all_targets)
    runtime = target if target is not None else (chosen[len(chosen) // 2] if chosen else None)
    reached = target_outcomes(results, all_targets)
    profile = (
        _given_target(results, target)
        if target is not None
        else profile_target(results, all_targets, reached)
    )
    return Report(
        results=results,
        metas=metas,
        palette=palette_for(results["optimizer"].astype(str)),
        targets=chosen,
        target=runtime,
        profile_target=profile[0],
        profile_note=profile[1],
        tau_max=tau_max,
        reached=reached,
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
    tune_dirs = [d for d in run_dirs if is_tune_dir(d)]  # bench tune's: trials, no parts
    run_dirs = [d for d in run_dirs if d not in tune_dirs]
    benchmarks = load_benchmarks(bench_files) if bench_files else None
    when = generated if generated is not None else dt.datetime.now(dt.timezone.utc)
    if tune_dirs and not run_dirs and benchmarks is None:
        page = tuning_page(tune_dirs, css=CSS, generated=generated_text(when))
    elif benchmarks is not None and not run_dirs:
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
            trials=load_trials([*run_dirs, *tune_dirs]),
        )
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(page, encoding="utf-8")
    tmp.replace(path)
    return path
