"""Two-dimensional classics, most of them multimodal, with every global minimiser listed.

Minimisers that are not closed-form were found on a dense grid and polished with mpmath
(Newton on the gradient, 40 digits); the digits below are those results, rounded to 20.
"""

from __future__ import annotations

import itertools
import math

import torch
from torch import Tensor

from problems._catalogue import register
from problems._problem import Problem
from problems.dims import cube
from problems.variants import box_defined

__all__: list[str] = []


def _corners(a: float, b: float) -> tuple[tuple[float, float], ...]:
    """The four sign patterns ``(+-a, +-b)``."""
    return tuple((sa * a, sb * b) for sa, sb in itertools.product((1.0, -1.0), repeat=2))


@register("himmelblau")
def himmelblau() -> Problem:
    """Himmelblau: ``f(x, y) = (x^2 + y - 11)^2 + (x + y^2 - 7)^2`` on ``[-5, 5]^2``.

    Four global minimisers with ``f* = 0``: ``(3, 2)`` and three irrational ones (the real
    roots of ``x^2 + y = 11, x + y^2 = 7``, polished to 20 digits).

    Source: Himmelblau (1972); Jamil & Yang (2013), A literature survey of benchmark functions.
    """

    def fn(x: Tensor) -> Tensor:
        a, b = x[:, 0], x[:, 1]
        return (a * a + b - 11) ** 2 + (a + b * b - 7) ** 2

    return Problem(
        "himmelblau",
        2,
        fn,
        cube(-5.0, 5.0, 2),
        f_star=0.0,
        x_star=(
            (3.0, 2.0),
            (-2.8051180869527448531, 3.1313125182505729658),
            (-3.7793102533777468919, -3.2831859912861694123),
            (3.5844283403304917449, -1.8481265269644035535),
        ),
        tags=frozenset({"multimodal"}),
        source="Himmelblau (1972); Jamil & Yang (2013), benchmark survey",
    )


@register("six-hump-camel")
def six_hump_camel() -> Problem:
    """Six-hump camel: ``f(x, y) = (4 - 2.1 x^2 + x^4 / 3) x^2 + x y + (-4 + 4 y^2) y^2``.

    Domain ``[-3, 3] x [-2, 2]``; six local minima, two global:
    ``+-(0.08984201310031806, -0.7126564030207396)`` with ``f* = -1.0316284534898774``.

    Source: Dixon & Szego (1978); Surjanovic & Bingham (2013), sfu.ca/~ssurjano/camel6.html.
    """

    def fn(x: Tensor) -> Tensor:
        a, b = x[:, 0], x[:, 1]
        a2, b2 = a * a, b * b
        return (4 - 2.1 * a2 + a2 * a2 / 3) * a2 + a * b + (-4 + 4 * b2) * b2

    point = (0.089842013100318062456, -0.7126564030207396334)
    return Problem(
        "six-hump-camel",
        2,
        fn,
        ((-3.0, -2.0), (3.0, 2.0)),
        f_star=-1.0316284534898773504,
        x_star=(point, (-point[0], -point[1])),
        tags=frozenset({"multimodal", "valley"}),
        source="Dixon & Szego (1978); sfu.ca/~ssurjano/camel6.html",
    )


_BRANIN_B = 5.1 / (4 * math.pi**2)
_BRANIN_C = 5 / math.pi
_BRANIN_T = 1 / (8 * math.pi)


@register(box_defined("branin"))
def branin() -> Problem:
    """Branin (Branin-Hoo): ``f = (y - b x^2 + c x - 6)^2 + 10 (1 - t) cos(x) + 10``.

    With ``b = 5.1 / (4 pi^2)``, ``c = 5 / pi``, ``t = 1 / (8 pi)``; domain
    ``[-5, 10] x [0, 15]``. ``f* = 10 t = 5 / (4 pi) = 0.39788735772973834`` wherever
    ``cos x = -1`` and the square vanishes: three points in the box, ``x in {-pi, pi, 3 pi}``.
    Box-defined: the minimisers repeat every ``2 pi`` outside it.

    Source: Dixon & Szego (1978); Surjanovic & Bingham (2013), sfu.ca/~ssurjano/branin.html.
    """

    def fn(x: Tensor) -> Tensor:
        a, b = x[:, 0], x[:, 1]
        square = (b - _BRANIN_B * a * a + _BRANIN_C * a - 6) ** 2
        return square + 10 * (1 - _BRANIN_T) * torch.cos(a) + 10

    minimisers = tuple(
        (a, _BRANIN_B * a * a - _BRANIN_C * a + 6) for a in (-math.pi, math.pi, 3 * math.pi)
    )
    return Problem(
        "branin",
        2,
        fn,
        ((-5.0, 0.0), (10.0, 15.0)),
        f_star=0.39788735772973833942,
        x_star=minimisers,
        tags=frozenset({"multimodal"}),
        source="Dixon & Szego (1978); sfu.ca/~ssurjano/branin.html",
    )


@register("goldstein-price")
def goldstein_price() -> Problem:
    """Goldstein-Price: ``f = [1 + (x + y + 1)^2 A] [30 + (2x - 3y)^2 B]`` on ``[-2, 2]^2``.

    ``A = 19 - 14x + 3x^2 - 14y + 6xy + 3y^2``, ``B = 18 - 32x + 12x^2 + 48y - 36xy + 27y^2``.
    ``f* = 3`` at ``(0, -1)`` only: with ``u = x + y``, ``v = 2x - 3y`` the first factor is
    ``1 + (u + 1)^2 (3u^2 - 14u + 19) >= 1`` and the second ``30 + v^2 (3v^2 - 16v + 18) >= 3``,
    with equality at ``u = -1``, ``v = 3``. Values span five orders of magnitude.

    Source: Goldstein & Price (1971); Surjanovic & Bingham (2013), sfu.ca/~ssurjano/goldpr.html.
    """

    def fn(x: Tensor) -> Tensor:
        a, b = x[:, 0], x[:, 1]
        first = 1 + (a + b + 1) ** 2 * (19 - 14 * a + 3 * a * a - 14 * b + 6 * a * b + 3 * b * b)
        second = 30 + (2 * a - 3 * b) ** 2 * (
            18 - 32 * a + 12 * a * a + 48 * b - 36 * a * b + 27 * b * b
        )
        return first * second

    return Problem(
        "goldstein-price",
        2,
        fn,
        cube(-2.0, 2.0, 2),
        f_star=3.0,
        x_star=((0.0, -1.0),),
        tags=frozenset({"multimodal"}),
        source="Goldstein & Price (1971); sfu.ca/~ssurjano/goldpr.html",
    )


@register(box_defined("eggholder"))
def eggholder() -> Problem:
    """Eggholder: ``f = -(y + 47) sin(sqrt|x/2 + y + 47|) - x sin(sqrt|x - (y + 47)|)``.

    Domain ``[-512, 512]^2``. ``f* = -959.6406627208508`` at ``(512, 404.2318051137578)``, on
    the box's edge (the slope in x is still -3.39 there): box-defined, the function goes lower
    outside.

    Source: Whitley et al. (1996); Surjanovic & Bingham (2013), sfu.ca/~ssurjano/egg.html.
    """

    def fn(x: Tensor) -> Tensor:
        a, b = x[:, 0], x[:, 1] + 47
        return -b * torch.sin(torch.sqrt(torch.abs(a / 2 + b))) - a * torch.sin(
            torch.sqrt(torch.abs(a - b))
        )

    return Problem(
        "eggholder",
        2,
        fn,
        cube(-512.0, 512.0, 2),
        f_star=-959.64066272085080283,
        x_star=((512.0, 404.23180511375781093),),
        tags=frozenset({"multimodal"}),
        source="Whitley et al. (1996); sfu.ca/~ssurjano/egg.html",
    )


@register(box_defined("holder-table"))
def holder_table() -> Problem:
    """Holder table: ``f(x, y) = -|sin(x) cos(y) exp(|1 - sqrt(x^2 + y^2) / pi|)|``.

    Domain ``[-10, 10]^2``; ``f* = -19.208502567886732`` at the four points
    ``(+-8.055023475736563, +-9.664590019241273)``. Box-defined: the exponential grows
    without bound outside.

    Source: Mishra (2006); Surjanovic & Bingham (2013), sfu.ca/~ssurjano/holder.html.
    """

    def fn(x: Tensor) -> Tensor:
        a, b = x[:, 0], x[:, 1]
        radius = torch.sqrt(a * a + b * b)
        return -torch.abs(torch.sin(a) * torch.cos(b) * torch.exp(torch.abs(1 - radius / math.pi)))

    return Problem(
        "holder-table",
        2,
        fn,
        cube(-10.0, 10.0, 2),
        f_star=-19.208502567886731832,
        x_star=_corners(8.0550234757365634198, 9.66459001924127289),
        tags=frozenset({"multimodal"}),
        source="Mishra (2006); sfu.ca/~ssurjano/holder.html",
    )


@register(box_defined("cross-in-tray"))
def cross_in_tray() -> Problem:
    """Cross-in-tray: ``f = -1e-4 (|sin x sin y exp(|100 - sqrt(x^2 + y^2) / pi|)| + 1)^0.1``.

    Domain ``[-10, 10]^2``; ``f* = -2.0626118708227369`` at ``(+-1.3494066171539108,
    +-1.3494066171539108)``. Box-defined: the exponential grows without bound outside.

    Source: Mishra (2006); Surjanovic & Bingham (2013), sfu.ca/~ssurjano/crossit.html.
    """

    def fn(x: Tensor) -> Tensor:
        a, b = x[:, 0], x[:, 1]
        exponent = torch.abs(100 - torch.sqrt(a * a + b * b) / math.pi)
        # log(|sin a sin b| e^exponent + 1), without overflowing e^100 in float32
        log_inner = torch.logaddexp(
            torch.log(torch.abs(torch.sin(a) * torch.sin(b))) + exponent, 0 * a
        )
        return -1e-4 * torch.exp(0.1 * log_inner)

    c = 1.3494066171539107918
    return Problem(
        "cross-in-tray",
        2,
        fn,
        cube(-10.0, 10.0, 2),
        f_star=-2.0626118708227368778,
        x_star=_corners(c, c),
        tags=frozenset({"multimodal"}),
        source="Mishra (2006); sfu.ca/~ssurjano/crossit.html",
    )


@register("drop-wave")
def drop_wave() -> Problem:
    """Drop-wave: ``f(x, y) = -(1 + cos(12 r)) / (r^2 / 2 + 2)`` with ``r = sqrt(x^2 + y^2)``.

    Domain ``[-5.12, 5.12]^2``; concentric ripples; ``f* = -1`` at ``(0, 0)`` (elsewhere the
    numerator is at most 2 and the denominator above 2).

    Source: Surjanovic & Bingham (2013), sfu.ca/~ssurjano/drop.html.
    """

    def fn(x: Tensor) -> Tensor:
        radius = torch.linalg.vector_norm(x, dim=-1)  # finite gradient at 0
        return -(1 + torch.cos(12 * radius)) / (0.5 * radius * radius + 2)

    return Problem(
        "drop-wave",
        2,
        fn,
        cube(-5.12, 5.12, 2),
        f_star=-1.0,
        x_star=((0.0, 0.0),),
        tags=frozenset({"multimodal"}),
        source="Surjanovic & Bingham (2013), sfu.ca/~ssurjano/drop.html",
    )


SHUBERT_ARGMIN = (-7.7083137354993474477, -1.425128428319760970757, 4.8580568788598255062)
"""Where ``g(t) = sum_{i=1}^5 i cos((i + 1) t + i)`` reaches its minimum -12.870885497725685
in ``[-10, 10]`` (one point per period)."""
SHUBERT_ARGMAX = (-7.0835064076515596016, -0.8003211004719731246631, 5.4828642067076133523)
"""Where ``g`` reaches its maximum 14.508007927195033 in ``[-10, 10]``."""


@register(box_defined("shubert"))
def shubert() -> Problem:
    """Shubert: ``f(x, y) = g(x) g(y)`` with ``g(t) = sum_{i=1}^5 i cos((i + 1) t + i)``.

    Domain ``[-10, 10]^2``. ``f* = min(g) max(g) = -186.73090883102383``, reached where one
    coordinate is an argmin of g and the other an argmax: 3 x 3 x 2 = 18 global minimisers
    in the box (`SHUBERT_ARGMIN`, `SHUBERT_ARGMAX`). Box-defined: g is 2 pi-periodic, so the
    minimisers repeat outside.

    Source: Shubert (1972); Surjanovic & Bingham (2013), sfu.ca/~ssurjano/shubert.html.
    """

    def fn(x: Tensor) -> Tensor:
        i = torch.arange(1, 6, device=x.device, dtype=x.dtype)
        g = (i * torch.cos((i + 1) * x.unsqueeze(-1) + i)).sum(-1)
        return g[:, 0] * g[:, 1]

    pairs = list(itertools.product(SHUBERT_ARGMIN, SHUBERT_ARGMAX))
    return Problem(
        "shubert",
        2,
        fn,
        cube(-10.0, 10.0, 2),
        f_star=-186.7309088310238258589,
        x_star=tuple(pairs) + tuple((b, a) for a, b in pairs),
        tags=frozenset({"multimodal"}),
        source="Shubert (1972); sfu.ca/~ssurjano/shubert.html",
    )


@register("bohachevsky-n1")
def bohachevsky_n1() -> Problem:
    """Bohachevsky N.1: ``f = x^2 + 2 y^2 - 0.3 cos(3 pi x) - 0.4 cos(4 pi y) + 0.7``.

    Domain ``[-100, 100]^2``; a bowl with shallow ripples; ``f* = 0`` at ``(0, 0)``.

    Source: Bohachevsky et al. (1986); Surjanovic & Bingham (2013), sfu.ca/~ssurjano/boha.html.
    """

    def fn(x: Tensor) -> Tensor:
        a, b = x[:, 0], x[:, 1]
        return (
            a * a
            + 2 * b * b
            - 0.3 * torch.cos(3 * math.pi * a)
            - 0.4 * torch.cos(4 * math.pi * b)
            + 0.7
        )

    return Problem(
        "bohachevsky-n1",
        2,
        fn,
        cube(-100.0, 100.0, 2),
        f_star=0.0,
        x_star=((0.0, 0.0),),
        tags=frozenset({"multimodal", "separable"}),
        source="Bohachevsky et al. (1986); sfu.ca/~ssurjano/boha.html",
    )
