"""Resource checks before work, and a cell that runs out of memory fails alone."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

import bench
import optimizers
import reports
from bench import _cell, _resources
from bench._cli import main as cli
from problems import SpecError

ROOT = Path(__file__).resolve().parent.parent


def test_the_800_gb_study_is_refused_in_well_under_10_seconds(tmp_path: Path) -> None:
    argv = ["--problems", "sphere:dim=100000000", "--optimizers", "adam", "--seeds", "1000"]
    begin = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "bench", "run", *argv, "--steps", "2", "--out", str(tmp_path)],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    wall = time.perf_counter() - begin
    assert done.returncode == 2, done.stderr
    assert wall < 10, wall
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith("bench run: error: sphere:dim=100000000 x adam on cpu needs about ")
    assert "TiB of memory (1000 seeds x 1 rows x 100000000 dims x float64" in line
    assert "is available" in line
    assert not (tmp_path / "parts").exists()


def test_state_per_value_follows_the_math() -> None:
    measured = {
        spec: _resources.state_per_value(optimizers.method(spec))
        for spec in ("sgd", "momentum", "adam", "amsgrad")
    }
    # x; x + momentum_buffer; x + exp_avg + exp_avg_sq; and max_exp_avg_sq
    assert measured == {"sgd": 1.0, "momentum": 2.0, "adam": 3.0, "amsgrad": 4.0}


def test_the_estimate_scales_with_rows_dims_dtype_and_data() -> None:
    def need(problem: str, optimizer: str = "adam", **changes: object) -> int:
        study = bench.Study([problem], [optimizer], **{"seeds": 10, "steps": 1, **changes})  # type: ignore[arg-type]
        return _resources.cell_need(study, problem, optimizer, "cpu").host

    base = need("sphere:dim=1000")
    assert base == 10 * 1000 * (8 + 8 * (3 + 2))  # rows x dim x (draws + dtype x (k + 2))
    assert need("sphere:dim=1000", seeds=20) == 2 * base
    assert need("sphere:dim=2000") == 2 * base
    assert need("sphere:dim=1000", dtype="float32") == 10 * 1000 * (8 + 4 * 5)
    assert need("sphere:dim=1000", "restarts(adam,n=4)") > 4 * base  # 4 rows a seed
    mlp = "mlp-regression:inputs=4,hidden=8,n_train=100000,n_test=100000"
    assert _resources.spec_dim(mlp) == 4 * 8 + 8 + 8 * 8 + 8 + 8 + 1
    assert need(mlp) > 200000 * 5 * 16  # its data set counts


def test_a_cell_too_big_for_the_limit_is_refused_with_need_and_limit() -> None:
    study = bench.Study(["booth", "sphere:dim=5000"], ["sgd"], seeds=100, steps=1)
    with pytest.raises(SpecError) as error:
        _resources.check_study(study, host_limit=10 * 2**20, where=" on the smallest Dask worker")
    message = str(error.value)
    assert message.startswith("sphere:dim=5000 x sgd on cpu needs about 15.3 MiB of memory")
    assert "10.0 MiB is available on the smallest Dask worker" in message
    _resources.check_study(bench.Study(["booth"], ["sgd"], seeds=100, steps=1))  # fits


@pytest.mark.cuda
def test_a_cell_too_big_for_the_gpu_is_refused() -> None:
    free = torch.cuda.mem_get_info()[0]
    dim = int(free // (8 * 100 * 6)) + 1
    study = bench.Study([f"sphere:dim={dim}"], ["adam"], seeds=100, steps=1, devices=["cuda"])
    with pytest.raises(SpecError, match="of GPU memory"):
        _resources.check_study(study, host_limit=2**62)


@pytest.mark.parametrize(
    "failure",
    [
        pytest.param(lambda: torch.empty(2**60, dtype=torch.uint8), id="cpu allocator"),
        pytest.param(
            lambda: (_ for _ in ()).throw(
                torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")
            ),
            id="cuda out of memory",
        ),
    ],
)
def test_a_cell_out_of_memory_fails_alone_and_the_study_goes_on(
    failure: object, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = _cell.starts

    def starts(method: object, problem: object, *args: object, **kwargs: object) -> object:
        if problem.name == "rosenbrock":  # type: ignore[attr-defined]
            failure()  # type: ignore[operator]  # a real failed allocation, or CUDA's error
        return real(method, problem, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(_cell, "starts", starts)
    study = ["--problems", "rosenbrock:dim=3,sphere:dim=3", "--optimizers", "sgd:lr=0.01"]
    argv = ["run", *study, "--seeds", "2", "--steps", "5", "--out", str(tmp_path), "--quiet"]
    assert cli(argv) == 1  # runs failed inside a finished study
    frame = reports.load(tmp_path)
    checkpoints = frame[frame["record"] == "checkpoint"]
    failed = checkpoints[checkpoints["problem"] == "rosenbrock:dim=3"]
    assert set(failed["status"]) == {"failed"}
    assert failed["reason"].str.startswith("out of memory on cpu: ").all()
    ok = checkpoints[checkpoints["problem"] == "sphere:dim=3"]
    assert set(ok["status"]) == {"ok"}


@pytest.mark.cuda
def test_a_cuda_cell_beyond_the_memory_fraction_fails_alone() -> None:
    """On a GPU: cap this process's CUDA memory, run a cell that cannot fit, then one that can."""
    torch.cuda.set_per_process_memory_fraction(0.02)
    try:
        total = torch.cuda.get_device_properties(0).total_memory
        dim = int(0.05 * total / (8 * 4 * 8))  # 4 seeds, float64, ~8 buffers: 2.5x the cap
        study = bench.Study(
            [f"sphere:dim={dim}", "sphere:dim=3"], ["adam"], seeds=4, steps=3, devices=["cuda"]
        )
        study.validate(memory=False)  # the estimate would refuse it first; the cap is the test
        big, small = study.cells()
        failed = _cell.run_cell(big)
        assert set(failed["status"]) == {"failed"}
        assert failed["reason"].iloc[0].startswith("out of memory on cuda: ")
        ok = _cell.run_cell(small)
        assert set(ok[ok["record"] == "checkpoint"]["status"]) == {"ok"}
    finally:
        torch.cuda.set_per_process_memory_fraction(1.0)
        torch.cuda.empty_cache()
