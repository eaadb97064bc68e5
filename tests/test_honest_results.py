"""Results that tell the truth at a glance (issue 17): distinct seeds or "1 distinct run",
one set of targets for `bench show` and the report, "best" by success first, rounded gaps,
failure reasons, and the command line as a user expects it."""

from __future__ import annotations

import math
import re
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import bench
import reports
from bench._cli import main as cli
from problems import SpecError

sys.path.insert(0, str(Path(__file__).parent))
import _synthetic as synthetic

README = Path(__file__).resolve().parent.parent / "README.md"
WHEN = "2026-12-01 00:00 UTC"


def _readme_example() -> list[str]:
    """The README's own `bench run --problems ... --optimizers ...` line, as arguments."""
    line = next(
        x for x in README.read_text().splitlines() if "bench run --problems rosenbrock" in x
    )
    words = line.split("#")[0].split()
    return words[words.index("run") + 1 :]


@pytest.fixture(scope="module")
def readme_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("readme") / "run"
    args = _readme_example()
    args[args.index("--steps") + 1] = "30"  # the README's line, at a test's budget
    assert cli(["run", *args, "--out", str(out), "--quiet"]) == 0
    return out


def test_the_readme_example_gives_distinct_seeds(
    readme_run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert "--seeds 10" in " ".join(_readme_example())
    table = reports.summary(reports.load(readme_run, record=None))
    assert (table["n_seeds"] == 10).all()
    assert (table["distinct_runs"] == 10).all()  # rosenbrock's fixed start is sampled
    rosenbrock = table[table["problem"] == "rosenbrock"]
    assert (rosenbrock["gap_q25"] < rosenbrock["gap_q75"]).all()  # a spread, not one value
    assert reports.load_meta(readme_run)["study"]["start"] == "uniform"


def test_a_fixed_start_on_a_deterministic_problem_is_one_distinct_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "fixed"
    argv = ["run", "--problems", "rosenbrock", "--optimizers", "sgd:lr=1e-3,random-search"]
    assert (
        cli([*argv, "--seeds", "5", "--steps", "20", "--start", "default", "--out", str(out)]) == 0
    )
    captured = capsys.readouterr()
    assert "every seed of rosenbrock is the same run" in captured.err  # it warns
    table = reports.summary(reports.load(out, record=None)).set_index("optimizer")
    assert table.loc["sgd:lr=1e-3", "n_seeds"] == 5
    assert table.loc["sgd:lr=1e-3", "distinct_runs"] == 1
    assert math.isnan(table.loc["sgd:lr=1e-3", "success_low@1e+01"])  # no interval for one run
    assert table.loc["random-search", "distinct_runs"] == 5  # it samples its own starts
    text = reports.show_text(out, wide=True)  # the intervals are in the wide view
    row = next(x for x in text.splitlines() if "sgd:lr=1e-3" in x and "rosenbrock" in x)
    assert " 1/5 " in row
    assert "[" not in row.split("]", 1)[1]  # the gap's IQR only: no Wilson interval
    assert "5 seeds are 1 distinct run" in text
    page = reports.write([out], tmp_path / "fixed.html", generated=WHEN).read_text()
    assert "1 of 5" in page
    assert "they count 1 distinct run" in page


def test_the_start_default_depends_on_the_seeds_and_is_validated() -> None:
    many = bench.Study(["rosenbrock"], ["sgd"], seeds=20, steps=5)
    assert many.start == "uniform"
    assert bench.Study(["rosenbrock"], ["sgd"], seeds=1, steps=5).start == "default"
    assert bench.Study(["rosenbrock"], ["sgd"], seeds=3, steps=5, start="default").start == (
        "default"
    )
    assert bench.Study.from_dict(many.to_dict()) == many
    from bench import _cli, _study

    assert _cli.STARTS == _study.STARTS  # the flag's choices, kept without importing torch
    with pytest.raises(SpecError, match="start 'unifrom' is not supported; allowed"):
        bench.Study(["rosenbrock"], ["sgd"], seeds=3, steps=5, start="unifrom")


def test_show_and_the_report_show_the_same_targets(
    readme_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shown = re.findall(r"ok@(\S+)", reports.show_text(readme_run).splitlines()[0])
    page = reports.write([readme_run], tmp_path / "r.html", generated=WHEN).read_text()
    in_report = re.findall(r"<th>success<br>gap ≤ (\S+?)</th>", page)
    assert shown == in_report == ["1e-01", "1e-04", "1e-08"]
    assert "steps to<br>1e-04" in page  # the runtime target is the middle one of the same
    # --target on both commands
    assert cli(["show", str(readme_run), "--target", "1e-2"]) == 0
    assert "ok@1e-02" in capsys.readouterr().out
    out = tmp_path / "t.html"
    assert cli(["report", str(readme_run), "-o", str(out), "--target", "1e-2"]) == 0
    page = out.read_text()
    assert re.findall(r"<th>success<br>gap ≤ (\S+?)</th>", page) == ["1e-02"]
    assert "steps to<br>1e-02" in page


def test_profiles_say_so_when_no_solver_reaches_the_target(tmp_path: Path) -> None:
    problems = [p for p in synthetic.DEFAULT_PROBLEMS if p.spec in {"sphere:dim=10", "rosenbrock"}]
    run = synthetic.write_study(tmp_path / "p", problems=problems, seeds=3)
    results = reports.load(run, record=None)
    # a target nobody reaches: a sentence, no empty plot and no scores of 0.000
    page = reports.render(results, reports.load_meta(run), target=1e-300, generated=WHEN)
    section = page[page.index('id="profiles"') : page.index('id="winloss"')]
    assert "No solver reached gap ≤ 1e-300 on any problem" in section
    assert "<img" not in section
    assert "0.000" not in section
    # by default: the tightest target that some solver reaches on most problems, said so
    page = reports.render(results, reports.load_meta(run), generated=WHEN)
    section = page[page.index('id="profiles"') : page.index('id="winloss"')]
    assert "the tightest of the study&#39;s targets that some solver reaches on most" in section
    assert "<img" in section


def test_best_runtime_goes_to_the_most_successful_solver() -> None:
    lab = reports.target_label(1e-4)
    summary = pd.DataFrame(
        {
            "problem": ["p", "p"],
            "solver": ["lucky", "steady"],
            "optimizer": ["lucky", "steady"],
            "measure": ["gap", "gap"],
            "runs": [10, 10],
            "seeds": [10, 10],
            "final_median": [1.0, 1e-5],
            "final_q25": [0.5, 1e-6],
            "final_q75": [2.0, 1e-4],
            f"success@{lab}": [0.1, 0.8],
            f"success_low@{lab}": [0.02, 0.49],
            f"success_high@{lab}": [0.4, 0.94],
            f"hits@{lab}": [1, 8],
            f"valid@{lab}": [10, 10],
            "success_at": [0.1, 0.8],
            "steps_to": [10.0, 500.0],  # the lucky run was fast
            "evals_to": [10.0, 500.0],
            "time_to": [0.01, 0.5],
            "ert": [1e4, 700.0],
            "step_time_s": [1e-3, 1e-3],
            "diverged": [0, 0],
            "failed": [0, 0],
        }
    )
    html = str(reports.summary_table(summary, [1e-4], 1e-4))
    assert '<td class="best">500</td>' in html  # steady: 8 of 10 beats 1 of 10
    assert '<td class="best">10</td>' not in html


def test_a_gap_below_zero_by_rounding_counts_as_zero() -> None:
    f_star = -959.6406627208506
    rows = [
        {
            "record": "checkpoint",
            "problem": "eggholder",
            "optimizer": "o",
            "device": "cpu",
            "dtype": "float64",
            "seed": seed,
            "status": "ok",
            "step": 10.0,
            "evals": 10.0,
            "time_s": 0.01,
            "best_loss": f_star + gap,
            "loss": f_star + gap,
            "gap": gap,
            "f_star": f_star,
        }
        for seed, gap in enumerate([-1e-13, 2e-3])
    ]
    table = reports.summary(pd.DataFrame(rows), targets=[1e-2])
    assert table.loc[0, "gap_rounded"] == 1
    assert table.loc[0, "gap_q25"] >= 0.0
    assert reports.rounding_tolerance(f_star) > 1e-13
    # beyond the rounding of f*, a negative gap is kept as it is (f* would be wrong)
    rows[0]["gap"] = -1e-6
    table = reports.summary(pd.DataFrame(rows), targets=[1e-2])
    assert table.loc[0, "gap_rounded"] == 0
    finals = reports.success_table(pd.DataFrame(rows), [1e-2]).set_index("seed")
    assert finals.loc[0, "final_gap"] == -1e-6


def test_show_lists_each_failure_reason_with_its_count(tmp_path: Path) -> None:
    problems = [p for p in synthetic.DEFAULT_PROBLEMS if p.name in {"beale", "rastrigin"}]
    optimizers = [o for o in synthetic.DEFAULT_OPTIMIZERS if o[1] in {"sgd", "momentum"}]
    run = synthetic.write_study(tmp_path / "f", problems=problems, optimizers=optimizers, seeds=8)
    frame = reports.load(run, record=None)
    reasons = reports.failure_reasons(frame)
    ck = frame[(frame["record"] == "checkpoint") & (frame["status"] != "ok")]
    assert not ck.empty
    per_run = ck.drop_duplicates(["problem", "optimizer", "seed"])
    assert reasons["runs"].sum() == len(per_run)
    assert set(reasons["reason"]) == set(per_run["reason"])
    # reasons that differ only in the step are one reason, the step shown as its range
    hand = pd.DataFrame(
        {
            "record": "checkpoint",
            "problem": ["p", "p", "q", "q"],
            "optimizer": "sgd",
            "seed": [0, 1, 0, 1],
            "status": ["diverged", "diverged", "diverged", "failed"],
            "reason": [
                "loss became non-finite at step 13",
                "loss became non-finite at step 6",
                "loss became non-finite at step 9",
                "RuntimeError: out of memory",
            ],
        }
    )
    merged = reports.failure_reasons(hand).set_index("reason")
    assert merged.loc["loss became non-finite at step 6–13", "runs"] == 3
    assert merged.loc["loss became non-finite at step 6–13", "cells"] == 2
    assert merged.loc["RuntimeError: out of memory", "status"] == "failed"
    text = reports.show_text(run)
    assert "diverged and failed runs, by reason:" in text
    for row in reasons.itertuples(index=False):
        assert re.search(rf"\b{row.runs}\s+{row.status}\b.*{re.escape(row.reason)}", text)


def test_the_command_line_as_a_user_expects(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "cli"
    argv = ["run", "--problems", "sphere:dim=2", "--problems", "booth", "--optimizers", "sgd"]
    assert cli([*argv, "--optimizers", "random-search", "--seeds", "2", "--steps", "5",
                "--out", str(out), "--quiet"]) == 0  # fmt: skip
    printed = capsys.readouterr().out
    assert "median gap" in printed  # --quiet hides progress bars, not the results
    meta = reports.load_meta(out)["study"]
    assert meta["problems"] == ["sphere:dim=2", "booth"]  # a repeated list flag adds up
    assert meta["optimizers"] == ["sgd", "random-search"]
    with pytest.raises(SystemExit):
        cli(["run", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert "10 seeds and 1000 steps" in help_text
    assert "else 10" in help_text
    assert "else 1000" in help_text
    assert "--start {default,uniform}" in help_text


def test_the_study_format_example_runs_each_optimizer_once() -> None:
    doc = (README.parent / "docs" / "STUDY_FORMAT.md").read_text()
    toml = doc[doc.index("```toml") + len("```toml") : doc.index("```", doc.index("```toml") + 7)]
    import tomllib

    study = bench.Study.from_dict(tomllib.loads(toml))
    assert len(set(study.optimizers)) == len(study.optimizers), study.optimizers
    assert len(set(study.problems)) == len(study.problems), study.problems
    np.testing.assert_equal(study.start, "uniform")
