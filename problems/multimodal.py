"""Multimodal landscapes in any dimension: many local minima around one (or a few) global."""

from __future__ import annotations

import itertools
import math

import torch
from torch import Tensor

from problems._catalogue import register
from problems._problem import Problem
from problems.dims import check_dim, cube
from problems.variants import box_defined

__all__ = ["ALPINE_N1_ROOTS", "MICHALEWICZ_COORDINATES"]


@register("rastrigin")
def rastrigin(dim: int = 2) -> Problem:
    """Rastrigin: ``f(x) = 10 d + sum_i (x_i^2 - 10 cos(2 pi x_i))`` on ``[-5.12, 5.12]^d``.

    A regular lattice of local minima on a bowl; ``f* = 0`` at ``x* = 0``.

    Source: Rastrigin (1974); Surjanovic & Bingham (2013), sfu.ca/~ssurjano/rastr.html.
    """
    check_dim("rastrigin", dim)

    def fn(x: Tensor) -> Tensor:
        return 10 * dim + (x * x - 10 * torch.cos(2 * math.pi * x)).sum(-1)

    return Problem(
        "rastrigin",
        dim,
        fn,
        cube(-5.12, 5.12, dim),
        f_star=0.0,
        x_star=((0.0,) * dim,),
        tags=frozenset({"multimodal", "separable"}),
        source="Rastrigin (1974); sfu.ca/~ssurjano/rastr.html",
    )


@register("ackley")
def ackley(dim: int = 2) -> Problem:
    """Ackley: ``f(x) = -a exp(-b sqrt(mean x_i^2)) - exp(mean cos(c x_i)) + a + e``.

    With ``a = 20``, ``b = 0.2``, ``c = 2 pi``; domain ``[-32.768, 32.768]^d``: a nearly flat
    outer region and a deep funnel; ``f* = 0`` at ``x* = 0``.

    Source: Ackley (1987); Surjanovic & Bingham (2013), sfu.ca/~ssurjano/ackley.html.
    """
    check_dim("ackley", dim)

    def fn(x: Tensor) -> Tensor:
        radius = torch.linalg.vector_norm(x, dim=-1) / math.sqrt(dim)  # finite gradient at 0
        waves = torch.cos(2 * math.pi * x).mean(-1)
        return -20 * torch.exp(-0.2 * radius) - torch.exp(waves) + 20 + math.e

    return Problem(
        "ackley",
        dim,
        fn,
        cube(-32.768, 32.768, dim),
        f_star=0.0,
        x_star=((0.0,) * dim,),
        tags=frozenset({"multimodal"}),
        source="Ackley (1987); sfu.ca/~ssurjano/ackley.html",
    )


@register("griewank")
def griewank(dim: int = 2) -> Problem:
    """Griewank: ``f(x) = 1 + sum_i x_i^2 / 4000 - prod_i cos(x_i / sqrt(i))``.

    Domain ``[-600, 600]^d``; ``f* = 0`` at ``x* = 0`` (the product is 1 only where the
    quadratic term vanishes).

    Source: Griewank (1981); Surjanovic & Bingham (2013), sfu.ca/~ssurjano/griewank.html.
    """
    check_dim("griewank", dim)

    def fn(x: Tensor) -> Tensor:
        root_i = torch.arange(1, dim + 1, device=x.device, dtype=x.dtype).sqrt()
        return 1 + (x * x).sum(-1) / 4000 - torch.cos(x / root_i).prod(-1)

    return Problem(
        "griewank",
        dim,
        fn,
        cube(-600.0, 600.0, dim),
        f_star=0.0,
        x_star=((0.0,) * dim,),
        tags=frozenset({"multimodal"}),
        source="Griewank (1981); sfu.ca/~ssurjano/griewank.html",
    )


@register("levy")
def levy(dim: int = 2) -> Problem:
    """Levy: with ``w_i = 1 + (x_i - 1) / 4``,

    ``f(x) = sin^2(pi w_1) + sum_{i<d} (w_i - 1)^2 [1 + 10 sin^2(pi w_i + 1)]
    + (w_d - 1)^2 [1 + sin^2(2 pi w_d)]`` on ``[-10, 10]^d``; ``f* = 0`` at ``x* = 1``.

    Source: Laguna & Marti (2005); Surjanovic & Bingham (2013), sfu.ca/~ssurjano/levy.html.
    """
    check_dim("levy", dim)

    def fn(x: Tensor) -> Tensor:
        w = 1 + (x - 1) / 4
        head, last = w[:, :-1], w[:, -1]
        middle = ((head - 1) ** 2 * (1 + 10 * torch.sin(math.pi * head + 1) ** 2)).sum(-1)
        tail = (last - 1) ** 2 * (1 + torch.sin(2 * math.pi * last) ** 2)
        return torch.sin(math.pi * w[:, 0]) ** 2 + middle + tail

    return Problem(
        "levy",
        dim,
        fn,
        cube(-10.0, 10.0, dim),
        f_star=0.0,
        x_star=((1.0,) * dim,),
        tags=frozenset({"multimodal"}),
        source="Laguna & Marti (2005); sfu.ca/~ssurjano/levy.html",
    )


SCHWEFEL_X = 420.96874635998202731
"""The maximiser of ``t sin(sqrt(t))`` on ``[0, 500]`` (polished with mpmath, 40 digits)."""
SCHWEFEL_GAP = 1.27275662937252135648e-05
"""``418.9829 - SCHWEFEL_X sin(sqrt(SCHWEFEL_X))``: the 418.9829 d form's minimum per axis."""


@register(box_defined("schwefel"))
def schwefel(dim: int = 2) -> Problem:
    """Schwefel: ``f(x) = 418.9829 d - sum_i x_i sin(sqrt(|x_i|))`` on ``[-500, 500]^d``.

    The best point is far from the next best ones, near the box's corner:
    ``x*_i = 420.968746359982...``. Since 418.9829 rounds the per-axis maximum
    ``418.98288727...``, ``f* = 1.2727566e-5 d`` (not 0). Box-defined: outside the box the
    function goes lower (``|x_i| ~ 713``).

    Source: Schwefel (1981); Surjanovic & Bingham (2013), sfu.ca/~ssurjano/schwef.html.
    """
    check_dim("schwefel", dim)

    def fn(x: Tensor) -> Tensor:
        return 418.9829 * dim - (x * torch.sin(torch.sqrt(torch.abs(x)))).sum(-1)

    return Problem(
        "schwefel",
        dim,
        fn,
        cube(-500.0, 500.0, dim),
        f_star=SCHWEFEL_GAP * dim,
        x_star=((SCHWEFEL_X,) * dim,),
        tags=frozenset({"multimodal", "separable"}),
        source="Schwefel (1981); sfu.ca/~ssurjano/schwef.html",
    )


STYBLINSKI_TANG_X = -2.903534027771177095119
"""The root of ``4t^3 - 32t + 5`` that minimises ``(t^4 - 16t^2 + 5t) / 2`` (mpmath)."""
STYBLINSKI_TANG_F = -39.16616570377141546389
"""The per-axis minimum ``(t^4 - 16t^2 + 5t) / 2`` at `STYBLINSKI_TANG_X`."""


@register("styblinski-tang")
def styblinski_tang(dim: int = 2) -> Problem:
    """Styblinski-Tang: ``f(x) = sum_i (x_i^4 - 16 x_i^2 + 5 x_i) / 2`` on ``[-5, 5]^d``.

    Each axis has a local minimum near 2.75 and the global one at
    ``x*_i = -2.903534027771177``; ``f* = -39.166165703771415 d``.

    Source: Styblinski & Tang (1990); Surjanovic & Bingham (2013), sfu.ca/~ssurjano/stybtang.html.
    """
    check_dim("styblinski-tang", dim)

    def fn(x: Tensor) -> Tensor:
        x2 = x * x
        return 0.5 * (x2 * x2 - 16 * x2 + 5 * x).sum(-1)

    return Problem(
        "styblinski-tang",
        dim,
        fn,
        cube(-5.0, 5.0, dim),
        f_star=STYBLINSKI_TANG_F * dim,
        x_star=((STYBLINSKI_TANG_X,) * dim,),
        tags=frozenset({"multimodal", "separable"}),
        source="Styblinski & Tang (1990); sfu.ca/~ssurjano/stybtang.html",
    )


MICHALEWICZ_COORDINATES = (
    (2.2029055201726093461, -0.80130341009855253271),
    (1.5707963267948966192, -1.0),
    (1.2849915705529243599, -0.9590912698960059482),
    (1.9230584698663628432, -0.93846241847208341012),
    (1.7204697725658412801, -0.9888010806215043611),
    (1.5707963267948966192, -1.0),
    (1.4544139713623790276, -0.99322713535588160453),
    (1.7560865209450263727, -0.9828720362722105987),
    (1.6557174168210291042, -0.99639436492510295811),
    (1.5707963267948966192, -1.0),
    (1.4977288035560708744, -0.99733054155076820271),
    (1.6966163007974610578, -0.99209274152268202042),
    (1.6300760803964552812, -0.99824298688316872483),
    (1.5707963267948966192, -1.0),
    (1.5175461146676730294, -0.99858220472144441105),
    (1.6660645117262647936, -0.9954646286305587738),
    (1.6163286404365930699, -0.99896341384478331358),
    (1.5707963267948966192, -1.0),
    (1.5289070023558479308, -0.99912264222910087439),
    (1.647456357674162475, -0.99706272432557358693),
)
"""Per axis i = 1..20: the minimiser and minimum of ``-sin(t) sin^20(i t^2 / pi)`` on
``[0, pi]``, found on a 4-million-point grid, polished with mpmath (40 digits); the runner-up
local minimum is at least 3e-4 higher on every axis, so each minimiser is unique."""


@register(box_defined("michalewicz"))
def michalewicz(dim: int = 2) -> Problem:
    """Michalewicz (m = 10): ``f(x) = -sum_i sin(x_i) sin^20(i x_i^2 / pi)`` on ``[0, pi]^d``.

    Steep ridges and drops on a plateau. The function is separable, so the minimum is the sum
    of per-axis minima (`MICHALEWICZ_COORDINATES`), which is how f* is known for every
    supported d: d = 2: -1.8013034, d = 5: -4.6876582, d = 10: -9.6601517 (the published
    values). Supported: 1 <= d <= 20. Box-defined: outside ``[0, pi]`` other axes' peaks
    reach lower.

    Source: Michalewicz (1992); Surjanovic & Bingham (2013), sfu.ca/~ssurjano/michal.html.
    """
    check_dim("michalewicz", dim, allowed=tuple(range(1, len(MICHALEWICZ_COORDINATES) + 1)))

    def fn(x: Tensor) -> Tensor:
        i = torch.arange(1, dim + 1, device=x.device, dtype=x.dtype)
        return -(torch.sin(x) * torch.sin(i * x * x / math.pi) ** 20).sum(-1)

    axes = MICHALEWICZ_COORDINATES[:dim]
    return Problem(
        "michalewicz",
        dim,
        fn,
        cube(0.0, math.pi, dim),
        f_star=math.fsum(f for _, f in axes),
        x_star=(tuple(t for t, _ in axes),),
        tags=frozenset({"multimodal", "separable", "plateau"}),
        source="Michalewicz (1992); sfu.ca/~ssurjano/michal.html",
    )


def _alpine_roots() -> tuple[float, ...]:
    """The zeros of ``t (sin t + 0.1)`` in ``[-10, 10]``: 0 and the roots of sin t = -0.1."""
    a = math.asin(0.1)
    candidates = [0.0] + [s + 2 * math.pi * k for k in range(-2, 3) for s in (-a, math.pi + a)]
    return tuple(sorted(t for t in candidates if -10 <= t <= 10))


ALPINE_N1_ROOTS = _alpine_roots()
"""The 8 zeros of ``|t sin t + 0.1 t|`` in ``[-10, 10]``."""
ALPINE_N1_LISTED = 5
"""Alpine N.1 lists its ``8^d`` global minimisers for d up to this; beyond, ``x_star = ()``."""


@register(box_defined("alpine-n1"))
def alpine_n1(dim: int = 2) -> Problem:
    """Alpine N.1: ``f(x) = sum_i |x_i sin(x_i) + 0.1 x_i|`` on ``[-10, 10]^d``.

    Non-differentiable where a term vanishes. ``f* = 0``, reached where every
    ``x_i`` is 0 or a root of ``sin x_i = -0.1``: 8 values per axis in the box
    (`ALPINE_N1_ROOTS`), so ``8^d`` global minimisers (Jamil & Yang give only the origin).
    All are listed for ``d <= 5``; for larger d there are too many (``x_star = ()``; the set
    is ``ALPINE_N1_ROOTS^d``). Box-defined: the roots repeat outside the box.

    Source: Jamil & Yang (2013), A literature survey of benchmark functions (Alpine N.1).
    """
    check_dim("alpine-n1", dim)

    def fn(x: Tensor) -> Tensor:
        return torch.abs(x * torch.sin(x) + 0.1 * x).sum(-1)

    listed = dim <= ALPINE_N1_LISTED
    return Problem(
        "alpine-n1",
        dim,
        fn,
        cube(-10.0, 10.0, dim),
        f_star=0.0,
        x_star=tuple(itertools.product(ALPINE_N1_ROOTS, repeat=dim)) if listed else (),
        tags=frozenset({"multimodal", "separable"}),
        source="Jamil & Yang (2013), benchmark survey (Alpine N.1)",
    )


@register("salomon")
def salomon(dim: int = 2) -> Problem:
    """Salomon: ``f(x) = 1 - cos(2 pi |x|) + 0.1 |x|`` on ``[-100, 100]^d``.

    Concentric ridges around ``x* = 0``; ``f* = 0``.

    Source: Salomon (1996); Jamil & Yang (2013), A literature survey of benchmark functions.
    """
    check_dim("salomon", dim)

    def fn(x: Tensor) -> Tensor:
        radius = torch.linalg.vector_norm(x, dim=-1)
        return 1 - torch.cos(2 * math.pi * radius) + 0.1 * radius

    return Problem(
        "salomon",
        dim,
        fn,
        cube(-100.0, 100.0, dim),
        f_star=0.0,
        x_star=((0.0,) * dim,),
        tags=frozenset({"multimodal"}),
        source="Salomon (1996); Jamil & Yang (2013), benchmark survey",
    )
