"""`bench tune`: the command line of the learning-rate searches.

``bench tune --problem P --optimizer O --trials N`` tunes one pair; ``bench tune STUDY.toml``
tunes every (problem, optimizer) of a study file with the same budget of trials each. Either
way the run directory (``--out``, default ``runs/tune-<name>``) receives ``trials.parquet``
(every trial of every pair, `bench._tune.trials_frame`), ``tuned.toml`` (the best settings
and their cost, `bench._tuned.write_tuned`) and ``meta.json``; the trials themselves live in
the Optuna storage (``--storage``), which several workers may share.

This module imports nothing heavy at import time: `add_tune_parser` runs for every `bench`
command, `--help` included.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import re
import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bench._study import Study
    from bench._tune_trials import TuneTask

__all__ = ["DEFAULT_TRIALS", "add_tune_parser", "tune_main"]

DEFAULT_TRIALS = 32
DEFAULT_SEEDS = 10
DEFAULT_STEPS = 1000
SIGNIFICANT = 3
TUNE_CHECKPOINTS = 10
"""Log-spaced checkpoints of a tuning trial: where it reports and may be pruned. Each report
and pruning decision is a round trip to the storage (about 30 ms on SQLite, measured on
the 2-core machine), so a trial has few."""
SAMPLERS = ("tpe", "random", "cmaes", "grid", "qmc")  # bench._tune.SAMPLERS (no torch here)
PRUNERS = ("median", "hyperband", "wilcoxon", "none")
OBJECTIVES = ("final", "best", "auc", "evals-to-target")


def add_tune_parser(sub: Any) -> Any:
    """The ``bench tune`` subcommand and its flags; returns its parser."""
    tune = sub.add_parser(
        "tune",
        help="Optuna learning-rate search of one (problem, optimizer), or of a study file",
        description="Tune hyperparameters with Optuna: --problem and --optimizer for one pair, "
        "or a study file for every pair of it (then bench run STUDY --tuned OUT/tuned.toml "
        "compares the tuned settings with the defaults on fresh seeds).",
    )
    tune.add_argument("study", nargs="?", help="studies/*.toml: tune every (problem, optimizer)")
    tune.add_argument("--problem", help="a problem spec: rosenbrock, ellipsoid:dim=10")
    tune.add_argument("--optimizer", help="an optimizer spec: adam, sgd:weight_decay=0.01")
    tune.add_argument(
        "--trials",
        type=int,
        default=DEFAULT_TRIALS,
        help=f"trials per pair (default {DEFAULT_TRIALS})",
    )
    tune.add_argument(
        "--batch",
        type=int,
        default=8,
        help="trials asked at once and run as rows of one tensor (default 8)",
    )
    tune.add_argument(
        "--storage",
        help="Optuna storage URL: sqlite:///FILE (default sqlite:///runs/optuna.db), "
        "postgresql://USER@HOST:PORT/DB, journal:FILE",
    )
    tune.add_argument(
        "--study-name",
        help="the Optuna study's name (a prefix with a study file); default: derived from "
        "everything that determines the objective, so the same command resumes",
    )
    tune.add_argument("--sampler", default="tpe", help=f"{'|'.join(SAMPLERS)} (default tpe)")
    tune.add_argument("--sampler-seed", type=int, default=0, help="the sampler's seed (default 0)")
    tune.add_argument("--pruner", default="median", help=f"{'|'.join(PRUNERS)} (default median)")
    tune.add_argument(
        "--objective", default="final", help=f"{'|'.join(OBJECTIVES)} (default final)"
    )
    tune.add_argument(
        "--target", type=float, default=1e-6, help="the gap of evals-to-target (default 1e-6)"
    )
    tune.add_argument(
        "--space",
        help="narrow or add ranges: lr=1e-4..1e-1,momentum=0.8..0.99 (default: the "
        "optimizer's declared learning-rate range, log-uniform)",
    )
    tune.add_argument(
        "--seeds",
        type=int,
        help=f"tuning seeds per trial (seeds 1000, 1001, ...; default: the study's count, "
        f"else {DEFAULT_SEEDS})",
    )
    tune.add_argument(
        "--steps", type=int, help=f"step budget (default: the study's, else {DEFAULT_STEPS})"
    )
    tune.add_argument("--evals", type=int, help="evaluation budget per seed")
    tune.add_argument("--epochs", type=int, help="epoch budget (ML problems)")
    tune.add_argument("--device", default="cpu", help="where the rows run (default cpu)")
    tune.add_argument("--out", type=Path, help="run directory (default runs/tune-<name>)")
    tune.add_argument(
        "--heartbeat",
        type=float,
        default=10.0,
        help="seconds between a running trial's heartbeats; a trial silent for twice as long "
        "is failed and retried (default 10)",
    )
    tune.add_argument("--quiet", action="store_true", help="no progress bars")
    return tune


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._=-]+", "_", text)[:60]


def _digest(data: Any) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:10]


def _tasks(args: argparse.Namespace) -> tuple[Study | None, list[TuneTask], list[str]]:
    """The pairs to tune, each a one-cell study on the tuning seeds, and the skipped ones."""
    from bench._study import Study
    from bench._tune import OBJECTIVES as OBJECTIVE_NAMES
    from bench._tune import check_choice
    from bench._tune_space import tunable
    from bench._tune_trials import TuneTask
    from bench._tuned import TUNING_SEED_BASE
    from problems import SpecError

    check_choice("objective", args.objective, OBJECTIVE_NAMES)
    if args.study and (args.problem or args.optimizer):
        msg = "give a study file, or --problem and --optimizer, not both"
        raise SpecError(msg)
    if not args.study and not (args.problem and args.optimizer):
        msg = "give a study file, or both --problem and --optimizer"
        raise SpecError(msg)
    budget = {"steps": args.steps, "evals": args.evals, "epochs": args.epochs}
    chosen = {k: v for k, v in budget.items() if v is not None}
    source: Study | None = None
    if args.study:
        source = Study.from_toml(args.study)
        from bench._plugins import load_plugins

        load_plugins(source.plugins)  # the study file's own plugins (--plugin: bench.main)
        pairs = [(p, o) for p in source.problems for o in source.optimizers]
        count = args.seeds or len(source.seeds)
        budget = chosen or {"steps": source.steps, "evals": source.evals, "epochs": source.epochs}
        common: dict[str, Any] = {"dtype": source.dtype, "start": source.start}
    else:
        pairs = [(args.problem, args.optimizer)]
        count = args.seeds or DEFAULT_SEEDS
        budget = chosen or {"steps": DEFAULT_STEPS}
        common = {}
    if count < 1:
        msg = f"--seeds must be >= 1, got {count}"
        raise SpecError(msg)
    seeds = tuple(range(TUNING_SEED_BASE, TUNING_SEED_BASE + count))
    tasks, skipped = [], []
    for problem, optimizer in pairs:
        try:
            tunable(optimizer)
        except SpecError:
            if source is None:
                raise
            skipped.append(optimizer)
            continue
        study = Study(
            (problem,), (optimizer,), name="tune", seeds=seeds, targets=(), compile=False,
            devices=(args.device,), checkpoints=TUNE_CHECKPOINTS, **budget, **common,
        )  # fmt: skip
        study.validate()
        tasks.append(TuneTask(study, args.objective, args.target, args.device))
    return source, tasks, sorted(set(skipped))


def tune_main(args: argparse.Namespace) -> int:
    """Run `bench tune`; returns the exit code (bad input raises `OptbenchError`: exit 2)."""
    import optuna

    from bench._environment import environment
    from bench._tune import PRUNERS as PRUNER_NAMES
    from bench._tune import SAMPLERS as SAMPLER_NAMES
    from bench._tune import check_choice, describe, trials_frame, tune
    from bench._tune_space import parse_space, search_space
    from bench._tune_storage import open_storage
    from bench._tuned import setting_spec, write_tuned

    optuna.logging.set_verbosity(optuna.logging.WARNING)  # the command line's choice
    check_choice("sampler", args.sampler, SAMPLER_NAMES)
    check_choice("pruner", args.pruner, PRUNER_NAMES)
    narrowed = parse_space(args.space) if args.space else {}
    source, tasks, skipped = _tasks(args)
    spaces = [search_space(t.optimizer, narrowed) for t in tasks]
    storage = open_storage(args.storage, heartbeat_s=args.heartbeat)
    if source is not None:
        base = (
            args.study_name
            or f"{source.name}-{_digest([describe(t, s) for t, s in zip(tasks, spaces)])}"
        )
        names = [f"{base}/{t.problem}/{t.optimizer}" for t in tasks]
        out = args.out or Path("runs") / f"tune-{_slug(source.name)}"
    else:
        task, space = tasks[0], spaces[0]
        names = [
            args.study_name or f"{task.problem}|{task.optimizer}|{_digest(describe(task, space))}"
        ]
        out = args.out or Path("runs") / f"tune-{_slug(task.problem)}-{_slug(task.optimizer)}"
    out.mkdir(parents=True, exist_ok=True)
    entries, frames = [], []
    for task, space, name in zip(tasks, spaces, names):
        bar = _bar(f"{task.problem} x {task.optimizer}", args.trials, args.quiet)
        result = tune(
            task,
            space,
            storage,
            trials=args.trials,
            batch=args.batch,
            study_name=name,
            sampler=args.sampler,
            sampler_seed=args.sampler_seed,
            pruner=args.pruner,
            progress=bar,
        )
        study = optuna.load_study(study_name=name, storage=storage.optuna)
        frames.append(trials_frame(study, task, space))
        entry: dict[str, Any] = {
            "problem": task.problem,
            "optimizer": task.optimizer,
            "setting": setting_spec(task.optimizer, _rounded(result.best_params)),
            "params": result.best_params,
            "objective": task.objective,
            "value": result.best_value,
            "study_name": name,
            "trials": result.complete + result.pruned,
            "complete": result.complete,
            "pruned": result.pruned,
            "failed": result.failed,
            "evals": result.evals,
            "wall_s": round(result.wall_s, 3),
            "seeds": list(task.study.seeds),
            "space": [str(p) for p in space],
        }
        entries.append(entry)
        if not args.quiet:
            print(
                f"{task.problem} x {task.optimizer}: best {task.objective} {result.best_value:.4g} "
                f"at {entry['setting']} ({entry['trials']} trials, {result.pruned} pruned)",
                file=sys.stderr,
            )
    _write_trials(out, frames)
    header = {
        "study": source.name if source is not None else "cli",
        "objective": args.objective,
        "sampler": args.sampler,
        "pruner": args.pruner,
        "trials_per_pair": args.trials,
        "storage": storage.url,
        "tuning_seeds": list(tasks[0].study.seeds) if tasks else [],
        "untuned": skipped,
    }
    tuned = write_tuned(out / "tuned.toml", header, entries)
    meta = {
        "name": f"tune-{header['study']}",
        "kind": "tune",
        "command": shlex.join(["bench", *sys.argv[1:]]),
        "tune": {**header, "entries": entries, "batch": args.batch},
        **environment((args.device,)),
        "finished": dt.datetime.now(dt.timezone.utc).isoformat(),
    }
    _write_json(out / "meta.json", meta)
    print(f"{len(entries)} pair{'' if len(entries) == 1 else 's'} tuned -> {tuned}")
    if skipped:
        print(f"not tuned (nothing to tune): {', '.join(skipped)}", file=sys.stderr)
    return 0


def _rounded(params: dict[str, float]) -> dict[str, float]:
    """The setting's values to `SIGNIFICANT` digits: readable labels, the same runs to the
    precision a tuning study resolves (the exact values are the entry's ``params``)."""
    return {k: float(f"{v:.{SIGNIFICANT}g}") for k, v in params.items()}


def _write_trials(out: Path, frames: list[Any]) -> None:
    import pandas as pd

    table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    tmp = out / f".trials.{os.getpid()}.parquet"
    table.to_parquet(tmp, index=False)
    os.replace(tmp, out / "trials.parquet")


def _write_json(path: Path, data: Any) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    tmp.write_text(json.dumps(data, indent=2, default=str))
    os.replace(tmp, path)


def _bar(label: str, total: int, quiet: bool) -> Any:
    if quiet:
        return None
    from tqdm import tqdm

    bar = tqdm(
        total=total, unit="trial", desc=label[:50], leave=False, disable=None, dynamic_ncols=True
    )

    def advance(done: int, trials: int, best: float, params: Any) -> None:
        bar.set_postfix_str(
            f"best {best:.4g} " + ",".join(f"{k}={v:.3g}" for k, v in params.items()), refresh=False
        )
        bar.update(min(done, trials) - bar.n)
        if done >= trials:
            bar.close()

    return advance
