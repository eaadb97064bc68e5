"""The HTML report: tables checked against the results, the figures' math, safety, self-containment.

Results come from `tests/_synthetic.py`, which writes Parquet part files and meta.json exactly as
docs/RESULTS.md describes them.
"""

from __future__ import annotations

import html
import json
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

import reports
from problems import SpecError

sys.path.insert(0, str(Path(__file__).parent))
import _synthetic as synthetic

EVIL = "<script>alert(1)</script>"
WHEN = "2026-12-01 00:00 UTC"

SMALL_PROBLEMS = [
    p
    for p in synthetic.DEFAULT_PROBLEMS
    if p.spec in {"sphere:dim=10", "rosenbrock", "rastrigin:dim=10", "beale", "mlp-regression"}
]
SMALL_OPTIMIZERS = [
    o for o in synthetic.DEFAULT_OPTIMIZERS if o[1] in {"sgd", "adam", "momentum", "restarts"}
]


class _Tables(HTMLParser):
    """Collects every table's rows as lists of cell texts, keyed by the table's class."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[tuple[str, list[list[str]]]] = []
        self._cell: list[str] | None = None
        self._row: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self.tables.append((dict(attrs).get("class") or "", []))
        elif tag == "tr":
            self._row = []
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append("".join(self._cell).strip())
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.tables[-1][1].append(self._row)
            self._row = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def tables(page: str, cls: str) -> list[list[list[str]]]:
    parser = _Tables()
    parser.feed(page)
    return [rows for c, rows in parser.tables if c == cls]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return synthetic.write_study(
        tmp_path_factory.mktemp("runs") / "small",
        name="small",
        problems=SMALL_PROBLEMS,
        optimizers=SMALL_OPTIMIZERS,
        seeds=4,
        steps=300,
        checkpoints=20,
    )


@pytest.fixture(scope="module")
def page(run_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> str:
    out = reports.write([run_dir], tmp_path_factory.mktemp("out") / "sub" / "report.html")
    return out.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def results(run_dir: Path) -> pd.DataFrame:
    return pd.concat(
        [pd.read_parquet(p) for p in sorted((run_dir / "parts").glob("*.parquet"))],
        ignore_index=True,
    )


# --- the page as a whole ----------------------------------------------------------------------


@pytest.mark.slow
def test_page_is_self_contained(page: str) -> None:
    assert page.startswith("<!DOCTYPE html>")
    assert "<script" not in page.lower()
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//)""", page)
    assert "<link" not in page.lower()
    images = re.findall(r'<img src="([^"]*)"', page)
    assert len(images) >= 7  # 3 convergence, ECDF, profiles, win/loss, landscapes, held-out
    assert all(src.startswith("data:image/png;base64,") for src in images)


def test_page_has_every_section(page: str) -> None:
    for anchor in (
        "setup",
        "summary",
        "convergence",
        "ecdf",
        "profiles",
        "winloss",
        "landscapes",
        "heldout",
        "failures",
    ):
        assert f'id="{anchor}"' in page
    assert 'id="devices"' not in page  # one device only


def test_header_shows_study_and_environment(page: str, run_dir: Path) -> None:
    meta = json.loads((run_dir / "meta.json").read_text())
    text = html.unescape(page)  # the templates escape `"` as &#34;, html.escape as &quot;
    for value in (meta["cpu"], meta["git_commit"], meta["started"], meta["versions"]["torch"]):
        assert value in text
    assert "123.4 s" in page
    assert json.dumps(meta["study"]["problems"][0]) in text  # the spec


# --- the summary table against the results ----------------------------------------------------


def _summary_rows(page: str) -> dict[tuple[str, str], list[str]]:
    (rows,) = tables(page, "summary")
    header, body = rows[0], rows[1:]
    out: dict[tuple[str, str], list[str]] = {}
    problem = ""
    for row in body:
        if len(row) == len(header):
            problem, row = row[0], row[1:]
        out[(problem, row[0])] = row[1:]
    return out


def test_summary_table_matches_results(page: str, results: pd.DataFrame) -> None:
    """Every cell of the summary table, recomputed here from the raw rows.

    Failed runs are left out of final gaps, success rates and times to target (as
    `reports.summary` does); success rates carry a 95 % Wilson interval.
    """
    rows = _summary_rows(page)
    ck = results[results["record"] == "checkpoint"]
    tg = results[results["record"] == "target"]
    keys = ck[["problem", "optimizer"]].drop_duplicates()
    assert set(rows) == {tuple(k) for k in keys.itertuples(index=False)}
    # columns: runs, final, 3 success rates (1e-1, 1e-4, 1e-8: as bench show), steps, evals,
    # time, ERT,
    # time/step, diverged, failed
    for (problem, optimizer), cells in rows.items():
        cell = ck[(ck["problem"] == problem) & (ck["optimizer"] == optimizer)]
        last = cell.sort_values("step").groupby("seed").tail(1)
        valid = last[last["status"] != "failed"]
        value = valid["gap"] if valid["gap"].notna().any() else valid["best_loss"]
        assert cells[0] == str(cell["seed"].nunique())
        assert cells[1].startswith(format(value.median(), ".3g"))
        assert cells[-2] == str(int((last["status"] == "diverged").sum()))
        assert cells[-1] == str(int((last["status"] == "failed").sum()))
        mine = tg[(tg["problem"] == problem) & (tg["optimizer"] == optimizer)]
        mine = mine[mine["status"] != "failed"]
        for col, target in zip(cells[2:5], [1e-1, 1e-4, 1e-8]):
            hits = mine[np.isclose(mine["target"], target)]
            if hits.empty:
                assert col == "–"
                continue
            n, m = int(hits["step"].notna().sum()), len(valid)
            lo, hi = reports.wilson_interval(n, m)
            ci = f"{100 * float(lo):.0f}–{100 * float(hi):.0f}%"
            assert col == f"{100 * n / m:.0f}% ({n}/{m})[{ci}]"
        hits = mine[np.isclose(mine["target"], 1e-4) & mine["step"].notna()]
        assert cells[5] == (format(hits["step"].median(), ".4g") if len(hits) else "–")
        assert cells[6] == (format(hits["evals"].median(), ".4g") if len(hits) else "–")


def test_summary_ert_is_total_evaluations_over_successes(results: pd.DataFrame) -> None:
    summary = reports.summary_frame(results, [1e-4], 1e-4)
    row = summary[(summary["problem"] == "rosenbrock")].iloc[0]
    ck = results[(results["record"] == "checkpoint") & (results["problem"] == "rosenbrock")]
    tg = results[(results["record"] == "target") & (results["problem"] == "rosenbrock")]
    optimizer = row["optimizer"]
    tg = tg[(tg["optimizer"] == optimizer) & np.isclose(tg["target"], 1e-4)]
    budget = ck[ck["optimizer"] == optimizer].groupby("seed")["evals"].max()
    spent = tg.set_index("seed")["evals"].fillna(budget)
    expected = spent.sum() / tg["step"].notna().sum()
    assert row["ert"] == pytest.approx(expected)


def test_best_entries_are_highlighted(page: str, results: pd.DataFrame) -> None:
    summary = reports.summary_frame(results, [1e-4], 1e-4)
    sphere = summary[summary["problem"] == "sphere:dim=10"]
    best = sphere.loc[sphere["final_median"].idxmin()]
    assert f'<td class="best">{format(best["final_median"], ".3g")}' in page


def test_failures_table_lists_reasons(page: str, results: pd.DataFrame) -> None:
    bad = results[(results["record"] == "checkpoint") & (results["status"] != "ok")]
    assert not bad.empty
    (rows,) = tables(page, "list failures")
    text = " ".join(" ".join(r) for r in rows)
    for reason in bad["reason"].unique():
        assert reason in text


# --- several runs -----------------------------------------------------------------------------


@pytest.mark.slow
def test_runs_combine_with_labels(run_dir: Path, tmp_path: Path) -> None:
    other = synthetic.write_study(
        tmp_path / "gpu-run",
        name="small",
        problems=SMALL_PROBLEMS[:2],
        optimizers=SMALL_OPTIMIZERS[:2],
        seeds=3,
        devices=("cpu", "cuda"),
        random_state=3,
    )
    combined, metas = reports.load_runs([run_dir, other])
    assert sorted(combined["run"].unique()) == ["gpu-run", "small"]  # same label: dir names
    assert list(metas) == ["small", "gpu-run"]
    solvers = reports.add_solver(combined)["solver"].unique()
    assert "momentum [gpu-run · cuda]" in solvers
    page = reports.render(
        combined[combined["problem"].isin(["rosenbrock", "sphere:dim=10"])], metas, generated=WHEN
    )
    assert 'id="devices"' in page
    assert page.count('<div class="run">') == 2
    labelled, _ = reports.load_runs([run_dir, other], labels=["before", "after"])
    assert sorted(labelled["run"].unique()) == ["after", "before"]
    with pytest.raises(SpecError, match="labels"):
        reports.load_runs([run_dir, other], labels=["x"])


def test_load_names_a_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(reports.StoreError, match="parts"):
        reports.load_runs([tmp_path])


def test_render_accepts_one_meta_without_run_column(results: pd.DataFrame) -> None:
    page = reports.render(
        results[results["problem"] == "beale"], {"name": "plain", "label": "plain"}, generated=WHEN
    )
    assert "run plain" in page


# --- figures ----------------------------------------------------------------------------------


@pytest.mark.parametrize("x", ["step", "evals", "time_s"])
def test_convergence_figure_has_one_facet_per_problem(results: pd.DataFrame, x: str) -> None:
    fig = reports.convergence_figure(results, x)
    assert isinstance(fig, Figure)
    titles = {ax.get_title() for ax in fig.axes}
    assert titles == set(results["problem"].unique())
    assert all(ax.get_xscale() == "log" for ax in fig.axes)


def test_one_colour_per_optimizer_across_figures(results: pd.DataFrame) -> None:
    palette = reports.palette_for(results["optimizer"])
    assert len(set(palette.values())) == len(palette)
    fig = reports.convergence_figure(results, palette=palette)
    colours = {line.get_label(): line.get_color() for line in fig.legends[0].get_lines()}
    for name, colour in colours.items():
        assert tuple(colour[:3]) == pytest.approx(palette[name])


def test_median_band_is_median_and_quartiles() -> None:
    frame = pd.DataFrame(
        {"solver": "a", "step": [1, 1, 1, 1, 2, 2, 2, 2], "gap": [1, 2, 3, 4, 0, 0, 1, 9.0]}
    )
    band = reports.median_band(frame, "step", "gap")
    assert band["median"].tolist() == [2.5, 0.5]
    assert band["q25"].tolist() == [1.75, 0.0]
    assert band["q75"].tolist() == [3.25, 3.0]


def test_runtime_ecdf_counts_pairs_reached(results: pd.DataFrame) -> None:
    ecdf = reports.runtime_ecdf(results, "evals")
    tg = results[results["record"] == "target"]
    for solver, rows in ecdf.groupby("solver"):
        assert rows["runtime"].is_monotonic_increasing
        assert rows["fraction"].is_monotonic_increasing
        mine = tg[tg["optimizer"] == solver]
        # every (problem, target) pair weighs 1/n_pairs, each seed 1/n_seeds of that
        n_pairs = len(tg[["problem", "target"]].drop_duplicates())
        reached = mine.groupby(["problem", "target"])["step"].apply(lambda s: s.notna().mean())
        assert rows["fraction"].iloc[-1] == pytest.approx(reached.sum() / n_pairs)


def test_performance_profile_and_algoperf_score() -> None:
    times = pd.DataFrame({"p1": [1.0, 2.0, 3.0], "p2": [2.0, np.inf, 2.0]}, index=["a", "b", "c"])
    ratios = reports.performance_ratios(times)
    assert ratios.loc["a"].tolist() == [1.0, 1.0]
    assert ratios.loc["b"].tolist() == [2.0, np.inf]
    assert ratios.loc["c"].tolist() == [3.0, 1.0]
    rho = reports.performance_profile(ratios, np.array([1.0, 2.0, 4.0]))
    assert rho.loc["b"].tolist() == [0.0, 0.5, 0.5]
    score = reports.benchmark_score(ratios, tau_max=4.0)
    # area of rho on [1, 4] / 3: a = 1; b = (4 - 2) / 3 / 2; c = ((4 - 3) / 3 + 1) / 2
    assert score["a"] == pytest.approx(1.0)
    assert score["b"] == pytest.approx(1 / 3)
    assert score["c"] == pytest.approx(2 / 3)
    # numerically: the normalised area under the step profile
    taus = np.linspace(1.0, 4.0, 30001)
    area = reports.performance_profile(ratios, taus).to_numpy().mean(axis=1)
    assert area == pytest.approx(score.to_numpy(), abs=1e-3)


def test_times_to_target_fail_when_half_the_seeds_fail(results: pd.DataFrame) -> None:
    times = reports.times_to_target(results, 1e-8)
    tg = results[(results["record"] == "target") & np.isclose(results["target"], 1e-8)]
    for (optimizer, problem), rows in tg.groupby(["optimizer", "problem"]):
        runtime = rows["time_s"].where(rows["step"].notna(), np.inf)
        assert times.loc[optimizer, problem] == runtime.median()


def test_holm_adjustment() -> None:
    adjusted = reports.holm(np.array([0.01, 0.04, 0.03, 0.5]))
    assert adjusted.tolist() == pytest.approx([0.04, 0.09, 0.09, 0.5])


def test_win_loss_marks_a_consistently_better_solver() -> None:
    rows = []
    rng = np.random.default_rng(0)
    for problem in range(8):
        for seed in range(5):
            for name, scale in (("good", 1e-6), ("bad", 1e-2), ("twin", 1e-2)):
                gap = scale * rng.uniform(0.5, 2)
                rows.append(
                    {
                        "record": "checkpoint",
                        "problem": f"p{problem}",
                        "optimizer": name,
                        "device": "cpu",
                        "seed": seed,
                        "step": 10.0,
                        "gap": gap,
                        "best_loss": gap,
                        "status": "ok",
                    }
                )
    table = reports.win_loss(pd.DataFrame(rows)).set_index(["a", "b"])
    assert table.loc[("good", "bad"), "wins"] == 40
    assert table.loc[("good", "bad"), "significant"]
    assert table.loc[("bad", "good"), "significant"]  # the pair's mark, on both cells
    assert table.loc[("bad", "good"), "better"] == "good"
    assert not table.loc[("bad", "twin"), "significant"]
    assert table.loc[("good", "bad"), "p_holm"] >= table.loc[("good", "bad"), "p"]


def test_landscape_grid_and_figure(results: pd.DataFrame) -> None:
    x0, x1, loss = reports.landscape_grid(results, "rosenbrock")
    assert loss.shape == (60, 60)
    assert x0.min() == -2.0 and x1.max() == 3.0
    assert loss[0, 0] == pytest.approx((1 + 2) ** 2 + 100 * (-1 - 4) ** 2)
    fig = reports.landscape_figure(results)
    assert {ax.get_title() for ax in fig.axes} == {"rosenbrock", "beale"}
    assert reports.landscape_figure(results[results["record"] != "grid"]) is None


def test_optional_figures_skip_gracefully(results: pd.DataFrame) -> None:
    assert reports.device_figure(results) is None
    no_ml = results.drop(columns=["heldout_loss", "noise_floor"])
    assert reports.heldout_figure(no_ml) is None
    fig = reports.heldout_figure(results.drop(columns=["noise_floor"]))
    assert isinstance(fig, Figure)


def test_report_without_targets_or_f_star(results: pd.DataFrame) -> None:
    ml = results[(results["problem"] == "mlp-regression") & (results["record"] != "target")]
    page = reports.render(ml, {"name": "ml"}, generated=WHEN)
    assert 'id="profiles"' not in page  # no target rows and no targets in meta
    rows = _summary_rows(page)
    assert len(rows) == 4
    for cells in rows.values():
        assert cells[1].split()[0].endswith("*")  # the best loss, marked


def test_figure_html_closes_and_escapes_alt() -> None:
    fig = Figure()
    fig.subplots()
    tag = reports.figure_html(fig, EVIL)
    assert tag.startswith('<img src="data:image/png;base64,')
    assert html.escape(EVIL) in tag
    assert not fig.axes


# --- safety -----------------------------------------------------------------------------------


def test_malicious_names_are_escaped(tmp_path: Path) -> None:
    evil = synthetic.SyntheticProblem(EVIL, EVIL, 2, fn=synthetic.DEFAULT_PROBLEMS[1].fn, tags=EVIL)
    run = synthetic.write_study(
        tmp_path / "evil",
        name=EVIL,
        problems=[evil],
        optimizers=[(EVIL, "sgd", 0.9, 0.1), ("$\\frac{a$", "adam", 0.5, 0.1)],
        seeds=2,
        label=EVIL,
    )
    meta = json.loads((run / "meta.json").read_text())
    meta["cpu"] = EVIL
    meta["versions"][EVIL] = EVIL
    (run / "meta.json").write_text(json.dumps(meta))
    page = reports.write([run], tmp_path / "evil.html").read_text()
    assert "<script" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "$\\frac{a$" in page  # mathtext is off: the name renders as text


@pytest.mark.slow
def test_non_finite_values_and_a_single_solver_render(results: pd.DataFrame) -> None:
    """Diverged rows holding inf / NaN and a lone solver draw without warnings (errors here)."""
    frame = results[results["problem"].isin(["rastrigin:dim=10", "rosenbrock"])].copy()
    bad = frame["status"] == "diverged"
    assert bad.any()
    frame.loc[bad, ["loss", "best_loss", "gap"]] = np.inf
    frame.loc[bad & (frame["seed"] == 1), ["loss", "best_loss", "gap"]] = np.nan
    page = reports.render(frame, {"name": "inf"}, generated=WHEN)
    assert 'id="winloss"' in page
    lone = frame[frame["optimizer"] == "sgd:lr=0.001"]
    page = reports.render(lone, {"name": "lone"}, generated=WHEN)
    assert "sgd:lr=0.001" in page


# --- a real study -----------------------------------------------------------------------------


@pytest.mark.slow
def test_report_of_a_real_study(tmp_path: Path) -> None:
    """`bench run` a tiny study, then report it: tables agree with `reports.summary`."""
    out = tmp_path / "tiny"
    command = [sys.executable, "-m", "bench", "run", "--problems", "sphere,rosenbrock",
               "--optimizers", "sgd,adam", "--seeds", "3", "--steps", "100", "--out", str(out),
               "--quiet"]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    path = reports.write([out], tmp_path / "tiny.html")
    page = path.read_text(encoding="utf-8")
    assert "<script" not in page.lower()
    for anchor in ("summary", "convergence", "ecdf", "profiles", "winloss", "landscapes"):
        assert f'id="{anchor}"' in page
    rows = _summary_rows(page)
    table = reports.summary(reports.load(out, record=None))
    assert set(rows) == {(p, o) for p, o in table[["problem", "optimizer"]].itertuples(index=False)}
    for row in table.itertuples(index=False):
        cells = rows[(row.problem, row.optimizer)]
        assert cells[0] == str(row.n_seeds)
        assert cells[1].startswith(format(row.gap_median, ".3g"))
        assert cells[-2:] == [str(row.diverged), str(row.failed)]


def test_chosen_targets_drive_the_columns(results: pd.DataFrame) -> None:
    sphere = results[results["problem"] == "sphere:dim=10"]
    page = reports.render(sphere, {"name": "t"}, targets=[1e-2, 1e-6], target=1e-6, generated=WHEN)
    (rows,) = tables(page, "summary")
    header = " ".join(rows[0])
    assert "gap ≤ 1e-02" in header  # one spelling of a target, as in the column names
    assert "gap ≤ 1e-06" in header
    assert "steps to1e-06" in rows[0]  # "steps to<br>1e-06"
    assert "gap ≤ 1e+01" not in header
    assert "0.01" not in header


@pytest.mark.slow
def test_render_is_a_pure_function_of_its_arguments(results: pd.DataFrame) -> None:
    """The same results, meta and generation time give the same page, byte for byte."""
    frame = results[results["problem"].isin(["sphere:dim=10", "beale"])]
    first = reports.render(frame, {"name": "same"}, generated=WHEN)
    second = reports.render(frame.copy(), {"name": "same"}, generated=WHEN)
    assert first == second
    assert f"generated {WHEN}" in first
    later = reports.render(frame, {"name": "same"}, generated="2027-01-01 00:00 UTC")
    assert later != first
    assert later.replace("2027-01-01", "2026-12-01") == first  # only the date differs


# --- the signed-rank test, the schema, tick labels ---------------------------------------------


@pytest.mark.parametrize("seed", range(12))
def test_signed_rank_test_matches_scipy(seed: int) -> None:
    """Exact where scipy is exact (no ties, n <= 50; ties with n <= 13), normal beyond n = 50."""
    from scipy import stats

    rng = np.random.default_rng(seed)
    n = [5, 12, 30, 50][seed % 4]
    d = rng.normal(0.3, 1.0, n)  # no ties, no zeros
    assert reports.signed_rank_test(d) == pytest.approx(stats.wilcoxon(d).pvalue, rel=1e-9)
    tied = rng.integers(-3, 4, 12).astype(float)  # ties and zeros, n <= 13: scipy permutes
    expected = stats.wilcoxon(tied, zero_method="wilcox").pvalue
    assert reports.signed_rank_test(tied) == pytest.approx(expected, rel=1e-9, abs=1e-12)
    large = np.round(rng.normal(0.2, 1.0, 200), 1)  # n > 50, ties: both asymptotic
    expected = stats.wilcoxon(large, zero_method="wilcox").pvalue
    assert reports.signed_rank_test(large) == pytest.approx(expected, rel=1e-6)


def test_signed_rank_test_edge_cases() -> None:
    assert reports.signed_rank_test(np.zeros(5)) == 1.0
    assert reports.signed_rank_test(np.array([np.nan, 1.0])) == 1.0  # one difference: p = 1
    assert reports.signed_rank_test(np.arange(1.0, 11.0)) == pytest.approx(2 / 2**10)


def test_schema_matches_docs_results() -> None:
    """`reports.SCHEMA` names every column docs/RESULTS.md lists, with its type."""
    text = (Path(__file__).resolve().parents[1] / "docs" / "RESULTS.md").read_text()
    documented: dict[str, str] = {}
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 3 and cells[0].startswith("`"):
            for name in re.findall(r"`([^`]+)`", cells[0]):
                documented[name] = cells[1]
    hp = documented.pop(f"{reports.HP_PREFIX}<name>")
    assert hp == "float"
    assert documented == reports.SCHEMA
    assert set(reports.RUN_KEYS) <= set(reports.SCHEMA)


def test_log_tick_labels_are_plain_text() -> None:
    fig = reports.convergence_figure(
        pd.DataFrame(
            {
                "record": "checkpoint",
                "problem": "p",
                "optimizer": "o",
                "seed": 0,
                "step": [1.0, 10.0, 100.0, 1000.0],
                "gap": [1.0, 1e-2, 1e-4, 1e-6],
                "best_loss": [1.0, 1e-2, 1e-4, 1e-6],
                "status": "ok",
            }
        )
    )
    fig.canvas.draw()
    (ax,) = fig.axes
    labels = [t.get_text() for t in ax.get_yticklabels() if t.get_text()]
    assert labels and not any("$" in label for label in labels)
    assert "10⁻⁴" in labels


def _final_rows(name: str, problem: str, seed: int, gap: float, status: str = "ok") -> dict:
    return {
        "record": "checkpoint",
        "problem": problem,
        "optimizer": name,
        "device": "cpu",
        "seed": seed,
        "step": 10.0,
        "gap": gap,
        "best_loss": gap,
        "f_star": 0.0,
        "status": status,
    }


def test_win_loss_ties_within_the_tolerance_and_marks_both_cells() -> None:
    rows = []
    for problem in range(4):
        for seed in range(5):
            base = 0.3 * (1 + problem + 0.1 * seed)
            # same local minimum, one jittering by 0.05%: ties, not wins
            rows.append(_final_rows("steady", f"p{problem}", seed, base))
            rows.append(_final_rows("jitter", f"p{problem}", seed, base * 1.0005))
            # clearly better everywhere
            rows.append(_final_rows("good", f"p{problem}", seed, base * 1e-3))
    table = reports.win_loss(pd.DataFrame(rows)).set_index(["a", "b"])
    assert table.loc[("jitter", "steady"), "ties"] == 20
    assert table.loc[("jitter", "steady"), "wins"] == table.loc[("jitter", "steady"), "losses"] == 0
    assert not table.loc[("jitter", "steady"), "significant"]
    # the Holm mark is on both cells of a significant pair; `better` says who wins
    assert table.loc[("good", "steady"), "significant"]
    assert table.loc[("steady", "good"), "significant"]
    assert table.loc[("steady", "good"), "better"] == "good"
    # beyond the tolerance it is a win: 2% apart
    assert reports.outcomes(
        np.array([1.0]), np.array([1.02]), np.array([False]), np.array([False]), np.array([0.0])
    ).tolist() == [-1]
    # below the float precision of f* (|f*| = 1000): a tie, however large relatively
    floor = reports.rounding_tolerance(1000.0)
    assert reports.outcomes(
        np.array([1e-12]), np.array([0.0]), np.array([False]), np.array([False]), np.array([floor])
    ).tolist() == [0]


def test_win_loss_counts_repeated_seeds_once() -> None:
    rows = [_final_rows(n, "p", s, g) for s in range(10) for n, g in (("a", 1.0), ("b", 2.0))]
    table = reports.win_loss(pd.DataFrame(rows)).set_index(["a", "b"])
    assert table.loc[("a", "b"), "n"] == 1
    assert table.loc[("a", "b"), "wins"] == 1


def test_an_optimizers_colour_is_the_same_in_every_report(tmp_path: Path) -> None:
    """Two reports with different solver sets: each optimizer's swatch keeps its colour."""
    by_name = {o[1]: o for o in synthetic.DEFAULT_OPTIMIZERS}
    first = [by_name["sgd"], by_name["adam"], by_name["momentum"]]
    second = [by_name["adam"], by_name["restarts"], by_name["momentum"]]
    problems = [p for p in synthetic.DEFAULT_PROBLEMS if p.spec == "sphere:dim=10"]
    swatches = []
    for name, chosen in (("one", first), ("two", second)):
        run = synthetic.write_study(
            tmp_path / name, name=name, problems=problems, optimizers=chosen, seeds=2
        )
        page = reports.write([run], tmp_path / f"{name}.html", generated=WHEN).read_text()
        found = re.findall(r'background:(rgb\([^)]*\))"></span>([^<]+)</td>', page)
        swatches.append({label: colour for colour, label in found})
    common = set(swatches[0]) & set(swatches[1])
    assert len(common) == 2, swatches
    assert all(swatches[0][k] == swatches[1][k] for k in common), swatches
    assert reports.palette_for(["adam"])["adam"] == reports.palette_for(["zz", "adam", "a"])["adam"]


def test_momentum_and_restarts_are_far_apart_in_colour() -> None:
    names = ["sgd", "momentum", "adam", "random-search", "restarts(adam:lr=0.05,n=8)"]
    palette = reports.palette_for(names)
    rgb = {k: np.array(v) for k, v in palette.items()}
    assert len({tuple(v) for v in palette.values()}) == len(names)
    # the two that the old palette mixed up (orange and vermilion) are now far apart
    assert np.abs(rgb["momentum"] - rgb["restarts(adam:lr=0.05,n=8)"]).sum() > 0.5
    assert reports.palette_for(["random_search"]) == {"random_search": palette["random-search"]}
