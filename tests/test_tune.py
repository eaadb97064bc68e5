"""`bench tune`: batched trials, pruning, the objective against a grid, tuned comparisons and
bad input. Storages are journal files in a temporary folder (multi-process and PostgreSQL
tests are in tests/test_tune_workers.py)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import optuna
import pandas as pd
import pytest
import torch

import bench
import optimizers
import problems
import reports
from bench._cli import main
from bench._engine import run_rows
from bench._study import Study
from bench._tune import tune
from bench._tune_objective import per_seed
from bench._tune_space import parse_space, search_space
from bench._tune_storage import open_storage
from bench._tune_trials import TuneTask, evaluate_batch
from bench._tuned import evaluation_seeds, load_tuned, setting_spec

ELLIPSOID = "ellipsoid:dim=4,condition=100.0"
SEEDS = (1000, 1001, 1002)


@pytest.fixture(autouse=True)
def _quiet_optuna() -> None:
    optuna.logging.set_verbosity(optuna.logging.WARNING)


def _task(problem: str, optimizer: str, objective: str = "best", steps: int = 150) -> TuneTask:
    study = Study([problem], [optimizer], seeds=SEEDS, steps=steps, checkpoints=10, targets=())
    return TuneTask(study, objective, 1e-6)


def test_batched_trials_equal_one_at_a_time() -> None:
    """The same parameters give the same objective in a batch of K and alone (same rows)."""
    for problem, spec in (("rosenbrock", "adam"), ("sphere:dim=3", "restarts(momentum,n=2)")):
        task = _task(problem, spec, objective="final", steps=60)
        settings = [{"lr": lr} for lr in (1e-3, 1e-2, 0.05, 0.3)]
        batched = evaluate_batch(task, settings)
        alone = [evaluate_batch(task, [s])[0] for s in settings]
        assert [r.value for r in batched] == [r.value for r in alone]
        assert [r.seed_values for r in batched] == [r.seed_values for r in alone]
        assert len({r.value for r in batched}) == len(settings)  # the settings differ


def test_objectives_from_curves() -> None:
    """Each objective's per-seed value from hand-made curves."""
    steps = np.array([0.0, 5.0, 10.0])
    loss = np.array([[1.0, 1.0], [1e-2, np.nan], [1e-4, np.nan]])
    best = np.array([[1.0, 1.0], [1e-2, 0.5], [1e-4, 0.5]])
    kw = {"budget_steps": 10, "evals_per_step": 2.0}
    assert per_seed("final", loss, best, steps, **kw).tolist() == [1e-4, math.inf]
    assert per_seed("best", loss, best, steps, **kw).tolist() == [1e-4, 0.5]
    auc = per_seed("auc", loss, best, steps, **kw)
    assert auc[0] == pytest.approx((0 + -2) / 2 * 0.5 + (-2 + -4) / 2 * 0.5)
    hits = per_seed("evals-to-target", loss, best, steps, hit_steps=np.array([7.0, np.nan]), **kw)
    assert hits.tolist() == [14.0, 20.0]  # the cap: 10 steps x 2 evaluations


def test_ellipsoid_study_is_within_ten_percent_of_a_fine_grid(tmp_path: Path) -> None:
    """TPE over the learning rate gets within 10% of the best of a fine grid through the
    harness (bench.run_study, the results table's median gap at the last checkpoint)."""
    task = _task(ELLIPSOID, "adam")
    storage = open_storage(f"journal:{tmp_path / 'j.log'}")
    space = search_space("adam", {"lr": (1e-3, 1.0)})
    found = tune(task, space, storage, trials=24, batch=8, study_name="e", pruner="none")
    grid = [f"adam:lr={v:.6g}" for v in np.geomspace(1e-3, 1.0, 16)]
    study = Study([ELLIPSOID], grid, seeds=SEEDS, steps=150, checkpoints=10, targets=())
    bench.run_study(study, tmp_path / "grid", quiet=True)
    table = reports.load(tmp_path / "grid")
    last = table[table["step"] == table["step"].max()]
    best_grid = float(last.groupby("optimizer")["gap"].median().min())
    assert found.complete == 24
    assert found.best_value <= 1.1 * best_grid


def test_median_pruner_prunes_the_diverging_half(tmp_path: Path) -> None:
    """SGD on a sphere diverges for lr > 1: half of lr = 0.01..100 (log). After the first
    batch (the pruner's start-up) the median pruner prunes every trial that diverges fast
    (lr > 2), most pruned trials are in the diverging half, and a pruned trial's rows ran
    fewer steps than the budget."""
    task = _task("sphere:dim=2", "sgd", objective="final", steps=100)
    storage = open_storage(f"journal:{tmp_path / 'p.log'}")
    space = search_space("sgd", parse_space("lr=0.01..100"))
    result = tune(
        task, space, storage, trials=16, batch=4, study_name="p", pruner="median",
        sampler="random",
    )  # fmt: skip
    study = optuna.load_study(study_name="p", storage=storage.optuna)
    pruned = [t for t in study.trials if t.state == optuna.trial.TrialState.PRUNED]
    assert result.pruned == len(pruned) > 0
    later = [t for t in study.trials if t.number >= 4 and t.params["lr"] > 2.0]
    assert later and all(t.state == optuna.trial.TrialState.PRUNED for t in later)
    assert sum(t.params["lr"] > 1.0 for t in pruned) > len(pruned) / 2
    assert all(t.user_attrs["steps"] < 100 for t in pruned)


def test_stopped_rows_are_frozen_and_the_loop_ends() -> None:
    """`run_rows`'s control: stopped rows keep their point and best; all stopped ends it."""
    problem = problems.get("sphere:dim=2")
    method = optimizers.method("sgd:lr=0.01")
    x0 = problem.sample(4, torch.Generator().manual_seed(0), dtype=torch.float64)
    seen: list[int] = []

    def control(step: int, loss: torch.Tensor, best: torch.Tensor) -> torch.Tensor | None:
        seen.append(step)
        if len(seen) == 1:
            return torch.tensor([True, True, False, False])
        return torch.ones(4, dtype=torch.bool) if len(seen) == 3 else None

    trace = run_rows(
        problem, method, x0, steps=100, checkpoints=[0, 1, 2, 5, 10, 50], traced_rows=4,
        warmup=0, control=control,
    )  # fmt: skip
    assert trace.checkpoints == [0, 1, 2, 5]  # everything stopped at step 5
    assert trace.extra["stopped_at"].tolist() == [1, 1, 5, 5]
    positions = trace.positions
    assert positions is not None
    assert torch.equal(positions[1, :2], positions[3, :2])  # frozen after step 1
    assert not torch.equal(positions[1, 2:], positions[3, 2:])  # the others moved on
    assert torch.equal(trace.best[1, :2], trace.best[3, :2])
    assert torch.isnan(trace.loss[2:, :2]).all()


def test_space_and_specs() -> None:
    space = search_space("momentum", parse_space("lr=1e-4..1e-1,momentum=0.8..0.99"))
    assert [str(p) for p in space] == ["lr=0.0001..0.1 (log)", "momentum=0.8..0.99"]
    assert setting_spec("sgd:lr=0.001", {"lr": 0.3}) == "sgd:lr=0.3"
    assert evaluation_seeds([0, 1], [1000]) == (0, 1)
    assert evaluation_seeds([1000, 1001, 5], [1000, 1001]) == (1002, 1003, 1004)


def _fails(capsys: pytest.CaptureFixture[str], argv: list[str], *words: str) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    for word in words:
        assert word in err, err
    return err


def test_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Each bad input is one line and exit 2, naming the closest valid name where there is one."""
    journal = f"journal:{tmp_path / 'bad.log'}"
    base = ["tune", "--problem", "sphere:dim=2", "--optimizer", "adam", "--trials", "2",
            "--seeds", "2", "--steps", "5", "--storage", journal, "--quiet",
            "--out", str(tmp_path / "out")]  # fmt: skip
    _fails(capsys, [*base, "--sampler", "tpee"], "unknown sampler", "'tpe'")
    _fails(capsys, [*base, "--pruner", "medain"], "unknown pruner", "'median'")
    _fails(capsys, [*base, "--objective", "fnal"], "unknown objective", "'final'")
    _fails(capsys, [*base, "--space", "lr=0.1..0.1"], "empty")
    _fails(capsys, [*base, "--space", "lr=0.1..0.01"], "reversed")
    _fails(capsys, [*base, "--space", "lr=-1..0.1"], "refuses")
    _fails(capsys, [*base, "--space", "beta=0.5..0.9"], "unknown adam hyperparameter", "beta1")
    _fails(capsys, [*base, "--optimizer", "random-search"], "nothing to tune")
    _fails(
        capsys,
        [*base, "--storage", "postgresql://optbench@127.0.0.1:9/none"],
        "cannot open storage",
    )
    _fails(capsys, [*base, "--storage", "no-such-scheme"], "not a storage URL")
    assert main([*base, "--study-name", "s"]) == 0
    capsys.readouterr()
    _fails(capsys, [*base, "--study-name", "s", "--space", "lr=1e-3..1e-1"], "search space", "'s'")


def test_tuned_comparison_on_fresh_seeds(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """bench tune STUDY writes tuned.toml and trials.parquet; bench run STUDY --tuned runs the
    default and the tuned setting side by side on seeds disjoint from the tuning seeds."""
    study = tmp_path / "s.toml"
    study.write_text(
        'name = "s"\nseeds = [1000, 1001]\nsteps = 40\n'
        'problems = ["sphere:dim=2"]\noptimizers = ["sgd:lr=0.001", "random-search"]\n'
    )
    out, run = tmp_path / "tuned", tmp_path / "run"
    storage = f"journal:{tmp_path / 't.log'}"
    assert main(["tune", str(study), "--trials", "4", "--batch", "4", "--storage", storage,
                 "--out", str(out), "--quiet"]) == 0  # fmt: skip
    tuned = load_tuned(out / "tuned.toml")
    (entry,) = tuned["tuned"]
    assert entry["optimizer"] == "sgd:lr=0.001" and entry["trials"] == 4
    assert entry["evals"] > 0 and entry["wall_s"] > 0 and entry["seeds"] == [1000, 1001]
    assert tuned["untuned"] == ["random-search"]
    trials = pd.read_parquet(out / "trials.parquet")
    assert len(trials) == 4 and set(trials["state"]) == {"complete"}
    assert main(["run", str(study), "--tuned", str(out / "tuned.toml"), "--out", str(run),
                 "--quiet"]) == 0  # fmt: skip
    capsys.readouterr()
    meta = json.loads((run / "meta.json").read_text())
    assert meta["tuned"]["disjoint"] is True
    assert meta["tuned"]["evaluation_seeds"] == [1002, 1003]  # the study's seeds were tuning's
    results = reports.load(run)
    assert set(results["optimizer"]) == {"sgd:lr=0.001", "random-search", entry["setting"]}
    assert set(results["seed"]) == {1002, 1003}
    assert (run / "tuning" / "trials.parquet").exists()
    page = reports.write([run], tmp_path / "report.html").read_text()
    assert "Tuned settings" in page and entry["setting"] in page
    assert "Optimisation history" in page and "Sensitivity to the learning rate" in page
    alone = reports.write([out], tmp_path / "tuning.html").read_text()  # the tune run alone
    assert "Tuned on seeds 1000, 1001" in alone and "Optimisation history" in alone


def test_tuning_figures_from_a_trials_table() -> None:
    """The report's figures read a plain trials table: pruned and diverged trials included."""
    from reports._tuning import comparison_figure, history_figure, sensitivity_figure

    rows = [
        {"problem": "p", "optimizer": o, "objective": "final", "study_name": o, "number": i,
         "state": s, "value": v, "param_lr": lr}
        for o in ("adam", "sgd")
        for i, (s, v, lr) in enumerate(
            [("complete", 1.0, 1e-3), ("complete", 0.1, 1e-2), ("pruned", np.nan, 1.0),
             ("complete", math.inf, 3.0)]
        )
    ]  # fmt: skip
    trials = pd.DataFrame(rows)
    for make in (history_figure, sensitivity_figure, comparison_figure):
        assert make(trials) is not None
    assert comparison_figure(trials[trials["optimizer"] == "adam"]) is None  # one optimizer


@pytest.mark.parametrize(
    ("sampler", "pruner"),
    [
        ("random", "wilcoxon"),
        ("grid", "hyperband"),
        ("qmc", "none"),
        ("tpe", "median"),
        ("cmaes", "median"),
    ],
)
def test_samplers_and_pruners_run(sampler: str, pruner: str) -> None:
    """Every sampler with a pruner, in memory: the budget of trials is met and every trial
    has a learning rate inside the space (CMA-ES over two hyperparameters: it samples a
    one-dimensional space independently)."""
    optimizer = "momentum" if sampler == "cmaes" else "sgd"
    task = _task("sphere:dim=2", optimizer, objective="final", steps=30)
    extra = ",momentum=0.5..0.99" if sampler == "cmaes" else ""
    space = search_space(optimizer, parse_space("lr=0.01..100" + extra))
    storage = open_storage("memory")
    result = tune(
        task, space, storage, trials=8, batch=4, study_name="s", sampler=sampler, pruner=pruner
    )
    assert result.complete + result.pruned == 8
    study = optuna.load_study(study_name="s", storage=storage.optuna)
    assert all(0.01 <= t.params["lr"] <= 100 for t in study.trials)


def test_journal_trials_of_a_silent_worker_fail_and_are_requeued(tmp_path: Path) -> None:
    """On a journal (no Optuna heartbeats) a running trial whose last beat is older than two
    periods is failed by `fail_stale` and its parameters queued again."""
    from bench._tune_storage import HEARTBEAT_ATTR, fail_stale

    storage = open_storage(f"journal:{tmp_path / 'j.log'}", heartbeat_s=0.5)
    study = optuna.create_study(storage=storage.optuna, study_name="j")
    trial = study.ask()
    lr = trial.suggest_float("lr", 1e-3, 1.0, log=True)
    storage.optuna.set_trial_system_attr(trial._trial_id, HEARTBEAT_ATTR, 0.0)  # long ago
    assert fail_stale(study, storage) == 1
    states = [t.state for t in study.trials]
    assert states == [optuna.trial.TrialState.FAIL, optuna.trial.TrialState.WAITING]
    retry = study.ask()
    assert retry.suggest_float("lr", 1e-3, 1.0, log=True) == lr
    assert fail_stale(study, storage) == 0  # the retry is beating (just started)
