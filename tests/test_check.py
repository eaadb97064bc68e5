"""`bench check NAME...`: the catalogue's conformance checks on any name, a plugin's included;
a table of checks, exit 1 naming the one that failed."""

from __future__ import annotations

from pathlib import Path

import pytest

import bench
from bench._check import check_table
from bench._cli import main as cli
from tests._plugin_files import WRONG, forget_plugins, write

pytestmark = pytest.mark.usefixtures("forget_plugins")
assert forget_plugins


@pytest.fixture(scope="module")
def wrong(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write(tmp_path_factory.mktemp("wrong"), "wrong_plugin.py", WRONG)


def test_an_f_star_above_a_reachable_value_fails_naming_the_check(
    wrong: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli(["check", "--plugin", str(wrong), "--samples", "2000", "t-wrong-bowl"]) == 1
    out = capsys.readouterr().out
    assert "t-wrong-bowl  nothing below f*" in out.replace("   ", "  ")
    last = out.strip().splitlines()[-1]
    assert last.startswith("3 passed, 1 failed, 3 skipped: t-wrong-bowl: nothing below f*"), last
    assert "a sample has loss" in out and "< f* = 0.5" in out


def test_optimizers_that_mix_rows_or_ignore_per_row_values_fail(
    wrong: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli(["check", "--plugin", str(wrong), "t-norm-sgd", "t-plain-sgd"]) == 1
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert "t-norm-sgd: batched = row by row" in last
    assert "t-norm-sgd: diverged rows stay apart" in last  # a NaN row spreads to all
    assert "t-plain-sgd: per-row hyperparameters" in last
    assert "t-plain-sgd: batched = row by row" not in last


def test_the_catalogue_passes_its_own_checks() -> None:
    outcomes = bench.check(["sphere:dim=3", "adam", "torch:NAdam"], samples=2000)
    assert [o for o in outcomes if not o.ok] == []
    by_check = {(o.subject, o.check): o.status for o in outcomes}
    assert by_check["adam", "parity with torch.optim"] == "ok"  # REFERENCES declares Adam
    assert by_check["torch:NAdam", "per-row hyperparameters"] == "skipped"  # one value a batch
    assert by_check["sphere:dim=3", "minimisers reach f*"] == "ok"
    text = check_table(outcomes)
    assert all(len(line) <= 100 for line in text.splitlines())


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("sphre", "'sphre' is neither a problem nor an optimizer; did you mean 'sphere'?"),
        ("restarts(adam)", "'restarts(adam)' is a global-search wrapper"),
        ("adam:lr=-1", "adam: invalid lr -1"),
    ],
)
def test_bad_names_are_one_line_and_exit_2(
    name: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli(["check", name]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err, err
