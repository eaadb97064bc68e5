"""Nonconvex valleys and plateaus: curved narrow valleys, flat plains with a hole."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from problems._catalogue import register
from problems._problem import Problem
from problems.dims import check_dim, cube
from problems.variants import shift_only

__all__: list[str] = []


@register("rosenbrock")
def rosenbrock(dim: int = 2) -> Problem:
    """Rosenbrock: ``f(x) = sum_{i<d} 100 (x_{i+1} - x_i^2)^2 + (1 - x_i)^2``.

    Domain ``[-5, 10]^d``; ``f* = 0`` at ``x* = (1, ..., 1)``, the only global minimiser.
    For 4 <= d <= 7 there is also a local minimum near ``(-1, 1, ..., 1)`` (Shang & Qiu
    2006). The literature's start for d = 2 is ``(-1.2, 1)`` (Rosenbrock 1960); for other d
    runs start uniformly in the box.

    Source: Rosenbrock (1960); Surjanovic & Bingham (2013), sfu.ca/~ssurjano/rosen.html.

    Args:
        dim: d >= 2.
    """
    check_dim("rosenbrock", dim, minimum=2)

    def fn(x: Tensor) -> Tensor:
        head, tail = x[:, :-1], x[:, 1:]
        return (100 * (tail - head * head) ** 2 + (1 - head) ** 2).sum(-1)

    return Problem(
        "rosenbrock",
        dim,
        fn,
        cube(-5.0, 10.0, dim),
        f_star=0.0,
        x_star=((1.0,) * dim,),
        tags=frozenset({"valley"}),
        source="Rosenbrock (1960); sfu.ca/~ssurjano/rosen.html",
        x0=(-1.2, 1.0) if dim == 2 else None,
    )


@register("beale")
def beale() -> Problem:
    """Beale: ``f = (1.5 - x + xy)^2 + (2.25 - x + xy^2)^2 + (2.625 - x + xy^3)^2``.

    Domain ``[-4.5, 4.5]^2``; ``f* = 0`` at ``(3, 0.5)`` (the only zero: the first two terms
    vanish only there). Flat valleys with steep walls near the corners. The literature's
    start is ``(1, 1)`` (Moré, Garbow & Hillstrom 1981, problem 5).

    Source: Beale (1958); Surjanovic & Bingham (2013), sfu.ca/~ssurjano/beale.html.
    """

    def fn(x: Tensor) -> Tensor:
        a, b = x[:, 0], x[:, 1]
        return (1.5 - a + a * b) ** 2 + (2.25 - a + a * b * b) ** 2 + (2.625 - a + a * b**3) ** 2

    return Problem(
        "beale",
        2,
        fn,
        cube(-4.5, 4.5, 2),
        f_star=0.0,
        x_star=((3.0, 0.5),),
        tags=frozenset({"valley"}),
        source="Beale (1958); sfu.ca/~ssurjano/beale.html",
        x0=(1.0, 1.0),
    )


def _dixon_price_minimisers(dim: int) -> tuple[tuple[float, ...], ...]:
    """``x_i = 2^(-(2^i - 2) / 2^i)``, with either sign on the last coordinate."""
    head = tuple(2.0 ** (-(2.0**i - 2) / 2.0**i) for i in range(1, dim + 1))
    return head, (*head[:-1], -head[-1])


@register("dixon-price")
def dixon_price(dim: int = 2) -> Problem:
    """Dixon-Price: ``f(x) = (x_1 - 1)^2 + sum_{i>=2} i (2 x_i^2 - x_{i-1})^2``.

    Domain ``[-10, 10]^d``; ``f* = 0``. A zero needs ``x_1 = 1`` and
    ``x_i^2 = x_{i-1} / 2``, so ``|x_i| = 2^(-(2^i - 2) / 2^i)``; every ``x_i`` with
    ``i < d`` must be positive (the next term needs ``x_i >= 0``), so the global minimisers
    are exactly the two points ``(x_1, ..., x_{d-1}, +-x_d)``.

    Source: Dixon & Price (1989); Surjanovic & Bingham (2013), sfu.ca/~ssurjano/dixonpr.html.

    Args:
        dim: d >= 2.
    """
    check_dim("dixon-price", dim, minimum=2)

    def fn(x: Tensor) -> Tensor:
        i = torch.arange(2, dim + 1, device=x.device, dtype=x.dtype)
        chain = (i * (2 * x[:, 1:] ** 2 - x[:, :-1]) ** 2).sum(-1)
        return (x[:, 0] - 1) ** 2 + chain

    return Problem(
        "dixon-price",
        dim,
        fn,
        cube(-10.0, 10.0, dim),
        f_star=0.0,
        x_star=_dixon_price_minimisers(dim),
        tags=frozenset({"valley"}),
        source="Dixon & Price (1989); sfu.ca/~ssurjano/dixonpr.html",
    )


@register("three-hump-camel")
def three_hump_camel() -> Problem:
    """Three-hump camel: ``f(x, y) = 2x^2 - 1.05x^4 + x^6/6 + xy + y^2`` on ``[-5, 5]^2``.

    Three local minima; ``f* = 0`` at ``(0, 0)`` only (minimising over y leaves
    ``x^2 (1.75 - 1.05 x^2 + x^4 / 6) > 0`` for ``x != 0``).

    Source: Surjanovic & Bingham (2013), sfu.ca/~ssurjano/camel3.html.
    """

    def fn(x: Tensor) -> Tensor:
        a, b = x[:, 0], x[:, 1]
        a2 = a * a
        return 2 * a2 - 1.05 * a2 * a2 + a2**3 / 6 + a * b + b * b

    return Problem(
        "three-hump-camel",
        2,
        fn,
        cube(-5.0, 5.0, 2),
        f_star=0.0,
        x_star=((0.0, 0.0),),
        tags=frozenset({"valley", "multimodal"}),
        source="Surjanovic & Bingham (2013), sfu.ca/~ssurjano/camel3.html",
    )


@register("easom")
def easom() -> Problem:
    """Easom: ``f(x, y) = -cos(x) cos(y) exp(-(x - pi)^2 - (y - pi)^2)`` on ``[-100, 100]^2``.

    A flat plain (``f ~ 0``) with a small hole: ``f* = -1`` at ``(pi, pi)``.

    Source: Easom (1990); Surjanovic & Bingham (2013), sfu.ca/~ssurjano/easom.html.
    """

    def fn(x: Tensor) -> Tensor:
        a, b = x[:, 0], x[:, 1]
        return -torch.cos(a) * torch.cos(b) * torch.exp(-((a - math.pi) ** 2) - (b - math.pi) ** 2)

    return Problem(
        "easom",
        2,
        fn,
        cube(-100.0, 100.0, 2),
        f_star=-1.0,
        x_star=((math.pi, math.pi),),
        tags=frozenset({"plateau", "multimodal"}),
        source="Easom (1990); sfu.ca/~ssurjano/easom.html",
    )


@register(shift_only("bukin-n6"))
def bukin_n6() -> Problem:
    """Bukin N.6: ``f(x, y) = 100 sqrt(|y - 0.01 x^2|) + 0.01 |x + 10|``.

    Domain ``[-15, -5] x [-3, 3]``; a sharp, non-differentiable ridge along
    ``y = 0.01 x^2`` with many local minima on it; ``f* = 0`` at ``(-10, 1)``.

    Instances only shift it (see `problems.variants.shift_only`).

    Source: Surjanovic & Bingham (2013), sfu.ca/~ssurjano/bukin6.html.
    """

    def fn(x: Tensor) -> Tensor:
        a, b = x[:, 0], x[:, 1]
        return 100 * torch.sqrt(torch.abs(b - 0.01 * a * a)) + 0.01 * torch.abs(a + 10)

    return Problem(
        "bukin-n6",
        2,
        fn,
        ((-15.0, -3.0), (-5.0, 3.0)),
        f_star=0.0,
        x_star=((-10.0, 1.0),),
        tags=frozenset({"valley", "multimodal"}),
        source="Surjanovic & Bingham (2013), sfu.ca/~ssurjano/bukin6.html",
    )
