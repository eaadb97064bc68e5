"""The search space of a tuning study: the optimizer's declared ranges, narrowed or extended.

`search_space(spec)` starts from the optimizer's spec: the learning rate over its declared
range (`optimizers.Optimizer.space`, log-uniform). ``--space lr=1e-4..1e-1,momentum=0.8..0.99``
narrows a range or adds a hyperparameter the optimizer has; a declared range keeps its scale
(log or linear), an added one is linear. Every bound must be a value the optimizer accepts
(its `Rule`), so a trial never fails on a hyperparameter that configure would refuse.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import optimizers
from problems import Spec, SpecError, UnknownNameError, unknown

__all__ = ["Param", "SearchSpace", "parse_space", "search_space", "tunable"]


@dataclass(frozen=True)
class Param:
    """One hyperparameter's range: Optuna's ``suggest_float(name, low, high, log=log)``."""

    name: str
    low: float
    high: float
    log: bool = False

    def __str__(self) -> str:
        return f"{self.name}={self.low:g}..{self.high:g}{' (log)' if self.log else ''}"


SearchSpace = tuple[Param, ...]


def tunable(spec: str) -> tuple[Spec, Spec]:
    """``(outer, local)``: the parsed spec and the local optimizer's spec inside it.

    ``adam:lr=0.05`` is its own local spec; ``restarts(adam:lr=0.05,n=8)`` tunes its inner
    ``adam``. A method with nothing to tune (``random-search``) fails with a `SpecError`.
    """
    parsed = optimizers.parse(spec)
    local = parsed
    if parsed.name in optimizers.WRAPPERS:
        if len(parsed.inner) != 1:
            msg = f"{spec}: nothing to tune (a search method without an inner optimizer)"
            raise SpecError(msg)
        local = optimizers.parse(parsed.inner[0])
    optimizers.get(local.name)  # an unknown name fails here, with the closest one
    return parsed, local


def parse_space(text: str) -> dict[str, tuple[float, float]]:
    """``"lr=1e-4..1e-1,momentum=0.8..0.99"`` -> ``{"lr": (1e-4, 0.1), ...}``.

    Raises:
        SpecError: an item that is not ``name=low..high``, a bound that is not a number, or
            an empty or reversed range (``low >= high``).
    """
    out: dict[str, tuple[float, float]] = {}
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        name, eq, bounds = item.partition("=")
        low_text, dots, high_text = bounds.partition("..")
        if not eq or not dots or not name.strip():
            msg = f"--space {item!r}: expected name=low..high, e.g. lr=1e-4..1e-1"
            raise SpecError(msg)
        try:
            low, high = float(low_text), float(high_text)
        except ValueError:
            msg = f"--space {item!r}: the bounds must be numbers, e.g. lr=1e-4..1e-1"
            raise SpecError(msg) from None
        if not (math.isfinite(low) and math.isfinite(high)) or low >= high:
            what = "empty" if low == high else "reversed" if low > high else "not finite"
            msg = f"--space {item!r}: the range is {what}; allowed: low < high, both finite"
            raise SpecError(msg)
        out[name.strip()] = (low, high)
    return out


def search_space(
    spec: str, narrowed: Mapping[str, tuple[float, float]] | None = None
) -> SearchSpace:
    """The space tuned for optimizer `spec`: its learning rate, then `narrowed`'s additions.

    Args:
        spec: an optimizer spec (``adam``, ``sgd:lr=0.001``, ``restarts(adam,n=8)``).
        narrowed: ranges from `parse_space`; a name the optimizer has not got fails with the
            closest name, a bound the optimizer refuses fails with the allowed interval.

    Example:
        >>> [str(p) for p in search_space("adam", {"beta1": (0.8, 0.95)})]
        ['lr=1e-05..1 (log)', 'beta1=0.8..0.95']
    """
    _, local = tunable(spec)
    optimizer = optimizers.get(local.name)
    declared = optimizer.space
    if "lr" not in declared:
        msg = f"{local.name}: no learning-rate range declared; give --space lr=low..high"
        raise SpecError(msg)
    params = {"lr": Param("lr", declared["lr"].low, declared["lr"].high, declared["lr"].log)}
    for name, (low, high) in (narrowed or {}).items():
        if name not in optimizer.defaults:
            message = unknown(f"{local.name} hyperparameter", name, list(optimizer.defaults))
            raise UnknownNameError(f"--space: {message}")
        rule = optimizer.rules.get(name)
        for bound in (low, high):
            if rule is not None and not rule.admits(bound):
                msg = (
                    f"--space {name}={low:g}..{high:g}: {local.name} refuses "
                    f"{name}={bound:g}; allowed: {rule}"
                )
                raise SpecError(msg)
        log = declared[name].log if name in declared else False
        if log and low <= 0:
            msg = f"--space {name}={low:g}..{high:g}: a log range needs low > 0"
            raise SpecError(msg)
        params[name] = Param(name, low, high, log)
    return tuple(params.values())
