"""Conformance tests over the problem registry: every entry, base and instance, is checked.

A new landscape registered in any family module is picked up here without new test code.
Entries tagged ``ml`` (the MLP regression task) are tested by their own module. The checks
themselves live in `bench._check` (what ``bench check NAME`` runs on any problem, a plugin's
included); the tests here call them over the registry.
"""

from __future__ import annotations

import inspect
import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import problems
from bench import _check as check
from bench._check import SAMPLES, tolerance
from problems import PROBLEMS, TAGS, Problem

DIMS = (2, 5, 10)
SKIP = frozenset({"mlp-regression"})


def takes_dim(name: str) -> bool:
    return "dim" in inspect.signature(PROBLEMS.factory(name)).parameters


def base_specs() -> list[str]:
    """One spec per registry entry, at several dims for any-dimension entries."""
    specs = []
    for name in PROBLEMS.names():
        if name in SKIP:
            continue
        candidates = [f"{name}:dim={d}" for d in DIMS] if takes_dim(name) else [name]
        specs += [s for s in candidates if "ml" not in problems.get(s).tags]
    return specs


EXTRA = [
    "ellipsoid:dim=5,rotated=true",
    "ellipsoid:dim=10,condition=100000000.0",
    "ellipsoid:dim=10,condition=100000000.0,rotated=true",
    "ellipsoid:dim=3,condition=1",
    "michalewicz:dim=20",
    "schwefel:dim=3,instance=1,shift=false",
    "eggholder:instance=4,shift=false",
    "rosenbrock:dim=4,instance=2,rotate=false",
    "rastrigin:dim=3,noise=0.1",
    "holder-table:instance=2,noise=0.5,noise_kind=multiplicative",
]
BASE = base_specs() + EXTRA
INSTANCES = [
    f"{spec}{',' if ':' in spec else ':'}instance={i % 3 + 1}" for i, spec in enumerate(BASE)
]
SPECS = BASE + INSTANCES


def minimisers(problem: Problem, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    return torch.tensor(problem.x_star, dtype=dtype).reshape(-1, problem.dim)


def passes(outcome: check.Outcome) -> None:
    """A check's outcome as a test's: skipped is a skip, failed an assertion naming why."""
    if outcome.status == "skipped":
        pytest.skip(f"{outcome.subject}: {outcome.detail}")
    assert outcome.ok, f"{outcome.subject}: {outcome.check}: {outcome.detail}"


BUILT = {spec: problems.get(spec) for spec in SPECS}
SEPARABLE = [spec for spec, p in BUILT.items() if "separable" in p.tags]
CONVEX = [spec for spec, p in BUILT.items() if "convex" in p.tags]


@pytest.fixture(scope="module", params=SPECS)
def problem(request: pytest.FixtureRequest) -> Problem:
    return BUILT[request.param]


def test_registry_has_the_catalogue() -> None:
    assert len([n for n in PROBLEMS.names() if n not in SKIP]) >= 30


def test_metadata(problem: Problem) -> None:
    assert problem.name in PROBLEMS
    assert problem.name == problem.name.lower() and " " not in problem.name
    assert problem.tags <= TAGS and problem.tags
    assert problem.f_star is not None and math.isfinite(problem.f_star)
    assert problem.source and "\n" not in problem.source and len(problem.source) <= 80
    doc = inspect.getdoc(PROBLEMS.factory(problem.name)) or ""
    assert "Source:" in doc and "f*" in doc
    lower, upper = problem.bounds
    assert all(lo < hi for lo, hi in zip(lower, upper))


def test_minimisers_reach_f_star(problem: Problem) -> None:
    passes(check.minimisers_reach_f_star(problem))


def test_minimisers_inside_bounds(problem: Problem) -> None:
    lower, upper = problem.box()
    x = minimisers(problem)
    assert bool(((x >= lower) & (x <= upper)).all()), problem.spec


def test_minimisers_are_distinct(problem: Problem) -> None:
    rounded = {tuple(round(v, 6) for v in point) for point in problem.x_star}
    assert len(rounded) == len(problem.x_star)


def test_minimisers_are_local_minima(problem: Problem) -> None:
    """A polish from a listed minimiser finds nothing lower: f* and x* are accurate."""
    passes(check.minimisers_are_minima(problem))


def test_nothing_below_f_star(problem: Problem) -> None:
    """10^5 seeded samples, then a polish from the best of them, stay above f*."""
    passes(check.nothing_below_f_star(problem, SAMPLES))


def test_batched_equals_rowwise(problem: Problem) -> None:
    passes(check.batched_equals_rowwise(problem))


def test_gradients_are_finite(problem: Problem) -> None:
    passes(check.gradients_finite(problem))


def test_float32_matches_float64(problem: Problem) -> None:
    passes(check.float32_matches_float64(problem))


def pairs(problem: Problem, n: int = 256) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(21)
    return problem.sample(n, generator), problem.sample(n, generator)


@pytest.mark.parametrize("spec", SEPARABLE)
def test_separable_tag_holds(spec: str) -> None:
    """Additively separable: swapping one coordinate between a and b keeps f(a) + f(b)."""
    problem = BUILT[spec]
    a, b = pairs(problem)
    i = torch.arange(len(a)) % problem.dim
    a_swapped, b_swapped = a.clone(), b.clone()
    rows = torch.arange(len(a))
    a_swapped[rows, i], b_swapped[rows, i] = b[rows, i], a[rows, i]
    before = problem.loss(a) + problem.loss(b)
    after = problem.loss(a_swapped) + problem.loss(b_swapped)
    torch.testing.assert_close(after, before, rtol=1e-9, atol=1e-9 * before.abs().max().item())


@pytest.mark.parametrize("spec", CONVEX)
def test_convex_tag_holds(spec: str) -> None:
    """Convex: ``f((a + b) / 2) <= (f(a) + f(b)) / 2`` on random pairs."""
    problem = BUILT[spec]
    a, b = pairs(problem)
    mean = (problem.loss(a) + problem.loss(b)) / 2
    assert bool((problem.loss((a + b) / 2) <= mean + 1e-9 * mean.abs().max()).all())


def test_literature_starts() -> None:
    assert problems.get("rosenbrock").x0 == (-1.2, 1.0)
    assert problems.get("rosenbrock:dim=5").x0 is None
    assert problems.get("beale").x0 == (1.0, 1.0)


def test_start(problem: Problem) -> None:
    x = problem.start(5, torch.Generator().manual_seed(0), dtype=torch.float32)
    assert x.shape == (5, problem.dim) and x.dtype == torch.float32
    if problem.x0 is None:
        lower, upper = problem.box(dtype=torch.float32)
        assert bool(((x >= lower) & (x <= upper)).all())
    else:
        assert torch.equal(x, torch.tensor(problem.x0, dtype=torch.float32).expand(5, -1))


def test_sample_is_seeded(problem: Problem) -> None:
    first = problem.sample(4, torch.Generator().manual_seed(5))
    again = problem.sample(4, torch.Generator().manual_seed(5))
    assert torch.equal(first, again)


def test_spec_round_trips(problem: Problem) -> None:
    rebuilt = problems.get(problem.spec)
    assert rebuilt.spec == problem.spec
    assert rebuilt.x_star == problem.x_star and rebuilt.f_star == problem.f_star
    x = problem.sample(8, torch.Generator().manual_seed(2))
    assert torch.equal(rebuilt.loss(x), problem.loss(x))


def test_runs_on_device(problem: Problem, device: torch.device) -> None:
    x = problem.sample(64, torch.Generator().manual_seed(9))
    on_device = problem.loss(x.to(device))
    assert on_device.device.type == device.type
    torch.testing.assert_close(on_device.cpu(), problem.loss(x), rtol=1e-10, atol=1e-10)


# ---------------------------------------------------------------------- property tests

ANY_DIM = [n for n in PROBLEMS.names() if n not in SKIP and takes_dim(n)]


@settings(max_examples=40, deadline=None)
@given(
    name=st.sampled_from(ANY_DIM),
    dim=st.integers(min_value=2, max_value=8),
    rows=st.integers(min_value=1, max_value=6),
    instance=st.one_of(st.none(), st.integers(min_value=0, max_value=10**6)),
    data=st.data(),
)
def test_batched_equals_rowwise_property(
    name: str, dim: int, rows: int, instance: int | None, data: st.DataObject
) -> None:
    options: dict[str, object] = {"dim": dim}
    if instance is not None:
        options["instance"] = instance
    problem = problems.get(name, **options)
    unit = data.draw(
        st.lists(
            st.lists(st.floats(0, 1), min_size=dim, max_size=dim), min_size=rows, max_size=rows
        )
    )
    lower, upper = problem.box()
    x = lower + torch.tensor(unit, dtype=torch.float64) * (upper - lower)
    batched = problem.loss(x)
    rowwise = torch.cat([problem.loss(x[i : i + 1]) for i in range(rows)])
    assert batched.shape == (rows,)
    torch.testing.assert_close(batched, rowwise, rtol=1e-12, atol=1e-12)
    assert problem.f_star is not None
    assert bool((batched >= problem.f_star - tolerance(problem)).all())
