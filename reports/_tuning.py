"""The report's tuning section: trials tables (``trials.parquet``) -> figures and a table.

`bench tune` writes every trial as a row of a plain table (columns ``problem``,
``optimizer``, ``number``, ``state``, ``value``, ``param_<name>``, ``evals``, ``wall_s``,
...) into its run directory, and `bench run --tuned` copies it into ``<run>/tuning/``. This
module reads those files only, never an Optuna storage:

- `history_figure`: the optimisation history, each trial's objective and the best so far
  against the trial number;
- `sensitivity_figure`: the sensitivity curve of each (problem, optimizer), the objective
  of every trial against the learning rate, pruned trials marked;
- `comparison_figure`: DeepOBS's plot, the optimizers' sensitivity curves of one problem on
  one axes (Schneider, Balles & Hennig, "DeepOBS: a deep learning optimizer benchmark
  suite", ICLR 2019, fig. 3);
- `tuned_rows`: the tuned-settings table, default and tuned setting side by side with the
  tuning cost next to each result (from meta.json's ``"tuned"`` and the results).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from problems import StoreError
from reports._select import records, sorted_unique
from reports._style import (
    Palette,
    finish,
    legend_handles,
    log_scale,
    new_figure,
    optimizer_style,
    plot_context,
    title,
)

__all__ = [
    "MAX_FACETS",
    "comparison_figure",
    "history_figure",
    "is_tune_dir",
    "load_trials",
    "sensitivity_figure",
    "tuned_rows",
    "tuning_context",
    "tuning_page",
]

MAX_FACETS = 12
TRIALS_FILES = ("trials.parquet", "tuning/trials.parquet")


def load_trials(run_dirs: Sequence[Path | str]) -> pd.DataFrame | None:
    """The trials tables of `run_dirs` (a tune run, or a ``--tuned`` run's ``tuning/``), in
    one frame; None when none has one.

    Raises:
        StoreError: a trials file that cannot be read (named).
    """
    frames = []
    for run_dir in run_dirs:
        for name in TRIALS_FILES:
            path = Path(run_dir) / name
            if path.exists():
                try:
                    frames.append(pd.read_parquet(path))
                except Exception as error:
                    msg = f"{path}: corrupt trials table ({type(error).__name__}: {error})"
                    raise StoreError(msg) from None
                break
    if not frames:
        return None
    table = pd.concat(frames, ignore_index=True)
    return table.drop_duplicates(["study_name", "number"], keep="last").reset_index(drop=True)


def _finished(trials: pd.DataFrame) -> pd.DataFrame:
    return trials[trials["state"].isin(("complete", "pruned"))]


def _colour(optimizer: str, palette: Palette | None) -> tuple[float, float, float]:
    if palette is not None and optimizer in palette:
        return palette[optimizer]
    return optimizer_style(optimizer)[0]


def _pairs(trials: pd.DataFrame) -> list[tuple[str, str]]:
    pairs = trials[["problem", "optimizer"]].drop_duplicates().astype(str)
    return sorted(pairs.itertuples(index=False, name=None))


def _label(ax: Any, rows: pd.DataFrame, x: str, name: str, *, log_y: bool) -> None:
    """A facet's axis labels (the objective on y, log where every value is positive)."""
    if log_y:
        log_scale(ax, y=True)
    ax.set_xlabel(x)
    ax.set_ylabel(str(rows["objective"].iloc[0]))
    ax.set_title(title(name))


def _legend(fig: Figure, optimizers: Sequence[str], palette: Palette | None) -> None:
    finish(
        fig,
        legend_handles({o: (_colour(o, palette), "-") for o in optimizers}),
        legend="bottom",
        legend_cols=3,
    )


def history_figure(trials: pd.DataFrame, *, palette: Palette | None = None) -> Figure | None:
    """Each complete trial's objective (dots) and the best so far (line) against the trial
    number, one facet per problem, one colour per optimizer."""
    done = trials[trials["state"] == "complete"]
    if done.empty:
        return None
    problems = sorted_unique(done["problem"])[:MAX_FACETS]
    optimizers = sorted_unique(done["optimizer"])
    with plot_context():
        fig, axes = new_figure(len(problems), ncols=3, width=13.0, height=3.0)
        for ax, problem in zip(axes, problems):
            rows = done[done["problem"] == problem]
            positive = bool((rows["value"].dropna() > 0).all())
            for optimizer, group in rows.groupby("optimizer", sort=True):
                group = group.sort_values("number")
                colour = _colour(str(optimizer), palette)
                values = group["value"].replace([np.inf, -np.inf], np.nan)
                ax.plot(group["number"], values, "o", color=colour, alpha=0.35, markersize=3)
                ax.plot(group["number"], values.cummin(), "-", color=colour, drawstyle="steps-post")
            _label(ax, rows, "trial", problem, log_y=positive)
        _legend(fig, optimizers, palette)
    return fig


def _lr_axis(rows: pd.DataFrame) -> str | None:
    return "param_lr" if "param_lr" in rows and rows["param_lr"].notna().any() else None


def sensitivity_figure(trials: pd.DataFrame, *, palette: Palette | None = None) -> Figure | None:
    """The objective of every trial against its learning rate, one facet per (problem,
    optimizer); a pruned trial is a cross at the top of its facet (it has no final value);
    a trial whose objective is infinite (diverged) is a triangle there."""
    finished = _finished(trials)
    if finished.empty or _lr_axis(finished) is None:
        return None
    pairs = _pairs(finished)[:MAX_FACETS]
    with plot_context():
        fig, axes = new_figure(len(pairs), ncols=4, width=13.0, height=2.8)
        for ax, (problem, optimizer) in zip(axes, pairs):
            rows = finished[(finished["problem"] == problem) & (finished["optimizer"] == optimizer)]
            colour = _colour(optimizer, palette)
            done = rows[rows["state"] == "complete"]
            finite = done[np.isfinite(done["value"].astype(float))]
            positive = bool((finite["value"] > 0).all()) and not finite.empty
            top = float(finite["value"].max()) if not finite.empty else 1.0
            curve = finite.sort_values("param_lr")
            ax.plot(
                curve["param_lr"], curve["value"], "o-", color=colour, markersize=3, linewidth=0.8
            )
            above = top * 3 if positive else top + 1
            diverged = done[~np.isfinite(done["value"].astype(float))]
            pruned = rows[rows["state"] == "pruned"]
            ax.plot(
                diverged["param_lr"], [above] * len(diverged), "^", color="#b00020", markersize=4
            )
            ax.plot(pruned["param_lr"], [above] * len(pruned), "x", color="#555555", markersize=4)
            log_scale(ax, x=True)
            if positive:
                log_scale(ax, y=True)
            ax.set_xlabel("learning rate")
            ax.set_ylabel(str(rows["objective"].iloc[0]))
            ax.set_title(title(f"{problem} · {optimizer}"))
        finish(fig)
    return fig


def comparison_figure(trials: pd.DataFrame, *, palette: Palette | None = None) -> Figure | None:
    """DeepOBS's comparison: per problem, every optimizer's sensitivity curve (complete,
    finite trials, sorted by learning rate) on one axes."""
    done = trials[trials["state"] == "complete"]
    if done.empty or _lr_axis(done) is None:
        return None
    done = done[np.isfinite(done["value"].astype(float))]
    problems = sorted_unique(done["problem"])[:MAX_FACETS]
    optimizers = sorted_unique(done["optimizer"])
    if len(optimizers) < 2 or not problems:
        return None
    with plot_context():
        fig, axes = new_figure(len(problems), ncols=3, width=13.0, height=3.0)
        for ax, problem in zip(axes, problems):
            rows = done[done["problem"] == problem]
            for optimizer, group in rows.groupby("optimizer", sort=True):
                curve = group.sort_values("param_lr")
                ax.plot(
                    curve["param_lr"], curve["value"], "o-", color=_colour(str(optimizer), palette),
                    markersize=3, linewidth=1.0,
                )  # fmt: skip
            log_scale(ax, x=True)
            _label(ax, rows, "learning rate", problem, log_y=bool((rows["value"] > 0).all()))
        _legend(fig, optimizers, palette)
    return fig


def _final_gap(results: pd.DataFrame) -> dict[tuple[str, str], float]:
    """Median over seeds of the gap at each cell's last checkpoint (best loss without f*)."""
    if results.empty or "problem" not in results:
        return {}
    ck = records(results, "checkpoint")
    if ck.empty:
        return {}
    value = "gap" if "gap" in ck and ck["gap"].notna().any() else "best_loss"
    last = ck[ck["step"] == ck.groupby(["problem", "optimizer"])["step"].transform("max")]
    medians = last.groupby(["problem", "optimizer"])[value].median()
    return {(str(p), str(o)): float(v) for (p, o), v in medians.items()}


def tuned_rows(
    metas: Mapping[str, Mapping[str, Any]], results: pd.DataFrame
) -> list[dict[str, Any]]:
    """One row per tuned (problem, optimizer) of the runs made with ``--tuned``: the default
    and the tuned setting with each one's median final gap, and what tuning cost.

    Keys: ``problem``, ``default``, ``default_gap``, ``tuned``, ``tuned_gap``, ``params``,
    ``trials``, ``pruned``, ``evals``, ``wall_s``, ``tuning_seeds``, ``evaluation_seeds``.
    """
    gaps = _final_gap(results)
    rows = []
    for meta in metas.values():
        tuned = meta.get("tuned") or {}
        for entry in tuned.get("entries", []):
            problem, default, setting = entry["problem"], entry["optimizer"], entry["setting"]
            rows.append(
                {
                    "problem": problem,
                    "default": default,
                    "default_gap": gaps.get((problem, default), math.nan),
                    "tuned": setting,
                    "tuned_gap": gaps.get((problem, setting), math.nan),
                    "params": dict(entry.get("params", {})),
                    "trials": entry.get("trials"),
                    "pruned": entry.get("pruned"),
                    "evals": entry.get("evals"),
                    "wall_s": entry.get("wall_s"),
                    "tuning_seeds": tuned.get("tuning_seeds", []),
                    "evaluation_seeds": tuned.get("evaluation_seeds", []),
                }
            )
    return rows


def tuning_context(
    metas: Mapping[str, Mapping[str, Any]],
    results: pd.DataFrame,
    trials: pd.DataFrame | None,
    figure: Any,
    *,
    palette: Palette | None = None,
) -> dict[str, Any] | None:
    """The context of ``tuning.html.j2``: the tuned-settings table and the three figures.

    Args:
        metas: ``{run: meta.json}`` (``"tuned"`` of the ``--tuned`` runs).
        results: the results table.
        trials: `load_trials`'s table, or None.
        figure: ``figure(make, alt, note) -> Markup | None``, the report's figure embedder.
        palette: optimizer -> colour.

    Returns:
        None when there is nothing tuned to show.
    """
    from reports._tables import number, seconds

    rows = []
    for r in tuned_rows(metas, results):
        a, b = r["default_gap"], r["tuned_gap"]
        better = "" if not (a == a and b == b) or a == b else ("tuned" if b < a else "default")
        rows.append(
            {
                **r,
                "default_gap": number(a),
                "tuned_gap": number(b),
                "evals": number(r["evals"], ".3g"),
                "wall_s": seconds(r["wall_s"]),
                "better": better,
            }
        )
    figures = []
    if trials is not None and not trials.empty:
        for name, make, note in (
            (
                "Optimisation history",
                history_figure,
                "Each complete trial's objective (dots) and the best so far (line).",
            ),
            (
                "Sensitivity to the learning rate",
                sensitivity_figure,
                "Every trial's objective against its learning rate; ×: pruned (no final "
                "value), ▲: diverged (an infinite objective).",
            ),
            (
                "The optimizers' sensitivity curves compared (DeepOBS)",
                comparison_figure,
                "Per problem, every optimizer's complete trials against the learning rate.",
            ),
        ):
            body = figure(lambda make=make: make(trials, palette=palette), name.lower(), note)
            if body is not None:
                figures.append({"title": name, "body": body})
    if not rows and not figures:
        return None
    first = next((m.get("tuned") for m in metas.values() if m.get("tuned")), None) or {}
    return {
        "rows": rows,
        "figures": figures,
        "tuning": ", ".join(map(str, first.get("tuning_seeds", []))) or "–",
        "evaluation": ", ".join(map(str, first.get("evaluation_seeds", []))) or "–",
    }


def is_tune_dir(path: Path | str) -> bool:
    """A `bench tune` run directory: ``trials.parquet`` and no results parts."""
    p = Path(path)
    return (p / "trials.parquet").exists() and not (p / "parts").exists()


def _embed(make: Any, alt: str, note: str = "") -> Any:
    from reports._style import figure_html
    from reports._templates import Markup, render_template

    fig = make()
    if fig is None:
        return None
    return render_template(
        "figure.html.j2", image=Markup(figure_html(fig, alt)), before=[], after=[note]
    )


def tuning_page(tune_dirs: Sequence[Path | str], *, css: str, generated: str) -> str:
    """A whole page of the tuning section for `bench tune` run directories alone
    (``bench report runs/tune-quick``): their tuned settings, without evaluation gaps, and
    the figures of their trials."""
    import json

    from reports._templates import Markup, render_template

    trials = load_trials(tune_dirs)
    metas: dict[str, dict[str, Any]] = {}
    for d in tune_dirs:
        meta_path = Path(d) / "meta.json"
        meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
        tune = meta.get("tune", {})
        metas[str(d)] = {
            "tuned": {
                "entries": tune.get("entries", []),
                "tuning_seeds": tune.get("tuning_seeds", []),
            }
        }
    context = tuning_context(metas, pd.DataFrame(), trials, _embed) or {"rows": [], "figures": []}
    seeds = sorted({int(x) for m in metas.values() for x in m["tuned"]["tuning_seeds"]})
    context = {**context, "tuning": ", ".join(map(str, seeds)) or "–", "evaluation": "–"}
    body = render_template("tuning.html.j2", **context)
    frame = trials if trials is not None else pd.DataFrame(columns=["problem", "optimizer"])
    return str(
        render_template(
            "tuning_page.html.j2",
            css=Markup(css),
            names=", ".join(Path(d).name for d in tune_dirs),
            trials=len(frame),
            pairs=len(frame[["problem", "optimizer"]].drop_duplicates()),
            generated=generated,
            body=body,
        )
    )
