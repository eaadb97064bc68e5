"""Dimension checks and small helpers shared by the landscape factories."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from problems._errors import SpecError

__all__ = ["Constant", "check_dim", "cube"]

Bounds = tuple[tuple[float, ...], tuple[float, ...]]


def check_dim(name: str, dim: object, *, minimum: int = 1, allowed: tuple[int, ...] = ()) -> int:
    """Validate a ``dim=`` option; the message names the bad value and what is allowed."""
    if isinstance(dim, bool) or not isinstance(dim, int):
        msg = f"{name}: dim must be an integer, got {dim!r}"
        raise SpecError(msg)
    if allowed and dim not in allowed:
        msg = f"{name}: dim={dim} is not supported; allowed: {', '.join(map(str, allowed))}"
        raise SpecError(msg)
    if dim < minimum:
        msg = f"{name}: dim={dim} is not supported; allowed: dim >= {minimum}"
        raise SpecError(msg)
    return dim


def cube(lower: float, upper: float, dim: int) -> Bounds:
    """The box ``[lower, upper]^dim`` as a `Problem.bounds` pair."""
    return (float(lower),) * dim, (float(upper),) * dim


class Constant:
    """A constant tensor served on the caller's device and dtype, converted once per pair.

    Landscapes keep their constants (rotation matrices, shifts) as float64 CPU tensors and
    ask for them with ``const.like(x)``, so one problem works on any device and dtype.

    Args:
        value: the constant, any shape (kept as float64 on the CPU).
    """

    def __init__(self, value: Tensor | Sequence[float]) -> None:
        self.value = torch.as_tensor(value, dtype=torch.float64).detach().cpu()
        self._cache: dict[tuple[torch.device, torch.dtype], Tensor] = {}

    def like(self, x: Tensor) -> Tensor:
        """The constant on ``x.device`` in ``x.dtype``."""
        key = (x.device, x.dtype)
        value = self._cache.get(key)
        if value is None:
            # non_blocking: no explicit host synchronisation, even on a first call in a step loop
            value = self.value.to(device=x.device, dtype=x.dtype, non_blocking=True)
            if not torch.compiler.is_compiling():  # a traced tensor must not outlive its trace
                self._cache[key] = value
        return value
