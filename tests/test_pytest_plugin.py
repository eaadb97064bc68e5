"""The pytest plugin (bench/pytest_plugin.py), run as users run it: pytest in a subprocess.

Each test writes a small project with pytester, runs pytest-benchmark on it in a subprocess
with the plugin (``-p bench.pytest_plugin``, as the entry point loads it once installed) and
reads the JSON that pytest-benchmark writes: the fields of ``extra_info``, the groups, the
deselection under ``--benchmark-only``, the run-once default and the convergence gate.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from bench._gate import gap_floor, gap_regressions, parse_gap_fail
from problems import SpecError

ROOT = Path(__file__).resolve().parent.parent
PLUGIN = ("-p", "bench.pytest_plugin", "-p", "no:cacheprovider")

USER_TESTS = """
import os

SPEC = os.environ.get("OPTIMIZER", "sgd:lr=0.1")


def test_step(optbench_benchmark):
    info = optbench_benchmark.step("sphere:dim=3", SPEC, rows=8, steps=50)
    assert info["rows"] == 8


def test_run(optbench_benchmark):
    optbench_benchmark.convergence("sphere:dim=3", SPEC, rows=16, steps=50)


def test_plain():
    assert True
"""


@pytest.fixture
def project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    path = os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
    monkeypatch.setenv("PYTHONPATH", path)
    monkeypatch.delenv("OPTIMIZER", raising=False)
    pytester.makepyfile(test_user=USER_TESTS)
    return pytester


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess(*PLUGIN, *args, timeout=300)


def test_benchmark_only_writes_the_fields_and_groups(project: pytest.Pytester) -> None:
    result = run(
        project, "--benchmark-only", "--benchmark-json=out.json", "--benchmark-histogram=h", "-ra"
    )
    assert result.ret == 0, result.stdout.str()
    histogram = project.path / "h-sphere_dim=3.svg"  # pygal, from pytest-benchmark[histogram]
    assert histogram.read_text().lstrip().startswith("<?xml"), "no histogram of the group"
    out = result.stdout.str()
    assert "Skipping non-benchmark" not in out and "SKIPPED" not in out
    assert re.search(r"2 passed, 1 deselected", out)
    assert "Name (time in" in out  # the comparison table
    data = json.loads((project.path / "out.json").read_text())
    assert data["optbench"]["benchmarks"] == 2
    by_name = {b["name"]: b for b in data["benchmarks"]}
    assert set(by_name) == {"test_step", "test_run"}
    for bench in by_name.values():
        assert bench["group"] == "sphere:dim=3"
        info = bench["extra_info"]
        assert info["problem"] == "sphere:dim=3" and info["optimizer"] == "sgd:lr=0.1"
        assert info["device"] == "cpu" and info["dtype"] == "float32"
        assert info["run_steps_per_s"] > 0
        assert info["gap_q1"] <= info["gap_median"] <= info["gap_q3"]
        assert info["success@1e-04"] == 1.0  # x <- 0.8 x: every seed gets there
        assert 1 <= info["evals_to_target"] <= 50
        assert isinstance(info["optbench_version"], str)
    step, conv = by_name["test_step"]["extra_info"], by_name["test_run"]["extra_info"]
    assert (step["kind"], step["rows"], step["convergence_rows"]) == ("step", 8, 8)
    assert (conv["kind"], conv["rows"], conv["steps"]) == ("convergence", 16, 50)
    # the step's rate is rows per median step time; the run's, rows x steps per median run
    assert step["run_steps_per_s"] == pytest.approx(8 / by_name["test_step"]["stats"]["median"])
    assert conv["run_steps_per_s"] == pytest.approx(
        16 * 50 / by_name["test_run"]["stats"]["median"]
    )
    assert by_name["test_step"]["stats"]["rounds"] >= 5


def test_plain_pytest_runs_each_benchmark_once(project: pytest.Pytester) -> None:
    project.makeini("[pytest]\noptbench_plain_run = once\n")
    project.makeconftest(
        """
        import pytest

        @pytest.fixture(autouse=True)
        def count_steps(monkeypatch):
            import bench._microbench as mb
            calls = []
            real = mb.Case.step_function
            def counted(self):
                step = real(self)
                def wrapped():
                    calls.append(1)
                    step()
                wrapped.state = step.state
                return wrapped
            monkeypatch.setattr(mb.Case, "step_function", counted)
            yield
            with open("calls.txt", "a") as fh:
                fh.write(f"{len(calls)}\\n")
        """
    )
    result = run(project)
    assert result.ret == 0, result.stdout.str()
    assert "Name (time in" not in result.stdout.str()  # no timings
    counts = (project.path / "calls.txt").read_text().split()
    assert counts[0] == "1"  # test_step: one step, no warm-up, no rounds
    (project.path / "calls.txt").unlink()
    timed = run(project, "--benchmark-only", "-k", "test_step")
    assert timed.ret == 0, timed.stdout.str()
    assert "Name (time in" in timed.stdout.str()
    assert int((project.path / "calls.txt").read_text().split()[0]) > 5


def test_gate_fails_against_a_better_saved_gap(project: pytest.Pytester) -> None:
    saved = run(project, "--benchmark-only", "--benchmark-autosave")
    assert saved.ret == 0, saved.stdout.str()
    gate = ("--benchmark-only", "--benchmark-compare", "--convergence-compare-fail=gap:2")
    same = run(project, *gate)
    assert same.ret == 0, same.stdout.str()
    same.stdout.fnmatch_lines(["*2 benchmarks compared: no median final gap grew*"])
    os.environ["OPTIMIZER"] = "sgd:lr=0.01"  # same ids, a worse gap (read by the subprocess)
    try:
        worse = run(project, *gate)
    finally:
        del os.environ["OPTIMIZER"]
    assert worse.ret == 1, worse.stdout.str()
    worse.stdout.fnmatch_lines(
        ["*Convergence has regressed (2 of 2 benchmarks)*", "*test_step*allowed: up to 2x*"]
    )


def test_speed_gate_and_markers_work_as_pytest_benchmark_users_expect(
    project: pytest.Pytester,
) -> None:
    assert run(project, "--benchmark-only", "--benchmark-autosave").ret == 0
    speed = run(
        project, "--benchmark-only", "--benchmark-compare", "--benchmark-compare-fail=mean:1000%"
    )
    assert speed.ret == 0, speed.stdout.str()
    assert "NOW" in speed.stdout.str()  # the comparison rows
    marked = run(project, "--benchmark-only", "-m", "optbench", "-k", "run")
    assert marked.ret == 0
    marked.stdout.fnmatch_lines(["*1 passed, 2 deselected*"])


@pytest.mark.parametrize(
    ("args", "complaint"),
    [
        (("--convergence-compare-fail=gap:0.5",), "allowed: gap:FACTOR with FACTOR >= 1"),
        (("--convergence-compare-fail=time:2",), "invalid --convergence-compare-fail"),
        (("--convergence-compare-fail=gap:2",), "needs --benchmark-compare"),
        (("--bench-size=huge",), "invalid choice: 'huge'"),
    ],
)
def test_bad_options_are_one_line_errors(
    project: pytest.Pytester, args: tuple[str, ...], complaint: str
) -> None:
    result = run(project, *args)
    assert result.ret != 0
    assert complaint in result.stderr.str() + result.stdout.str()


def test_the_readme_example_runs(project: pytest.Pytester) -> None:
    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"<!-- example:pytest -->\n```python\n(.*?)```", readme, re.S)
    assert len(blocks) == 1, "the README's optbench_benchmark example is marked once"
    project.makepyfile(test_readme=blocks[0])
    result = run(project, "--benchmark-only", "--benchmark-json=readme.json", "test_readme.py")
    assert result.ret == 0, result.stdout.str()
    data = json.loads((project.path / "readme.json").read_text())
    assert data["benchmarks"] and all("gap_median" in b["extra_info"] for b in data["benchmarks"])


def test_the_suite_uses_the_spec_spelling_and_sizes() -> None:
    def collect(*args: str) -> list[str]:
        out = subprocess.run(
            [sys.executable, "-m", "pytest", *PLUGIN, "tests/benchmarks", "--co", "-q", *args],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        return [line for line in out.splitlines() if "::" in line]

    small = collect()
    assert (
        "tests/benchmarks/test_optimizers.py::test_step[rosenbrock|adam:lr=0.05|cpu|rows=1000]"
        in small
    )
    assert any(
        "test_convergence[rastrigin:dim=10|restarts(adam:lr=0.05,n=8)|cpu|rows=1000]" in t
        for t in small
    )
    assert not any("restarts" in t and "rows=1]" in t for t in small)  # 8 rows per seed
    full = collect("--bench-size=full")
    assert len(full) > len(small) and any("nesterov" in t for t in full)
    picked = collect("-k", "rosenbrock and adam and 1000 and not noise")
    assert picked and all("rosenbrock|" in t and "adam" in t.lower() for t in picked)


def test_the_plugin_loads_light() -> None:
    heavy = "('torch', 'pandas', 'optimizers', 'problems._catalogue')"  # problems' facade is light
    code = f"import sys, bench.pytest_plugin; print([m for m in {heavy} if m in sys.modules])"
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


def test_the_entry_point_is_the_plugin_the_project_loads() -> None:
    tomllib = pytest.importorskip("tomllib" if sys.version_info >= (3, 11) else "tomli")
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    entry = config["project"]["entry-points"]["pytest11"]
    assert entry == {"bench.pytest_plugin": "bench.pytest_plugin"}  # name == module: no double load
    addopts = config["tool"]["pytest"]["ini_options"]["addopts"]
    assert addopts[addopts.index("-p") + 1] == "bench.pytest_plugin"


# --------------------------------------------------------------------------- the gate's rule


def _entry(name: str, gap: float | None, dtype: str = "float64", f_star: float = 0.0) -> dict:
    return {"fullname": name, "extra_info": {"gap_median": gap, "dtype": dtype, "f_star": f_star}}


def test_gap_rule() -> None:
    saved = [
        _entry("a", 1e-3),
        _entry("b", 1e-3),
        _entry("c", None),
        _entry("d", 1e-3),
        _entry("e", 0.0),
    ]
    now = [
        _entry("a", 1.9e-3),  # worse, within 2x
        _entry("b", 2.1e-3),  # worse by more than 2x
        _entry("c", None),  # diverged before and now: no change
        _entry("d", None),  # diverged now
        _entry("e", 1e-17),  # rounding-level gap against an exact 0
        _entry("new", 5.0),  # not in the saved run
    ]
    found, compared = gap_regressions(now, saved, 2.0)
    assert compared == 5
    assert [r.fullname for r in found] == ["b", "d"]
    assert "inf (diverged)" in str(found[1])
    assert gap_floor({"dtype": "float32", "f_star": -959.6}) == pytest.approx(959.6 * 2.0**-23)


@pytest.mark.parametrize("text", ["gap", "gap:", "gap:x", "gap:0.9", "gap:inf", "mean:2", "2"])
def test_bad_gap_fail_spec(text: str) -> None:
    with pytest.raises(SpecError, match="allowed: gap:FACTOR"):
        parse_gap_fail(text)
