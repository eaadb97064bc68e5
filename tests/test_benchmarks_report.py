"""pytest-benchmark JSON in ``bench report`` (reports/_benchmarks.py): reading, tables, page.

The files are pytest-benchmark's format: hand-made ones with known numbers for the figures,
and in the browser test the JSON that a real ``pytest --benchmark-only`` run of the plugin
writes, rendered in headless Chromium next to a file with hostile names.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

import reports
from bench._cli import main
from problems import SpecError, StoreError

sys.path.insert(0, str(Path(__file__).parent))
import _synthetic as synthetic

ROOT = Path(__file__).resolve().parent.parent
EVIL = "<script>alert(1)</script>"
CHROMIUM = Path("/usr/bin/chromium")


def entry(
    name: str,
    median: float,
    gap: float | None,
    *,
    problem: str = "rosenbrock",
    optimizer: str = "adam:lr=0.01",
    kind: str = "step",
    rows: int = 1000,
    dtype: str = "float32",
) -> dict[str, Any]:
    return {
        "group": problem,
        "name": name,
        "fullname": f"tests/benchmarks/test_optimizers.py::{name}",
        "params": None,
        "param": None,
        "extra_info": {
            "kind": kind,
            "problem": problem,
            "optimizer": optimizer,
            "rows": rows,
            "device": "cpu",
            "dtype": dtype,
            "f_star": 0.0,
            "run_steps_per_s": rows / median,
            "gap_median": gap,
            "gap_q1": None if gap is None else gap / 2,
            "gap_q3": None if gap is None else gap * 2,
            "gap_iqr": None if gap is None else gap * 1.5,
            "success@1e-04": 0.5,
            "evals_to_target": 120.0,
            "diverged": 0.0 if gap is not None else 1.0,
            "steps": 100,
            "convergence_rows": 100,
            "optbench_version": "0.1.0",
        },
        "stats": {"median": median, "iqr": median / 10, "mean": median, "rounds": 20},
    }


def write_run(path: Path, entries: list[dict[str, Any]], when: str, commit: str) -> Path:
    data = {
        "machine_info": {},
        "commit_info": {"id": commit},
        "benchmarks": entries,
        "datetime": when,
        "version": "5.3.1",
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))
    return path


@pytest.fixture
def saved(tmp_path: Path) -> Path:
    """A .benchmarks folder with two runs: the newer has one slower and one worse benchmark."""
    folder = tmp_path / ".benchmarks" / "Linux-CPython-3.11-64bit"
    write_run(
        folder / "0001_aaaa.json",
        [entry("fast", 1e-4, 1e-6), entry("steady", 2e-4, 1e-3), entry("gone", 1e-4, 1.0)],
        "2026-12-01T10:00:00+00:00",
        "aaaaaaaa11",
    )
    write_run(
        folder / "0002_bbbb.json",
        [entry("fast", 1.5e-4, 1e-6), entry("steady", 2.05e-4, 5e-3), entry("new", 1e-4, 1.0)],
        "2026-12-01T11:00:00+00:00",
        "bbbbbbbb22",
    )
    return tmp_path / ".benchmarks"


def test_load_orders_runs_and_reads_extra_info(saved: Path) -> None:
    frame = reports.load_benchmarks([saved])
    assert len(frame) == 6
    assert dict(zip(frame["run"], frame["order"])) == {"0001_aaaa": 0, "0002_bbbb": 1}
    fast = frame[(frame["name"] == "fast") & (frame["order"] == 1)].iloc[0]
    assert (fast["problem"], fast["optimizer"], fast["rows"]) == (
        "rosenbrock",
        "adam:lr=0.01",
        1000,
    )
    assert fast["median"] == 1.5e-4 and fast["commit"] == "bbbbbbbb"


def test_change_marks_slower_and_worse(saved: Path) -> None:
    change = reports.change_table(reports.load_benchmarks([saved])).set_index("fullname")
    assert len(change) == 2  # gone and new are in one run only
    fast = change.loc["tests/benchmarks/test_optimizers.py::fast"]
    steady = change.loc["tests/benchmarks/test_optimizers.py::steady"]
    assert fast["time_ratio"] == pytest.approx(1.5) and fast["slower"] and not fast["worse"]
    assert steady["gap_ratio"] == pytest.approx(5.0) and steady["worse"] and not steady["slower"]
    relaxed = reports.change_table(reports.load_benchmarks([saved]), speed=0.6, gap=10)
    assert not relaxed["slower"].any() and not relaxed["worse"].any()


def test_rounding_level_gaps_and_divergence(tmp_path: Path) -> None:
    a = write_run(
        tmp_path / "a.json",
        [entry("tiny", 1e-4, 1e-12), entry("blew", 1e-4, 1e-3)],
        "2026-12-01T10:00:00",
        "a",
    )
    b = write_run(
        tmp_path / "b.json",
        [entry("tiny", 1e-4, 1e-9), entry("blew", 1e-4, None)],
        "2026-12-01T11:00:00",
        "b",
    )
    change = reports.change_table(reports.load_benchmarks([a, b])).set_index("fullname")
    tiny = change.loc["tests/benchmarks/test_optimizers.py::tiny"]
    blew = change.loc["tests/benchmarks/test_optimizers.py::blew"]
    assert not tiny["worse"]  # both below float32's epsilon: rounding
    assert blew["worse"] and blew["gap_ratio"] == float("inf")


def test_page_from_json_alone(saved: Path, tmp_path: Path) -> None:
    out = reports.write([saved], tmp_path / "bench.html", generated="today")
    page = out.read_text()
    assert page.startswith("<!DOCTYPE html>") and "generated today" in page
    assert page.count('<table class="bench-steps">') == 1  # one problem
    assert "1.50× ▲" in page  # the slower benchmark, marked
    assert "5× ▲" in page  # the worse gap, marked
    assert "0001_aaaa · commit aaaaaaaa" in page


def test_section_beside_a_run_directory(saved: Path, tmp_path: Path) -> None:
    problems = [p for p in synthetic.DEFAULT_PROBLEMS if p.name == "sphere"]
    run = synthetic.write_study(tmp_path / "run", name="study", problems=problems, seeds=2)
    out = reports.write([run, saved], tmp_path / "both.html", generated="now")
    page = out.read_text()
    assert "optbench report: study" in page
    assert '<section id="benchmarks"><h2>pytest-benchmark timings</h2>' in page
    assert 'href="#benchmarks"' in page


def test_hostile_names_are_escaped(tmp_path: Path) -> None:
    path = write_run(
        tmp_path / "evil.json",
        [entry(EVIL, 1e-4, 1e-3, problem=EVIL, optimizer=EVIL)],
        EVIL,
        EVIL,
    )
    html = reports.benchmarks_html(reports.load_benchmarks([path]))
    assert EVIL not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html


@pytest.mark.parametrize(
    ("content", "complaint"),
    [("{not json", "not a readable JSON file"), ('{"rows": []}', "not a pytest-benchmark file")],
)
def test_bad_files_are_named(tmp_path: Path, content: str, complaint: str) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    with pytest.raises(StoreError, match=complaint) as error:
        reports.load_benchmarks([bad])
    assert str(bad) in str(error.value)


def test_missing_and_empty_sources(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="no such file"):
        reports.load_benchmarks([tmp_path / "nope.json"])
    with pytest.raises(SpecError, match="no pytest-benchmark files"):
        reports.load_benchmarks([])
    (tmp_path / "empty").mkdir()
    runs, benches = reports.split_sources([tmp_path / "empty"])
    assert (runs, benches) == ([tmp_path / "empty"], [])  # not a .benchmarks folder


def test_cli_report_takes_json(
    saved: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "cli.html"
    assert main(["report", str(saved), "-o", str(out)]) == 0
    assert "pytest-benchmark timings" in out.read_text()
    assert f"report: {out}" in capsys.readouterr().out


@pytest.mark.browser
@pytest.mark.skipif(
    not CHROMIUM.exists() and not os.environ.get("CI"),
    reason="needs Debian's chromium at /usr/bin/chromium (apt-get install chromium)",
)
def test_report_from_a_real_run_in_chromium(
    pytester: pytest.Pytester, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """pytest --benchmark-only writes the JSON; the page renders it, hostile names inert."""
    pytester.makepyfile(
        test_real="""
        def test_step(optbench_benchmark):
            optbench_benchmark.step("rosenbrock", "adam:lr=0.01", rows=8, steps=20)

        def test_run(optbench_benchmark):
            optbench_benchmark.convergence("sphere:dim=3", "sgd:lr=0.1", rows=8, steps=20)
        """
    )
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    result = pytester.runpytest_subprocess(
        "-p", "bench.pytest_plugin", "--benchmark-only", "--benchmark-json=real.json", timeout=300
    )
    assert result.ret == 0, result.stdout.str()
    evil = write_run(
        tmp_path / "evil.json",
        [entry(EVIL, 1e-4, 1e-3, problem=EVIL, optimizer=EVIL)],
        "2000-01-01T00:00:00",
        EVIL,
    )
    out = reports.write(
        [evil, pytester.path / "real.json"], tmp_path / "real.html", generated="now"
    )

    os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM), args=["--headless", "--no-sandbox"], headless=True
        )
        context = browser.new_context(viewport={"width": 1366, "height": 768}, offline=True)
        page = context.new_page()
        dialogs: list[str] = []
        errors: list[str] = []
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(out.as_uri(), wait_until="load")
        try:
            assert dialogs == [] and errors == []
            assert page.evaluate("document.scripts.length") == 0
            groups = page.locator("table.bench-steps th.prob").all_inner_texts()
            assert groups == ["rosenbrock"]  # the newest run (the real one) only
            convergence = page.locator("table.bench-convergence").inner_text()
            assert "sphere:dim=3" in convergence and "sgd:lr=0.1" in convergence
            assert "One run only" not in page.inner_text("body")  # two files: a change table
            assert "commit <script>" in page.inner_text("body")  # the older run's, as text
            assert page.evaluate("document.documentElement.scrollWidth") <= 1366
        finally:
            context.close()
            browser.close()
