"""pytest-benchmark timings of batched optimizer steps, with convergence data.

Run ``pytest tests/benchmarks --benchmark-only`` (add ``--benchmark-json out.json`` to keep
them). Ids use optbench's spec spelling: ``rosenbrock|adam:lr=0.01``. Each benchmark times
one step of R rows (objective + gradient + update) from the problem's default start, checks
that the timed steps kept every row finite and went downhill, and stores in ``extra_info``
the rows, the median final gap after a short run from the same start, and the success rate
at 1e-4, so a timing never stands without the convergence it buys. In the normal test run
(``--benchmark-disable``) each body runs once, as a smoke test.
"""

from __future__ import annotations

import pytest
import torch

import bench
import optimizers
import problems
from bench._checkpoints import log_checkpoints
from bench._engine import make_objective

ROWS = 1_000
PROBLEMS = ["sphere:dim=10", "rosenbrock", "rastrigin:dim=10"]
OPTIMIZERS = ["sgd:lr=0.001", "momentum:lr=0.001", "adam:lr=0.01", "rmsprop:lr=0.001"]
CASES = [(p, o) for p in PROBLEMS for o in OPTIMIZERS]


def _convergence(problem: problems.Problem, spec: str) -> dict[str, float]:
    method = optimizers.method(spec)
    x0 = bench.starts(method, problem, range(32), device=torch.device("cpu"), dtype=torch.float64)
    trace = bench.run_rows(
        problem,
        method,
        x0,
        steps=500,
        checkpoints=log_checkpoints(500, 5),
        targets=[1e-4],
        warmup=0,
    )
    gap = trace.best[-1] - (problem.f_star or 0.0)
    return {
        "median_final_gap_500_steps": float(gap.median()),
        "success_at_1e-4": float((trace.hits[:, 0] >= 0).double().mean()),
    }


@pytest.mark.parametrize(
    ("problem_spec", "optimizer_spec"), CASES, ids=[f"{p}|{o}" for p, o in CASES]
)
def test_batched_step(benchmark, problem_spec: str, optimizer_spec: str) -> None:
    problem = problems.get(problem_spec)
    config = optimizers.configure(optimizer_spec)
    # from the problem's default start, as the convergence figures: uniform samples of
    # Rosenbrock's box make sgd:lr=0.001 diverge, and a timing of overflowing rows means little
    x = problem.start(ROWS, torch.Generator().manual_seed(0), dtype=torch.float32)
    start = problem.loss(x)
    objective = make_objective(lambda z, k: problem.loss(z), [0])
    state = {"x": x, "opt": config.init(x)}

    def step() -> None:
        _, grad = objective(state["x"], True)
        state["x"], state["opt"] = config.step(state["x"], grad, state["opt"])

    benchmark.group = problem_spec
    benchmark.extra_info.update(
        {"rows": ROWS, "dtype": "float32", **_convergence(problem, optimizer_spec)}
    )
    benchmark(step)
    x = state["x"]
    assert x.shape == (ROWS, problem.dim) and x.dtype == torch.float32
    assert torch.isfinite(x).all()  # every row, not just one
    now = problem.loss(x)
    assert now.mean() < start.mean()  # the steps it timed went downhill
    if "convex" in problem.tags:  # small steps on a convex landscape: no row goes uphill
        assert (now <= start).all()


@pytest.mark.parametrize("rows", [1_000, 50_000])
def test_harness_throughput(benchmark, rows: int) -> None:
    """The whole harness (checkpoints, targets, divergence) on 2-D Rosenbrock with Adam."""
    problem = problems.get("rosenbrock")
    method = optimizers.method("adam:lr=0.001")
    x0 = problem.sample(rows, torch.Generator().manual_seed(0), dtype=torch.float32)
    steps = 200

    def run() -> bench.Trace:
        return bench.run_rows(
            problem,
            method,
            x0,
            steps=steps,
            checkpoints=log_checkpoints(steps, 30),
            targets=list(bench.DEFAULT_TARGETS),
            warmup=0,
        )

    benchmark.group = "harness"
    benchmark.extra_info.update({"rows": rows, "steps": steps})
    trace = benchmark.pedantic(run, rounds=3, iterations=1)
    assert trace.checkpoints[-1] == steps
    assert trace.loss.shape == trace.best.shape == (len(trace.checkpoints), rows)
    assert (trace.diverged_at == -1).all()
    assert (trace.best[1:] <= trace.best[:-1]).all()  # best-so-far never gets worse
    assert (trace.best[-1] < trace.loss[0]).all()  # and every row improved on its start
