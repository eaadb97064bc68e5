"""optbench's pytest plugin: optimizer benchmarks on pytest-benchmark, with convergence data.

Registered by the package (entry point ``pytest11``, name ``bench.pytest_plugin``), so it is
active wherever optbench is installed; ``-p no:bench.pytest_plugin`` turns it off. Loading it
imports neither torch nor the catalogue: they load when a test asks for the fixture.

What it adds:

- the ``optbench_benchmark`` fixture (`OptbenchBenchmark`): times one batched step
  (``.step(problem, optimizer, rows=...)``) or a short convergence run (``.convergence(...)``)
  of a catalogue problem with pytest-benchmark's ``benchmark.pedantic``, with warm-up rounds and
  a device synchronisation inside the timer, and fills ``extra_info`` with the problem,
  optimizer, rows, device, dtype, run-steps per second, the median and IQR of the final gap,
  success at 1e-4, evaluations to target and the optbench version (`bench._microbench`);
- ``--bench-size small|full`` (default small): the timing budget and run lengths (`SIZES`);
  the project's own suite (tests/benchmarks) also sizes its matrix by it;
- ``--convergence-compare-fail=gap:FACTOR``: with ``--benchmark-compare``, fail the run when a
  benchmark's median final gap is worse than in the compared run by more than FACTOR
  (`bench._gate`), as ``--benchmark-compare-fail`` does for time;
- with ``--benchmark-only``, tests without a benchmark are deselected instead of skipped, so
  the output is the comparison table, not a list of skip reasons;
- the ini option ``optbench_plain_run = "once"``: a plain ``pytest`` (no ``--benchmark-*``
  option asking for timings) runs each benchmark once, as ``--benchmark-disable`` does, while
  ``pytest --benchmark-only`` (or ``--benchmark-autosave``, ``--benchmark-compare``, ...)
  times them; the default, ``"timed"``, keeps pytest-benchmark's behaviour;
- the marker ``optbench`` on every test that uses the fixture (``-m optbench``).

Hooks of pytest-benchmark it implements: ``pytest_benchmark_update_json`` (adds an ``optbench``
block: version, bench size, the keys of ``extra_info``), ``pytest_benchmark_compare_machine_info``
(keeps the compared run for the gate) and ``pytest_benchmark_group_stats`` (sees this run's
results). All are optional hooks, so the plugin loads without pytest-benchmark too.
"""

from __future__ import annotations

import math
from collections.abc import Generator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from bench._microbench import Case

__all__ = ["SIZES", "OptbenchBenchmark", "Size"]


@dataclass(frozen=True)
class Size:
    """How much one benchmark measures.

    Attributes:
        seconds: timing budget of a step benchmark (rounds = budget / step time, at least
            ``--benchmark-min-rounds``).
        steps: length of a convergence run.
        convergence_rows: most rows behind a step benchmark's convergence figures (a step of
            10^3 rows reports the convergence of 10^2 of them in small).
        rounds: timed convergence runs.
        warmup_rounds: untimed steps before the timing of a step.
        run_warmup: untimed runs before the timing of a convergence run (a first run pays
            for allocations and, on a GPU, kernel loading).
    """

    seconds: float
    steps: int
    convergence_rows: int
    rounds: int
    warmup_rounds: int
    run_warmup: int


SIZES = {
    "small": Size(
        seconds=0.05, steps=150, convergence_rows=100, rounds=2, warmup_rounds=2, run_warmup=0
    ),
    "full": Size(
        seconds=1.0, steps=1000, convergence_rows=100_000, rounds=3, warmup_rounds=5, run_warmup=1
    ),
}
QUICK_STEPS = 10
"""Convergence steps when benchmarks are disabled (a functional check, not a measurement)."""
MAX_ROUNDS = 10_000

TIMING_OPTIONS = (
    "benchmark_only",
    "benchmark_enable",
    "benchmark_save",
    "benchmark_autosave",
    "benchmark_json",
    "benchmark_compare",
    "benchmark_compare_fail",
    "benchmark_histogram",
    "benchmark_csv",
    "benchmark_cprofile",
    "convergence_compare_fail",
)
"""Options that ask for timings: with any of them, ``optbench_plain_run = "once"`` times."""

_STATE = pytest.StashKey[dict[str, Any]]()


def _state(config: pytest.Config) -> dict[str, Any]:
    if _STATE not in config.stash:
        config.stash[_STATE] = {"compared": [], "now": [], "convergence": {}, "gate": None}
    return config.stash[_STATE]


def _gap_factor(text: str) -> float:
    from bench._gate import parse_gap_fail

    try:
        return parse_gap_fail(text)
    except ValueError as error:
        raise pytest.UsageError(str(error)) from None


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("optbench", "optbench benchmarks")
    group.addoption(
        "--bench-size",
        choices=sorted(SIZES),
        default="small",
        help="how much the optbench benchmarks measure: small (default; the project's suite "
        "runs in minutes) or full",
    )
    group.addoption(
        "--convergence-compare-fail",
        metavar="gap:FACTOR",
        type=_gap_factor,
        default=None,
        help="with --benchmark-compare: fail when a benchmark's median final gap is worse "
        "than in the compared run by more than FACTOR (gap:2)",
    )
    parser.addini(
        "optbench_plain_run",
        'what a plain pytest does with benchmarks: "timed" (pytest-benchmark\'s default) or '
        '"once" (as --benchmark-disable, unless a --benchmark-* option asks for timings)',
        default="timed",
    )


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "optbench: uses the optbench_benchmark fixture")
    mode = config.getini("optbench_plain_run")
    if mode not in ("timed", "once"):
        msg = f"optbench_plain_run = {mode!r}; allowed: timed, once"
        raise pytest.UsageError(msg)
    if config.getoption("convergence_compare_fail", None) is not None and not config.getoption(
        "benchmark_compare", None
    ):
        msg = "--convergence-compare-fail needs --benchmark-compare (the run to compare with)"
        raise pytest.UsageError(msg)
    plugins = config.pluginmanager
    if mode == "once" and plugins.has_plugin("benchmark"):
        asked = any(config.getoption(name, None) for name in TIMING_OPTIONS)
        if not asked:
            config.option.benchmark_disable = True


@pytest.hookimpl(tryfirst=True)
def pytest_itemcollected(item: pytest.Item) -> None:
    """Mark the tests that use the fixture before ``-m`` selects (``-m optbench``)."""
    if "optbench_benchmark" in getattr(item, "fixturenames", ()):
        item.add_marker(pytest.mark.optbench)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """With ``--benchmark-only``, deselect the tests without a benchmark (not skip them)."""
    if not config.getoption("benchmark_only", False):
        return
    keep: list[pytest.Item] = []
    drop: list[pytest.Item] = []
    for item in items:
        (keep if "benchmark" in getattr(item, "fixturenames", ()) else drop).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


class OptbenchBenchmark:
    """Times a batched optimizer on a catalogue problem with pytest-benchmark's fixture.

    One measurement per test (pytest-benchmark's rule): either `step` or `convergence`.
    Both accept the problem as a spec (``"rastrigin:dim=10"``) or a `problems.Problem`, and
    the optimizer as a spec (``"adam:lr=0.01"``, ``"restarts(adam,n=8)"``,
    ``"torch:NAdam:lr=0.01"``), an `optimizers.Optimizer`, a `Config` or any
    `optimizers.Method`; both return the ``extra_info`` they recorded. The benchmark's group
    is the problem's spec unless the test set one.

    Example (a test file)::

        def test_my_sgd(optbench_benchmark):
            info = optbench_benchmark.step("rosenbrock", my_optimizer, rows=1000)
            assert info["run_steps_per_s"] is None or info["run_steps_per_s"] > 0
    """

    def __init__(self, benchmark: Any, config: pytest.Config) -> None:
        self.benchmark = benchmark
        self.config = config
        self.size = SIZES[config.getoption("bench_size", "small") or "small"]
        self.x: Any = None
        """The rows' points after the measurement (a tensor ``[rows, dim]``)."""

    @property
    def disabled(self) -> bool:
        return bool(getattr(self.benchmark, "disabled", False))

    def _case(self, problem: object, optimizer: object, rows: int, device: Any, dtype: Any) -> Case:
        from bench._microbench import Case

        case = Case.build(problem, optimizer, rows=rows, device=device, dtype=dtype)  # type: ignore[arg-type]
        if getattr(self.benchmark, "group", None) is None:
            self.benchmark.group = case.problem.spec
        return case

    def _convergence(self, case: Case, steps: int) -> dict[str, Any]:
        """The convergence figures of `case`, run once per session and cached."""
        from bench._microbench import convergence

        key = (case.problem.spec, case.method.info.label, str(case.device), case.dtype, case.rows)
        cache = _state(self.config)["convergence"]
        if (key, steps) not in cache:
            cache[key, steps] = convergence(case, steps)[1]
        return cache[key, steps]

    def step(
        self,
        problem: object,
        optimizer: object,
        *,
        rows: int = 1_000,
        device: Any = "cpu",
        dtype: Any = "float32",
        seconds: float | None = None,
        warmup_rounds: int | None = None,
        steps: int | None = None,
    ) -> dict[str, Any]:
        """Time one step of all `rows` rows (loss, gradient, update, device sync).

        Rounds: as many as fit in `seconds` (default: the bench size's budget), at least
        ``--benchmark-min-rounds``, one step each, after `warmup_rounds` untimed steps.
        The convergence figures come from a `steps`-step run of up to the size's
        ``convergence_rows`` of the same rows (``convergence_rows`` in ``extra_info``).
        """
        from bench._microbench import Case

        case = self._case(problem, optimizer, rows, device, dtype)
        size = self.size
        info: dict[str, Any] = {"kind": "step", **case.describe()}
        if not self.disabled:
            per_seed = case.method.info.starts_per_seed
            subset = max(per_seed, min(rows, size.convergence_rows) // per_seed * per_seed)
            part = Case(case.problem, case.method, subset, case.device, case.dtype)
            info["convergence_rows"] = subset
            info.update(self._convergence(part, steps or size.steps))
        self.benchmark.extra_info.update(info)
        step = case.step_function()
        warmup = size.warmup_rounds if warmup_rounds is None else warmup_rounds
        rounds = 1
        if not self.disabled:
            guess = max(case.step_seconds(step), 1e-9)  # also warms up
            budget = size.seconds if seconds is None else seconds
            least = int(self.config.getoption("benchmark_min_rounds", 5) or 5)
            rounds = min(MAX_ROUNDS, max(least, math.ceil(budget / guess)))
        self.benchmark.pedantic(step, rounds=rounds, iterations=1, warmup_rounds=warmup)
        self.x = step.state[0]["x"]  # type: ignore[attr-defined]
        info["rounds"] = rounds
        info["run_steps_per_s"] = self._rate(rows)
        self.benchmark.extra_info.update(info)
        return info

    def convergence(
        self,
        problem: object,
        optimizer: object,
        *,
        rows: int = 1_000,
        device: Any = "cpu",
        dtype: Any = "float32",
        steps: int | None = None,
        rounds: int | None = None,
    ) -> dict[str, Any]:
        """Time a short run of `rows` rows for `steps` steps (default: the bench size's).

        The run goes through the harness (`bench.run_rows`: checkpoints, targets, divergence);
        ``extra_info`` gets the last run's convergence figures. With benchmarks disabled it
        runs once, for a few steps, as a functional check.
        """
        from bench._microbench import convergence

        case = self._case(problem, optimizer, rows, device, dtype)
        size = self.size
        length = QUICK_STEPS if self.disabled else (steps or size.steps)
        info: dict[str, Any] = {"kind": "convergence", **case.describe(), "convergence_rows": rows}
        self.benchmark.extra_info.update(info)
        times = 1 if self.disabled else (rounds or size.rounds)
        warmup = 0 if self.disabled else size.run_warmup
        trace, summary = self.benchmark.pedantic(
            convergence, args=(case, length), rounds=times, iterations=1, warmup_rounds=warmup
        )
        if not self.disabled:
            cache = _state(self.config)["convergence"]
            key = (case.problem.spec, case.method.info.label, str(case.device), case.dtype, rows)
            cache[key, length] = summary
        self.x = trace.loss  # the checkpoints' losses [C, rows]
        info.update(summary)
        info["rounds"] = times
        info["run_steps_per_s"] = self._rate(rows * summary["steps"])
        self.benchmark.extra_info.update(info)
        return info

    def _rate(self, work: float) -> float | None:
        stats = getattr(self.benchmark, "stats", None)
        if not stats:
            return None
        median = float(stats["median"])
        return work / median if median > 0 else None


@pytest.fixture
def optbench_benchmark(benchmark: Any, request: pytest.FixtureRequest) -> OptbenchBenchmark:
    """Time an optimizer on a catalogue problem (`OptbenchBenchmark`), with convergence data."""
    return OptbenchBenchmark(benchmark, request.config)


# ------------------------------------------------------------------- pytest-benchmark hooks


@pytest.hookimpl(optionalhook=True)
def pytest_benchmark_update_json(
    config: pytest.Config, benchmarks: list[Any], output_json: dict[str, Any]
) -> None:
    """Say in the saved JSON which benchmarks carry optbench's convergence data."""
    from bench._microbench import version

    ours = [b["fullname"] for b in output_json.get("benchmarks", []) if _is_ours(b)]
    if ours:
        output_json["optbench"] = {
            "version": version(),
            "bench_size": config.getoption("bench_size", "small"),
            "benchmarks": len(ours),
        }


@pytest.hookimpl(optionalhook=True)
def pytest_benchmark_compare_machine_info(
    config: pytest.Config,
    benchmarksession: Any,
    machine_info: dict[str, Any],
    compared_benchmark: dict[str, Any],
) -> None:
    """Keep the compared run's benchmarks (with their ``extra_info``) for the gate."""
    _state(config)["compared"].append(compared_benchmark)


@pytest.hookimpl(optionalhook=True, wrapper=True)
def pytest_benchmark_group_stats(
    config: pytest.Config, benchmarks: list[dict[str, Any]], group_by: str
) -> Generator[None, Any, Any]:
    """See this run's results (entries with ``path`` None; the others are compared ones)."""
    _state(config)["now"] = [b for b in benchmarks if b.get("path") is None]
    return (yield)


def _is_ours(bench: dict[str, Any]) -> bool:
    return "gap_median" in (bench.get("extra_info") or {})


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Apply the convergence gate (pytest-benchmark has prepared its results by now)."""
    config = session.config
    factor = config.getoption("convergence_compare_fail", None)
    if factor is None:
        return
    from bench._gate import gap_regressions

    state = _state(config)
    saved = [b for run in state["compared"] for b in run.get("benchmarks", [])]
    found, compared = gap_regressions(state["now"], saved, factor)
    state["gate"] = (found, compared, factor)
    if found and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    gate = _state(config)["gate"]
    if gate is None:
        return
    found, compared, factor = gate
    terminalreporter.section("optbench convergence gate")
    if found:
        terminalreporter.write_line(
            f"Convergence has regressed ({len(found)} of {compared} benchmarks):", red=True
        )
        for regression in found:
            terminalreporter.write_line(f"\t{regression}", red=True)
    else:
        terminalreporter.write_line(
            f"{compared} benchmarks compared: no median final gap grew by more than {factor:g}x",
            green=True,
        )
