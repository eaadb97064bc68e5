"""The catalogue of loss landscapes: the `Problem` type, a registry, one module per family.

Example:
    >>> import problems
    >>> p = problems.get("rastrigin:dim=10")
    >>> p.loss(p.sample(4)).shape
    torch.Size([4])
"""

from __future__ import annotations

from problems import (
    classic2d,  # noqa: F401  (registers its problems)
    convex,  # noqa: F401  (registers its problems)
    mlp,  # noqa: F401
    multimodal,  # noqa: F401  (registers its problems)
    valleys,  # noqa: F401  (registers its problems)
)
from problems._catalogue import PROBLEMS, get, register
from problems._errors import OptbenchError, SpecError, UnknownNameError
from problems._problem import TAGS, Problem, TrainLoss
from problems._registry import Registry
from problems._spec import Spec, parse_spec, split_top_level

__all__ = [
    "PROBLEMS",
    "TAGS",
    "OptbenchError",
    "Problem",
    "Registry",
    "Spec",
    "SpecError",
    "TrainLoss",
    "UnknownNameError",
    "get",
    "parse_spec",
    "register",
    "split_top_level",
]
