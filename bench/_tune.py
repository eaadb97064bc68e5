"""Optuna learning-rate searches over the harness: `tune` runs one study, batch by batch.

The loop is Optuna's ask-and-tell interface: ask K trials (``study.ask``), run them as
K x seeds rows of one tensor (`bench._tune_trials.evaluate_batch`), report each trial's
intermediate value at every checkpoint (``trial.report``), stop the rows of the trials
``trial.should_prune()`` condemns, and tell all K results (``study.tell``, PRUNED for the
pruned ones). TPE in batches lies about the running trials (``constant_liar=True``), so one
batch does not ask K times for the same point.

Several processes may run `tune` on one study (one storage, one study name): each counts the
trials that are finished or running before it asks, and a trial asked beyond the budget (two
workers asking at once) is told FAIL with ``optbench:surplus``, so exactly N trials complete
or are pruned between them. Trials of a worker that stopped beating are failed and
re-queued (`bench._tune_storage.fail_stale`); running the same command again resumes the
study (``load_if_exists``).
"""

from __future__ import annotations

import math
import os
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bench._tune_objective import OBJECTIVES
from bench._tune_space import SearchSpace
from bench._tune_storage import Heartbeat, Storage, beat, fail_stale
from bench._tune_trials import TrialResult, TuneTask, evaluate_batch
from problems import SpecError, unknown

__all__ = [
    "PRUNERS",
    "SAMPLERS",
    "SURPLUS_ATTR",
    "TuneResult",
    "check_choice",
    "make_pruner",
    "make_sampler",
    "open_study",
    "trials_frame",
    "tune",
]

SAMPLERS = ("tpe", "random", "cmaes", "grid", "qmc")
PRUNERS = ("median", "hyperband", "wilcoxon", "none")
SURPLUS_ATTR = "optbench:surplus"
ATTRS_KEY = "optbench"  # the study's user attribute describing what it tunes
WAIT_LIMIT = 10  # heartbeat grace periods a worker waits for other workers' running trials


def check_choice(kind: str, value: str, allowed: Sequence[str]) -> str:
    """`value` if it is one of `allowed`, else an `UnknownNameError` with the closest one."""
    if value not in allowed:
        raise unknown(kind, value, allowed)
    return value


def make_sampler(name: str, *, seed: int | None, space: SearchSpace, trials: int) -> Any:
    """The Optuna sampler called `name` (one of `SAMPLERS`).

    ``tpe`` lies about running trials (``constant_liar=True``): the trials of a batch, and
    those other workers run, count as bad until told, so a batch does not ask K times for
    one point; ``grid`` spreads ``floor(trials ** (1 / len(space))) + 1``
    points over each range (log-spaced for a log range); ``qmc`` is a scrambled Sobol sequence.
    """
    import optuna

    check_choice("sampler", name, SAMPLERS)
    samplers = optuna.samplers
    if name == "tpe":
        return samplers.TPESampler(seed=seed, constant_liar=True)
    if name == "random":
        return samplers.RandomSampler(seed=seed)
    if name == "cmaes":  # the cmaes package is a dependency
        return samplers.CmaEsSampler(seed=seed)
    if name == "qmc":
        return samplers.QMCSampler(seed=seed, scramble=True)
    # more points than trials: an exhausted grid calls `study.stop()`, which Optuna refuses
    # outside `study.optimize` (and it would leave the last trial unfinished)
    per = max(2, math.floor(trials ** (1 / len(space)) + 1e-9) + 1)
    grid = {
        p.name: [float(v) for v in (np.geomspace if p.log else np.linspace)(p.low, p.high, per)]
        for p in space
    }
    return samplers.GridSampler(grid, seed=seed)


MEDIAN_STARTUP = 4
"""Complete trials the median pruner waits for before it prunes."""


def can_prune(pruner: str, complete: int) -> bool:
    """Whether `pruner` can prune anything with `complete` complete trials in the study: the
    median pruner waits for `MEDIAN_STARTUP` of them, Wilcoxon's needs a best trial, and a
    batch that cannot be pruned skips the decisions (each one reads the whole study)."""
    if pruner == "median":
        return complete >= MEDIAN_STARTUP
    if pruner == "wilcoxon":
        return complete >= 1
    return pruner == "hyperband"


def make_pruner(name: str, *, steps: int, startup: int = MEDIAN_STARTUP) -> Any:
    """The Optuna pruner called `name` (one of `PRUNERS`).

    ``median``: a trial whose median over seeds is worse than the median of the completed
    trials at the same step (after `startup` completed trials; Optuna compares the trial's
    best intermediate value so far, so a trial that diverges is pruned early, while its
    values are still finite); ``hyperband`` over steps;
    ``wilcoxon``: a Wilcoxon signed-rank test of the trial against the best one, seed by
    seed (each checkpoint reports every seed as its own instance); ``none``.
    """
    import optuna

    check_choice("pruner", name, PRUNERS)
    pruners = optuna.pruners
    if name == "median":
        return pruners.MedianPruner(n_startup_trials=startup, n_warmup_steps=0)
    if name == "hyperband":
        return pruners.HyperbandPruner(min_resource=1, max_resource=max(steps, 1))
    if name == "wilcoxon":
        return pruners.WilcoxonPruner(p_threshold=0.1)
    return pruners.NopPruner()


def describe(task: TuneTask, space: SearchSpace) -> dict[str, Any]:
    """What the study tunes, stored as its user attribute: a resumed study must match."""
    s = task.study
    return {
        "problem": task.problem,
        "optimizer": task.optimizer,
        "seeds": list(s.seeds),
        "steps": s.steps,
        "evals": s.evals,
        "epochs": s.epochs,
        "dtype": s.dtype,
        "start": s.start,
        "objective": task.objective,
        "target": task.target,
        "space": [str(p) for p in space],
    }


def open_study(
    storage: Storage, name: str, task: TuneTask, space: SearchSpace, *, sampler: Any, pruner: Any
) -> Any:
    """Create the Optuna study, or load the existing one of that name (resume).

    Raises:
        SpecError: the existing study tunes something else (another search space, problem,
            optimizer, budget or objective), named with both values.
    """
    import optuna

    study = optuna.create_study(
        storage=storage.optuna,
        study_name=name,
        sampler=sampler,
        pruner=pruner,
        direction="minimize",
        load_if_exists=True,
    )
    want = describe(task, space)
    have = study.user_attrs.get(ATTRS_KEY)
    if have is None:
        study.set_user_attr(ATTRS_KEY, want)
        return study
    for key, value in want.items():
        if have.get(key) != value:
            what = "search space" if key == "space" else key
            msg = (
                f"study {name!r} in {storage.url} has {what} {have.get(key)!r}, this command asks "
                f"{value!r}; give another --study-name, or the study's own {what}"
            )
            raise SpecError(msg)
    return study


@dataclass
class TuneResult:
    """The outcome of one tuning study (all its workers' trials)."""

    study_name: str
    best_params: dict[str, float]
    best_value: float
    complete: int
    pruned: int
    failed: int
    evals: float
    wall_s: float
    ran_here: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


def _counts(study: Any) -> dict[str, int]:
    counts = dict.fromkeys(("COMPLETE", "PRUNED", "RUNNING", "WAITING", "FAIL"), 0)
    for t in study.get_trials(deepcopy=False):
        if t.state.name in counts:
            counts[t.state.name] += 1
    return counts


def _within_budget(study: Any, numbers: Sequence[int], trials: int) -> set[int]:
    """The trial numbers among `numbers` that rank below `trials` among all non-failed
    trials: the first N trials asked proceed, later ones are surplus."""
    from optuna.trial import TrialState

    live = sorted(
        t.number
        for t in study.get_trials(
            deepcopy=False,
            states=(TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING, TrialState.WAITING),
        )
    )
    rank = {n: i for i, n in enumerate(live)}
    return {n for n in numbers if rank.get(n, trials) < trials}


def tune(
    task: TuneTask,
    space: SearchSpace,
    storage: Storage,
    *,
    trials: int,
    batch: int = 1,
    study_name: str,
    sampler: str = "tpe",
    sampler_seed: int | None = 0,
    pruner: str = "none",
    progress: Callable[[int, int, float, Mapping[str, float]], None] | None = None,
) -> TuneResult:
    """Run `study_name` until it holds `trials` complete or pruned trials, `batch` at a time.

    Args:
        task: the (problem, optimizer), seeds, budget and objective.
        space: the ranges to search (`bench._tune_space.search_space`).
        storage: where the study lives (`bench._tune_storage.open_storage`).
        trials: the study's budget of trials, all workers together.
        batch: trials asked at once and run as one tensor.
        study_name: the Optuna study's name.
        sampler, sampler_seed, pruner: Optuna's (`SAMPLERS`, `PRUNERS`).
        progress: ``progress(done, trials, best_value, best_params)`` after each batch.
    """
    import optuna

    if trials < 1 or batch < 1:
        msg = f"--trials and --batch must be >= 1, got {trials} and {batch}"
        raise SpecError(msg)
    check_choice("objective", task.objective, OBJECTIVES)
    steps = _budget(task)
    with _QuietOptuna():
        study = open_study(
            storage,
            study_name,
            task,
            space,
            sampler=make_sampler(sampler, seed=sampler_seed, space=space, trials=trials),
            pruner=make_pruner(pruner, steps=steps),
        )
        ran, idle_since = 0, None
        while True:
            fail_stale(study, storage)
            counts = _counts(study)
            want = trials - counts["COMPLETE"] - counts["PRUNED"] - counts["RUNNING"]
            if want <= 0:
                if counts["RUNNING"] == 0 or counts["COMPLETE"] + counts["PRUNED"] >= trials:
                    break
                idle_since = idle_since or time.monotonic()  # others' trials: wait for them
                if time.monotonic() - idle_since > WAIT_LIMIT * 2 * storage.heartbeat_s:
                    break
                time.sleep(min(1.0, storage.heartbeat_s / 2))
                continue
            idle_since = None
            asked = [
                _ask(study, storage, space, sampler, sampler_seed, trials)
                for _ in range(min(batch, want))
            ]
            keep = _within_budget(study, [t.number for t in asked], trials)
            for trial in asked:
                if trial.number not in keep:
                    trial.set_user_attr(SURPLUS_ATTR, True)
                    study.tell(trial, state=optuna.trial.TrialState.FAIL)
            asked = [t for t in asked if t.number in keep]
            if not asked:  # another worker took the last trials: look again shortly
                time.sleep(0.1)
                continue
            ran += _run_batch(study, storage, task, asked, pruner)
            if progress is not None:
                done = _counts(study)
                best = _best(study)
                progress(
                    done["COMPLETE"] + done["PRUNED"],
                    trials,
                    best.value if best else math.nan,
                    best.params if best else {},
                )
        return _result(study, study_name, ran)


def _ask(
    study: Any, storage: Storage, space: SearchSpace, sampler: str, seed: int | None, trials: int
) -> Any:
    """A new trial with its parameters, drawn by `sampler` seeded with ``seed + number``.

    The trial beats once as soon as it exists: a worker killed before its batch starts (and
    its `Heartbeat` thread with it) leaves a trial that goes stale and is retried, not one
    that stays RUNNING for ever (a trial that never beat is never stale).

    Seeding by the trial's number (unique in the study, whichever worker asks) keeps one
    worker's study reproducible and gives two workers, or a resumed study, different draws:
    one sampler seed for all would make every worker, and every resumption, repeat the
    same random start-up points. Re-queued trials keep their parameters.
    """
    trial = study.ask()
    beat(storage, [trial._trial_id])
    study.sampler = make_sampler(
        sampler, seed=None if seed is None else seed + trial.number, space=space, trials=trials
    )
    for p in space:
        trial.suggest_float(p.name, p.low, p.high, log=p.log)
    return trial


def _budget(task: TuneTask) -> int:
    from bench._study import budget_steps

    s = task.study
    return budget_steps(s, s.problem(task.problem), s.method(task.optimizer))


def _run_batch(study: Any, storage: Storage, task: TuneTask, asked: list[Any], pruner: str) -> int:
    """Run `asked` as one tensor, report and prune on the way, tell every result."""
    import optuna

    heartbeat = Heartbeat(storage, [t._trial_id for t in asked])
    active = can_prune(pruner, _counts(study)["COMPLETE"])
    reported = [0]  # checkpoints reported so far (the Wilcoxon pruner's instance ids)

    def prune(step: int, values: np.ndarray) -> list[bool]:
        stop = []
        S = values.shape[1]
        for trial, row in zip(asked, values):
            if np.isnan(row).all():  # already stopped
                stop.append(False)
                continue
            if pruner == "wilcoxon":  # each seed at each checkpoint is one instance
                for s, v in enumerate(row):
                    trial.report(float(v), reported[0] * S + s)
            else:
                trial.report(float(np.median(row)), step)
            stop.append(active and trial.should_prune())
        reported[0] += 1
        return stop

    try:
        results = evaluate_batch(task, [t.params for t in asked], prune=prune)
    finally:
        heartbeat.stop()
    for trial, result in zip(asked, results):
        _attrs(trial, result, task)
        if result.value is None:
            study.tell(trial, state=optuna.trial.TrialState.PRUNED)
        else:
            study.tell(trial, result.value)
    return len(asked)


def _attrs(trial: Any, result: TrialResult, task: TuneTask) -> None:
    trial.set_user_attr("evals", result.evals)
    trial.set_user_attr("wall_s", result.wall_s)
    trial.set_user_attr("steps", result.steps)
    trial.set_user_attr("seed_values", result.seed_values)
    trial.set_user_attr("worker", f"{os.uname().nodename}-{os.getpid()}")
    if result.pruned_at is not None:
        trial.set_user_attr("pruned_at", result.pruned_at)


def _best(study: Any) -> Any:
    from optuna.trial import TrialState

    done = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    finite = [t for t in done if t.value is not None]
    return min(finite, key=lambda t: t.value) if finite else None


def _result(study: Any, name: str, ran: int) -> TuneResult:
    counts = _counts(study)
    best = _best(study)
    finished = [t for t in study.get_trials(deepcopy=False) if t.state.is_finished()]
    return TuneResult(
        study_name=name,
        best_params=dict(best.params) if best else {},
        best_value=float(best.value) if best else math.nan,
        complete=counts["COMPLETE"],
        pruned=counts["PRUNED"],
        failed=counts["FAIL"],
        evals=float(sum(t.user_attrs.get("evals", 0.0) for t in finished)),
        wall_s=float(sum(t.user_attrs.get("wall_s", 0.0) for t in finished)),
        ran_here=ran,
    )


def trials_frame(study: Any, task: TuneTask, space: SearchSpace) -> Any:
    """Every trial of `study` as rows of a plain table (the trials Parquet of a tune run).

    Columns: ``problem``, ``optimizer``, ``objective``, ``study_name``, ``number``,
    ``state`` (complete, pruned, fail, running, waiting), ``value``, ``param_<name>`` per
    hyperparameter, ``evals``, ``wall_s``, ``steps``, ``pruned_at``, ``surplus``,
    ``retried_from``, ``started``, ``finished``.
    """
    import pandas as pd

    rows = []
    for t in study.get_trials(deepcopy=False):
        rows.append(
            {
                "problem": task.problem,
                "optimizer": task.optimizer,
                "objective": task.objective,
                "study_name": study.study_name,
                "number": t.number,
                "state": t.state.name.lower(),
                "value": math.nan if t.value is None else float(t.value),
                **{f"param_{p.name}": float(t.params.get(p.name, math.nan)) for p in space},
                "evals": float(t.user_attrs.get("evals", math.nan)),
                "wall_s": float(t.user_attrs.get("wall_s", math.nan)),
                "steps": float(t.user_attrs.get("steps", math.nan)),
                "pruned_at": float(t.user_attrs.get("pruned_at", math.nan)),
                "surplus": bool(t.user_attrs.get(SURPLUS_ATTR, False)),
                "retried_from": float(
                    t.system_attrs.get(
                        "failed_trial", t.user_attrs.get("optbench:retried_from", math.nan)
                    )
                ),
                "started": t.datetime_start.isoformat() if t.datetime_start else "",
                "finished": t.datetime_complete.isoformat() if t.datetime_complete else "",
            }
        )
    return pd.DataFrame(rows)


class _QuietOptuna(warnings.catch_warnings):
    """Optuna's experimental-feature warnings and its heartbeat-with-ask notice, silenced:
    the features are used on purpose (heartbeats with ask-and-tell are this module's own)."""

    def __enter__(self) -> Any:
        import optuna

        out = super().__enter__()
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        warnings.filterwarnings("ignore", message="Heartbeat of storage")
        return out
