"""`bench perf`: throughput of the same runs four ways, side by side in one process.

On 2-D Rosenbrock with Adam (lr 1e-3, float32), for R = 10^2 to 10^6 rows (10^7 on a GPU):

1. ``per-run``: one ``nn.Parameter`` and one ``torch.optim.Adam`` per run, the textbook loop
   (``zero_grad``, ``loss.backward()``, ``step``), run after run (its rate does not depend on
   R, so it is measured once, on a few runs);
2. ``eager``: all runs as rows of one tensor, the harness's step (`optimizers.method`'s
   ``step`` through `bench.make_objective`) called from Python;
3. ``compiled``: the same step under `torch.compile` (compilation timed apart, ``warmup_s``);
4. ``graph`` (CUDA only): the eager step captured once in a ``torch.cuda.CUDAGraph`` and
   replayed.

Modes 2 to 4 run twice: ``loop="bare"`` steps and records nothing; ``loop="harness"`` is
`bench.run_rows` with 30 log-spaced checkpoints, 10 targets tracked every step and divergence
marking, so ``x_bare`` (harness rate / bare rate of the same mode and R) is the recording's
cost. Figures are run-steps per second (rows x steps / seconds), the median of `ROUNDS`
interleaved rounds (the machine is shared and noisy; ``spread`` gives min and max).

The memory-bandwidth floor is what a step would cost if it did nothing but read and write
its state once: ``floor_run_steps_per_s = copy bandwidth / bytes per row-step``, where the
bytes are x, the gradient and the optimizer state, each read and written once per step
(`state_bytes_per_row`), and the copy bandwidth is measured in the same process
(`copy_bandwidth`: a large ``copy_``, read + write). Peak resident memory at R = 10^6 is
measured in a fresh child process.
"""

from __future__ import annotations

import json
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch
from torch import Tensor

import optimizers
import problems
from bench import _allocator as allocator
from bench._checkpoints import log_checkpoints
from bench._engine import _compile, column_major, make_objective, run_rows
from bench._environment import environment
from bench._sync import synchronize as _sync
from optimizers import Context, MethodState

__all__ = [
    "bare_batched",
    "copy_bandwidth",
    "harness",
    "measure",
    "per_run_torch_optim",
    "perf_main",
    "state_bytes_per_row",
]

PROBLEM = "rosenbrock"
OPTIMIZER = "adam"
LR = 1e-3
ROUNDS = 3
MODES = ("eager", "compiled", "graph")


def _rows(rows: int, device: torch.device, dtype: torch.dtype) -> Tensor:
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


def _bare_step(
    rows: int, device: torch.device, dtype: torch.dtype, mode: str
) -> tuple[Callable[[MethodState], MethodState], MethodState, float]:
    """The harness's step without recording, as `mode` runs it, warmed up; and the warm-up's
    seconds (the compilation, or the graph capture)."""
    problem = problems.get(PROBLEM)
    method = optimizers.method(f"{OPTIMIZER}:lr={LR}")
    compiled = mode == "compiled"
    ctx = Context(problem, torch.Generator(device=device), device, dtype, tensor_hp=compiled)
    objective = make_objective(lambda z, k: problem.loss(z), [0], functional=compiled)

    def step(state: MethodState) -> MethodState:
        new = method.step(state, objective, ctx)
        return {key: value for key, value in new.items() if key != "loss"}

    x0 = _rows(rows, device, dtype)
    state = method.init(column_major(x0) if compiled else x0, ctx)  # as `run_rows` lays it out
    _sync(device)
    begin = time.perf_counter()
    if mode == "graph":
        run = _captured(step, state, device)
    else:
        run = _compile(step) if compiled else step
        for _ in range(3):
            state = run(state)
    _sync(device)
    return run, state, time.perf_counter() - begin


def _captured(
    step: Callable[[MethodState], MethodState], state: MethodState, device: torch.device
) -> Callable[[MethodState], MethodState]:
    """`step` captured in a CUDA graph over static copies of `state`'s tensors; each replay
    writes the new state into them, so the returned function ignores its argument."""
    flat, spec = torch.utils._pytree.tree_flatten(state)
    static = [t.clone() if isinstance(t, Tensor) else t for t in flat]
    inputs = torch.utils._pytree.tree_unflatten(static, spec)
    stream = torch.cuda.Stream(device)
    stream.wait_stream(torch.cuda.current_stream(device))
    with torch.cuda.stream(stream):
        for _ in range(3):  # warm up the allocator and the kernels outside the capture
            step(inputs)
    torch.cuda.current_stream(device).wait_stream(stream)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        out, _ = torch.utils._pytree.tree_flatten(step(inputs))
        for target, value in zip(static, out, strict=True):
            if isinstance(target, Tensor):
                target.copy_(value)

    def replay(_: MethodState) -> MethodState:
        graph.replay()
        return inputs

    return replay


def bare_batched(
    rows: int, steps: int, device: torch.device, dtype: torch.dtype, *, mode: str = "eager"
) -> tuple[float, float]:
    """``(run-steps/s, warm-up s)`` of a bare loop over the rows: the step, nothing recorded."""
    run, state, warm = _bare_step(rows, device, dtype, mode)
    _sync(device)
    begin = time.perf_counter()
    for _ in range(steps):
        state = run(state)
    _sync(device)
    return rows * steps / (time.perf_counter() - begin), warm


def harness(
    rows: int, steps: int, device: torch.device, dtype: torch.dtype, *, mode: str = "eager"
) -> tuple[float, float]:
    """``(run-steps/s, warm-up s)`` of `run_rows` with 30 log-spaced checkpoints and 10
    targets, eager or compiled."""
    problem = problems.get(PROBLEM)
    method = optimizers.method(f"{OPTIMIZER}:lr={LR}")
    trace = run_rows(
        problem,
        method,
        _rows(rows, device, dtype),
        steps=steps,
        checkpoints=log_checkpoints(steps, 30),
        targets=[10.0**-k for k in range(-1, 9)],
        warmup=3,
        compile=mode == "compiled",
    )
    if trace.step_mode != mode:
        msg = f"the harness ran {trace.step_mode}, not {mode}"
        raise RuntimeError(msg)
    return rows * steps / trace.time_s[-1], trace.warmup_s


def copy_bandwidth(device: torch.device, *, megabytes: int = 256, repeats: int = 5) -> float:
    """Bytes per second moved by the fastest of `repeats` ``b.copy_(a)`` of `megabytes` (read
    plus write), on `device`, in this process: the memory bandwidth a step can hope for."""
    n = megabytes * 2**20 // 4
    a = torch.ones(n, device=device)
    b = torch.empty_like(a)
    best = float("inf")
    for _ in range(repeats):
        _sync(device)
        begin = time.perf_counter()
        b.copy_(a)
        _sync(device)
        best = min(best, time.perf_counter() - begin)
    return 2 * n * 4 / best


def state_bytes_per_row(x: Tensor, state: MethodState) -> int:
    """Bytes one step must read and write per row at least: x, the gradient and every
    tensor of the optimizer state (``state["opt"]``) with R rows, each read once and
    written once."""
    rows = x.shape[0]
    tensors = [x, x, *(t for t in state.get("opt", {}).values() if isinstance(t, Tensor))]
    return sum(2 * t.numel() * t.element_size() for t in tensors if t.shape[:1] == (rows,)) // rows


def _floor(device: torch.device, dtype: torch.dtype, bandwidth: float) -> float:
    method = optimizers.method(f"{OPTIMIZER}:lr={LR}")
    problem = problems.get(PROBLEM)
    x = _rows(4, device, dtype)
    state = method.init(x, Context(problem, torch.Generator(device=device), device, dtype))
    return bandwidth / state_bytes_per_row(x, state)


def _steps_for(rows: int, quick: bool) -> int:
    return 50 if quick else max(50, min(2_000, 20_000_000 // rows))


def peak_memory(rows: int, steps: int, device: str, dtype: str) -> dict[str, float]:
    """Peak RSS (and CUDA max allocated) of the harness at `rows`, in a fresh process.

    The child runs under this process's allocator setting (`bench._allocator`), as a
    ``--workers`` process of `bench run` does.
    """
    code = (
        "import resource, sys, json, torch; from bench.perf import harness;"
        f"from bench._allocator import keep_freed_memory; {allocator.setting() is not None} "
        "and keep_freed_memory();"
        f"d = torch.device({device!r}); rate, _ = harness({rows}, {steps}, d, torch.{dtype});"
        "rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024;"
        "cuda = torch.cuda.max_memory_allocated() / 2**20 if d.type == 'cuda' else None;"
        "print(json.dumps({'rate': rate, 'peak_rss_mb': rss, 'cuda_max_alloc_mb': cuda}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def measure(
    *, quick: bool = False, device: str = "cpu", rows: tuple[int, ...] | None = None
) -> list[dict[str, object]]:
    """The analytic landscape's records: per-run, then each (R, mode, loop), same process.

    Sizes: ``quick`` runs R = 2,000 only (and 100,000 for memory), 50 steps; otherwise
    R = 10^2 to 10^6 (to 10^7 on CUDA). Each record has ``problem``, ``optimizer``,
    ``device``, ``mode``, ``loop``, ``rows``, ``steps``, ``run_steps_per_s`` (median of
    `ROUNDS`), ``spread`` ([min, max]), ``warmup_s``, ``floor_run_steps_per_s``, ``vs_floor``,
    ``vs_per_run``, ``vs_eager`` (against the eager record of the same loop and R) and, for
    the harness, ``x_bare``.
    """
    dev = torch.device(device)
    dtype = torch.float32
    if rows is None:
        rows = (2_000,) if quick else (100, 1_000, 10_000, 100_000, 1_000_000)
        if dev.type == "cuda" and not quick:
            rows = (*rows, 10_000_000)
    modes = ("eager", "compiled", "graph") if dev.type == "cuda" else ("eager", "compiled")
    floor = _floor(dev, dtype, copy_bandwidth(dev))
    runs = 10 if quick else 50
    base_rates = []
    records: list[dict[str, object]] = []
    for size in rows:
        steps = _steps_for(size, quick)
        rates: dict[tuple[str, str], list[float]] = {}
        warm: dict[tuple[str, str], float] = {}
        for _ in range(ROUNDS):  # interleaved, so a noisy neighbour hits all alike
            base_rates.append(per_run_torch_optim(runs, 20 if quick else 100, dev, dtype))
            for mode in modes:
                loops = ("bare",) if mode == "graph" else ("bare", "harness")
                for loop in loops:
                    timer = bare_batched if loop == "bare" else harness
                    rate, seconds = timer(size, steps, dev, dtype, mode=mode)
                    rates.setdefault((mode, loop), []).append(rate)
                    warm[(mode, loop)] = max(warm.get((mode, loop), 0.0), seconds)
        for (mode, loop), values in rates.items():
            records.append(
                {
                    "mode": mode,
                    "loop": loop,
                    "rows": size,
                    "steps": steps,
                    "run_steps_per_s": statistics.median(values),
                    "spread": [min(values), max(values)],
                    "warmup_s": warm[(mode, loop)],
                }
            )
    base = statistics.median(base_rates)
    records.insert(
        0,
        {"mode": "per-run", "loop": "per-run", "rows": runs, "steps": 20 if quick else 100,
         "run_steps_per_s": base, "spread": [min(base_rates), max(base_rates)], "warmup_s": 0.0},
    )  # fmt: skip
    big = 100_000 if quick else 1_000_000
    memory = peak_memory(big, 20 if quick else 50, device, "float32")
    records.append(
        {
            "mode": "eager",
            "loop": "harness-memory",
            "rows": big,
            "steps": 20 if quick else 50,
            "run_steps_per_s": memory["rate"],
            "spread": [memory["rate"], memory["rate"]],
            "warmup_s": 0.0,
            "peak_rss_mb": memory["peak_rss_mb"],
            "cuda_max_alloc_mb": memory["cuda_max_alloc_mb"],
        }
    )
    by_key = {(r["mode"], r["loop"], r["rows"]): float(r["run_steps_per_s"]) for r in records}  # type: ignore[arg-type]
    for record in records:
        rate = float(record["run_steps_per_s"])  # type: ignore[arg-type]
        record.update(problem=PROBLEM, optimizer=f"{OPTIMIZER}:lr={LR}", device=dev.type)
        record["floor_run_steps_per_s"] = floor
        record["vs_floor"] = rate / floor
        record["vs_per_run"] = rate / base
        eager = by_key.get(("eager", record["loop"], record["rows"]))
        if record["mode"] == "graph":
            eager = by_key.get(("eager", "bare", record["rows"]))
        record["vs_eager"] = rate / eager if eager else None
        if record["loop"] == "harness":
            record["x_bare"] = rate / by_key[(record["mode"], "bare", record["rows"])]
    return records


def _print(records: list[dict[str, object]]) -> None:
    head = (
        f"{'mode':<10}{'loop':<16}{'rows':>11}{'run-steps/s':>13}{'x per-run':>11}"
        f"{'x eager':>9}{'x bare':>8}{'of floor':>10}{'warm-up s':>11}{'peak RSS MB':>13}"
    )
    print(head)
    for r in records:
        ratio = r.get("vs_eager")
        x_bare = r.get("x_bare")
        rss = r.get("peak_rss_mb")
        print(
            f"{r['mode']:<10}{r['loop']:<16}{r['rows']:>11,}{r['run_steps_per_s']:>13.3g}"
            f"{r['vs_per_run']:>11.0f}"
            + (f"{ratio:>9.2f}" if ratio is not None else f"{'':>9}")
            + (f"{x_bare:>8.2f}" if x_bare is not None else f"{'':>8}")
            + f"{r['vs_floor']:>10.2f}{r['warmup_s']:>11.1f}"
            + (f"{rss:>13.0f}" if rss is not None else "")
        )


def perf_main(
    *,
    quick: bool = False,
    device: str = "cpu",
    json_path: Path | None = None,
    mlp: bool = True,
) -> int:
    """Print the analytic table (and, with `mlp`, the MLP's records); write every record as
    one JSON list with `json_path`; exit 0."""
    from bench.perf._mlp import mlp_records  # the MLP table's own module

    env = environment((device,))
    records = measure(quick=quick, device=device)
    floor = records[0]["floor_run_steps_per_s"]
    print(
        f"# bench perf{' --quick' if quick else ''}: 2-D {PROBLEM}, {OPTIMIZER} lr={LR}, "
        f"float32, {device}; {env['cpu']} ({torch.get_num_threads()} threads), torch "
        f"{torch.__version__}, Python {platform.python_version()}; memory-bandwidth floor "
        f"{floor:.3g} run-steps/s"
    )
    _print(records)
    if mlp:
        records += mlp_records(quick=quick, device=device)
    host = {"torch": torch.__version__, "cpu": env["cpu"], "threads": torch.get_num_threads()}
    for record in records:
        record.setdefault("host", host)
    if json_path is not None:
        json_path.write_text(json.dumps(records, indent=1))
    return 0
