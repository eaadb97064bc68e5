"""`bench perf`: throughput of the same runs three ways, side by side in one process.

1. per-run ``torch.optim``: one ``nn.Parameter`` and one ``torch.optim.Adam`` per run, the
   textbook loop (``zero_grad``, ``loss.backward()``, ``step``), run after run;
2. bare batched: all runs as rows of one tensor, autograd + the batched Adam step, nothing
   recorded;
3. the harness: `run_rows` with checkpoint recording, divergence marking and target tracking.

Figures are run-steps per second (rows x steps / seconds). 2 and 3 run the same batched Adam
(`optimizers.configure("adam", lr=...)`'s step, the one the harness runs), so their ratio is
the harness's own cost. The machine is shared and noisy,
so the table also gives ratios measured in the same process. Peak resident memory at
R = 1,000,000 rows is measured in a fresh child process so nothing else inflates it.
"""

from __future__ import annotations

import json
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

import optimizers
import problems
from bench import _allocator as allocator
from bench._checkpoints import log_checkpoints
from bench._engine import make_objective, run_rows
from bench._environment import environment
from bench._sync import synchronize as _sync

__all__ = ["bare_batched", "harness", "measure", "per_run_torch_optim", "perf_main"]

PROBLEM = "rosenbrock"
LR = 1e-3
ROUNDS = 3


def _rows(rows: int, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    return problems.get(PROBLEM).sample(
        rows, torch.Generator().manual_seed(0), device=device, dtype=dtype
    )


def per_run_torch_optim(runs: int, steps: int, device: torch.device, dtype: torch.dtype) -> float:
    """Run-steps/s of the plain per-run ``torch.optim.Adam`` loop."""
    problem = problems.get(PROBLEM)
    x0 = _rows(runs, device, dtype)
    _sync(device)
    begin = time.perf_counter()
    for i in range(runs):
        param = torch.nn.Parameter(x0[i].clone())
        opt = torch.optim.Adam([param], lr=LR)
        for _ in range(steps):
            opt.zero_grad()
            problem.loss(param.unsqueeze(0)).sum().backward()
            opt.step()
    _sync(device)
    return runs * steps / (time.perf_counter() - begin)


def bare_batched(rows: int, steps: int, device: torch.device, dtype: torch.dtype) -> float:
    """Run-steps/s of a bare loop over the rows: autograd + batched Adam, nothing recorded."""
    problem = problems.get(PROBLEM)
    config = optimizers.configure("adam", lr=LR)
    x = _rows(rows, device, dtype)
    objective = make_objective(lambda z, k: problem.loss(z), [0])
    state = config.init(x)
    for _ in range(3):  # warm-up
        _, grad = objective(x, True)
        assert grad is not None
        config.step(x, grad, state)
    state = config.init(x)
    _sync(device)
    begin = time.perf_counter()
    for _ in range(steps):
        _, grad = objective(x, True)
        assert grad is not None
        x, state = config.step(x, grad, state)
    _sync(device)
    return rows * steps / (time.perf_counter() - begin)


def harness(rows: int, steps: int, device: torch.device, dtype: torch.dtype) -> float:
    """Run-steps/s of `run_rows` with 30 log-spaced checkpoints and 10 targets."""
    problem = problems.get(PROBLEM)
    method = optimizers.method(f"adam:lr={LR}")
    x0 = _rows(rows, device, dtype)
    trace = run_rows(
        problem,
        method,
        x0,
        steps=steps,
        checkpoints=log_checkpoints(steps, 30),
        targets=[10.0**-k for k in range(-1, 9)],
        warmup=3,
    )
    return rows * steps / trace.time_s[-1]


def peak_memory(rows: int, steps: int, device: str, dtype: str) -> dict[str, float]:
    """Peak RSS (and CUDA max allocated) of the harness at `rows`, in a fresh process.

    The child runs under this process's allocator setting (`bench._allocator`), as a
    ``--workers`` process of `bench run` does.
    """
    code = (
        "import resource, sys, json, torch; from bench.perf import harness;"
        f"from bench._allocator import keep_freed_memory; {allocator.setting() is not None} "
        "and keep_freed_memory();"
        f"d = torch.device({device!r}); rate = harness({rows}, {steps}, d, torch.{dtype});"
        "rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024;"
        "cuda = torch.cuda.max_memory_allocated() / 2**20 if d.type == 'cuda' else None;"
        "print(json.dumps({'rate': rate, 'peak_rss_mb': rss, 'cuda_max_alloc_mb': cuda}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def measure(*, quick: bool = False, device: str = "cpu") -> list[dict[str, object]]:
    """The benchmark table: one row per method, same runs, same process (median of 3 rounds)."""
    dev = torch.device(device)
    dtype = torch.float32
    rows, steps = (2_000, 100) if quick else (10_000, 500)
    runs = 10 if quick else 50
    rates: dict[str, list[float]] = {"base": [], "bare": [], "ours": []}
    for _ in range(ROUNDS):  # interleaved, so a noisy neighbour hits all three alike
        rates["base"].append(per_run_torch_optim(runs, 100 if quick else 200, dev, dtype))
        rates["bare"].append(bare_batched(rows, steps, dev, dtype))
        rates["ours"].append(harness(rows, steps, dev, dtype))
    base, bare, ours = (statistics.median(rates[k]) for k in ("base", "bare", "ours"))
    table: list[dict[str, object]] = [
        {"method": "per-run torch.optim.Adam", "rows": runs, "run_steps_per_s": base},
        {"method": "bare batched loop", "rows": rows, "run_steps_per_s": bare},
        {"method": "harness (checkpoints + targets)", "rows": rows, "run_steps_per_s": ours},
    ]
    big = 100_000 if quick else 1_000_000
    memory = peak_memory(big, 20 if quick else 50, device, "float32")
    table.append(
        {
            "method": "harness, memory run",
            "rows": big,
            "run_steps_per_s": memory["rate"],
            "peak_rss_mb": memory["peak_rss_mb"],
            "cuda_max_alloc_mb": memory["cuda_max_alloc_mb"],
        }
    )
    for row in table:
        row["vs_per_run"] = float(row["run_steps_per_s"]) / base  # type: ignore[arg-type]
        row["vs_bare"] = float(row["run_steps_per_s"]) / bare  # type: ignore[arg-type]
    return table


def perf_main(*, quick: bool = False, device: str = "cpu", json_path: Path | None = None) -> int:
    """Print the table (and write it as JSON); exit 0."""
    table = measure(quick=quick, device=device)
    env = environment((device,))
    print(
        f"# bench perf{' --quick' if quick else ''}: 2-D {PROBLEM}, Adam lr={LR}, float32, "
        f"{device}; {env['cpu']} ({torch.get_num_threads()} threads), torch {torch.__version__},"
        f" {platform.python_version()}"
    )
    header = f"{'method':<34}{'rows':>10}{'run-steps/s':>14}{'x per-run':>11}{'x bare':>8}"
    print(header + f"{'peak RSS MB':>13}")
    for row in table:
        rss = row.get("peak_rss_mb")
        print(
            f"{row['method']:<34}{row['rows']:>10,}{row['run_steps_per_s']:>14.3g}"
            f"{row['vs_per_run']:>11.0f}{row['vs_bare']:>8.2f}"
            + (f"{rss:>13.0f}" if rss is not None else "")
        )
    if json_path is not None:
        json_path.write_text(json.dumps({"environment": env, "table": table}, indent=2))
    return 0
