"""The default study's numbers, pinned: a refactor of the engine must not change a single result.

`tests/data/quick-digest.json` holds, for every cell of ``studies/quick.toml`` and every column
of its tidy table (docs/RESULTS.md) except times, dates and memory, a SHA-256 of the values
rounded to 12 significant digits, rows in a canonical order. The test reruns the study and
compares cell by cell, column by column, so a failure names what changed.

The study runs on torch's AVX2 kernels (``ATEN_CPU_CAPABILITY=avx2``) whatever the CPU
offers: results differ in their last digits between AVX2 and AVX-512 code paths
(vectorised ``exp``, ``pow`` and reductions), and the digest was written on AVX2. The same
AVX2 kernels still differ in the last bits between AMD and Intel CPUs (5 of the study's
columns: levy and six-hump camel, whose 12th digit follows an ulp of the loss), so each CPU
vendor has its digest, both written from the same commit (ad551f4). A CPU without AVX2
(ARM, old x86) or of another vendor skips the test.

A change that is meant to move the numbers regenerates the digest, and says so in its commit:

    python tests/test_results_unchanged.py --write

(on each vendor's machine: it writes this CPU's file).
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch

from bench._environment import cpu_field

ROOT = Path(__file__).resolve().parent.parent
STUDY = ROOT / "studies" / "quick.toml"
DIGESTS = {
    "AuthenticAMD": ROOT / "tests" / "data" / "quick-digest.json",
    "GenuineIntel": ROOT / "tests" / "data" / "quick-digest-intel.json",
}

VENDOR = cpu_field("vendor_id") or ""
DIGEST = DIGESTS.get(VENDOR)
UNSTABLE = {"time_s", "warmup_s", "step_time_s", "peak_rss_mb", "cuda_max_allocated_mb"}
"""Columns that measure the machine, not the optimizer."""
ORDER = ["record", "seed", "row", "target", "step", "x0", "x1"]
SIGNIFICANT = 12


def _column_digest(values: pd.Series) -> str:
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        text = [f"{v:.{SIGNIFICANT - 1}e}" for v in values.to_numpy(dtype=float)]
    else:
        text = [str(v) for v in values.tolist()]
    return hashlib.sha256("\x1f".join(text).encode()).hexdigest()[:16]


def digest(results: pd.DataFrame) -> dict[str, dict[str, str]]:
    """``{cell_id: {column: hash}}`` for a results table (all records)."""
    out: dict[str, dict[str, str]] = {}
    for cell_id, rows in results.groupby("cell_id", sort=True):
        rows = rows.dropna(axis=1, how="all")
        order = [c for c in ORDER if c in rows.columns]
        rows = rows.sort_values(order, kind="stable", na_position="last")
        out[str(cell_id)] = {
            c: _column_digest(rows[c]) for c in sorted(rows.columns) if c not in UNSTABLE
        }
    return out


def run_quick(out: Path) -> dict[str, dict[str, str]]:
    command = [sys.executable, "-m", "bench", "run", str(STUDY), "--out", str(out)]
    env = {**os.environ, "ATEN_CPU_CAPABILITY": "avx2"}  # the kernels the digest was made on
    subprocess.run([*command, "--workers", "2", "--quiet"], check=True, cwd=ROOT, env=env)
    import reports

    return digest(reports.load(out, record=None))


@pytest.mark.slow
@pytest.mark.skipif(
    torch.backends.cpu.get_cpu_capability() not in ("AVX2", "AVX512"),
    reason="the digest is pinned on torch's AVX2 kernels, which this CPU lacks",
)
@pytest.mark.skipif(DIGEST is None, reason=f"no digest for this CPU vendor ({VENDOR!r})")
def test_the_default_study_gives_the_pinned_numbers(tmp_path: Path) -> None:
    assert DIGEST is not None
    expected = json.loads(DIGEST.read_text())
    got = run_quick(tmp_path / "quick")
    assert sorted(got) == sorted(expected), "the cells (or their ids) changed"
    changed = [
        f"{cell}: {column}"
        for cell, columns in expected.items()
        for column in sorted(set(columns) | set(got[cell]))
        if columns.get(column) != got[cell].get(column)
    ]
    assert not changed, f"{len(changed)} columns changed, first: {changed[:5]}"


if __name__ == "__main__":
    if sys.argv[1:] != ["--write"] or DIGEST is None:
        sys.exit(__doc__)
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        DIGEST.write_text(json.dumps(run_quick(Path(folder) / "quick"), indent=1) + "\n")
    print(f"wrote {DIGEST}")
