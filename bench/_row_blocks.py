"""One row through all its steps, then the next: for problems that evaluate rows one by one.

The textbook per-network loop (``nn.Sequential`` + ``torch.optim``, seed after seed) keeps one
network's parameters, gradient and optimizer state in the CPU's caches from one step to the
next: 32 MB for Adam at width 1000. Stepping 8 such networks together passes over 256 MB a
step instead. On the 2-core machine that is the whole difference between the two (the plain
loop itself slows from 5.5 to 7.4 ms a network-step when it takes the seeds in turn each step
instead of one after another; docs/PERFORMANCE.md). A problem whose rows are evaluated one
after another anyway (`problems.Problem.rows_one_by_one`: the MLP from width 512 on the CPU)
gains nothing from rows stepped together, so `run_rows` gives each row its own run there.

Rows are independent (the `Problem` contract and every method's), each keeps its own seed,
so the results are those of one run of all rows, value for value (tests/test_row_blocks.py).
The cell's step time at a checkpoint is the sum of the rows' times: the work of bringing all
of them there.

Only local optimizers (`optimizers.Local`) are run that way; per-row hyperparameters (a
learning-rate sweep) go with their rows (`row_method`). Left together: compiled steps;
global search, whose draws from the device generator depend on the rows drawn at once;
torch.optim classes run row by row (`optimizers.torch_adapter.TorchRows`); a wall-time
budget or a `Control` (pruning), which look at all rows at a checkpoint.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

import torch

from bench._trace import Trace
from optimizers import Local, Method
from problems import Problem

__all__ = ["by_row", "merged", "row_method"]


def by_row(problem: Problem, method: Method, rows: int, device: torch.device, mode: str) -> bool:
    """Whether `run_rows` runs these rows one at a time (the module docstring's rule, less
    the budget and control, which the caller checks)."""
    return (
        rows > 1
        and mode == "eager"
        and isinstance(method, Local)
        and problem.rows_one_by_one(device)
    )


def row_method(method: Method, r: int) -> Method:
    """Row `r`'s share of a `Local` method: its own value of each per-row hyperparameter."""
    assert isinstance(method, Local)
    hp = {
        k: v.reshape(-1)[r : r + 1] if isinstance(v, torch.Tensor) and v.numel() > 1 else v
        for k, v in method.config.hp.items()
    }
    return replace(method, config=replace(method.config, hp=hp))


def merged(parts: Sequence[Trace]) -> Trace:
    """One trace from the traces of consecutive row ranges with the same checkpoints."""
    first = parts[0]

    def cat(get: Callable[[Trace], torch.Tensor | None], dim: int) -> torch.Tensor | None:
        values = [v for v in map(get, parts) if v is not None]
        return torch.cat(values, dim) if values else None

    loss, best = cat(lambda t: t.loss, 1), cat(lambda t: t.best, 1)
    hits, diverged = cat(lambda t: t.hits, 0), cat(lambda t: t.diverged_at, 0)
    assert loss is not None and best is not None and hits is not None and diverged is not None
    return Trace(
        checkpoints=first.checkpoints,
        time_s=[sum(times) for times in zip(*(t.time_s for t in parts), strict=True)],
        loss=loss,
        best=best,
        metrics={k: torch.cat([t.metrics[k] for t in parts], 1) for k in first.metrics},
        hits=hits,
        targets=first.targets,
        diverged_at=diverged,
        positions=cat(lambda t: t.positions, 1),
        warmup_s=sum(t.warmup_s for t in parts),
        step_mode=first.step_mode,
        evals=cat(lambda t: t.evals, 1),
        extra={"rows_per_block": float(max(t.loss.shape[1] for t in parts))},
    )
