"""`bench perf --quick` runs end to end (a smoke test: speed is measured, never asserted)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench._cli import main as cli


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
