"""Dimension checks shared by the factories."""

from __future__ import annotations

from problems._errors import SpecError


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
