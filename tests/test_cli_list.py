"""`bench list`: the catalogue as a table and as JSON, filtered by tag; optimizers."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import problems
from bench._cli import main as cli


def test_list_json_covers_the_registry(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(["list", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["name"] for r in rows} == set(problems.PROBLEMS.names())
    assert len(rows) >= 30
    sphere = next(r for r in rows if r["name"] == "sphere")
    assert sphere["f_star"] == 0.0
    assert "convex" in sphere["tags"]


def test_list_tag_filters(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(["list", "--tag", "multimodal", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows
    assert all("multimodal" in r["tags"] for r in rows)
    assert "sphere" not in {r["name"] for r in rows}


def test_list_table_has_the_columns(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(["list"]) == 0
    header = capsys.readouterr().out.splitlines()[0].split()
    assert header[:3] == ["name", "dim", "f_star"]
    assert "source" in header


def test_list_unknown_tag_is_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(["list", "--tag", "multimodel"]) == 2
    assert "unknown tag 'multimodel'" in capsys.readouterr().err


def test_list_optimizers_shows_defaults_and_spaces(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(["list", "--optimizers", "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["adam"]["defaults"]["lr"] == pytest.approx(1e-3)
    assert "lr" in rows["adam"]["search_space"]
    assert {"sgd", "momentum", "nesterov", "adamw", "amsgrad", "rmsprop", "adagrad"} <= set(rows)
    # `spec` runs as it stands (tests/test_documented_specs.py builds every one of them)
    assert rows["adam"]["spec"] == "adam"
    assert rows["restarts"]["spec"] == "restarts(adam)"
    assert rows["random-search"]["spec"] == "random-search"  # kebab-case, like every name
    assert "random_search" not in rows  # the old spelling still runs, but is not listed
    assert rows["random-search"]["defaults"] == {"batch": 1}  # wrappers list their options
    assert rows["restarts"]["defaults"]["mode"] == "parallel"


def test_list_shows_every_problems_options(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(["list", "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["ellipsoid"]["options"] == {"dim": 2, "condition": 1e6, "rotated": False}
    assert rows["beale"]["options"] == {}
    assert cli(["list"]) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("ellipsoid"))
    assert "condition=1000000.0" in line
    assert "rotated=false" in line


def test_list_name_shows_one_problem_in_full(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(["list", "ellipsoid"]) == 0
    out = capsys.readouterr().out
    assert "condition=1000000.0" in out
    assert "the condition number kappa" in out  # what the option does, from the docstring
    assert "rotated=false" in out
    assert "instance=" in out  # the options every problem has
    assert "f*:" in out
    assert cli(["list", "ellipsoid:dim=4", "--json"]) == 0
    detail = json.loads(capsys.readouterr().out)
    assert detail["dim"] == 4
    assert detail["options"]["condition"]["default"] == 1e6
    assert cli(["list", "elipsoid"]) == 2
    assert "did you mean 'ellipsoid'" in capsys.readouterr().err


@pytest.mark.slow
def test_python_dash_m_bench_works() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "bench", "list", "--tag", "convex"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "sphere" in out.stdout
