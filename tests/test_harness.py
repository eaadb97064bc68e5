"""The harness: determinism, batched == row by row, divergence, resume, store, bad input."""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import torch

import bench
import optimizers
import problems
import reports
from bench._checkpoints import log_checkpoints
from bench._cli import main as cli
from problems import Problem, SpecError

ROOT = Path(__file__).resolve().parent.parent


def _study(**changes: object) -> bench.Study:
    spec: dict[str, object] = {
        "name": "t",
        "problems": ["sphere:dim=3"],
        "optimizers": ["sgd:lr=0.1", "adam:lr=0.05"],
        "seeds": 4,
        "steps": 60,
        "checkpoints": 8,
    }
    spec.update(changes)
    return bench.Study.from_dict(spec)


def test_same_study_twice_gives_identical_numbers(tmp_path: Path) -> None:
    study = _study()
    bench.run_study(study, tmp_path / "a", quiet=True)
    bench.run_study(study, tmp_path / "b", quiet=True)
    a, b = reports.load(tmp_path / "a"), reports.load(tmp_path / "b")
    columns = ["problem", "optimizer", "seed", "step", "evals", "loss", "best_loss", "gap"]
    key = ["problem", "optimizer", "seed", "step"]
    pd.testing.assert_frame_equal(
        a[columns].sort_values(key).reset_index(drop=True),
        b[columns].sort_values(key).reset_index(drop=True),
    )


def test_batched_equals_row_by_row() -> None:
    problem = problems.get("sphere:dim=3")
    method = optimizers.method("adam:lr=0.05")
    seeds = [0, 1, 2, 3]
    ckpts = log_checkpoints(50, 6)
    x0 = bench.starts(method, problem, seeds, device=torch.device("cpu"), dtype=torch.float64)
    together = bench.run_rows(problem, method, x0, steps=50, checkpoints=ckpts, targets=[1.0, 1e-3])
    for i, seed in enumerate(seeds):
        alone_x0 = bench.starts(
            method, problem, [seed], device=torch.device("cpu"), dtype=torch.float64
        )
        alone = bench.run_rows(
            problem, method, alone_x0, steps=50, checkpoints=ckpts, targets=[1.0, 1e-3]
        )
        torch.testing.assert_close(together.loss[:, i], alone.loss[:, 0], rtol=1e-12, atol=0)
        torch.testing.assert_close(together.best[:, i], alone.best[:, 0], rtol=1e-12, atol=0)
        assert together.hits[i].tolist() == alone.hits[0].tolist()


def test_a_diverging_learning_rate_marks_only_its_rows() -> None:
    problem = problems.get("sphere:dim=2")
    lr = torch.tensor([0.1, 1.5, 0.1, 1.5], dtype=torch.float64)
    method = optimizers.local(optimizers.configure("sgd", lr=lr))
    x0 = problem.sample(4, torch.Generator().manual_seed(0))
    trace = bench.run_rows(
        problem, method, x0, steps=1200, checkpoints=log_checkpoints(1200, 10), targets=[1e-6]
    )
    diverged = trace.diverged_at >= 0
    assert diverged.tolist() == [False, True, False, True]
    assert trace.best[-1, 0] < 1e-6 and trace.best[-1, 2] < 1e-6  # the others went on
    assert torch.isfinite(trace.best[-1]).all()  # a diverged row's best is frozen, not NaN
    assert torch.isnan(trace.loss[-1, 1])


def test_target_hits_are_exact_first_steps() -> None:
    problem = problems.get("sphere:dim=2")
    method = optimizers.method("sgd:lr=0.1")  # x_k = 0.8^k x_0, so f(x_{k-1}) is known exactly
    x0 = torch.tensor([[3.0, 4.0]], dtype=torch.float64)  # f(x0) = 25
    targets = [10.0, 1.0, 1e-3]
    trace = bench.run_rows(problem, method, x0, steps=100, checkpoints=[0, 100], targets=targets)
    for t, hit in zip(targets, trace.hits[0].tolist()):
        # step k evaluates f(x_{k-1}) = 25 * 0.64^(k-1)
        expected = 1 + math.ceil(math.log(t / 25) / math.log(0.64) - 1e-12)
        assert hit == expected


def test_results_table_columns_and_evals(tmp_path: Path) -> None:
    bench.run_study(_study(problems=["sphere:dim=2"]), tmp_path, quiet=True)
    frame = reports.load(tmp_path)
    required = {
        "problem",
        "optimizer",
        "device",
        "seed",
        "step",
        "evals",
        "loss",
        "best_loss",
        "gap",
        "time_s",
        "status",
        "reason",
        "warmup_s",
        "hp_lr",
        "cell_id",
    }
    assert required <= set(frame.columns)
    assert (frame["evals"] == frame["step"]).all()
    assert (
        frame.groupby(["optimizer", "seed"])["time_s"]
        .apply(lambda s: s.is_monotonic_increasing)
        .all()
    )
    targets = reports.load(tmp_path, record="target")
    assert set(targets["target"]) == set(bench.DEFAULT_TARGETS)
    trajectories = reports.load(tmp_path, record="trajectory")
    assert {"x0", "x1"} <= set(trajectories.columns)
    meta = reports.load_meta(tmp_path)
    assert meta["versions"]["torch"] == torch.__version__  # type: ignore[index]
    assert meta["study"]["problems"] == ["sphere:dim=2"]  # type: ignore[index]


def test_resume_skips_finished_cells(tmp_path: Path) -> None:
    study = _study()
    bench.run_study(study, tmp_path, quiet=True)
    parts = sorted((tmp_path / "parts").glob("*.parquet"))
    assert len(parts) == 2
    first_mtime = parts[0].stat().st_mtime_ns
    parts[1].unlink()
    summary = bench.run_study(study, tmp_path, quiet=True)
    assert summary.skipped == 1
    assert parts[0].stat().st_mtime_ns == first_mtime
    assert parts[1].exists()


def test_changed_spec_is_a_new_cell() -> None:
    a = _study().cells()[0]
    b = _study(steps=61).cells()[0]
    c = _study().cells()[0]
    assert a.id != b.id and a.id == c.id


def test_corrupt_part_is_reported_by_name(tmp_path: Path) -> None:
    bench.run_study(_study(), tmp_path, quiet=True)
    part = sorted((tmp_path / "parts").glob("*.parquet"))[0]
    part.write_bytes(part.read_bytes()[:100])
    with pytest.raises(reports.StoreError, match=part.name):
        reports.load(tmp_path)


def test_a_failing_cell_is_data_and_the_study_goes_on(tmp_path: Path) -> None:
    def explode(x: torch.Tensor) -> torch.Tensor:
        msg = "boom"
        raise RuntimeError(msg)

    @problems.register("test-explodes")
    def _factory() -> Problem:
        return Problem("test-explodes", 2, explode, ((-1.0, -1.0), (1.0, 1.0)), 0.0)

    try:
        summary = bench.run_study(
            _study(problems=["test-explodes", "sphere:dim=2"]), tmp_path, quiet=True
        )
    finally:
        problems.PROBLEMS._factories.pop("test-explodes")
    assert summary.failed_runs == 2 * 4
    frame = reports.load(tmp_path)
    failed = frame[frame["problem"] == "test-explodes"]
    assert (failed["status"] == "failed").all()
    assert failed["reason"].str.contains("boom").all()
    assert (frame[frame["problem"] == "sphere:dim=2"]["status"] == "ok").all()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--problems", "spere", "--optimizers", "sgd"], "did you mean 'sphere'"),
        (["--problems", "sphere", "--optimizers", "adma"], "did you mean 'adam'"),
        (["--problems", "sphere", "--optimizers", "sgd:lr=-1"], "invalid lr -1"),
        (["--problems", "sphere", "--optimizers", "sgd", "--device", "tpu"], "unknown device"),
        (["--problems", "sphere", "--optimizers", "sgd", "--steps", "0"], "positive integer"),
        (["--problems", "sphere"], "give a study file"),
        (["missing.toml"], "cannot read study file missing.toml"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert cli(["run", *args, "--out", str(tmp_path / "r"), "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err
    assert len(err.splitlines()) == 1


def test_bad_study_file_names_file_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "s.toml"
    path.write_text(
        'name = "x"\nsteps = 10\nproblems = ["sphere"]\noptimizers = ["sgd", "adamm"]\n'
    )
    assert cli(["run", str(path), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert f"{path}:4:" in err and "adam" in err
    path.write_text('name = "x"\nstepz = 10\nproblems = ["sphere"]\noptimizers = ["sgd"]\n')
    assert cli(["run", str(path), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert f"{path}:2: unknown key 'stepz'" in err
    assert "did you mean 'steps'" in err
    path.write_text('name = "x"\nproblems = ["sphere"]\noptimizers = ["sgd"]\nsteps = 0\n')
    assert cli(["run", str(path), "--quiet"]) == 2
    assert f"{path}:4: steps must be a positive integer, got 0" in capsys.readouterr().err
    path.write_text('name = "x"\nsteps = = 10\n')
    assert cli(["run", str(path), "--quiet"]) == 2
    assert f"{path}:2:9: invalid TOML" in capsys.readouterr().err  # file:line:column


def test_cli_run_then_show(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run"
    code = cli(
        [
            "run",
            "--problems",
            "sphere:dim=2",
            "--optimizers",
            "sgd:lr=0.1,adam",
            "--seeds",
            "3",
            "--steps",
            "50",
            "--out",
            str(out),
            "--quiet",
        ]
    )
    assert code == 0
    assert cli(["show", str(out)]) == 0
    text = capsys.readouterr().out
    assert "sgd:lr=0.1" in text and "ok@1e-01" in text


@pytest.mark.slow
def test_killed_process_resumes_with_nothing_lost(tmp_path: Path) -> None:
    study = tmp_path / "s.toml"
    study.write_text(
        'name = "kill"\nseeds = 3\nsteps = 1500\ncheckpoints = 10\n'
        'problems = ["sphere:dim=2", "sphere:dim=3", "sphere:dim=4", "sphere:dim=5", '
        '"sphere:dim=6", "sphere:dim=7"]\noptimizers = ["sgd:lr=0.01", "adam:lr=0.01"]\n'
    )
    out = tmp_path / "run"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench", "run", str(study), "--out", str(out), "--quiet"],
        env=env,
        cwd=ROOT,
    )
    deadline = time.time() + 120
    while time.time() < deadline and len(list((out / "parts").glob("*.parquet"))) < 3:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    survivors = {p.name: p.read_bytes() for p in (out / "parts").glob("*.parquet")}
    assert 3 <= len(survivors) < 12
    assert cli(["run", "--resume", str(out), "--quiet"]) == 0
    parts = {p.name: p.read_bytes() for p in (out / "parts").glob("*.parquet")}
    assert len(parts) == 12
    assert all(parts[name] == data for name, data in survivors.items())  # nothing rewritten
    assert not list((out / "parts").glob(".*.tmp"))  # a killed write was redone and renamed
    fresh = tmp_path / "fresh"
    assert cli(["run", str(study), "--out", str(fresh), "--quiet"]) == 0
    key = ["problem", "optimizer", "seed", "step"]
    cols = [*key, "loss", "best_loss", "evals"]
    pd.testing.assert_frame_equal(
        reports.load(out)[cols].sort_values(key).reset_index(drop=True),
        reports.load(fresh)[cols].sort_values(key).reset_index(drop=True),
    )


def test_budget_in_evals_counts_all_starts() -> None:
    study = _study(steps=None, evals=120)
    problem = problems.get("sphere:dim=3")
    from bench._study import budget_steps

    assert budget_steps(study, problem, optimizers.method("adam")) == 120


def test_time_budget_stops_at_a_checkpoint() -> None:
    problem = problems.get("sphere:dim=2")
    method = optimizers.method("sgd:lr=0.01")
    x0 = problem.sample(3, torch.Generator().manual_seed(0))
    trace = bench.run_rows(
        problem, method, x0, steps=10**7, checkpoints=log_checkpoints(10**7, 60), seconds=0.2
    )
    assert trace.checkpoints[-1] < 10**7
    assert trace.time_s[-1] >= 0.2


def test_spec_validation_messages() -> None:
    with pytest.raises(SpecError, match="no budget"):
        bench.Study.from_dict({"problems": ["sphere"], "optimizers": ["sgd"]})
    with pytest.raises(SpecError, match="dtype 'float16'"):
        _study(dtype="float16")


def test_changed_study_moves_old_cells_aside_and_loses_nothing(tmp_path: Path) -> None:
    bench.run_study(_study(), tmp_path, quiet=True)
    bench.run_study(_study(optimizers=["sgd:lr=0.1", "sgd:lr=0.2"]), tmp_path, quiet=True)
    frame = reports.load(tmp_path)
    assert set(frame["optimizer"]) == {"sgd:lr=0.1", "sgd:lr=0.2"}  # sgd:lr=0.1 was reused
    moved = list((tmp_path / "superseded").glob("*/*.parquet"))
    assert len(moved) == 1
    assert "adam" in moved[0].name
    assert reports.load_meta(tmp_path)["study"]["optimizers"] == ["sgd:lr=0.1", "sgd:lr=0.2"]  # type: ignore[index]
