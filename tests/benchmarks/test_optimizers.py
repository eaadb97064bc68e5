"""The optimizer benchmarks: landscapes x optimizers x devices x rows, on pytest-benchmark.

``pytest --benchmark-only`` times them (the comparison table, grouped by problem);
``--bench-size full`` runs the whole matrix, longer; a plain ``pytest`` runs each once as a
functional check (``optbench_plain_run = "once"`` in pyproject.toml). Ids use the spec
spelling, ``rosenbrock|adam:lr=0.05|cpu|rows=1000``, so ``-k "rosenbrock and adam"`` picks
cells as ``bench run`` names them. Two kinds, both through the plugin's ``optbench_benchmark``
fixture (bench/pytest_plugin.py), the one users get:

- ``test_convergence``: a short run of all rows through the harness (checkpoints, targets,
  divergence), timed; ``extra_info`` has the final gap's median and IQR over seeds, success
  at 1e-4 and evaluations to target;
- ``test_step``: one batched step (loss, gradient, update, device synchronisation), timed
  with warm-up rounds; ``extra_info`` has the run-steps per second and the convergence of
  (up to 10^2 of, in the small size) the same rows, so a timing never stands without what it buys.

The convergence tests come first in this file: the step tests reuse their runs.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import pytest
import torch

import optimizers
import problems

PROBLEMS = {
    "convex": "sphere:dim=10",
    "ill-conditioned": "ellipsoid:dim=10,condition=1000.0",
    "valley": "rosenbrock",
    "multimodal": "rastrigin:dim=10",
    "noisy": "rosenbrock:noise=0.1,noise_kind=multiplicative",
    "ml": "mlp-regression:inputs=4,hidden=8,depth=1,n_train=128,n_test=64,batch=16",
}
CORE = {
    "small": ["sgd:lr=0.01", "momentum:lr=0.01", "adam:lr=0.05", "rmsprop:lr=0.01"],
    "full": [
        "sgd:lr=0.01",
        "momentum:lr=0.01",
        "nesterov:lr=0.01",
        "adam:lr=0.05",
        "adamw:lr=0.05",
        "amsgrad:lr=0.05",
        "rmsprop:lr=0.01",
        "adagrad:lr=0.5",
    ],
}
"""One learning rate per optimizer for every landscape (adam's is the default study's): the
point is a stable figure to compare runs by, not the best tuning; where a rate diverges on
a landscape (sgd on Rosenbrock from uniform starts), ``diverged`` says so."""
GLOBAL = ["random_search", "restarts(adam:lr=0.05,n=8)", "torch:NAdam:lr=0.05"]
ROWS = {
    "step": {"small": (1, 1_000, 100_000), "full": (1, 1_000, 100_000)},
    "convergence": {"small": (1, 1_000), "full": (1, 1_000, 100_000)},
}
ML_MAX_ROWS = {
    "step": {"small": 1_000, "full": 100_000},
    "convergence": {"small": 1, "full": 100_000},
}
"""The MLP costs a minibatch forward and backward per row and step: in the small size its
steps are timed up to 10^3 rows and its convergence runs at 1 row (the step benchmarks carry
the convergence of 10^2 rows)."""


class Bench(NamedTuple):
    problem: str
    optimizer: str
    device: str
    rows: int

    @property
    def id(self) -> str:
        return f"{self.problem}|{self.optimizer}|{self.device}|rows={self.rows}"


def devices() -> list[str]:
    return ["cpu", "cuda"] if torch.cuda.is_available() else ["cpu"]


def matrix(kind: str, size: str) -> list[Bench]:
    """The cases of one kind at one size; rows a method cannot fill are left out
    (``restarts(...,n=8)`` needs a multiple of 8 rows)."""
    cases = []
    for problem in PROBLEMS.values():
        for optimizer in CORE[size] + GLOBAL:
            per_seed = optimizers.method(optimizer).info.starts_per_seed
            for device in devices():
                for rows in ROWS[kind][size]:
                    if rows % per_seed or (
                        problem.startswith("mlp") and rows > ML_MAX_ROWS[kind][size]
                    ):
                        continue
                    cases.append(Bench(problem, optimizer, device, rows))
    return cases


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "case" not in metafunc.fixturenames:
        return
    kind = metafunc.function.__name__.removeprefix("test_")
    size = metafunc.config.getoption("bench_size")
    cases = matrix(kind, size)
    params = [
        pytest.param(c, id=c.id, marks=[pytest.mark.cuda] if c.device == "cuda" else [])
        for c in cases
    ]
    metafunc.parametrize("case", params)


FIELDS = (
    "kind", "problem", "optimizer", "rows", "seeds", "device", "dtype", "f_star",
    "optbench_version", "run_steps_per_s", "rounds",
)  # fmt: skip
CONVERGENCE_FIELDS = (
    "steps", "gap_median", "gap_q1", "gap_q3", "gap_iqr", "success@1e-04", "evals_to_target",
    "diverged", "convergence_rows",
)  # fmt: skip


def check_convergence(info: dict[str, Any], per_seed_evals: int) -> None:
    """The convergence figures are consistent with each other."""
    assert set(CONVERGENCE_FIELDS) <= set(info)
    q1, median, q3 = info["gap_q1"], info["gap_median"], info["gap_q3"]
    if q3 is not None:  # None: infinite (diverged seeds), JSON has no infinity
        assert q1 <= median <= q3
        assert math.isclose(info["gap_iqr"], q3 - q1, rel_tol=1e-9, abs_tol=1e-300)
    assert 0.0 <= info["success@1e-04"] <= 1.0
    assert 0.0 <= info["diverged"] <= 1.0
    if info["success@1e-04"] > 0:
        assert info["evals_to_target"] >= per_seed_evals  # at least one step
    else:
        assert info["evals_to_target"] is None


def test_convergence(optbench_benchmark, case: Bench) -> None:  # type: ignore[no-untyped-def]
    info = optbench_benchmark.convergence(
        case.problem, case.optimizer, rows=case.rows, device=case.device
    )
    assert set(FIELDS) <= set(info)
    assert (info["problem"], info["rows"], info["device"]) == (case.problem, case.rows, case.device)
    assert info["optimizer"] == optimizers.method(case.optimizer).info.label
    method = optimizers.method(case.optimizer)
    check_convergence(info, method.info.starts_per_seed * method.info.evals_per_step)
    losses = optbench_benchmark.x  # [checkpoints, rows]
    assert losses.shape[1] == case.rows
    if optbench_benchmark.disabled:
        assert info["run_steps_per_s"] is None
    else:
        assert info["run_steps_per_s"] > 0
    if problems.get(case.problem).f_star is not None and info["diverged"] == 0:
        assert info["gap_q1"] >= -1e-3  # nothing beats the optimum (float32 rounding aside)


def test_step(optbench_benchmark, case: Bench) -> None:  # type: ignore[no-untyped-def]
    info = optbench_benchmark.step(case.problem, case.optimizer, rows=case.rows, device=case.device)
    problem = problems.get(case.problem)
    x = optbench_benchmark.x
    assert x.shape == (case.rows, problem.dim) and x.dtype == torch.float32
    assert x.device.type == case.device
    assert set(FIELDS) <= set(info)
    if optbench_benchmark.disabled:
        assert info["run_steps_per_s"] is None
        return
    assert info["run_steps_per_s"] > 0 and info["rounds"] >= 5
    assert 1 <= info["convergence_rows"] <= case.rows
    method = optimizers.method(case.optimizer)
    check_convergence(info, method.info.starts_per_seed * method.info.evals_per_step)
