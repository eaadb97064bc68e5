"""Rows run one after another through all their steps (`bench._row_blocks`): same results."""

from __future__ import annotations

import pytest
import torch

import bench
import optimizers
import problems
from bench._row_blocks import by_row

SPEC = "mlp-regression:inputs=8,hidden=16,n_train=96,n_test=48,batch=16,latent=4"
CPU = torch.device("cpu")


def _mlp(execution: str) -> problems.Problem:
    return problems.get(SPEC, execution=execution)


def _run(problem: problems.Problem, method: optimizers.Method, **options: object) -> bench.Trace:
    x0 = problem.start(3, torch.Generator().manual_seed(0), dtype=torch.float32)
    return bench.run_rows(
        problem,
        method,
        x0,
        steps=30,
        checkpoints=[0, 5, 17, 30],
        targets=[0.9, 0.5, 1e-9],
        row_seeds=[4, 5, 6],
        traced_rows=2,
        **options,  # type: ignore[arg-type]
    )


def test_rows_one_after_another_equal_rows_together() -> None:
    """Per-row learning rates, one of them diverging; targets, metrics, traced points."""
    problem = _mlp("sequential")
    lr = torch.tensor([0.05, 1e3, 0.1], dtype=torch.float32)
    method = optimizers.local(optimizers.configure("momentum", lr=lr))
    calls: list[tuple[int, int]] = []
    alone = _run(problem, method, progress=lambda k, n: calls.append((k, n)))
    together = _run(problem, method, seconds=1e9)  # a budget keeps the rows together
    assert alone.extra == {"rows_per_block": 1.0} and together.extra == {}
    assert alone.checkpoints == together.checkpoints == [0, 5, 17, 30]
    for name in ("loss", "best", "hits", "diverged_at", "positions"):
        torch.testing.assert_close(
            getattr(alone, name), getattr(together, name), rtol=0, atol=0, equal_nan=True
        )
    assert alone.metrics.keys() == together.metrics.keys() == {"heldout_loss"}
    heldout = alone.metrics["heldout_loss"], together.metrics["heldout_loss"]
    torch.testing.assert_close(*heldout, rtol=0, atol=0, equal_nan=True)
    assert alone.diverged_at.tolist()[1] >= 0 and alone.diverged_at.tolist()[::2] == [-1, -1]
    assert (alone.hits[[0, 2], 0] > 0).all()  # the others reach the loose target
    assert alone.positions is not None and alone.positions.shape == (4, 2, problem.dim)
    assert len(alone.time_s) == 4 and 0 == alone.time_s[0] < alone.time_s[-1]
    assert alone.step_mode == together.step_mode == "eager"
    # progress counts run-steps over all rows, in order, to the end
    assert calls[-1] == (90, 90) and calls == sorted(calls)


def test_which_runs_go_row_by_row() -> None:
    adam = optimizers.method("adam:lr=0.01")
    sequential, batched = _mlp("sequential"), _mlp("batched")
    assert by_row(sequential, adam, 3, CPU, "eager")
    assert not by_row(sequential, adam, 1, CPU, "eager")  # one row: nothing to split
    assert not by_row(sequential, adam, 3, CPU, "compiled")
    assert not by_row(batched, adam, 3, CPU, "eager")  # rows batched: together is faster
    assert not by_row(problems.get("sphere:dim=3"), adam, 3, CPU, "eager")
    for spec in ("random-search", "restarts(adam,n=2)", "torch:LBFGS"):  # not a Local
        assert not by_row(sequential, optimizers.method(spec), 3, CPU, "eager"), spec
    wide = problems.get("mlp-regression:inputs=8,hidden=512,n_train=32,n_test=32,batch=16")
    assert by_row(wide, adam, 3, CPU, "eager")  # auto: rows one by one from width 512
    assert not by_row(wide, adam, 3, torch.device("meta"), "eager")  # batched off the CPU


@pytest.mark.parametrize("spec", ["random-search", "restarts(adam,n=2)"])
def test_global_search_keeps_rows_together(spec: str) -> None:
    trace = _run(_mlp("sequential"), optimizers.method(spec))
    assert "rows_per_block" not in trace.extra
