"""Run one study cell and turn its `Trace` into rows of the tidy results table."""

from __future__ import annotations

import math
import traceback
from collections.abc import Callable

import numpy as np
import pandas as pd
import torch

import optimizers
import problems
from bench._checkpoints import log_checkpoints
from bench._engine import Trace, run_rows, starts
from bench._memory import PeakMemory
from bench._study import Cell, budget_steps

__all__ = [
    "GRID",
    "TRACED_SEEDS",
    "failed_table",
    "is_out_of_memory",
    "out_of_memory_reason",
    "run_cell",
]

TRACED_SEEDS = 4  # seeds whose 2-D trajectories are recorded
GRID = 60  # landscape grid for 2-D problems (GRID x GRID)


def run_cell(cell: Cell, progress: Callable[[int, int], None] | None = None) -> pd.DataFrame:
    """All seeds of `cell` as rows of one tensor; a failure becomes rows with status failed.

    Running out of memory inside a cell (``torch.cuda.OutOfMemoryError`` on a GPU, a
    ``MemoryError`` on the host) fails that cell with the device and the allocator's message
    as its reason; its memory is released (``torch.cuda.empty_cache``) and the study goes on.
    """
    memory = PeakMemory(torch.device(cell.device))
    memory.start()
    out_of_memory: str | None = None
    try:
        problem, method, trace = _trace(cell)
    except Exception as error:
        details = traceback.format_exc()
        if not is_out_of_memory(error):
            reason = f"{type(error).__name__}: {error}".splitlines()[0][:500]
            return failed_table(cell, reason, details)
        out_of_memory = details  # leave the except block first: its traceback holds tensors
    if out_of_memory is not None:
        _release_memory(cell.device)
        return failed_table(cell, out_of_memory_reason(cell, out_of_memory), out_of_memory)
    trace.extra.update(memory.stop())
    return _table(cell, problem, method, trace)


def _trace(cell: Cell) -> tuple[problems.Problem, optimizers.Method, Trace]:
    """Run a cell's rows: its problem, method and trace (locals die with the frame, so a
    cell that ran out of memory holds nothing once it has failed)."""
    study = cell.study
    problem = study.problem(cell.problem)  # built once per study (Study.validate)
    method = study.method(cell.optimizer)
    device = torch.device(cell.device)
    dtype = study.torch_dtype
    steps = budget_steps(study, problem, method)
    x0 = starts(
        method,
        problem,
        study.seeds,
        device=device,
        dtype=dtype,
        uniform=study.start == "uniform",
    )
    n = method.info.starts_per_seed
    row_seeds = [s for s in study.seeds for _ in range(n)]
    traced = min(TRACED_SEEDS, len(study.seeds)) * n if problem.dim == 2 else 0
    trace = run_rows(
        problem,
        method,
        x0,
        steps=steps,
        checkpoints=log_checkpoints(steps, study.checkpoints),
        targets=study.targets,
        row_seeds=row_seeds,
        seconds=study.seconds,
        warmup=study.warmup,
        traced_rows=traced,
        seed=study.seeds[0],
        compile=study.compile,  # type: ignore[arg-type]  # validated by Study
    )
    return problem, method, trace


def _base(cell: Cell) -> dict[str, object]:
    return {
        "study": cell.study.name,
        "cell_id": cell.id,
        "problem": cell.problem,
        "optimizer": cell.optimizer,
        "device": cell.device,
        "dtype": cell.study.dtype,
    }


def is_out_of_memory(error: BaseException) -> bool:
    """A failed allocation: CUDA's ``torch.OutOfMemoryError``, Python's ``MemoryError``, or
    the CPU allocator's RuntimeError (``DefaultCPUAllocator: can't allocate memory``)."""
    if isinstance(error, (torch.OutOfMemoryError, MemoryError)):
        return True
    return isinstance(error, RuntimeError) and "can't allocate memory" in str(error)


def out_of_memory_reason(cell: Cell, details: str) -> str:
    """The reason of a cell that ran out of memory: the device and the allocator's words."""
    last = details.strip().splitlines()[-1] if details.strip() else "out of memory"
    return f"out of memory on {cell.device}: {last}"[:500]


def _release_memory(device: str) -> None:
    """Give back what a cell that ran out of memory held, so that the next cell can run."""
    import gc

    gc.collect()
    if torch.device(device).type == "cuda" and torch.cuda.is_available():
        torch.cuda.empty_cache()


def failed_table(cell: Cell, reason: str, details: str) -> pd.DataFrame:
    """The rows of a cell that failed: one per seed, status failed, with the reason."""
    rows = [
        {
            **_base(cell),
            "record": "checkpoint",
            "seed": s,
            "status": "failed",
            "reason": reason,
            "step": 0.0,
            "evals": 0.0,
        }
        for s in cell.study.seeds
    ]
    frame = pd.DataFrame(rows)
    frame.attrs["traceback"] = details
    return frame


def _mode(method: optimizers.Method) -> str:
    """``row by row`` for a torch.optim class that is not elementwise (alone or inside a
    global-search wrapper), else ``batched``."""
    from optimizers.torch_adapter import TorchRows

    inner = getattr(method, "local", method)  # restarts(local, ...) runs its local method
    return "row by row" if isinstance(inner, TorchRows) else "batched"


def _table(
    cell: Cell, problem: problems.Problem, method: optimizers.Method, trace: Trace
) -> pd.DataFrame:
    seeds = np.asarray(cell.study.seeds)
    info = method.info
    n = info.starts_per_seed
    per_eval = n * info.evals_per_step
    steps = np.asarray(trace.checkpoints, dtype=float)
    times = np.asarray(trace.time_s)
    f_star = math.nan if problem.f_star is None else problem.f_star

    def per_seed(values: torch.Tensor) -> np.ndarray:  # [C, R] -> [C, S]: best of a seed's rows
        v = values.double().reshape(values.shape[0], len(seeds), n)
        return (
            torch.where(torch.isnan(v), math.inf, v)
            .amin(-1)
            .nan_to_num(nan=math.nan, posinf=math.nan)
            .numpy()
        )

    loss, best = per_seed(trace.loss), per_seed(trace.best)
    diverged = (trace.diverged_at.reshape(len(seeds), n) >= 0).all(-1).numpy()
    diverged_step = trace.diverged_at.reshape(len(seeds), n).amax(-1).numpy()
    status = np.where(diverged, "diverged", "ok")
    reason = np.where(diverged, [f"loss became non-finite at step {d}" for d in diverged_step], "")
    total_steps = steps[-1] if len(steps) else 0.0
    step_time = times[-1] / total_steps if total_steps else math.nan
    common = {
        **_base(cell),
        "problem_name": problem.name,
        "dim": problem.dim,
        "tags": ",".join(sorted(problem.tags)),
        "f_star": f_star,
        "optimizer_name": info.name,
        "warmup_s": trace.warmup_s,
        "step_mode": trace.step_mode,
        "step_time_s": step_time,
        "evals_per_step": per_eval,
        "mode": _mode(method),
        "steps_budget": steps[-1] if len(steps) else 0.0,
        **{k: v for k, v in trace.extra.items() if isinstance(v, float)},
        **{f"hp_{k}": float(v) for k, v in info.hp.items() if isinstance(v, (int, float))},
    }
    C, S = loss.shape
    if trace.evals is not None:  # counted by the method: a seed spends what all its rows spent
        evals = trace.evals.reshape(C, S, n).sum(-1).double().numpy()
    else:
        evals = np.repeat(steps * per_eval, S).reshape(C, S)
    checkpoint = pd.DataFrame(
        {
            "record": "checkpoint",
            "seed": np.tile(seeds, C),
            "status": np.tile(status, C),
            "reason": np.tile(reason, C),
            "step": np.repeat(steps, S),
            "evals": evals.ravel(),
            "time_s": np.repeat(times, S),
            "loss": loss.ravel(),
            "best_loss": best.ravel(),
            "gap": best.ravel() - f_star,
        }
    )
    if problem.steps_per_epoch:
        checkpoint["epoch"] = checkpoint["step"] / problem.steps_per_epoch
    for name, values in trace.metrics.items():
        checkpoint[name] = per_seed(values).ravel()
    for name in ("noise_floor", "baseline_loss"):
        if name in problem.options or hasattr(problem, name):
            value = getattr(problem, name, problem.options.get(name))
            if isinstance(value, (int, float)):
                checkpoint[name] = float(value)
    parts = [checkpoint, _targets(trace, seeds, n, evals, steps, times, status, reason)]
    if trace.positions is not None:
        parts.append(_trajectories(trace, steps, times, n))
        parts.append(_grid(problem))
    frame = pd.concat(parts, ignore_index=True)
    for key, value in common.items():
        frame[key] = value
    return frame


def _targets(
    trace: Trace,
    seeds: np.ndarray,
    n: int,
    evals: np.ndarray,
    steps: np.ndarray,
    times: np.ndarray,
    status: np.ndarray,
    reason: np.ndarray,
) -> pd.DataFrame:
    if not trace.targets:
        return pd.DataFrame()
    per_row = trace.hits.reshape(len(seeds), n, -1).double()
    first = torch.where(per_row < 0, math.inf, per_row).amin(1).numpy()  # [S, T]: a seed's first
    hit_steps = np.where(np.isinf(first), np.nan, first)
    hit_time = np.interp(hit_steps, steps, times) if len(steps) > 1 else hit_steps * np.nan
    T = len(trace.targets)
    return pd.DataFrame(
        {
            "record": "target",
            "seed": np.repeat(seeds, T),
            "status": np.repeat(status, T),
            "reason": np.repeat(reason, T),
            "target": np.tile(trace.targets, len(seeds)),
            "step": hit_steps.ravel(),
            "evals": _at_steps(hit_steps, steps, evals).ravel(),
            "time_s": np.where(np.isnan(hit_steps), np.nan, hit_time).ravel(),
        }
    )


def _at_steps(hit_steps: np.ndarray, steps: np.ndarray, evals: np.ndarray) -> np.ndarray:
    """Each seed's evaluations at its hit steps ``[S, T]``, from its checkpoints ``[C, S]``.

    Exact when evaluations grow linearly with steps (every built-in method); interpolated
    between checkpoints when a method reports a varying count per step (L-BFGS line searches).
    """
    out = np.full_like(hit_steps, np.nan)
    for s in range(hit_steps.shape[0]):
        out[s] = np.interp(hit_steps[s], steps, evals[:, s])
    return np.where(np.isnan(hit_steps), np.nan, out)


def _trajectories(trace: Trace, steps: np.ndarray, times: np.ndarray, n: int) -> pd.DataFrame:
    assert trace.positions is not None
    C, K, _ = trace.positions.shape
    pos = trace.positions.double().numpy()
    return pd.DataFrame(
        {
            "record": "trajectory",
            "seed": np.tile(np.arange(K) // n, C),
            "row": np.tile(np.arange(K), C),
            "step": np.repeat(steps, K),
            "time_s": np.repeat(times, K),
            "x0": pos[:, :, 0].ravel(),
            "x1": pos[:, :, 1].ravel(),
        }
    )


def _grid(problem: problems.Problem) -> pd.DataFrame:
    lower, upper = problem.box("cpu", torch.float64)
    a = torch.linspace(float(lower[0]), float(upper[0]), GRID, dtype=torch.float64)
    b = torch.linspace(float(lower[1]), float(upper[1]), GRID, dtype=torch.float64)
    xx, yy = torch.meshgrid(a, b, indexing="xy")
    points = torch.stack([xx.ravel(), yy.ravel()], -1)
    with torch.no_grad():
        values = problem.loss(points)
    return pd.DataFrame(
        {
            "record": "grid",
            "x0": points[:, 0].numpy(),
            "x1": points[:, 1].numpy(),
            "loss": values.numpy(),
        }
    )
