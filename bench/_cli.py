"""The `bench` command line: list, run, check, show, report, perf, tune.

Exit codes: 0 ok, 1 some runs failed (the study still finished), 2 bad input.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from problems import SpecError, split_specs

if TYPE_CHECKING:
    from bench._resources import MemoryLimit
    from bench._study import Study

__all__ = ["CLI_SEEDS", "CLI_STEPS", "main"]

CLI_SEEDS = 10
"""Seeds of a `bench run` without a study file, unless --seeds says otherwise."""

CLI_STEPS = 1000
"""Steps of a `bench run` without a study file, unless a budget flag says otherwise."""

STARTS = ("default", "uniform")
"""`--start` values (bench._study.STARTS; repeated so that `--help` imports no torch)."""


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors: ``bench run: error: ...``, exit 2 (no usage block)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (--help for the options)\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="bench", description="optbench: benchmark optimizers on loss landscapes.")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of errors")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    ls = sub.add_parser(
        "list",
        help="print the catalogue of problems with their options (or the optimizers)",
        description="Every problem with its options and their defaults; `bench list NAME` "
        "shows one problem in full; --optimizers lists the optimizers and the global-search "
        "wrappers with their defaults.",
    )
    ls.add_argument("name", nargs="?", help="one problem to show in full (ellipsoid)")
    ls.add_argument("--json", action="store_true", help="print JSON instead of a table")
    ls.add_argument("--tag", action="append", default=[], help="only problems with this tag")
    ls.add_argument(
        "--optimizers", action="store_true", help="list optimizers and wrappers instead"
    )

    run = sub.add_parser(
        "run",
        help="run a study from a TOML file or from flags",
        description="Run a study. Without a file: --problems and --optimizers, "
        f"{CLI_SEEDS} seeds and {CLI_STEPS} steps unless flags say otherwise; with a file, "
        "flags override its keys.",
    )
    run.add_argument("study", nargs="?", help="studies/*.toml (or give --problems/--optimizers)")
    run.add_argument(
        "--problems",
        action="append",
        help="comma-separated problem specs: rosenbrock,rastrigin:dim=10,instance=3"
        " (a key=value item is an option of the spec before it); given twice, the lists add up",
    )
    run.add_argument(
        "--optimizers",
        action="append",
        help="comma-separated optimizer specs: sgd:lr=1e-3,adam:lr=3e-4,beta2=0.99,"
        "restarts(adam,n=32); given twice, the lists add up",
    )
    run.add_argument(
        "--seeds",
        type=int,
        help=f"number of seeds (default: the file's, else {CLI_SEEDS})",
    )
    run.add_argument(
        "--steps", type=int, help=f"step budget (default: the file's, else {CLI_STEPS})"
    )
    run.add_argument(
        "--start",
        choices=STARTS,
        help="default: each problem's start rule (the literature's fixed start where there is "
        "one); uniform: sample the domain. Default: the file's, else uniform for more than "
        "one seed (a fixed start makes every seed of a deterministic problem the same run)",
    )
    run.add_argument("--evals", type=int, help="evaluation budget per seed")
    run.add_argument("--epochs", type=int, help="epoch budget (ML problems)")
    run.add_argument("--seconds", type=float, help="wall-time budget per cell")
    run.add_argument("--device", help="comma-separated devices: cpu,cuda")
    run.add_argument("--dtype", choices=["float32", "float64"])
    run.add_argument("--name", help="study name (default: the file's, or 'cli')")
    run.add_argument("--out", type=Path, help="run directory (default runs/<study>-<timestamp>)")
    run.add_argument(
        "--resume",
        nargs="?",
        const=True,
        default=None,
        metavar="RUN_DIR",
        help="skip cells already finished in RUN_DIR (or in --out)",
    )
    run.add_argument(
        "--compile",
        nargs="?",
        const="true",
        choices=["true", "false", "auto"],
        help="run each cell's step under torch.compile (default: the file's, else auto:"
        " only cells large enough to repay the compilation)",
    )
    run.add_argument(
        "--workers", type=int, default=1, help="cells in parallel processes (default: 1)"
    )
    run.add_argument(
        "--tuned",
        type=Path,
        help="tuned.toml from bench tune: also run each tuned setting, on fresh seeds",
    )
    run.add_argument(
        "--quiet", action="store_true", help="no progress bars (the summary is still printed)"
    )
    run.add_argument(
        "--scheduler",
        metavar="tcp://HOST:PORT",
        help="run the cells on this Dask distributed cluster (pip install 'optbench[dask]');"
        " this process writes the parts",
    )
    run.add_argument(
        "--debug", action="store_true", default=argparse.SUPPRESS, help="show tracebacks"
    )

    target_help = (
        "a target precision on the gap (repeat for several); default: the study's own, loose, "
        "middle and tight (the same in bench show and bench report)"
    )
    show = sub.add_parser("show", help="summary table of a run directory")
    show.add_argument("run_dir", type=Path)
    show.add_argument("--target", type=float, action="append", help=target_help)
    show.add_argument(
        "--wide", action="store_true", help="every column (default: those that fit 100 columns)"
    )

    check = sub.add_parser(
        "check",
        help="run the catalogue's conformance checks on problems and optimizers",
        description="Checks each problem (f* at the minimisers, nothing below f*, batched = "
        "row by row, finite gradients, float32 = float64, CPU = CUDA) or optimizer (batched = "
        "row by row, per-row hyperparameters, diverged rows, torch.optim parity); exit 1 "
        "when one fails.",
    )
    check.add_argument("names", nargs="+", help="problem or optimizer specs: rastrigin:dim=5 adam")
    check.add_argument(
        "--samples", type=int, default=20_000, help="uniform samples below f* (default 20000)"
    )

    report = sub.add_parser(
        "report", help="write an HTML report of run directories and/or pytest-benchmark JSON"
    )
    report.add_argument("run_dirs", type=Path, nargs="+", help="run dirs, *.json, .benchmarks/")
    report.add_argument(
        "-o", "--output", type=Path, default=Path("report.html"), help="default: report.html"
    )
    report.add_argument("--label", action="append", help="a label per run directory")
    report.add_argument(
        "--target",
        type=float,
        action="append",
        help=target_help + "; the first given is also the target of the runtimes and profiles",
    )

    from bench._tune_command import add_tune_parser

    tune = add_tune_parser(sub)

    for command in (ls, run, check, report, tune):
        command.add_argument(
            "--plugin",
            action="append",
            default=[],
            metavar="PATH.py|MODULE",
            help="import a module that registers problems/optimizers (repeatable)",
        )

    perf = sub.add_parser("perf", help="throughput benchmark: per-run torch.optim vs batched")
    perf.add_argument("--quick", action="store_true", help="small sizes (what CI runs)")
    perf.add_argument(
        "--mlp",
        action="store_true",
        help="the MLP table: seeds as rows vs one after another (python -m bench.perf.mlp"
        " --help for all its options)",
    )
    perf.add_argument("--device", default="cpu")
    perf.add_argument("--json", type=Path, help="also write the table as JSON")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run a command; bad input is one line on stderr and exit 2, a traceback only with
    ``--debug`` (see `bench._errors.report`)."""
    args = _parser().parse_args(argv)
    commands = {"list": _list, "run": _run, "check": _check, "show": _show, "report": _report}
    try:
        if hasattr(args, "plugin"):
            from bench._plugins import load_cli_plugins

            load_cli_plugins(args.command, args.plugin)
        return {**commands, "perf": _perf, "tune": _tune}[args.command](args)
    except BrokenPipeError:  # `bench show RUN | head`
        sys.stderr.close()
        return 0
    except BaseException as error:
        from bench._errors import report

        if args.debug and not isinstance(error, KeyboardInterrupt):
            raise
        return report(error, f"bench {args.command}", resume=_resume_command(args))


def _list(args: argparse.Namespace) -> int:
    from bench._listing import detail_text, optimizer_rows, problem_detail, problem_rows, table

    if args.name:
        if args.optimizers:
            msg = "bench list NAME shows one problem; give either NAME or --optimizers"
            raise SpecError(msg)
        detail = problem_detail(args.name)
        print(json.dumps(detail, indent=2) if args.json else detail_text(detail))
        return 0
    rows = optimizer_rows() if args.optimizers else problem_rows(args.tag)
    print(json.dumps(rows, indent=2) if args.json else table(rows))
    return 0


def _spec_list(values: list[str] | None) -> list[str] | None:
    """A repeated list flag's specs, in order: ``--problems a --problems b,c`` is a, b, c."""
    if not values:
        return None
    return [spec for value in values for spec in split_specs(value)]


def _study_from_args(args: argparse.Namespace, memory: bool | MemoryLimit = True) -> Study:
    """The study of a `bench run` command: the file's data with the flags merged in, built
    once (file and line in errors about the file, "command line" about a flag)."""
    from bench._study import Study

    overrides: dict[str, object] = {
        "problems": _spec_list(args.problems),
        "optimizers": _spec_list(args.optimizers),
        "start": args.start,
        "seeds": args.seeds,
        "steps": args.steps,
        "evals": args.evals,
        "epochs": args.epochs,
        "seconds": args.seconds,
        "dtype": args.dtype,
        "name": args.name,
        "devices": args.device.split(",") if args.device else None,
        "compile": {"true": True, "false": False, "auto": "auto", None: None}[args.compile],
        "plugins": args.plugin or None,
    }
    overrides = {k: v for k, v in overrides.items() if v is not None}
    if (args.evals is not None or args.epochs is not None) and args.steps is None:
        overrides["steps"] = None  # a flag's budget replaces the file's step budget
    if args.study:
        return Study.from_toml(args.study, overrides, memory=memory)
    if not (args.problems and args.optimizers):
        msg = "give a study file, or both --problems and --optimizers"
        raise SpecError(msg)
    study = Study.from_dict(
        {"name": "cli", "seeds": CLI_SEEDS, "steps": CLI_STEPS, **overrides},
        source="command line",
    )
    study.validate(memory=memory)
    return study


def _run(args: argparse.Namespace) -> int:
    from bench._allocator import keep_freed_memory
    from bench._runner import check_workers, default_run_dir, run_study
    from bench._store import load_meta

    keep_freed_memory()  # the command line's choice; library calls leave malloc alone
    memory: bool | MemoryLimit = True  # the cells' memory, checked before building problems
    if args.scheduler:
        if args.workers != 1:
            msg = "give --workers (local processes) or --scheduler (a Dask cluster), not both"
            raise SpecError(msg)
        from bench._dask import cluster_memory

        memory = cluster_memory(args.scheduler)
    if isinstance(args.resume, str):
        resume_dir = Path(args.resume)
        if not (resume_dir / "meta.json").exists():
            msg = f"--resume {resume_dir}: not a run directory (no meta.json)"
            raise SpecError(msg)
        if not args.study and not args.problems:
            from bench._study import Study

            study = Study.from_dict(load_meta(resume_dir)["study"], source=str(resume_dir))  # type: ignore[arg-type]
        else:
            study = _study_from_args(args, memory)
        run_dir = resume_dir
    else:
        study = _study_from_args(args, memory)
        run_dir = args.out or default_run_dir(study)
        if args.out and (run_dir / "parts").exists() and not args.resume:
            print(
                f"bench run: {run_dir} exists: finished cells are kept and skipped", file=sys.stderr
            )
    if repeated := study.repeated_cells():
        names = sorted({cell.problem for cell in repeated})
        print(
            f"bench run: warning: start = default: every seed of {', '.join(names)} is the same "
            f"run (a fixed start on a deterministic problem); summaries count 1 distinct run. "
            "--start uniform samples the domain.",
            file=sys.stderr,
        )
    if args.tuned:
        from bench._tuned import apply_tuned, load_tuned, record_tuned

        tuned = load_tuned(args.tuned)
        study, used = apply_tuned(study, tuned)
    command = shlex.join(["bench", *sys.argv[1:]])
    args.run_dir = run_dir  # for the resume command of an interrupted run
    summary = run_study(
        study,
        run_dir,
        command=command,
        workers=check_workers(args.workers),
        scheduler=args.scheduler,
        quiet=args.quiet,
    )
    if args.tuned:
        record_tuned(study, tuned, used, summary.run_dir)
    print(f"{summary.cells} cells ({summary.skipped} already finished) -> {summary.run_dir}")
    import reports  # the reading side, only when it is used

    print(reports.show_text(summary.run_dir))
    if summary.failed_runs:
        print(f"bench run: {summary.failed_runs} runs failed (see bench show)", file=sys.stderr)
        return 1
    return 0


def _resume_command(args: argparse.Namespace) -> str | None:
    """``bench run --resume DIR [--workers N] [--scheduler S]`` for an interrupted run."""
    run_dir = getattr(args, "run_dir", None)
    if args.command != "run" or run_dir is None:
        return None
    words = ["bench", "run", "--resume", str(run_dir)]
    if args.workers != 1:
        words += ["--workers", str(args.workers)]
    if args.scheduler:
        words += ["--scheduler", args.scheduler]
    return shlex.join(words)


def _show(args: argparse.Namespace) -> int:
    import reports  # the reading side: pandas and Parquet, no torch, no catalogue

    print(reports.show_text(args.run_dir, targets=args.target, wide=args.wide))
    return 0


def _check(args: argparse.Namespace) -> int:
    from bench._check import check, check_table

    outcomes = check(args.names, samples=args.samples)
    print(check_table(outcomes))
    return 1 if any(o.status == "failed" for o in outcomes) else 0


def _report(args: argparse.Namespace) -> int:
    import reports  # the reading side: no torch, no catalogue

    run_dirs, _ = reports.split_sources(args.run_dirs)  # labels name run directories only
    if args.label and len(args.label) != len(run_dirs):
        msg = f"--label given {len(args.label)} times for {len(run_dirs)} run directories"
        raise SpecError(msg)
    targets = args.target
    path = reports.write(
        list(args.run_dirs),
        args.output,
        labels=args.label,
        targets=targets,
        target=targets[0] if targets else None,
    )
    print(f"report: {path}")
    return 0


def _tune(args: argparse.Namespace) -> int:
    from bench._tune_command import tune_main

    return tune_main(args)


def _perf(args: argparse.Namespace) -> int:
    from bench._allocator import keep_freed_memory
    from bench.perf import mlp_main, perf_main

    keep_freed_memory()  # as `bench run` does: every variant runs under the same allocator
    if args.mlp:
        return mlp_main(quick=args.quick, device=args.device, json_path=args.json)
    return perf_main(quick=args.quick, device=args.device, json_path=args.json)
