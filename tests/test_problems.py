"""Conformance tests over the problem registry: every entry, base and instance, is checked.

A new landscape registered in any family module is picked up here without new test code.
Entries tagged ``ml`` (the MLP regression task) are tested by their own module.
"""

from __future__ import annotations

import inspect
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import problems
from problems import PROBLEMS, TAGS, Problem

DIMS = (2, 5, 10)
SAMPLES = 100_000
POLISH_STEPS = 200
ATOL = 1e-6
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


def tolerance(problem: Problem) -> float:
    return ATOL * max(1.0, abs(problem.f_star or 0.0) * 1e-3)


def minimisers(problem: Problem, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    return torch.tensor(problem.x_star, dtype=dtype).reshape(-1, problem.dim)


def polish(problem: Problem, start: np.ndarray, steps: int = POLISH_STEPS) -> float:
    """A bounded L-BFGS polish from `start` (float64); the best in-box value seen.

    The box is kept by the boundary penalty: ``f(clip(z)) + |z - clip(z)|^2`` has the same
    minimum as f on the box, and only in-box values ``f(clip(z))`` are recorded.
    """
    lower, upper = problem.box()
    z = torch.tensor(start, dtype=torch.float64).reshape(1, -1).clone().requires_grad_(True)
    optimizer = torch.optim.LBFGS(
        [z],
        max_iter=steps,
        max_eval=steps + steps // 2,
        tolerance_grad=1e-12,
        tolerance_change=1e-15,
        line_search_fn="strong_wolfe",
    )
    best = math.inf

    def closure() -> torch.Tensor:
        nonlocal best
        optimizer.zero_grad()
        inside = torch.clamp(z, lower, upper)
        value = problem.loss(inside).sum()
        if torch.isfinite(value):
            best = min(best, value.item())
        loss = value + ((z - inside) ** 2).sum()
        loss.backward()
        return loss

    optimizer.step(closure)
    return best


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
    x = minimisers(problem)
    if len(x) == 0:
        pytest.skip(f"{problem.spec}: minimisers not listed")
    np.testing.assert_allclose(problem.loss(x).numpy(), problem.f_star, rtol=0, atol=ATOL)


def test_minimisers_inside_bounds(problem: Problem) -> None:
    lower, upper = problem.box()
    x = minimisers(problem)
    assert bool(((x >= lower) & (x <= upper)).all()), problem.spec


def test_minimisers_are_distinct(problem: Problem) -> None:
    rounded = {tuple(round(v, 6) for v in point) for point in problem.x_star}
    assert len(rounded) == len(problem.x_star)


def test_minimisers_are_local_minima(problem: Problem) -> None:
    """A polish from a listed minimiser finds nothing lower: f* and x* are accurate."""
    for point in minimisers(problem)[:4].numpy():
        assert polish(problem, point, steps=50) >= problem.f_star - tolerance(problem)


def test_nothing_below_f_star(problem: Problem) -> None:
    """10^5 seeded samples, then a polish from the best of them, stay above f*."""
    generator = torch.Generator().manual_seed(1234)
    x = problem.sample(SAMPLES, generator)
    values = problem.loss(x)
    assert values.min().item() >= problem.f_star - tolerance(problem)
    best = x[values.argmin()].numpy()
    assert polish(problem, best) >= problem.f_star - tolerance(problem)


def test_batched_equals_rowwise(problem: Problem) -> None:
    x = problem.sample(32, torch.Generator().manual_seed(7))
    rows = torch.cat([problem.loss(x[i : i + 1]) for i in range(len(x))])
    torch.testing.assert_close(problem.loss(x), rows, rtol=1e-12, atol=1e-12)


def test_gradients_are_finite(problem: Problem) -> None:
    x = problem.sample(256, torch.Generator().manual_seed(11)).requires_grad_(True)
    (grad,) = torch.autograd.grad(problem.loss(x).sum(), x)
    assert grad.shape == x.shape
    assert bool(torch.isfinite(grad).all())


def test_float32_matches_float64(problem: Problem) -> None:
    x32 = problem.sample(2048, torch.Generator().manual_seed(3), dtype=torch.float32)
    f32 = problem.loss(x32)
    f64 = problem.loss(x32.double())
    assert f32.dtype == torch.float32
    scale = f64.abs().max().item()
    torch.testing.assert_close(f32.double(), f64, rtol=1e-4, atol=1e-5 * max(scale, 1.0))


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
