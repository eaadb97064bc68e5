"""One batched step and a short convergence run, timed honestly, with the convergence they buy.

What the pytest plugin (`bench.pytest_plugin`) times. A `Case` is one problem x method x
device x dtype x rows; `Case.step_function` gives the callable that pytest-benchmark times
(one step of all rows, then a device synchronisation, so a GPU time is the kernels' time and
not only their launch), and `convergence` runs the same rows for a few hundred steps through
the harness (`bench.run_rows`) and summarises where they ended:

- the final gap of each seed, ``best - f_star`` (the best loss where ``f_star`` is unknown),
  a seed being the best of its ``starts_per_seed`` rows; a diverged seed's gap is infinite;
- its median and interquartile range ``q3 - q1`` (linear interpolation, as numpy);
- success at 1e-4: the fraction of seeds whose gap reached ``1e-4``;
- evaluations to target: the median, over the seeds that reached 1e-4, of the evaluations the
  seed had spent (all its rows counted) at its first hit.

Rows start uniformly in the problem's box (or by the method's own start rule, which for the
global-search methods is the same), as the default study does, so the seeds are different
runs also where the literature fixes a start.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

import optimizers
import problems
from bench._checkpoints import log_checkpoints
from bench._engine import Trace, make_objective, run_rows
from bench._sync import synchronize

__all__ = [
    "TARGET",
    "Case",
    "convergence",
    "resolve_method",
    "resolve_problem",
    "version",
]

TARGET = 1e-4
"""The precision of the success rate and of evaluations to target."""

DTYPES = {"float32": torch.float32, "float64": torch.float64}


def version() -> str:
    """optbench's version, from the installed metadata (``"unknown"`` from a bare checkout)."""
    from importlib import metadata

    try:
        return metadata.version("optbench")
    except metadata.PackageNotFoundError:
        return "unknown"


def resolve_problem(problem: str | problems.Problem) -> problems.Problem:
    """A catalogue spec (``"rastrigin:dim=10"``) or a `problems.Problem` as it is."""
    if isinstance(problem, str):
        return problems.get(problem)
    if isinstance(problem, problems.Problem):
        return problem
    msg = f"problem must be a spec string or a problems.Problem, got {type(problem).__name__}"
    raise problems.SpecError(msg)


def resolve_method(optimizer: object) -> optimizers.Method:
    """The method that `optimizer` names or is.

    Accepts a spec (``"adam:lr=0.01"``, ``"restarts(adam,n=8)"``, ``"torch:NAdam"``), an
    `optimizers.Optimizer` (its defaults), an `optimizers.Config`, or any `optimizers.Method`
    (``info``, ``init``, ``step``).
    """
    if isinstance(optimizer, str):
        return optimizers.method(optimizer)
    if isinstance(optimizer, optimizers.Optimizer):
        return optimizers.local(optimizer.configure())
    if isinstance(optimizer, optimizers.Config):
        return optimizers.local(optimizer)
    if all(hasattr(optimizer, name) for name in ("info", "init", "step")):
        return optimizer  # type: ignore[return-value]
    msg = (
        f"optimizer must be a spec string, an optimizers.Optimizer, Config or Method, "
        f"got {type(optimizer).__name__}"
    )
    raise problems.SpecError(msg)


def _dtype(dtype: str | torch.dtype) -> torch.dtype:
    if isinstance(dtype, torch.dtype):
        return dtype
    if dtype not in DTYPES:
        raise problems.unknown("dtype", str(dtype), DTYPES)
    return DTYPES[dtype]


@dataclass(frozen=True)
class Case:
    """One benchmark case: `rows` rows of `method` on `problem`, on `device` in `dtype`."""

    problem: problems.Problem
    method: optimizers.Method
    rows: int
    device: torch.device
    dtype: torch.dtype

    @classmethod
    def build(
        cls,
        problem: str | problems.Problem,
        optimizer: object,
        *,
        rows: int,
        device: str | torch.device = "cpu",
        dtype: str | torch.dtype = "float32",
    ) -> Case:
        """Resolve and validate: `rows` must be a positive multiple of the method's
        ``starts_per_seed`` (``restarts(adam,n=8)`` runs 8 rows per seed)."""
        method = resolve_method(optimizer)
        per_seed = method.info.starts_per_seed
        if isinstance(rows, bool) or not isinstance(rows, int) or rows < 1 or rows % per_seed:
            msg = (
                f"rows={rows!r} for {method.info.label}: allowed: a positive multiple of its "
                f"{per_seed} rows per seed"
            )
            raise problems.SpecError(msg)
        return cls(resolve_problem(problem), method, rows, torch.device(device), _dtype(dtype))

    @property
    def seeds(self) -> range:
        return range(self.rows // self.method.info.starts_per_seed)

    @property
    def dtype_name(self) -> str:
        return str(self.dtype).removeprefix("torch.")

    def describe(self) -> dict[str, Any]:
        """The case's own fields of ``extra_info``."""
        f_star = self.problem.f_star
        return {
            "problem": self.problem.spec,
            "optimizer": self.method.info.label,
            "rows": self.rows,
            "seeds": len(self.seeds),
            "device": str(self.device),
            "dtype": self.dtype_name,
            "f_star": None if f_star is None else float(f_star),
            "optbench_version": version(),
        }

    def start(self) -> torch.Tensor:
        """All rows uniform in the box, from one seeded generator (`bench.starts` draws seed
        by seed, which costs a second per 10^5 rows)."""
        generator = torch.Generator().manual_seed(0)
        rule = self.method.info.starts or optimizers.uniform_starts
        return rule(self.problem, self.rows, generator, device=self.device, dtype=self.dtype)

    def step_function(self) -> Callable[[], None]:
        """A callable that advances all rows by one step, then synchronises the device.

        The state persists across calls (each call is the next step, as in a run), and
        nothing is copied from the host inside it.
        """
        problem, method = self.problem, self.method
        seeds = [s for s in self.seeds for _ in range(method.info.starts_per_seed)]
        generator = torch.Generator(device=self.device).manual_seed(0)
        ctx = optimizers.Context(problem, generator, self.device, self.dtype)
        current = [0]
        objective = make_objective(problem.train_loss(seeds, self.device, self.dtype), current)
        state = [method.init(self.start(), ctx)]
        device = self.device

        def step() -> None:
            state[0] = method.step(state[0], objective, ctx)
            current[0] += 1
            synchronize(device)

        step.state = state  # type: ignore[attr-defined]  # for checks after the timing
        return step

    def step_seconds(self, step: Callable[[], None], calls: int = 3) -> float:
        """A rough time of one call of `step` (the median of `calls`), to size the rounds."""
        times = []
        for _ in range(calls):
            begin = time.perf_counter()
            step()
            times.append(time.perf_counter() - begin)
        return sorted(times)[len(times) // 2]


def convergence(case: Case, steps: int) -> tuple[Trace, dict[str, Any]]:
    """Run the case's rows for `steps` steps; return the trace and its summary.

    The summary has ``steps``, ``gap_median``, ``gap_q1``, ``gap_q3``, ``gap_iqr``,
    ``success@1e-04`` (a fraction of seeds), ``evals_to_target`` (median over the seeds that
    reached it; None when none did) and ``diverged`` (fraction of seeds). Non-finite
    statistics are stored as None (JSON has no infinity).
    """
    x0 = case.start()
    per_seed = case.method.info.starts_per_seed
    row_seeds = [s for s in case.seeds for _ in range(per_seed)]
    trace = run_rows(
        case.problem,
        case.method,
        x0,
        steps=steps,
        checkpoints=log_checkpoints(steps, 8),
        targets=[TARGET],
        row_seeds=row_seeds,
        warmup=0,
    )
    return trace, summarise(case, trace)


def _finite(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def summarise(case: Case, trace: Trace) -> dict[str, Any]:
    """The convergence fields of ``extra_info`` from a trace of the case's rows."""
    n_seeds, per_seed = len(case.seeds), case.method.info.starts_per_seed
    f_star = 0.0 if case.problem.f_star is None else float(case.problem.f_star)
    best = trace.best[-1].double().reshape(n_seeds, per_seed)
    best = torch.where(torch.isnan(best), math.inf, best)
    gap = best.amin(1) - f_star  # a seed's result is the best of its rows
    diverged = (trace.diverged_at.reshape(n_seeds, per_seed) >= 0).all(1)
    gap = torch.where(diverged, math.inf, gap)
    q1, median, q3 = (float(torch.quantile(gap, q)) for q in (0.25, 0.5, 0.75))
    hits = trace.hits[:, 0].double().reshape(n_seeds, per_seed)
    hits = torch.where(hits < 0, math.inf, hits).amin(1)  # first step a seed's row hit
    reached = torch.isfinite(hits)
    evals_per_seed_step = per_seed * case.method.info.evals_per_step
    evals = None
    if bool(reached.any()):
        evals = float((hits[reached] * evals_per_seed_step).median())
    iqr = q3 - q1 if math.isfinite(q3) and math.isfinite(q1) else math.inf
    return {
        "steps": trace.checkpoints[-1],
        "gap_median": _finite(median),
        "gap_q1": _finite(q1),
        "gap_q3": _finite(q3),
        "gap_iqr": _finite(iqr),
        f"success@{TARGET:.0e}": float(reached.double().mean()),
        "evals_to_target": evals,
        "diverged": float(diverged.double().mean()),
    }
