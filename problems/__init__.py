"""The catalogue of loss landscapes: the `Problem` type, a registry, one module per family.

The bottom layer of optbench. The error family and the spec grammar import nothing heavy, so
the reading side (``reports``, ``bench show``) can use them without torch; the catalogue
itself (`Problem`, `get`, `PROBLEMS` and the families that fill it) loads on first use
(PEP 562).

Example:
    >>> import problems
    >>> p = problems.get("rastrigin:dim=10")
    >>> p.loss(p.sample(4)).shape
    torch.Size([4])
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from problems._errors import (
    OptbenchError,
    SpecError,
    StoreError,
    UnknownNameError,
    closest,
    unknown,
)
from problems._lazy import lazy_exports
from problems._registry import Registry
from problems._spec import (
    Spec,
    format_value,
    parse_spec,
    parse_value,
    split_specs,
    split_top_level,
)
from problems._targets import DEFAULT_TARGETS, EPSILON, float_precision

FAMILIES = ("classic2d", "convex", "mlp", "multimodal", "valleys")
"""The modules whose decorators fill `PROBLEMS`."""

_LAZY = {
    "from_function": "problems._function",
    "from_module": "problems._module",
    "PROBLEMS": "problems._catalogue",
    "get": "problems._catalogue",
    "register": "problems._catalogue",
    "TAGS": "problems._problem",
    "Problem": "problems._problem",
    "TrainLoss": "problems._problem",
}

__all__ = [
    "DEFAULT_TARGETS",
    "EPSILON",
    "FAMILIES",
    "PROBLEMS",
    "TAGS",
    "OptbenchError",
    "Problem",
    "Registry",
    "Spec",
    "SpecError",
    "StoreError",
    "TrainLoss",
    "UnknownNameError",
    "closest",
    "float_precision",
    "format_value",
    "from_function",
    "from_module",
    "get",
    "lazy_exports",
    "parse_spec",
    "parse_value",
    "register",
    "split_specs",
    "split_top_level",
    "unknown",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        for family in FAMILIES:  # the catalogue is only whole with every family registered
            importlib.import_module(f"problems.{family}")
        globals()[name] = value
        return value
    if name in (*FAMILIES, "dims", "variants"):
        return importlib.import_module(f"problems.{name}")
    msg = f"module 'problems' has no attribute {name!r}"
    raise AttributeError(msg)


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])


if TYPE_CHECKING:
    from problems._catalogue import PROBLEMS, get, register
    from problems._function import from_function
    from problems._module import from_module
    from problems._problem import TAGS, Problem, TrainLoss
