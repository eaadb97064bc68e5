"""Convex landscapes."""

from __future__ import annotations

from torch import Tensor

from problems._catalogue import register
from problems._problem import Problem
from problems.dims import check_dim

__all__: list[str] = []


@register("sphere")
def sphere(dim: int = 2) -> Problem:
    """Sphere: ``f(x) = sum_i x_i^2`` on ``[-5.12, 5.12]^d``; ``f* = 0`` at ``x* = 0``.

    Source: De Jong (1975); Surjanovic & Bingham, Virtual Library of Simulation Experiments.
    """
    check_dim("sphere", dim)

    def fn(x: Tensor) -> Tensor:
        return (x * x).sum(-1)

    return Problem(
        "sphere", dim, fn, ((-5.12,) * dim, (5.12,) * dim), 0.0, ((0.0,) * dim,),
        frozenset({"convex", "separable"}), "De Jong (1975); sfu.ca/~ssurjano/spheref.html",
    )
