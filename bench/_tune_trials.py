"""A batch of tuning trials as rows of one tensor: K trials x seeds rows, one setting per row.

`evaluate_batch(task, settings)` runs K hyperparameter settings of one (problem, optimizer)
together: the seeds' starts (`bench.starts`, the same rows as a cell of `bench run`) are
repeated once per trial, each hyperparameter becomes one value per row (the per-row
hyperparameters of `optimizers.Config`, moved to the device once), and `run_rows` advances
them all. At each checkpoint `prune` sees every live trial's per-seed best gaps and may stop
trials; their rows are frozen on the device (`run_rows`'s ``control``) and the loop ends
early when every trial has stopped.

Trial i's rows are rows ``i * S * n`` to ``(i + 1) * S * n`` (S seeds, n rows per seed) and
start where a one-trial batch starts, so a trial's numbers do not depend on its batch
(for methods that draw nothing from the device generator: every local optimizer and
parallel restarts).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor

import optimizers
from bench._checkpoints import log_checkpoints
from bench._engine import run_rows, starts
from bench._study import Study, budget_steps
from bench._tune_objective import per_seed, summarise
from bench._tune_space import tunable
from problems import SpecError

__all__ = ["Prune", "TrialResult", "TuneTask", "build_method", "evaluate_batch"]

Prune = Callable[[int, np.ndarray], Sequence[bool]]
"""``prune(step, values) -> stop``: at a checkpoint, ``values`` is ``[K, S]``, each live
trial's per-seed intermediate values (NaN rows: trials already stopped); ``stop[i]`` stops
trial i there."""


@dataclass
class TrialResult:
    """One trial of a batch: its objective (None when pruned) and what it cost."""

    params: dict[str, float]
    value: float | None
    seed_values: list[float]
    pruned_at: int | None  # step at which it stopped (None: ran its whole budget)
    steps: int  # steps its rows ran
    evals: float  # evaluations over all its seeds
    wall_s: float  # its share of the batch's wall time
    intermediate: dict[int, float] = field(default_factory=dict)  # step -> median


@dataclass(frozen=True)
class TuneTask:
    """One (problem, optimizer) to tune: a one-cell `Study` and the objective.

    Attributes:
        study: seeds, budget, dtype, start rule and checkpoints; one problem, one optimizer.
        objective: one of `bench._tune_objective.OBJECTIVES`.
        target: the gap of ``evals-to-target``.
        device: where the rows run.
    """

    study: Study
    objective: str
    target: float
    device: str = "cpu"

    @property
    def problem(self) -> str:
        return self.study.problems[0]

    @property
    def optimizer(self) -> str:
        return self.study.optimizers[0]


def build_method(
    spec: str, settings: Sequence[Mapping[str, float]], rows_per_trial: int
) -> optimizers.Method:
    """The method of `spec` with each setting's hyperparameters on its trial's rows."""
    parsed, local = tunable(spec)
    names = sorted({name for s in settings for name in s})
    per_row = {
        name: torch.tensor(
            [float(s[name]) for s in settings], dtype=torch.float64
        ).repeat_interleave(rows_per_trial)
        for name in names
    }
    config = optimizers.configure(local, **per_row)
    if not config.optimizer.elementwise:
        msg = f"{spec}: tuning needs an elementwise optimizer (one setting per row)"
        raise SpecError(msg)
    method = optimizers.local(config)
    if parsed is local:
        return method
    factory = optimizers.WRAPPERS.factory(parsed.name)
    return factory(method, **parsed.options)  # type: ignore[return-value]


def evaluate_batch(
    task: TuneTask,
    settings: Sequence[Mapping[str, float]],
    *,
    prune: Prune | None = None,
) -> list[TrialResult]:
    """Run every setting of `settings` on `task`'s seeds as one tensor; one result each."""
    study = task.study
    problem = study.problem(task.problem)
    device, dtype = torch.device(task.device), study.torch_dtype
    base = study.method(task.optimizer)  # starts per seed and start rule, as bench run
    x_seed = starts(
        base, problem, study.seeds, device=device, dtype=dtype, uniform=study.start == "uniform"
    )
    K, S, n = len(settings), len(study.seeds), base.info.starts_per_seed
    rows_per_trial = S * n
    method = build_method(task.optimizer, settings, rows_per_trial)
    steps = budget_steps(study, problem, method)
    f_star = 0.0 if problem.f_star is None else problem.f_star
    per_eval = n * method.info.evals_per_step
    stopped = np.zeros(K, dtype=bool)
    pruned_at: list[int | None] = [None] * K
    medians: list[dict[int, float]] = [{} for _ in range(K)]

    def seeds_of(values: Tensor) -> np.ndarray:  # [R] -> [K, S]: the best of a seed's rows
        v = values.detach().double().cpu().reshape(K, S, n)
        return torch.where(torch.isnan(v), math.inf, v).amin(-1).numpy()

    def control(step: int, loss: Tensor, best: Tensor) -> Tensor | None:
        best_gap = seeds_of(best) - f_star
        loss_gap = seeds_of(loss) - f_star
        values = np.stack(
            [
                per_seed(
                    task.objective,
                    loss_gap[i][None],
                    best_gap[i][None],
                    np.array([float(step)]),
                    budget_steps=steps,
                    evals_per_step=per_eval,
                    partial=True,
                )
                for i in range(K)
            ]
        )
        values[stopped] = np.nan
        for i in np.flatnonzero(~stopped):
            medians[i][step] = summarise(values[i])
        if prune is None:
            return None
        stop = np.asarray(prune(step, values), dtype=bool) & ~stopped
        if not stop.any():
            return None
        for i in np.flatnonzero(stop):
            pruned_at[i] = step
        stopped[stop] = True
        return torch.from_numpy(np.repeat(stopped, rows_per_trial))

    x0 = x_seed.repeat(K, 1)
    row_seeds = [s for _ in range(K) for s in study.seeds for _ in range(n)]
    targets = [task.target] if task.objective == "evals-to-target" else []
    begin = time.perf_counter()
    trace = run_rows(
        problem,
        method,
        x0,
        steps=steps,
        checkpoints=log_checkpoints(steps, study.checkpoints),
        targets=targets,
        row_seeds=row_seeds,
        warmup=0,
        seed=study.seeds[0],
        control=control,
    )
    wall = time.perf_counter() - begin
    checkpoints = np.asarray(trace.checkpoints, dtype=float)
    loss_gap = np.stack([seeds_of(row) for row in trace.loss]) - f_star  # [C, K, S]
    best_gap = np.stack([seeds_of(row) for row in trace.best]) - f_star
    hits = None
    if targets:
        first = trace.hits[:, 0].double().reshape(K, S, n)
        hits = torch.where(first < 0, math.inf, first).amin(-1).numpy()
        hits = np.where(np.isinf(hits), np.nan, hits)
    last = int(checkpoints[-1])
    steps_run = [last if at is None else at for at in pruned_at]
    total = max(sum(steps_run), 1)
    out = []
    for i, setting in enumerate(settings):
        if pruned_at[i] is None:
            seed_values = per_seed(
                task.objective,
                loss_gap[:, i],
                best_gap[:, i],
                checkpoints,
                budget_steps=steps,
                evals_per_step=per_eval,
                hit_steps=None if hits is None else hits[i],
            )
            value: float | None = summarise(seed_values)
            values = [float(v) for v in seed_values]
        else:
            value, values = None, []
        out.append(
            TrialResult(
                params={k: float(v) for k, v in setting.items()},
                value=value,
                seed_values=values,
                pruned_at=pruned_at[i],
                steps=steps_run[i],
                evals=float(steps_run[i] * per_eval * S),
                wall_s=wall * steps_run[i] / total,
                intermediate=medians[i],
            )
        )
    return out
