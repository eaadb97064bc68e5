"""The benchmark programs run end to end (smoke tests: speed is measured, never asserted)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench._cli import main as cli
from bench.perf import VARIANTS

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_bench_perf_quick_prints_and_writes_the_table(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "perf.json"
    assert cli(["perf", "--quick", "--json", str(out)]) == 0
    text = capsys.readouterr().out
    for method in ("per-run torch.optim.Adam", "bare batched loop", "harness"):
        assert method in text
    table = json.loads(out.read_text())["table"]
    assert [row["rows"] for row in table] == [10, 2_000, 2_000, 100_000]
    assert all(row["run_steps_per_s"] > 0 for row in table)
    assert table[-1]["peak_rss_mb"] > 0
    bare = table[1]
    assert bare["vs_bare"] == 1.0 and table[0]["vs_per_run"] == 1.0  # each row against them
    for row in table:
        assert row["vs_bare"] == pytest.approx(row["run_steps_per_s"] / bare["run_steps_per_s"])


@pytest.mark.slow
def test_bench_perf_mlp_quick_writes_the_mlp_table(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "mlp.json"
    assert cli(["perf", "--mlp", "--quick", "--json", str(out)]) == 0
    assert "| width | plain | vmap" in capsys.readouterr().out
    table = json.loads(out.read_text())["table"]
    assert [row["width"] for row in table] == [64, 256]
    assert all(row[f"{name}_ms"] > 0 for row in table for name in VARIANTS)


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
