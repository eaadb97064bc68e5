"""The compiled step (``compile = true``) against the eager one, and what it must not do.

Compiled and eager steps are the same function (`bench._engine`): the tests hold their
trajectories together for every core optimizer and the global-search wrappers, count
dynamo's compilations over many steps and across two cells of the same shape, check the eager
fallback, and pin the choice of ``compile = "auto"``. Compiling takes seconds per graph on a
CPU, so sizes are tiny (2-D, a few rows, a few dozen steps).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
import torch
from torch._dynamo.utils import counters

import bench
import bench._engine as engine
import optimizers
import problems
from bench._cell import run_cell
from bench._engine import AUTO_COMPILE_RUN_STEPS, run_rows, step_mode_for
from problems import SpecError

CORE = ["sgd", "momentum", "nesterov", "adam", "adamw", "amsgrad", "adagrad", "rmsprop"]
WRAPPERS = [
    "random_search",
    "random_search(batch=3)",
    "restarts(adam:lr=0.05,n=3)",
    "restarts(sgd:lr=0.001,n=2,mode=sequential,window=5)",
]


def _run(spec: str, compile: bool, *, problem: str = "rosenbrock", steps: int = 30, rows: int = 6):
    p = problems.get(problem)
    method = optimizers.method(spec)
    x0 = bench.starts(
        method, p, list(range(rows)), device=torch.device("cpu"), dtype=torch.float64, uniform=True
    )
    return run_rows(
        p,
        method,
        x0,
        steps=steps,
        checkpoints=[0, 5, 10, steps],
        targets=[10.0, 1.0, 1e-1, 1e-3],
        compile=compile,
        seed=3,
    )


def _same(compiled: bench.Trace, eager: bench.Trace) -> None:
    assert compiled.step_mode == "compiled" and eager.step_mode == "eager"
    assert compiled.checkpoints == eager.checkpoints
    torch.testing.assert_close(compiled.loss, eager.loss, rtol=1e-9, atol=1e-12, equal_nan=True)
    torch.testing.assert_close(compiled.best, eager.best, rtol=1e-9, atol=1e-12, equal_nan=True)
    assert torch.equal(compiled.diverged_at, eager.diverged_at)
    assert torch.equal(compiled.hits, eager.hits)
    if eager.evals is not None:
        assert compiled.evals is not None and torch.equal(compiled.evals, eager.evals)


@pytest.fixture
def loops(monkeypatch: pytest.MonkeyPatch) -> list[tuple[bool, int]]:
    """For each compiled run, when its timed loop starts: whether its warm-up settled into
    one graph (`bench._engine._warmed`) and how many graphs dynamo had compiled by then."""
    seen: list[tuple[bool, int]] = []
    warmed = engine._warmed

    def spy(settled: bool) -> object:
        seen.append((settled, counters["stats"]["unique_graphs"]))
        return warmed(settled)

    monkeypatch.setattr(engine, "_warmed", spy)
    return seen


@pytest.mark.slow
@pytest.mark.parametrize("spec", CORE + WRAPPERS)
def test_compiled_trajectories_equal_eager(spec: str, loops: list[tuple[bool, int]]) -> None:
    """Float64, so rounding differences stay far below the tolerance over 30 steps. The
    warm-up compiles every graph the run needs: none is compiled in the timed loop, which
    checks only the guards that tell graphs apart where the step is one graph."""
    compiled = _run(spec, True)
    [(settled, graphs)] = loops
    assert counters["stats"]["unique_graphs"] == graphs
    assert settled or spec in WRAPPERS  # the core optimizers' steps are one graph each
    _same(compiled, _run(spec, False))


def test_compiled_adam_equals_eager_and_reports_its_compile_time() -> None:
    compiled = _run("adam:lr=0.05", True)
    _same(compiled, _run("adam:lr=0.05", False))
    assert compiled.warmup_s > 0 and len(compiled.time_s) == 4


def test_no_recompilation_over_steps_nor_across_cells_of_one_shape() -> None:
    """One graph for 200 steps of one cell, and none more for a second cell of the same
    shape whose hyperparameters differ (they are tensor inputs, not constants)."""
    torch._dynamo.reset()  # forget graphs other tests compiled
    counters.clear()
    first = _run("adagrad:lr=0.1", True, steps=200)
    graphs = counters["stats"]["unique_graphs"]
    assert first.step_mode == "compiled" and graphs == 1
    second = _run("adagrad:lr=0.02,lr_decay=0.01", True, steps=200)
    assert second.step_mode == "compiled"
    assert counters["stats"]["unique_graphs"] == graphs
    assert second.warmup_s < first.warmup_s  # no compilation the second time
    eager = _run("adagrad:lr=0.02,lr_decay=0.01", False, steps=200)
    _same(second, eager)


def test_a_process_past_the_recompilation_limit_compiles_afresh_or_says_eager(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Dynamo runs a code object compiled `RECOMPILE_LIMIT` times eagerly, silently. Short
    of it a process forgets its graphs and compiles afresh; a warm-up that reaches it
    anyway runs the cell eagerly with a warning, and the trace says eager."""
    torch._dynamo.reset()
    monkeypatch.setattr(engine, "RECOMPILE_LIMIT", 3)
    monkeypatch.setattr(engine, "RECOMPILE_ROOM", -10)  # never make room: the limit is hit
    with torch._dynamo.config.patch(recompile_limit=3, accumulated_recompile_limit=3):
        cells = [_run("sgd", True, problem=p, steps=4) for p in ("sphere", "booth", "beale")]
        assert [cell.step_mode for cell in cells] == ["compiled"] * 3
        with pytest.warns(RuntimeWarning, match="FailOnRecompileLimitHit"):
            assert _run("sgd", True, problem="matyas", steps=4).step_mode == "eager"
        monkeypatch.setattr(engine, "RECOMPILE_ROOM", 1)
        with warnings.catch_warnings():
            warnings.simplefilter("error", RuntimeWarning)
            assert _run("sgd", True, problem="matyas", steps=4).step_mode == "compiled"
    torch._dynamo.reset()


def test_a_failed_compilation_runs_eagerly_with_one_warning(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(advance: object) -> object:
        def fail(*args: object) -> object:
            msg = "no C++ compiler here"
            raise RuntimeError(msg)

        return fail

    monkeypatch.setattr(engine, "_compile", broken)
    with pytest.warns(
        RuntimeWarning, match="torch.compile failed .* running eagerly: RuntimeError: no C\\+\\+"
    ) as caught:
        fallback = _run("sgd:lr=0.001", True)
    assert len(caught) == 1
    eager = _run("sgd:lr=0.001", False)
    assert fallback.step_mode == "eager"
    assert torch.equal(fallback.loss.nan_to_num(), eager.loss.nan_to_num())  # bit for bit
    assert torch.equal(fallback.hits, eager.hits)


@pytest.mark.slow
def test_every_deterministic_landscape_compiles(loops: list[tuple[bool, int]]) -> None:
    """No landscape of the catalogue falls back to eager steps (a constant built lazily
    inside the trace and cached, `problems.dims.Constant`, used to fail 11 of them), each
    settles into one graph, and each compiled run equals the eager one. The constants are
    built before the warm-up, so a step of several graphs compiles none in its loop."""
    from problems._catalogue import PROBLEMS

    torch._dynamo.reset()  # one graph a landscape, far below the recompilation limit
    names = [n for n in PROBLEMS.names() if problems.get(n).stream is None]
    assert len(names) >= 25
    unsettled = []
    for name in names:
        with warnings.catch_warnings():
            warnings.simplefilter("error", RuntimeWarning)  # the eager fallback's warning
            compiled = _run("sgd:lr=0.001", True, problem=name, steps=10, rows=3)
        if not loops[-1][0]:
            unsettled.append(name)
        _same(compiled, _run("sgd:lr=0.001", False, problem=name, steps=10, rows=3))
    assert unsettled == []
    _run("random_search", True, problem="ellipsoid:dim=3,rotated=true")
    assert counters["stats"]["unique_graphs"] == loops[-1][1]


def test_auto_compiles_only_large_deterministic_cells() -> None:
    cpu = torch.device("cpu")
    sphere, mlp = problems.get("sphere"), problems.get("mlp-regression:inputs=4,hidden=4")
    assert step_mode_for("auto", sphere, 10, 2_000, cpu) == "eager"  # the default study's size
    assert (
        step_mode_for("auto", sphere, 10_000, AUTO_COMPILE_RUN_STEPS // 10_000, cpu) == "compiled"
    )
    assert step_mode_for(True, sphere, 1, 1, cpu) == "compiled"
    assert step_mode_for(False, sphere, 10**6, 10**6, cpu) == "eager"
    assert step_mode_for(True, mlp, 10**6, 10**6, cpu) == "eager"  # minibatches: from the host
    with pytest.raises(SpecError, match="compile must be true, false or \"auto\", got 'yes'"):
        step_mode_for("yes", sphere, 1, 1, cpu)  # type: ignore[arg-type]


def test_study_compile_key_keeps_default_cell_ids_and_names_bad_values(tmp_path: Path) -> None:
    def cell(**compile: bool | str) -> str:
        (only,) = bench.Study(["sphere"], ["sgd"], seeds=2, steps=5, **compile).cells()  # type: ignore[arg-type]
        return only.id

    default, auto, on, off = cell(), cell(compile="auto"), cell(compile=True), cell(compile=False)
    assert default == auto and len({auto, on, off}) == 3
    path = tmp_path / "s.toml"
    path.write_text('problems = ["sphere"]\noptimizers = ["sgd"]\nsteps = 5\ncompile = "yes"\n')
    with pytest.raises(
        SpecError, match=r's.toml:4: compile must be true, false or "auto", got \'yes\''
    ):
        bench.Study.from_toml(path)
    path.write_text('problems = ["sphere"]\noptimizers = ["sgd"]\nsteps = 5\ncompile = true\n')
    assert bench.Study.from_toml(path).compile is True


def test_results_say_which_path_each_cell_ran() -> None:
    study = bench.Study(["himmelblau"], ["adam:lr=0.05"], seeds=2, steps=20, compile=True)
    (cell,) = study.cells()
    frame = run_cell(cell)
    assert set(frame["step_mode"]) == {"compiled"}
    assert set(frame["status"].dropna()) == {"ok"}
    eager = run_cell(bench.Study(["himmelblau"], ["adam:lr=0.05"], seeds=2, steps=20).cells()[0])
    assert set(eager["step_mode"]) == {"eager"}
    assert frame["warmup_s"].iloc[0] > eager["warmup_s"].iloc[0]


def test_bench_run_takes_compile_flag_over_the_file(tmp_path: Path) -> None:
    import json

    import pandas as pd

    from bench._cli import main as cli

    path = tmp_path / "s.toml"
    path.write_text(
        'problems = ["sphere"]\noptimizers = ["sgd"]\nseeds = 2\nsteps = 3\ncompile = true\n'
    )
    out = tmp_path / "run"
    assert cli(["run", str(path), "--compile", "false", "--out", str(out), "--quiet"]) == 0
    assert json.loads((out / "meta.json").read_text())["study"]["compile"] is False
    frame = pd.concat(pd.read_parquet(p) for p in (out / "parts").glob("*.parquet"))
    assert set(frame["step_mode"].dropna()) == {"eager"}


def test_compiled_targets_are_exact_when_rows_stop_and_when_time_runs_out() -> None:
    """The compiled step holds its targets' values in a window the host resolves
    (`bench._targets.TargetTracker.hold`); rows stopped by `control` at a checkpoint, a loop
    cut by its time budget and a run that ends on a target's first hit still give the eager
    first-hit steps, to the step."""
    p = problems.get("rosenbrock")
    method = optimizers.method("adam:lr=0.05")
    x0 = bench.starts(
        method, p, list(range(8)), device=torch.device("cpu"), dtype=torch.float64, uniform=True
    )

    def stop_even_rows(step: int, loss: torch.Tensor, best: torch.Tensor) -> torch.Tensor | None:
        return (torch.arange(loss.shape[0]) % 2 == 0) if step == 40 else None

    def run(compile: bool, **options: object) -> bench.Trace:
        return run_rows(
            p,
            method,
            x0,
            checkpoints=[0, 40, 80, 120],
            targets=[10.0**-k for k in range(-2, 7)],
            compile=compile,
            **{"steps": 120, **options},  # type: ignore[arg-type]
        )

    stopped = run(True, control=stop_even_rows)
    _same(stopped, run(False, control=stop_even_rows))
    assert (stopped.hits[1::2] > 40).any(), "the running rows reach a target after the stop"
    cut = run(True, seconds=0.0)  # the budget ends the loop at the first checkpoint
    assert cut.checkpoints == [0, 40]
    assert torch.equal(cut.hits, run(False, seconds=0.0).hits)
    last = int(stopped.hits[1::2].max())  # a target first reached at this step: end there
    ends = run(True, control=stop_even_rows, steps=last)
    assert (ends.hits == last).any(), "the last step's hit is recorded after the loop"
    _same(ends, run(False, control=stop_even_rows, steps=last))


def test_the_compiled_step_keeps_rows_column_major() -> None:
    """Inductor vectorises along the innermost dimension in memory, so the compiled step's
    rows are stored ``[d, R]`` (`bench._engine.column_major`) and every step keeps them so:
    a step that returned row-major rows would recompile (dynamo guards on strides)."""
    x = torch.arange(12.0).reshape(6, 2)
    laid = engine.column_major(x)
    assert torch.equal(laid, x) and laid.stride() == (1, 6)
    torch._dynamo.reset()
    counters.clear()
    trace = _run("adam:lr=0.05", True, steps=50)
    assert trace.step_mode == "compiled" and counters["stats"]["unique_graphs"] == 1


def test_a_loss_that_needs_row_major_rows_still_compiles() -> None:
    """``x.view(-1)`` fails on the compiled step's column-major rows; the cell compiles again
    on row-major rows, without a warning, and equals eager."""
    viewer = problems.get("sphere:dim=2").with_(
        fn=lambda x: x.view(-1).view(x.shape[0], -1).square().sum(-1)
    )
    method = optimizers.method("adam:lr=0.1")
    x0 = torch.rand(8, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0))

    def run(compile: bool) -> bench.Trace:
        return run_rows(viewer, method, x0, steps=20, checkpoints=[0, 20], compile=compile)

    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        compiled = run(True)
    _same(compiled, run(False))
