"""The optimizer registry and the `get` / `configure` / `method` entry points.

Names: registered optimizers (``adam``), their configurations (``adam:lr=3e-4``), torch.optim
classes through the adapter (``torch:NAdam:lr=0.01``, ``pkg.module:Class``) and global-search
wrappers (``restarts(adam,n=32)``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from optimizers._optimizer import Config, Optimizer
from problems import Registry, Spec, SpecError, UnknownNameError, closest, parse_spec, unknown

__all__ = [
    "OPTIMIZERS",
    "REFERENCES",
    "WRAPPERS",
    "TorchReference",
    "configure",
    "describe",
    "get",
    "method",
    "parse",
    "register",
]

OPTIMIZERS: Registry[Optimizer] = Registry("optimizer")


@dataclass(frozen=True)
class TorchReference:
    """The torch.optim class an optimizer reproduces, for the parity check (`bench check`).

    Attributes:
        cls: the ``torch.optim.Optimizer`` subclass.
        kwargs: one row's flat hyperparameters (plain floats) -> the class's keyword
            arguments (``beta1, beta2`` -> ``betas=(beta1, beta2)``); default: the same.
    """

    cls: type[torch.optim.Optimizer]
    kwargs: Callable[[Mapping[str, float]], dict[str, Any]] = field(default=dict)


REFERENCES: dict[str, TorchReference] = {}
"""Registered name -> the torch.optim class its trajectory matches (`register`'s
``reference``)."""


def register(
    name: str, *, aliases: Sequence[str] = (), reference: TorchReference | None = None
) -> Callable[[Callable[..., Optimizer]], Callable[..., Optimizer]]:
    """Decorator: ``@optimizers.register("signsgd")`` on a factory returning an `Optimizer`.

    Args:
        name: the kebab-case name (a name that exists fails with one line).
        aliases: older spellings that keep working, unlisted.
        reference: the torch.optim class the optimizer reproduces; `bench check` then
            runs the parity check against it.
    """
    add = OPTIMIZERS.register(name, aliases=aliases)

    def decorate(factory: Callable[..., Optimizer]) -> Callable[..., Optimizer]:
        added = add(factory)
        if reference is not None:
            REFERENCES[name] = reference
        return added

    return decorate


def _betas(hp: Mapping[str, float], **extra: Any) -> dict[str, Any]:
    out = {k: v for k, v in hp.items() if k not in ("beta1", "beta2")}
    return {**out, "betas": (hp["beta1"], hp["beta2"]), **extra}


REFERENCES.update(
    {
        "sgd": TorchReference(torch.optim.SGD),
        "momentum": TorchReference(torch.optim.SGD),
        "nesterov": TorchReference(torch.optim.SGD, lambda hp: {**hp, "nesterov": True}),
        "adam": TorchReference(torch.optim.Adam, _betas),
        "adamw": TorchReference(torch.optim.AdamW, _betas),
        "amsgrad": TorchReference(torch.optim.Adam, lambda hp: _betas(hp, amsgrad=True)),
        "rmsprop": TorchReference(
            torch.optim.RMSprop, lambda hp: {**hp, "centered": bool(hp["centered"])}
        ),
        "adagrad": TorchReference(torch.optim.Adagrad),
    }
)
"""The core optimizers' references (one table, read by the parity tests and `bench check`)."""


def parse(spec: str | Spec) -> Spec:
    """An optimizer spec parsed once into a value, wrappers' inner specs included.

    Adapter names are recognised first: ``parse("torch:NAdam:lr=0.01")`` is
    ``Spec("torch:NAdam", {"lr": 0.01})``, where the plain parser would read a name
    ``torch`` and an option ``NAdam:lr``. Other specs parse as `problems.parse_spec` parses
    them, and the inner specs of a wrapper become `Spec` values too:
    ``parse("restarts(adam:lr=0.05,n=32)")`` is
    ``Spec("restarts", {"n": 32}, (Spec("adam", {"lr": 0.05}),))``. A `Spec` is returned
    as it is.

    Example:
        >>> parse("restarts(torch:NAdam:lr=0.01,n=2)").inner
        (Spec(name='torch:NAdam', options={'lr': 0.01}, inner=()),)
    """
    if isinstance(spec, Spec):
        return spec
    from optimizers.torch_adapter import is_adapter_spec, parse_adapter

    if is_adapter_spec(spec):
        return parse_adapter(spec)
    parsed = parse_spec(spec)
    if not parsed.inner:
        return parsed
    return Spec(parsed.name, parsed.options, tuple(parse(i) for i in parsed.inner))


def get(name: str) -> Optimizer:
    """The optimizer registered as `name` (``"adam"``), or a torch.optim class (``"torch:NAdam"``).

    Unknown names fail with the known ones and the closest match.
    """
    from optimizers.torch_adapter import is_adapter_spec, parse_adapter, torch_optimizer

    if ":" in name and is_adapter_spec(name):
        return torch_optimizer(parse_adapter(name).name)
    try:
        return OPTIMIZERS.create(Spec(name))
    except UnknownNameError:
        known = [*OPTIMIZERS.names(), *WRAPPERS.names()]  # a misspelt wrapper is suggested too
        msg = (
            f"{unknown('optimizer', name, known)}; torch.optim classes: torch:<Class> (torch:NAdam)"
        )
        raise UnknownNameError(msg) from None


def configure(spec: str | Spec, **hp: Any) -> Config:
    """An optimizer with hyperparameters from a spec string: ``configure("adam:lr=3e-4")``.

    Keyword hyperparameters override the spec's and may be tensors (one value per row):
    ``configure("adam", lr=torch.tensor([1e-3, 1e-2]))``.
    """
    parsed = parse(spec)
    if parsed.inner:
        msg = f"{parsed.name!r} is a wrapper, not an optimizer; build it with optimizers.method"
        raise SpecError(msg)
    return get(parsed.name).configure(**{**parsed.options, **hp})


WRAPPERS: Registry[object] = Registry("search method")
"""Global-search methods by name (``random-search``, ``restarts``); factories take the inner
spec strings positionally and options by keyword and return a `Method`."""


def method(spec: str | Spec):  # -> Method
    """The method a study cell runs: a wrapper (``restarts(adam,n=32)``) or a local optimizer.

    A torch.optim class that is not elementwise (``torch:LBFGS``) runs row by row as a
    `optimizers.torch_adapter.TorchRows`; everything else is `optimizers.local` of its config.
    The spec is parsed once (`parse`); wrappers get their inner specs as parsed values.
    """
    from optimizers._method import local

    parsed = parse(spec)
    if parsed.name in WRAPPERS:
        factory = WRAPPERS.factory(parsed.name)
        return factory(*parsed.inner, **parsed.options)
    if parsed.inner:
        near = closest(parsed.name, WRAPPERS.names())
        hint = f" (did you mean {near!r}?)" if near else ""
        msg = (
            f"{parsed.name!r} is not a wrapper{hint}; known wrappers: {', '.join(WRAPPERS.names())}"
        )
        raise SpecError(msg)
    config = configure(parsed)
    if not config.optimizer.elementwise:
        from optimizers.torch_adapter import TorchRows

        return TorchRows(config)
    return local(config)


def describe(*, torch: bool = False) -> list[dict[str, Any]]:
    """One row per optimizer for listings (``bench list --optimizers``).

    Each row: ``name``, ``summary`` (update rule and source), ``defaults``, ``space`` (Optuna
    ranges as ``"low..high (log)"``), ``mode`` (``"batched"`` or ``"row by row"``) and
    ``uses_grad``. With ``torch=True`` the torch.optim classes (``torch:NAdam``, ...) follow.
    """
    names: list[str] = list(OPTIMIZERS)
    if torch:
        from optimizers.torch_adapter import torch_names

        names += torch_names()
    rows = []
    for name in names:
        opt = get(name)
        rows.append(
            {
                "name": name,
                "summary": opt.summary,
                "defaults": dict(opt.defaults),
                "space": {
                    k: f"{r.low:g}..{r.high:g}{' (log)' if r.log else ''}"
                    for k, r in opt.space.items()
                },
                "mode": "batched" if opt.elementwise else "row by row",
                "uses_grad": opt.uses_grad,
            }
        )
    return rows
