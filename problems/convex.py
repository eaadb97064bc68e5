"""Convex landscapes: bowls, ill-conditioned ellipsoids and plate-shaped quadratics."""

from __future__ import annotations

import torch
from torch import Tensor

from problems._catalogue import register
from problems._errors import SpecError
from problems._problem import Problem
from problems.dims import Constant, check_dim, cube
from problems.variants import random_rotation

__all__: list[str] = []

ILL_CONDITIONED = 1e2
"""Ellipsoids with at least this condition number are tagged ``ill-conditioned``."""


@register("sphere")
def sphere(dim: int = 2) -> Problem:
    """Sphere: ``f(x) = sum_i x_i^2`` on ``[-5.12, 5.12]^d``; ``f* = 0`` at ``x* = 0``.

    Source: De Jong (1975); Surjanovic & Bingham, Virtual Library of Simulation Experiments.
    """
    check_dim("sphere", dim)

    def fn(x: Tensor) -> Tensor:
        return (x * x).sum(-1)

    return Problem(
        "sphere",
        dim,
        fn,
        cube(-5.12, 5.12, dim),
        f_star=0.0,
        x_star=((0.0,) * dim,),
        tags=frozenset({"convex", "separable"}),
        source="De Jong (1975); sfu.ca/~ssurjano/spheref.html",
    )


@register("ellipsoid")
def ellipsoid(dim: int = 2, condition: float = 1e6, rotated: bool = False) -> Problem:
    """Ellipsoid: ``f(x) = sum_i kappa^((i-1)/(d-1)) y_i^2`` with ``y = x`` or ``y = Q x``.

    The axis lengths grow geometrically so the Hessian's condition number is `condition`
    (``kappa``). With ``rotated=true``, ``Q`` is a fixed Haar-random rotation (seeded by d),
    which makes the problem non-separable. Domain ``[-5, 5]^d``; ``f* = 0`` at ``x* = 0``.

    Source: Hansen et al. (2009), COCO/BBOB f2 (kappa = 1e6) and f10 (rotated), without the
    oscillation transform.

    Args:
        dim: d >= 1 (for d = 1 the condition number is 1).
        condition: the condition number kappa, 1 <= kappa <= 1e8.
        rotated: rotate the axes.
    """
    check_dim("ellipsoid", dim)
    if isinstance(condition, bool) or not isinstance(condition, int | float):
        msg = f"ellipsoid: condition must be a number, got {condition!r}"
        raise SpecError(msg)
    if not 1 <= condition <= 1e8:
        msg = f"ellipsoid: condition={condition!r} is out of range; allowed: 1 <= condition <= 1e8"
        raise SpecError(msg)
    if not isinstance(rotated, bool):
        msg = f"ellipsoid: rotated must be true or false, got {rotated!r}"
        raise SpecError(msg)
    powers = torch.arange(dim, dtype=torch.float64) / max(dim - 1, 1)
    weights = Constant(float(condition) ** powers)
    rotation = (
        Constant(random_rotation(dim, torch.Generator().manual_seed(dim))) if rotated else None
    )

    def fn(x: Tensor) -> Tensor:
        y = x if rotation is None else x @ rotation.like(x).T
        return (weights.like(x) * y * y).sum(-1)

    tags = {"convex"} | ({"ill-conditioned"} if condition >= ILL_CONDITIONED else set())
    return Problem(
        "ellipsoid",
        dim,
        fn,
        cube(-5.0, 5.0, dim),
        f_star=0.0,
        x_star=((0.0,) * dim,),
        tags=frozenset(tags if rotated else tags | {"separable"}),
        source="Hansen et al. (2009), COCO/BBOB f2/f10 (no T_osz)",
    )


@register("sum-of-different-powers")
def sum_of_different_powers(dim: int = 2) -> Problem:
    """Sum of different powers: ``f(x) = sum_i |x_i|^(i+1)`` on ``[-1, 1]^d``.

    ``f* = 0`` at ``x* = 0``. Convex and separable, increasingly flat along later axes.

    Source: Surjanovic & Bingham (2013), sfu.ca/~ssurjano/sumpow.html.
    """
    check_dim("sum-of-different-powers", dim)
    exponents = Constant(torch.arange(2, dim + 2, dtype=torch.float64))

    def fn(x: Tensor) -> Tensor:
        return x.abs().pow(exponents.like(x)).sum(-1)

    return Problem(
        "sum-of-different-powers",
        dim,
        fn,
        cube(-1.0, 1.0, dim),
        f_star=0.0,
        x_star=((0.0,) * dim,),
        tags=frozenset({"convex", "separable"}),
        source="Surjanovic & Bingham (2013), sfu.ca/~ssurjano/sumpow.html",
    )


@register("zakharov")
def zakharov(dim: int = 2) -> Problem:
    """Zakharov: ``f(x) = sum x_i^2 + s^2 + s^4`` with ``s = sum_i 0.5 i x_i``.

    Domain ``[-5, 10]^d``; ``f* = 0`` at ``x* = 0``.

    Source: Surjanovic & Bingham (2013), sfu.ca/~ssurjano/zakharov.html.
    """
    check_dim("zakharov", dim)
    half_i = Constant(0.5 * torch.arange(1, dim + 1, dtype=torch.float64))

    def fn(x: Tensor) -> Tensor:
        s = (half_i.like(x) * x).sum(-1)
        s2 = s * s
        return (x * x).sum(-1) + s2 + s2 * s2

    return Problem(
        "zakharov",
        dim,
        fn,
        cube(-5.0, 10.0, dim),
        f_star=0.0,
        x_star=((0.0,) * dim,),
        tags=frozenset({"convex"}),
        source="Surjanovic & Bingham (2013), sfu.ca/~ssurjano/zakharov.html",
    )


@register("booth")
def booth() -> Problem:
    """Booth: ``f(x, y) = (x + 2y - 7)^2 + (2x + y - 5)^2`` on ``[-10, 10]^2``.

    ``f* = 0`` at ``(1, 3)``.

    Source: Surjanovic & Bingham (2013), sfu.ca/~ssurjano/booth.html.
    """

    def fn(x: Tensor) -> Tensor:
        a, b = x[:, 0], x[:, 1]
        return (a + 2 * b - 7) ** 2 + (2 * a + b - 5) ** 2

    return Problem(
        "booth",
        2,
        fn,
        cube(-10.0, 10.0, 2),
        f_star=0.0,
        x_star=((1.0, 3.0),),
        tags=frozenset({"convex"}),
        source="Surjanovic & Bingham (2013), sfu.ca/~ssurjano/booth.html",
    )


@register("matyas")
def matyas() -> Problem:
    """Matyas: ``f(x, y) = 0.26 (x^2 + y^2) - 0.48 x y`` on ``[-10, 10]^2``.

    A plate-shaped quadratic (Hessian eigenvalues 1.0 and 0.04); ``f* = 0`` at ``(0, 0)``.

    Source: Surjanovic & Bingham (2013), sfu.ca/~ssurjano/matya.html.
    """

    def fn(x: Tensor) -> Tensor:
        a, b = x[:, 0], x[:, 1]
        return 0.26 * (a * a + b * b) - 0.48 * a * b

    return Problem(
        "matyas",
        2,
        fn,
        cube(-10.0, 10.0, 2),
        f_star=0.0,
        x_star=((0.0, 0.0),),
        tags=frozenset({"convex"}),
        source="Surjanovic & Bingham (2013), sfu.ca/~ssurjano/matya.html",
    )


@register("trid")
def trid(dim: int = 2) -> Problem:
    """Trid: ``f(x) = sum_i (x_i - 1)^2 - sum_{i>=2} x_i x_{i-1}`` on ``[-d^2, d^2]^d``.

    A convex quadratic (Hessian ``2I`` minus the off-diagonals) whose minimiser moves with
    d: ``x*_i = i (d + 1 - i)`` and ``f* = -d (d + 4) (d - 1) / 6`` (exact integers).

    Source: Surjanovic & Bingham (2013), sfu.ca/~ssurjano/trid.html.

    Args:
        dim: d >= 2.
    """
    check_dim("trid", dim, minimum=2)

    def fn(x: Tensor) -> Tensor:
        return ((x - 1) ** 2).sum(-1) - (x[:, 1:] * x[:, :-1]).sum(-1)

    return Problem(
        "trid",
        dim,
        fn,
        cube(-(dim**2), dim**2, dim),
        f_star=float(-dim * (dim + 4) * (dim - 1) // 6),
        x_star=(tuple(float(i * (dim + 1 - i)) for i in range(1, dim + 1)),),
        tags=frozenset({"convex"}),
        source="Surjanovic & Bingham (2013), sfu.ca/~ssurjano/trid.html",
    )
