"""The benchmark programs run end to end (smoke tests: speed is measured, never asserted)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench._cli import main as cli

ROOT = Path(__file__).resolve().parent.parent


FIELDS = ("problem", "optimizer", "device", "mode", "rows", "run_steps_per_s")


@pytest.mark.slow
def test_bench_perf_quick_prints_and_writes_every_record(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """What CI runs: every record has every field, the modes and loops are all there."""
    out = tmp_path / "perf.json"
    assert cli(["perf", "--quick", "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "memory-bandwidth floor" in text and "| width | plain | vmap" in text
    records = json.loads(out.read_text())
    assert isinstance(records, list)
    for record in records:
        for field in (*FIELDS, "floor_run_steps_per_s"):
            assert record[field] is not None, (field, record)
        assert record["run_steps_per_s"] > 0 and record["floor_run_steps_per_s"] > 0
        assert record["mode"] in ("per-run", "eager", "compiled", "graph")
    analytic = [r for r in records if r["problem"] == "rosenbrock"]
    assert {(r["mode"], r["loop"]) for r in analytic} == {
        ("per-run", "per-run"),
        ("eager", "bare"),
        ("eager", "harness"),
        ("compiled", "bare"),
        ("compiled", "harness"),
        ("eager", "harness-memory"),
    }
    compiled = next(r for r in analytic if r["mode"] == "compiled" and r["loop"] == "harness")
    bare = next(r for r in analytic if r["mode"] == "compiled" and r["loop"] == "bare")
    assert compiled["x_bare"] == pytest.approx(
        compiled["run_steps_per_s"] / bare["run_steps_per_s"]
    )
    assert compiled["warmup_s"] > 0  # the compilation, timed apart
    assert analytic[-1]["peak_rss_mb"] > 0
    mlp = [r for r in records if r["problem"].startswith("mlp-regression")]
    assert {(r["width"], r["mode"]) for r in mlp} == {
        (w, m) for w in (64, 256) for m in ("per-run", "eager")
    }


def test_floor_counts_x_gradient_and_state_once_each_way() -> None:
    import torch

    import optimizers
    import problems
    from bench.perf import state_bytes_per_row

    method = optimizers.method("adam")
    x = torch.zeros(5, 2)
    state = method.init(
        x, optimizers.Context(problems.get("sphere"), torch.Generator(), x.device, x.dtype)
    )
    # x and the gradient [R, 2], exp_avg and exp_avg_sq [R, 2], step [R, 1]: 9 floats read + written
    assert state_bytes_per_row(x, state) == 2 * 4 * (2 + 2 + 2 + 2 + 1)


@pytest.mark.slow
def test_bench_perf_mlp_quick_writes_the_mlp_records(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "mlp.json"
    assert cli(["perf", "--mlp", "--quick", "--json", str(out)]) == 0
    assert "| width | plain | vmap" in capsys.readouterr().out
    records = json.loads(out.read_text())
    assert [r["width"] for r in records] == [64, 64, 256, 256]
    assert [r["mode"] for r in records] == ["per-run", "eager"] * 2
    assert all(r[f] is not None for r in records for f in FIELDS)


@pytest.mark.slow
def test_python_dash_m_bench_perf_mlp_takes_its_options() -> None:
    args = ["--widths", "8", "--seeds", "2", "--batch", "4", "--steps", "2", "--repeats", "1"]
    out = subprocess.run(
        [sys.executable, "-m", "bench.perf.mlp", *args, "--json"],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    (row,) = json.loads(out.stdout)
    assert (row["width"], row["seeds"], row["batch"], row["steps"]) == (8, 2, 4, 2)
