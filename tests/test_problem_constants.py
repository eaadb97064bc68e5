"""Re-derive the hard-coded optima independently (numpy grids + scipy polishing).

The catalogue's constants were computed once with mpmath; these tests check that a dense
grid search finds no better point and the same set of global minimisers.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.optimize import minimize, minimize_scalar

import problems
from problems.classic2d import SHUBERT_ARGMAX, SHUBERT_ARGMIN
from problems.multimodal import (
    ALPINE_N1_ROOTS,
    MICHALEWICZ_COORDINATES,
    SCHWEFEL_GAP,
    SCHWEFEL_X,
    STYBLINSKI_TANG_F,
    STYBLINSKI_TANG_X,
)


def local_minima_1d(g, lower: float, upper: float, n: int = 400_001) -> list[tuple[float, float]]:
    """All grid local minima of `g`, polished, as sorted ``(value, t)`` pairs."""
    t = np.linspace(lower, upper, n)
    v = g(t)
    inner = np.where((v[1:-1] < v[:-2]) & (v[1:-1] <= v[2:]))[0] + 1
    found = []
    for i in inner:
        res = minimize_scalar(
            g, bounds=(t[i - 1], t[i + 1]), method="bounded", options={"xatol": 1e-13}
        )
        found.append((float(res.fun), float(res.x)))
    return sorted(found)


def grid_minima_2d(problem: problems.Problem, n: int = 1001, keep: int = 12) -> np.ndarray:
    """Polish the `keep` best local minima of an ``n x n`` grid over the box, bounded."""
    (lx, ly), (ux, uy) = problem.bounds
    gx, gy = np.meshgrid(np.linspace(lx, ux, n), np.linspace(ly, uy, n), indexing="ij")
    grid = np.stack([gx.ravel(), gy.ravel()], 1)
    values = problem.loss(torch.tensor(grid)).numpy().reshape(n, n)
    padded = np.pad(values, 1, constant_values=np.inf)
    neighbours = [
        padded[1 + dx : n + 1 + dx, 1 + dy : n + 1 + dy]
        for dx in (-1, 0, 1)
        for dy in (-1, 0, 1)
        if dx or dy
    ]
    is_min = np.all([values <= v for v in neighbours], axis=0).ravel()
    candidates = np.flatnonzero(is_min)
    candidates = candidates[np.argsort(values.ravel()[candidates])][:keep]

    def value_and_grad(v: np.ndarray) -> tuple[float, np.ndarray]:
        x = torch.tensor(v).reshape(1, 2).requires_grad_(True)
        loss = problem.loss(x).sum()
        (grad,) = torch.autograd.grad(loss, x)
        return loss.item(), np.nan_to_num(grad.numpy().ravel())

    found = []
    for i in candidates:
        res = minimize(
            value_and_grad,
            grid[i],
            jac=True,
            method="L-BFGS-B",
            bounds=[(lx, ux), (ly, uy)],
            options={"ftol": 1e-15, "gtol": 1e-12},
        )
        found.append([res.fun, *res.x])
    return np.array(sorted(found))


@pytest.mark.parametrize("axis", range(1, len(MICHALEWICZ_COORDINATES) + 1))
def test_michalewicz_axis_minima(axis: int) -> None:
    def g(t):
        return -np.sin(t) * np.sin(axis * t**2 / np.pi) ** 20

    minima = local_minima_1d(g, 0.0, math.pi)
    t_star, f_star = MICHALEWICZ_COORDINATES[axis - 1]
    assert minima[0][0] == pytest.approx(f_star, abs=1e-10)
    assert minima[0][1] == pytest.approx(t_star, abs=1e-5)
    if len(minima) > 1:
        assert minima[1][0] - minima[0][0] > 1e-4  # the minimiser is unique


def test_michalewicz_published_values() -> None:
    for dim, published in ((2, -1.8013), (5, -4.687658), (10, -9.66015)):
        assert problems.get("michalewicz", dim=dim).f_star == pytest.approx(published, abs=1e-5)


def test_schwefel_and_styblinski_tang_axes() -> None:
    schwefel = local_minima_1d(lambda t: -t * np.sin(np.sqrt(np.abs(t))), -500, 500)
    assert schwefel[0][1] == pytest.approx(SCHWEFEL_X, abs=1e-5)
    assert 418.9829 + schwefel[0][0] == pytest.approx(SCHWEFEL_GAP, abs=1e-11)
    st = local_minima_1d(lambda t: 0.5 * (t**4 - 16 * t**2 + 5 * t), -5, 5)
    assert st[0] == pytest.approx((STYBLINSKI_TANG_F, STYBLINSKI_TANG_X), abs=1e-9)


def test_shubert_factor_extremes() -> None:
    def g(t):
        return sum(i * np.cos((i + 1) * t + i) for i in range(1, 6))

    low = local_minima_1d(g, -10, 10)
    high = [(-v, t) for v, t in local_minima_1d(lambda t: -g(t), -10, 10)]
    argmin = sorted(t for v, t in low if v < low[0][0] + 1e-9)
    argmax = sorted(t for v, t in high if v > high[0][0] - 1e-9)
    np.testing.assert_allclose(argmin, SHUBERT_ARGMIN, atol=1e-6)
    np.testing.assert_allclose(argmax, SHUBERT_ARGMAX, atol=1e-6)
    assert problems.get("shubert").f_star == pytest.approx(low[0][0] * high[0][0], abs=1e-9)


def test_alpine_roots() -> None:
    roots = np.array(ALPINE_N1_ROOTS)
    assert len(roots) == 8
    np.testing.assert_allclose(roots * (np.sin(roots) + 0.1), 0, atol=1e-14)
    t = np.linspace(-10, 10, 2_000_000)  # an even count keeps t = 0 off the grid
    sign_changes = np.count_nonzero(np.diff(np.sign(t * (np.sin(t) + 0.1))) != 0)
    assert sign_changes == 8


@pytest.mark.parametrize(
    "name",
    [
        "himmelblau",
        "six-hump-camel",
        "branin",
        "eggholder",
        "holder-table",
        "cross-in-tray",
        "goldstein-price",
        "drop-wave",
        "bohachevsky-n1",
        "three-hump-camel",
        "beale",
        "shubert",
    ],
)
def test_2d_global_minimisers_by_grid_search(name: str) -> None:
    """A polished grid search finds f* and exactly the listed set of global minimisers."""
    problem = problems.get(name)
    found = grid_minima_2d(problem, keep=40 if name == "shubert" else 12)
    tol = 1e-7 * max(1.0, abs(problem.f_star))
    assert found[0, 0] >= problem.f_star - tol
    best = found[found[:, 0] <= problem.f_star + tol, 1:]
    listed = np.array(problem.x_star)
    for point in best:  # every global minimiser the search finds is listed
        assert np.min(np.linalg.norm(listed - point, axis=1)) < 1e-4, (name, point)
    for point in listed:  # every listed minimiser is found
        assert np.min(np.linalg.norm(best - point, axis=1)) < 1e-4, (name, point)


def test_trid_closed_form_solves_the_normal_equations() -> None:
    for dim in (2, 3, 6, 10):
        p = problems.get("trid", dim=dim)
        hessian = 2 * np.eye(dim) - np.eye(dim, k=1) - np.eye(dim, k=-1)
        x = np.linalg.solve(hessian, 2 * np.ones(dim))
        np.testing.assert_allclose(x, p.x_star[0], atol=1e-9)
        assert p.f_star == -dim * (dim + 4) * (dim - 1) / 6


def test_dixon_price_minimisers() -> None:
    p = problems.get("dixon-price", dim=4)
    assert len(p.x_star) == 2
    plus, minus = (np.array(x) for x in p.x_star)
    assert plus[0] == 1 and minus[-1] == -plus[-1]
    np.testing.assert_allclose(2 * plus[1:] ** 2, plus[:-1])
