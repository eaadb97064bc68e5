"""The notebook side: `bench.run` returns the tidy table, report objects render inline,
`problems.from_function` / `from_module` turn a function or a module into a problem, and
`bench show` fits a 100-column terminal."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

import bench
import problems
import reports
from bench._cli import main as cli
from problems import OptbenchError, SpecError
from tests._plugin_files import forget_plugins

pytestmark = pytest.mark.usefixtures("forget_plugins")
assert forget_plugins

STUDY = {"seeds": 3, "steps": 20}


def test_run_returns_the_tidy_table_and_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    table = bench.run(problems=["rosenbrock"], optimizers=["adam:lr=0.05", "sgd:lr=1e-3"], **STUDY)
    assert list(tmp_path.iterdir()) == []  # no run directory unless asked
    assert table.attrs["run_dir"] is None and table.attrs["meta"]["study"]["seeds"] == [0, 1, 2]
    assert set(table["record"]) == {"checkpoint"}
    assert set(table["optimizer"].astype(str)) == {"adam:lr=0.05", "sgd:lr=1e-3"}
    # the same numbers as the command line's run directory
    argv = ["run", "--problems", "rosenbrock", "--optimizers", "adam:lr=0.05,sgd:lr=1e-3"]
    assert cli([*argv, "--seeds", "3", "--steps", "20", "--out", "cli", "--quiet"]) == 0
    keys = ["optimizer", "seed", "step"]
    ours = table.astype({"optimizer": str}).sort_values(keys).reset_index(drop=True)
    theirs = reports.load("cli").astype({"optimizer": str}).sort_values(keys)
    pd.testing.assert_series_equal(ours["loss"], theirs.reset_index(drop=True)["loss"])


def test_run_keeps_a_run_directory_when_asked_and_the_report_shows_inline(
    tmp_path: Path,
) -> None:
    out = tmp_path / "kept"
    table = bench.run(
        problems="sphere:dim=2,booth", optimizers=["adam:lr=0.1"], out=out, record=None, **STUDY
    )
    assert table.attrs["run_dir"] == out and (out / "meta.json").exists()
    assert {"checkpoint", "target"} <= set(table["record"])
    html = reports.build_report(table, table.attrs["meta"])._repr_html_()
    assert html.startswith('<div class="optbench"><style>') and "<table" in html
    assert "adam:lr=0.1" in html and "booth" in html
    with pytest.raises(OptbenchError, match=r"unknown problem 'sphre'"):
        bench.run(problems=["sphre"], optimizers=["adam"], steps=1)


def test_show_fits_100_columns_and_wide_shows_all(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "wide"
    specs = "rastrigin:dim=5,instance=3,ellipsoid:dim=4,condition=1000.0"
    optimizers = "restarts(adam:lr=0.05,n=2),nesterov:lr=0.001,momentum=0.95"
    argv = ["run", "--problems", specs, "--optimizers", optimizers, "--seeds", "2"]
    assert cli([*argv, "--steps", "10", "--out", str(out), "--quiet"]) == 0
    capsys.readouterr()
    assert cli(["show", str(out)]) == 0
    narrow = capsys.readouterr().out
    assert max(len(line) for line in narrow.splitlines()) <= 100
    header = narrow.splitlines()[0].split()
    assert header[:4] == ["problem", "optimizer", "runs", "median"]
    assert "ERT@1e-04" not in narrow and "restarts(adam" in narrow  # long names fold
    assert cli(["show", str(out), "--wide"]) == 0
    wide = capsys.readouterr().out
    assert "ERT@1e-04" in wide and "median gap [IQR]" in wide
    assert max(len(line) for line in wide.splitlines()) > 100  # one line per cell


# --------------------------------------------------------------- from_function


def test_from_function_batches_a_one_point_function() -> None:
    def styblinski(x: torch.Tensor) -> torch.Tensor:
        return 0.5 * (x**4 - 16 * x**2 + 5 * x).sum()

    p = problems.from_function(styblinski, dim=3, bounds=([-5.0] * 3, [5.0] * 3))
    assert p.name == "styblinski" and p.f_star is None
    x = p.sample(7, torch.Generator().manual_seed(0))
    torch.testing.assert_close(p.loss(x), torch.stack([styblinski(row) for row in x]))
    for outcome in bench.check_problem(p, samples=1000):
        assert outcome.ok, outcome


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"dim": 0, "bounds": (0, 1)}, "dim must be a positive integer, got 0"),
        ({"dim": 2, "bounds": (1, 0)}, r"bounds of coordinate 0 must be finite with lower < upper"),
        ({"dim": 2, "bounds": ([0, 0, 0], [1, 1, 1])}, "bounds have 3/3 entries, dim is 2"),
        ({"dim": 2, "bounds": (0, 1), "f": lambda x: x * 2}, "one number per point"),
    ],
)
def test_from_function_rejects_bad_input(kwargs: dict[str, object], message: str) -> None:
    f = kwargs.pop("f", lambda x: x.sum())
    with pytest.raises(SpecError, match=message):
        problems.from_function(f, **kwargs)  # type: ignore[arg-type]


# --------------------------------------------------------------- from_module


@pytest.fixture(scope="module")
def regression() -> problems.Problem:
    gen = torch.Generator().manual_seed(0)
    X = torch.randn(50, 3, generator=gen)
    y = X @ torch.tensor([1.0, -2.0, 0.5]) + 0.1 * torch.randn(50, generator=gen)
    net = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 1))
    return problems.from_module(net, (X, y), batch=8, name="t-net")


def test_from_module_rows_are_seeded_networks(regression: problems.Problem) -> None:
    p = regression
    assert p.dim == 3 * 4 + 4 + 4 + 1 and p.steps_per_epoch == math.ceil(40 / 8)
    assert {"ml", "stochastic"} <= p.tags and p.f_star is None
    first = p.start(2, torch.Generator().manual_seed(1))
    again = p.start(2, torch.Generator().manual_seed(1))
    other = p.start(2, torch.Generator().manual_seed(2))
    assert torch.equal(first, again) and not torch.equal(first, other)
    assert not torch.equal(first[0], first[1])  # each start its own initialisation
    state = torch.random.get_rng_state()
    p.start(1, torch.Generator().manual_seed(3))
    assert torch.equal(torch.random.get_rng_state(), state)  # global RNG left alone
    assert set(p.metrics(first.double())) == {"heldout_loss"}  # type: ignore[misc]


def test_from_module_minibatches_follow_a_dataloader(regression: problems.Problem) -> None:
    """Row seeded s sees the batches of DataLoader(shuffle=True, generator=seed s)."""
    p = regression
    rows = p.start(2, torch.Generator().manual_seed(0), dtype=torch.float32)
    train = p.train_loss([5, 9], "cpu", torch.float32)
    gen = torch.Generator().manual_seed(0)
    data_X = torch.randn(50, 3, generator=gen)
    data_y = data_X @ torch.tensor([1.0, -2.0, 0.5]) + 0.1 * torch.randn(50, generator=gen)
    net = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 1))
    loader = DataLoader(
        TensorDataset(data_X[:40], data_y[:40]),
        batch_size=8,
        shuffle=True,
        generator=torch.Generator().manual_seed(9),
    )
    torch.nn.utils.vector_to_parameters(rows[1], net.parameters())
    batches = [batch for _ in range(2) for batch in loader]  # two epochs, each reshuffled
    for step, (xb, yb) in enumerate(batches):
        want = torch.nn.functional.mse_loss(net(xb).reshape(yb.shape), yb)
        torch.testing.assert_close(train(rows, step)[1], want)
