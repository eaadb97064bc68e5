"""A study is built once from its sources; its problems and methods are built once; library
calls leave the process as they found it, and meta.json says how each process ran."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest

import bench
import optimizers
import problems
from bench import _study
from bench._cli import main as cli
from problems import SpecError

ROOT = Path(__file__).resolve().parent.parent


def test_a_study_takes_a_seed_count_and_a_spec_list_as_a_file_does() -> None:
    study = bench.Study(
        problems="rastrigin:dim=10,instance=3,rosenbrock", optimizers=["adam"], seeds=20, steps=5
    )
    assert study.seeds == tuple(range(20))
    assert study.problems == ("rastrigin:dim=10,instance=3", "rosenbrock")
    assert study.optimizers == ("adam",)
    assert study == bench.Study.from_dict(study.to_dict())
    with pytest.raises(SpecError, match="seeds must be a positive count"):
        bench.Study(problems=["sphere"], optimizers=["sgd"], seeds=0, steps=5)
    with pytest.raises(SpecError, match="seeds must be integers"):
        bench.Study(problems=["sphere"], optimizers=["sgd"], seeds=[0, 1.5], steps=5)


def _count(monkeypatch: pytest.MonkeyPatch, module: object, name: str) -> list[str]:
    """Record every call of ``module.name`` (its first argument)."""
    calls: list[str] = []
    real = getattr(module, name)

    def counted(spec: object, *args: object, **kwargs: object) -> object:
        calls.append(str(spec))
        return real(spec, *args, **kwargs)

    monkeypatch.setattr(module, name, counted)
    return calls


def test_bench_run_builds_the_study_and_each_problem_and_method_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "s.toml"
    path.write_text(
        'name = "once"\nseeds = 2\nsteps = 100\ncheckpoints = 4\n'
        'problems = ["sphere:dim=3", "rosenbrock"]\n'
        'optimizers = ["sgd:lr=0.01", "restarts(adam:lr=0.05,n=4)"]\n'
    )
    studies = _count(monkeypatch, _study.Study, "__post_init__")
    built_problems = _count(monkeypatch, problems, "get")
    built_methods = _count(monkeypatch, optimizers, "method")
    argv = ["run", str(path), "--steps", "20", "--out", str(tmp_path / "run"), "--quiet"]
    assert cli(argv) == 0
    assert len(studies) == 1  # file + flag merged as data, then one Study
    assert sorted(built_problems) == ["rosenbrock", "sphere:dim=3"]
    assert sorted(built_methods) == ["restarts(adam:lr=0.05,n=4)", "sgd:lr=0.01"]
    assert len(list((tmp_path / "run" / "parts").glob("*.parquet"))) == 4


def test_a_study_pickles_without_what_it_built() -> None:
    study = bench.Study(problems=["sphere"], optimizers=["sgd"], seeds=2, steps=5)
    study.validate()
    copy = pickle.loads(pickle.dumps(study))
    assert copy == study
    assert copy.problem("sphere") is not study.problem("sphere")  # rebuilt in its own process
    assert copy.problem("sphere") is copy.problem("sphere")


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--problems", "rosenbrok"], "command line: unknown problem 'rosenbrok'"),
        (["--optimizers", "sgd,adma"], "command line: unknown optimizer 'adma'"),
        (["--steps", "0"], "command line (--steps): steps must be a positive integer, got 0"),
    ],
)
def test_a_bad_flag_over_a_study_file_names_the_command_line(
    flags: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "s.toml"
    path.write_text('name = "x"\nsteps = 10\nproblems = ["sphere"]\noptimizers = ["sgd"]\n')
    assert cli(["run", str(path), *flags, "--out", str(tmp_path / "r"), "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err, err
    assert str(path) not in err.split("error: ")[1].split(":")[0]  # not blamed on the file
    assert len(err.splitlines()) == 1


def test_a_bad_table_spec_names_its_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "s.toml"
    path.write_text(
        'name = "x"\nsteps = 10\nproblems = ["sphere"]\n\n[[optimizer]]\nname = "adamm"\n'
    )
    assert cli(["run", str(path), "--out", str(tmp_path / "r"), "--quiet"]) == 2
    assert f"{path}:6: unknown optimizer 'adamm'" in capsys.readouterr().err


@pytest.mark.slow
def test_library_calls_leave_the_process_as_they_found_it(tmp_path: Path) -> None:
    """run_study and run_rows (also with worker processes) set no allocator, no threads."""
    code = f"""
import json, torch, bench, optimizers, problems
from bench import _allocator
threads = torch.get_num_threads()
study = bench.Study(["sphere:dim=2", "booth"], ["sgd"], seeds=2, steps=10)
bench.run_study(study, {str(tmp_path / "one")!r}, quiet=True)
bench.run_study(study, {str(tmp_path / "two")!r}, workers=2, quiet=True)
p = problems.get("sphere")
bench.run_rows(p, optimizers.method("adam"), p.sample(3), steps=5, checkpoints=[0, 5])
print(json.dumps([_allocator.setting(), threads, torch.get_num_threads()]))
"""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    allocator, before, after = json.loads(out.stdout.strip().splitlines()[-1])
    assert allocator is None
    assert after == before
    one = json.loads((tmp_path / "one" / "meta.json").read_text())
    two = json.loads((tmp_path / "two" / "meta.json").read_text())
    assert one["allocator"] is None and two["allocator"] is None
    assert one["torch_threads"] == {"main": before}
    assert one["cpu_count"] == os.cpu_count()


@pytest.mark.slow
def test_bench_run_records_allocator_and_worker_threads(tmp_path: Path) -> None:
    """`bench run --workers 2`: the CLI and its workers keep freed memory; each worker runs
    one torch thread, and meta.json says so per worker process."""
    out = tmp_path / "run"
    argv = ["--problems", "sphere:dim=2,booth,matyas", "--optimizers", "sgd,adam", "--seeds", "2"]
    argv += ["--steps", "10", "--workers", "2", "--out", str(out), "--quiet"]
    subprocess.run(
        [sys.executable, "-m", "bench", "run", *argv],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        check=True,
    )
    meta = json.loads((out / "meta.json").read_text())
    expected = "glibc keep-freed" if sys.platform.startswith("linux") else None
    assert meta["allocator"] == expected
    workers = meta["torch_threads"]
    assert workers and all(k.startswith("worker-") for k in workers), workers
    assert set(workers.values()) == {1}
    assert meta["cpu_count"] == os.cpu_count()
