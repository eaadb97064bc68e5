"""Benchmark programs: the harness's throughput and the MLP's execution speed.

They time the library's own pieces (`bench.run_rows`, `optimizers.configure("adam")`'s step,
the problems' executions) against textbook ``torch.optim`` loops, side by side in one
process, and print tables with ratios; docs/PERFORMANCE.md quotes them.

- ``bench perf [--quick] [--device D] [--json F]``: per-run ``torch.optim.Adam`` vs the
  batched step eager, compiled and (CUDA) graph-captured, bare and through the harness, on
  2-D Rosenbrock for R = 10^2 to 10^6, against the memory-bandwidth floor, plus peak memory
  at a million rows (`measure`, `perf_main`), then the MLP's records (`mlp_records`); the
  JSON file is one list of records;
- ``bench perf --mlp`` or ``python -m bench.perf.mlp [--widths ...]``: one MLP per seed, six
  ways (`mlp_speed_table`, `mlp_main`).

The programs run under the command line's allocator setting (`bench perf` applies it); the
functions themselves change no process state (but for dynamo's recompilation limit, which a
compiled step raises; `bench._engine`).
"""

from __future__ import annotations

from bench.perf._analytic import (
    MODES,
    bare_batched,
    copy_bandwidth,
    harness,
    measure,
    per_run_torch_optim,
    perf_main,
    state_bytes_per_row,
)
from bench.perf._mlp import VARIANTS, markdown, mlp_main, mlp_records, mlp_speed_table

__all__ = [
    "MODES",
    "VARIANTS",
    "bare_batched",
    "copy_bandwidth",
    "harness",
    "markdown",
    "measure",
    "mlp_main",
    "mlp_records",
    "mlp_speed_table",
    "per_run_torch_optim",
    "perf_main",
    "state_bytes_per_row",
]
