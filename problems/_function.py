"""`from_function`: a one-point function ``f(x[d]) -> scalar`` as a batched `Problem`.

The batch is `torch.func.vmap` of `f`: row ``i`` of the loss is ``f(x[i])``, so the gradient
of the summed loss is every row's own gradient, and a step evaluates all rows in one call.

Example:
    >>> import torch, problems
    >>> def bowl(x):
    ...     return (x**2).sum()
    >>> p = problems.from_function(bowl, dim=3, bounds=(-5, 5), f_star=0.0)
    >>> p.loss(torch.ones(4, 3, dtype=torch.float64)).tolist()
    [3.0, 3.0, 3.0, 3.0]
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Collection, Sequence

import torch
from torch import Tensor

from problems._errors import SpecError
from problems._problem import Problem

__all__ = ["box_bounds", "from_function"]

Bounds = tuple[float, float] | tuple[Sequence[float], Sequence[float]]


def box_bounds(bounds: Bounds, dim: int, name: str) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """``(lower, upper)`` as tuples of `dim` floats: two numbers apply to every coordinate.

    Raises:
        SpecError: not a pair, wrong lengths, non-finite entries, or lower >= upper.
    """
    if not isinstance(bounds, (tuple, list)) or len(bounds) != 2:
        msg = f"{name}: bounds must be (lower, upper), got {bounds!r}"
        raise SpecError(msg)
    lower, upper = (_entries(b, dim) for b in bounds)
    if len(lower) != dim or len(upper) != dim:
        msg = f"{name}: bounds have {len(lower)}/{len(upper)} entries, dim is {dim}"
        raise SpecError(msg)
    for i, (lo, hi) in enumerate(zip(lower, upper)):
        if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
            msg = (
                f"{name}: bounds of coordinate {i} must be finite with lower < upper, "
                f"got [{lo}, {hi}]"
            )
            raise SpecError(msg)
    return lower, upper


def _entries(bound: float | Sequence[float], dim: int) -> tuple[float, ...]:
    """One bound as `dim` floats: a number applies to every coordinate."""
    if isinstance(bound, (tuple, list)):
        return tuple(float(v) for v in bound)
    return (float(bound),) * dim  # type: ignore[arg-type]


def kebab(text: str) -> str:
    """``"my_loss"`` -> ``"my-loss"`` (a registry name)."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "function"


def from_function(
    f: Callable[[Tensor], Tensor],
    *,
    dim: int,
    bounds: Bounds,
    f_star: float | None = None,
    x_star: Sequence[Sequence[float]] = (),
    name: str | None = None,
    tags: Collection[str] = (),
    source: str = "",
) -> Problem:
    """A batched problem from ``f(x[d]) -> scalar``, batched with `torch.func.vmap`.

    Args:
        f: the loss of one point (a 1-D tensor of `dim` entries) as a 0-d tensor, written
            with torch operations (no ``.item()``, no Python branch on values: vmap traces it).
        dim: the dimension d.
        bounds: ``(lower, upper)``: two numbers, or two sequences of d numbers.
        f_star: the global minimum, when known (`bench check` then checks it).
        x_star: known global minimisers.
        name: the problem's name (default: `f`'s name in kebab case).
        tags: a subset of `problems.TAGS`.
        source: where the function and its optimum come from.

    Raises:
        SpecError: bad dim or bounds, or `f` does not return one number per point.
    """
    label = name or kebab(getattr(f, "__name__", "function"))
    if isinstance(dim, bool) or not isinstance(dim, int) or dim < 1:
        msg = f"{label}: dim must be a positive integer, got {dim!r}"
        raise SpecError(msg)
    lower, upper = box_bounds(bounds, dim, label)
    batched = torch.func.vmap(f)

    def fn(x: Tensor) -> Tensor:
        return batched(x)

    probe = fn(torch.tensor([lower], dtype=torch.float64))
    if probe.shape != (1,):
        msg = (
            f"{label}: f must return one number per point (a 0-d tensor); for a point of shape "
            f"[{dim}] it returned shape {list(probe.shape[1:])}"
        )
        raise SpecError(msg)
    return Problem(
        name=label,
        dim=dim,
        fn=fn,
        bounds=(lower, upper),
        f_star=None if f_star is None else float(f_star),
        x_star=tuple(tuple(float(v) for v in point) for point in x_star),
        tags=frozenset(tags),
        source=source or f"from_function({getattr(f, '__qualname__', label)})",
    )
