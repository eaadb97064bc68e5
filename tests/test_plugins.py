"""Plugins: a user's file or module registers problems and optimizers; every process that
runs a cell imports it; meta.json says which code made the numbers; bad plugins are one line.

Also the README's "Benchmark your own optimizer in five minutes", executed as written.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import re
import shlex
import sys
import textwrap
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pandas as pd
import pytest
import torch

import bench
import optimizers
import problems
import reports
from bench import _runner
from bench._cli import main as cli
from bench._plugins import PluginError, load_cli_plugins, load_plugins
from optimizers.torch_adapter import TorchRows
from tests._plugin_files import PLUGIN, TORCH_CLASSES, forget_plugins, write

pytestmark = pytest.mark.usefixtures("forget_plugins")
assert forget_plugins  # the fixture, used by every test here

ROOT = Path(__file__).resolve().parent.parent
KEYS = ["problem", "optimizer", "seed", "step"]
NUMBERS = ["loss", "best_loss", "gap"]


@pytest.fixture(scope="module")
def plugin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write(tmp_path_factory.mktemp("plugin"), "my_plugin.py", PLUGIN)


def numbers(run_dir: Path) -> pd.DataFrame:
    table = reports.load(run_dir)
    table = table.astype(dict.fromkeys(("problem", "optimizer"), str))
    return table[KEYS + NUMBERS].sort_values(KEYS).reset_index(drop=True)


def test_a_plugin_runs_in_workers_as_in_process(plugin: Path, tmp_path: Path) -> None:
    argv = [
        "run",
        "--plugin",
        str(plugin),
        "--problems",
        "t-bowl:dim=3,sphere:dim=2",
        "--optimizers",
        "t-sign-sgd,adam:lr=0.1",
        "--seeds",
        "3",
        "--steps",
        "30",
        "--quiet",
    ]
    assert cli([*argv, "--out", str(tmp_path / "one")]) == 0
    assert cli([*argv, "--workers", "2", "--out", str(tmp_path / "two")]) == 0
    one, two = numbers(tmp_path / "one"), numbers(tmp_path / "two")
    assert set(one["problem"]) == {"t-bowl:dim=3", "sphere:dim=2"}
    pd.testing.assert_frame_equal(one, two)
    meta = json.loads((tmp_path / "two" / "meta.json").read_text())
    assert len(meta["torch_threads"]) == 2  # two worker processes ran cells
    (record,) = meta["plugins"]
    assert record["plugin"] == str(plugin) and record["kind"] == "path"
    assert record["sha256"] == hashlib.sha256(plugin.read_bytes()).hexdigest()
    assert meta["study"]["plugins"] == [str(plugin)]


@pytest.mark.slow
def test_a_spawned_worker_imports_the_plugin_again(plugin: Path, tmp_path: Path) -> None:
    """A fresh interpreter (spawn: nothing inherited) runs a plugin cell after the
    runner's initializer, and its part equals the in-process one."""
    study = bench.Study(["t-bowl:dim=2"], ["t-sign-sgd"], seeds=2, steps=10, plugins=[plugin])
    study.validate()
    (cell,) = study.cells()
    here = bench.run_cell(cell)
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(
        1,
        mp_context=context,
        initializer=_runner.prepare_worker,
        initargs=(False, False, study.plugins),
    ) as pool:
        outcome, _, _ = pool.submit(_runner._worker, cell, tmp_path).result(timeout=120)
    assert outcome == (0, 0)  # (failed, diverged) runs, not another process's claim
    there = pd.read_parquet(tmp_path / "parts" / f"{cell.id}.parquet")
    checkpoints = here[here["record"] == "checkpoint"].reset_index(drop=True)
    theirs = there[there["record"] == "checkpoint"].reset_index(drop=True)
    pd.testing.assert_series_equal(checkpoints["loss"], theirs["loss"])


def test_a_study_file_names_plugins_relative_to_itself(
    plugin: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "studies"
    folder.mkdir()
    write(folder, "mine.py", plugin.read_text().replace('"t-', '"t2-'))
    study_file = write(
        folder,
        "mine.toml",
        'plugins = ["mine.py"]\nproblems = ["t2-bowl"]\noptimizers = ["t2-sign-sgd"]\n'
        "seeds = 2\nsteps = 5\n",
    )
    monkeypatch.chdir(tmp_path)  # elsewhere: the path is the file's, not the cwd's
    study = bench.Study.from_toml(study_file, {"plugins": [str(plugin)]})
    assert study.plugins == (str(folder / "mine.py"), str(plugin))  # the flag's add up
    assert "t2-bowl" in problems.PROBLEMS
    assert bench.Study.from_dict(study.to_dict()) == study
    assert "plugins" not in bench.Study(["sphere"], ["sgd"], steps=1).to_dict()


def test_a_module_plugin_records_its_version_and_hash(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = '__version__ = "0.3"\n' + PLUGIN.replace('"t-', '"t3-')
    path = write(tmp_path, "optbench_test_module_plugin.py", source)
    monkeypatch.syspath_prepend(str(tmp_path))
    (loaded,) = load_plugins(["optbench_test_module_plugin"], entry_points=False)
    assert loaded.record() == {
        "plugin": "optbench_test_module_plugin",
        "kind": "module",
        "module": "optbench_test_module_plugin",
        "version": "0.3",
        "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
    }
    assert load_plugins(["optbench_test_module_plugin"], entry_points=False) == [loaded]
    assert "t3-bowl" in problems.PROBLEMS


def test_installed_packages_register_through_the_entry_point_group(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    write(tmp_path, "optbench_test_ep_plugin.py", PLUGIN.replace('"t-', '"t4-'))
    dist = tmp_path / "optbench_test_ep-1.2.dist-info"
    dist.mkdir()
    write(dist, "METADATA", "Metadata-Version: 2.1\nName: optbench-test-ep\nVersion: 1.2\n")
    write(dist, "entry_points.txt", "[optbench.plugins]\ndemo = optbench_test_ep_plugin\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert load_cli_plugins("report", []) == []  # reading results loads only what it is given
    assert "t4-sign-sgd" not in optimizers.OPTIMIZERS
    assert cli(["list", "--optimizers"]) == 0  # no flag: the entry point is enough
    assert "t4-sign-sgd" in capsys.readouterr().out
    records = [p.record() for p in load_cli_plugins("check", [])]
    assert {"plugin": "entry-point:demo", "kind": "entry-point", "version": "1.2"}.items() <= (
        records[0].items()
    )


@pytest.mark.parametrize(
    ("source", "message"),
    [
        (None, r"plugin .*missing\.py: no such file"),
        (
            "import torch\n\nx = 1 / 0\n",
            r"failed to import: ZeroDivisionError: .* \(at bad\.py:3\)",
        ),
        (
            "import problems\n\n@problems.register('sphere')\ndef sphere():\n    pass\n",
            r"problem 'sphere' already exists \(by problems\.convex\); register it under",
        ),
        (
            "import optimizers\n\n@optimizers.register('adam')\ndef adam():\n    pass\n",
            r"optimizer 'adam' already exists \(by optimizers\.adam\)",
        ),
    ],
    ids=["missing", "raises", "problem-exists", "optimizer-exists"],
)
def test_a_bad_plugin_is_one_line_and_exit_2(
    source: str | None, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / ("missing.py" if source is None else "bad.py")
    if source is not None:
        path.write_text(source)
    argv = ["--plugin", str(path), "--problems", "sphere", "--optimizers", "sgd", "--steps", "1"]
    assert cli(["run", *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert re.search(message, err), err


def test_an_unknown_plugin_module_is_named() -> None:
    with pytest.raises(PluginError, match="plugin no_such_optbench_plugin: no module named"):
        load_plugins(["no_such_optbench_plugin"], entry_points=False)


def test_list_and_check_take_the_plugin(plugin: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(["list", "--plugin", str(plugin)]) == 0
    assert "t-bowl" in capsys.readouterr().out
    assert cli(["list", "--optimizers", "--plugin", str(plugin)]) == 0
    assert "t-sign-sgd" in capsys.readouterr().out


# --------------------------------------------------------------- third-party torch classes


@pytest.fixture(scope="module")
def torch_classes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("classes")
    write(folder, "optbench_test_classes.py", TORCH_CLASSES)
    sys.path.insert(0, str(folder))
    yield "optbench_test_classes"
    sys.path.remove(str(folder))


def test_an_elementwise_class_is_probed_and_runs_batched(torch_classes: str) -> None:
    sign, norm = f"{torch_classes}:SignSGD", f"{torch_classes}:NormSGD"
    assert isinstance(optimizers.method(sign), optimizers.Local)  # batched
    assert isinstance(optimizers.method(norm), TorchRows)  # the norm couples the rows
    assert optimizers.get(sign).probed and "probed: elementwise" in optimizers.get(sign).summary
    per_row = optimizers.configure(sign, lr=torch.tensor([0.1, 0.2]))
    assert not per_row.optimizer.elementwise  # one value per row: row by row
    # batched equals the class run row by row, one torch optimizer per row
    for outcome in bench.check_optimizer(sign):
        assert outcome.ok, outcome


def test_the_mode_is_recorded_per_cell(torch_classes: str) -> None:
    table = bench.run(
        problems=["sphere:dim=2"],
        optimizers=[f"{torch_classes}:SignSGD", f"{torch_classes}:NormSGD"],
        seeds=2,
        steps=5,
    )
    modes = table.astype({"optimizer": str}).groupby("optimizer")["mode"].unique()
    assert modes[f"{torch_classes}:SignSGD"].tolist() == ["batched"]
    assert modes[f"{torch_classes}:NormSGD"].tolist() == ["row by row"]


# --------------------------------------------------------------- the README, as written


def readme_steps() -> tuple[str, list[str], str]:
    """The plugin file, the shell commands and the notebook code of the README section."""
    text = (ROOT / "README.md").read_text()
    section = text.split("## Benchmark your own optimizer in five minutes", 1)[1]
    section = section.split("\n## ", 1)[0]
    blocks = re.findall(r"```(\w+)\n(.*?)```", section, re.S)
    plugin = next(b for lang, b in blocks if lang == "python" and b.startswith("# my_plugin"))
    commands = [line[2:] for lang, b in blocks if lang == "console" for line in b.splitlines()]
    notebook = next(b for lang, b in blocks if lang == "python" and "bench.run(" in b)
    return plugin, commands, notebook


@pytest.mark.slow
def test_the_readme_example_runs_as_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    plugin, commands, notebook = readme_steps()
    assert [shlex.split(c)[:2] for c in commands] == [
        ["bench", "check"],
        ["bench", "run"],
        ["bench", "show"],
        ["bench", "report"],
    ]
    monkeypatch.chdir(tmp_path)
    (tmp_path / "my_plugin.py").write_text(plugin)
    for command in commands:
        assert cli(shlex.split(command)[1:]) == 0, command
    out = capsys.readouterr().out
    assert "0 failed" in out  # bench check passed every check it ran
    assert (tmp_path / "runs" / "mine" / "report.html").exists()
    meta = json.loads((tmp_path / "runs" / "mine" / "meta.json").read_text())
    assert meta["plugins"][0]["plugin"] == str(tmp_path / "my_plugin.py")
    shown = reports.load(tmp_path / "runs" / "mine").astype({"optimizer": str})
    assert set(shown["optimizer"]) == {"sign-sgd:lr=0.05", "adam:lr=0.1"}
    namespace: dict[str, object] = {}
    exec(compile(textwrap.dedent(notebook), "README.md", "exec"), namespace)
    table = namespace["table"]
    assert isinstance(table, pd.DataFrame) and table.attrs["run_dir"] is None
    assert "sign-sgd" in capsys.readouterr().out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["my_plugin.py", "runs"]
