"""The optimizer registry and the `get` / `configure` entry points."""

from __future__ import annotations

from optimizers._optimizer import Config, Optimizer
from problems import Registry, Spec, parse_spec

__all__ = ["OPTIMIZERS", "configure", "get", "register"]

OPTIMIZERS: Registry[Optimizer] = Registry("optimizer")
register = OPTIMIZERS.register


def get(name: str) -> Optimizer:
    """The optimizer registered as `name` (``"adam"``)."""
    return OPTIMIZERS.create(name)


def configure(spec: str | Spec, **hp: float) -> Config:
    """An optimizer with hyperparameters from a spec string: ``configure("adam:lr=3e-4")``."""
    parsed = parse_spec(spec) if isinstance(spec, str) else spec
    optimizer = get(parsed.name)
    return optimizer.configure(**{**parsed.options, **hp})  # type: ignore[arg-type]


WRAPPERS: Registry[object] = Registry("search method")
"""Global-search methods by name (``random_search``, ``restarts``); factories take the inner
spec strings positionally and options by keyword and return a `Method`."""


def method(spec: str | Spec):  # -> Method
    """The method a study cell runs: a wrapper (``restarts(adam,n=32)``) or a local optimizer."""
    from optimizers._method import local

    parsed = parse_spec(spec) if isinstance(spec, str) else spec
    if parsed.name in WRAPPERS:
        factory = WRAPPERS.factory(parsed.name)
        return factory(*parsed.inner, **parsed.options)
    if parsed.inner:
        msg = f"{parsed.name!r} is not a wrapper; known wrappers: {', '.join(WRAPPERS.names())}"
        from problems import SpecError

        raise SpecError(msg)
    return local(configure(parsed))
