"""The `bench` command line: list, run, show, report, perf.

Exit codes: 0 ok, 1 some runs failed (the study still finished), 2 bad input.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from problems import OptbenchError, SpecError, split_specs

if TYPE_CHECKING:
    from bench._study import Study

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bench", description="optbench: benchmark optimizers on loss landscapes."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    ls = sub.add_parser("list", help="print the catalogue of problems (or optimizers)")
    ls.add_argument("--json", action="store_true", help="print JSON instead of a table")
    ls.add_argument("--tag", action="append", default=[], help="only problems with this tag")
    ls.add_argument("--optimizers", action="store_true", help="list optimizers instead")

    run = sub.add_parser("run", help="run a study from a TOML file or from flags")
    run.add_argument("study", nargs="?", help="studies/*.toml (or give --problems/--optimizers)")
    run.add_argument(
        "--problems",
        help="comma-separated problem specs: rosenbrock,rastrigin:dim=10,instance=3"
        " (a key=value item is an option of the spec before it)",
    )
    run.add_argument(
        "--optimizers",
        help="comma-separated optimizer specs: sgd:lr=1e-3,adam:lr=3e-4,beta2=0.99,"
        "restarts(adam,n=32)",
    )
    run.add_argument("--seeds", type=int, help="number of seeds (overrides the file)")
    run.add_argument("--steps", type=int, help="step budget (overrides the file)")
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
    run.add_argument("--workers", type=int, default=1, help="cells in parallel processes")
    run.add_argument("--quiet", action="store_true", help="no progress bars")

    show = sub.add_parser("show", help="summary table of a run directory")
    show.add_argument("run_dir", type=Path)
    show.add_argument(
        "--target", type=float, action="append", help="targets to show (default 1e-1, 1e-4, 1e-8)"
    )

    report = sub.add_parser(
        "report", help="write an HTML report of run directories and/or pytest-benchmark JSON"
    )
    report.add_argument("run_dirs", type=Path, nargs="+", help="run dirs, *.json, .benchmarks/")
    report.add_argument("-o", "--output", type=Path, default=Path("report.html"))
    report.add_argument("--label", action="append", help="a label per run directory")

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
    args = _parser().parse_args(argv)
    try:
        return {"list": _list, "run": _run, "show": _show, "report": _report, "perf": _perf}[
            args.command
        ](args)
    except OptbenchError as error:
        print(f"bench {args.command}: error: {error}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `bench show RUN | head`
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        print("interrupted; finished cells are kept (resume with --resume)", file=sys.stderr)
        return 130


def _list(args: argparse.Namespace) -> int:
    from bench._listing import optimizer_rows, problem_rows, table

    rows = optimizer_rows() if args.optimizers else problem_rows(args.tag)
    print(json.dumps(rows, indent=2) if args.json else table(rows))
    return 0


def _study_from_args(args: argparse.Namespace) -> Study:
    """The study of a `bench run` command: the file's data with the flags merged in, built
    once (file and line in errors about the file, "command line" about a flag)."""
    from bench._study import Study

    overrides: dict[str, object] = {
        "problems": split_specs(args.problems) if args.problems else None,
        "optimizers": split_specs(args.optimizers) if args.optimizers else None,
        "seeds": args.seeds,
        "steps": args.steps,
        "evals": args.evals,
        "epochs": args.epochs,
        "seconds": args.seconds,
        "dtype": args.dtype,
        "name": args.name,
        "devices": args.device.split(",") if args.device else None,
    }
    overrides = {k: v for k, v in overrides.items() if v is not None}
    if (args.evals is not None or args.epochs is not None) and args.steps is None:
        overrides["steps"] = None  # a flag's budget replaces the file's step budget
    if args.study:
        return Study.from_toml(args.study, overrides)
    if not (args.problems and args.optimizers):
        msg = "give a study file, or both --problems and --optimizers"
        raise SpecError(msg)
    study = Study.from_dict(
        {"name": "cli", "seeds": 10, "steps": 1000, **overrides}, source="command line"
    )
    study.validate()
    return study


def _run(args: argparse.Namespace) -> int:
    from bench._allocator import keep_freed_memory
    from bench._runner import check_workers, default_run_dir, run_study
    from bench._store import load_meta

    keep_freed_memory()  # the command line's choice; library calls leave malloc alone
    if isinstance(args.resume, str):
        resume_dir = Path(args.resume)
        if not (resume_dir / "meta.json").exists():
            msg = f"--resume {resume_dir}: not a run directory (no meta.json)"
            raise SpecError(msg)
        if not args.study and not args.problems:
            from bench._study import Study

            study = Study.from_dict(load_meta(resume_dir)["study"], source=str(resume_dir))  # type: ignore[arg-type]
        else:
            study = _study_from_args(args)
        run_dir = resume_dir
    else:
        study = _study_from_args(args)
        run_dir = args.out or default_run_dir(study)
        if args.out and (run_dir / "parts").exists() and not args.resume:
            print(
                f"bench run: {run_dir} exists: finished cells are kept and skipped", file=sys.stderr
            )
    command = shlex.join(["bench", *sys.argv[1:]])
    summary = run_study(
        study, run_dir, command=command, workers=check_workers(args.workers), quiet=args.quiet
    )
    if not args.quiet:
        print(f"{summary.cells} cells ({summary.skipped} already finished) -> {summary.run_dir}")
        import reports  # the reading side, only when it is used

        print(reports.show_text(summary.run_dir))
    if summary.failed_runs:
        print(f"bench run: {summary.failed_runs} runs failed (see bench show)", file=sys.stderr)
        return 1
    return 0


def _show(args: argparse.Namespace) -> int:
    import reports  # the reading side: pandas and Parquet, no torch, no catalogue

    print(reports.show_text(args.run_dir, targets=args.target))
    return 0


def _report(args: argparse.Namespace) -> int:
    import reports  # the reading side: no torch, no catalogue

    run_dirs, _ = reports.split_sources(args.run_dirs)  # labels name run directories only
    if args.label and len(args.label) != len(run_dirs):
        msg = f"--label given {len(args.label)} times for {len(run_dirs)} run directories"
        raise SpecError(msg)
    path = reports.write(list(args.run_dirs), args.output, labels=args.label)
    print(f"report: {path}")
    return 0


def _perf(args: argparse.Namespace) -> int:
    from bench._allocator import keep_freed_memory
    from bench.perf import mlp_main, perf_main

    keep_freed_memory()  # as `bench run` does: every variant runs under the same allocator
    if args.mlp:
        return mlp_main(quick=args.quick, device=args.device, json_path=args.json)
    return perf_main(quick=args.quick, device=args.device, json_path=args.json)
