"""Benchmark programs: the harness's throughput and the MLP's execution speed.

They time the library's own pieces (`bench.run_rows`, `optimizers.configure("adam")`'s step,
the problems' executions) against textbook ``torch.optim`` loops, side by side in one
process, and print tables with ratios; docs/PERFORMANCE.md quotes them.

- ``bench perf [--quick] [--device D] [--json F]``: per-run ``torch.optim.Adam`` vs the bare
  batched loop vs the harness on 2-D Rosenbrock, plus peak memory at a million rows
  (`measure`, `perf_main`);
- ``bench perf --mlp`` or ``python -m bench.perf.mlp [--widths ...]``: one MLP per seed, six
  ways (`mlp_speed_table`, `mlp_main`).

The programs run under the command line's allocator setting (`bench perf` applies it); the
functions themselves change no process state.
"""

from __future__ import annotations

from bench.perf._analytic import bare_batched, harness, measure, per_run_torch_optim, perf_main
from bench.perf._mlp import VARIANTS, markdown, mlp_main, mlp_speed_table

__all__ = [
    "VARIANTS",
    "bare_batched",
    "harness",
    "markdown",
    "measure",
    "mlp_main",
    "mlp_speed_table",
    "per_run_torch_optim",
    "perf_main",
]
