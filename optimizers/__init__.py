"""Batched optimizers, the torch.optim adapter, global-search wrappers and their registry.

Example:
    >>> import optimizers
    >>> cfg = optimizers.configure("adam:lr=1e-2")
"""

from __future__ import annotations

from optimizers import (  # noqa: F401  (each module registers its optimizer)
    adagrad,
    adam,
    adamw,
    amsgrad,
    momentum,
    nesterov,
    rmsprop,
    sgd,
)
from optimizers._catalogue import (
    OPTIMIZERS,
    REFERENCES,
    WRAPPERS,
    TorchReference,
    configure,
    describe,
    get,
    method,
    parse,
    register,
)
from optimizers._method import (
    Context,
    Local,
    Method,
    MethodInfo,
    MethodState,
    Objective,
    StartRule,
    local,
    uniform_starts,
)
from optimizers._optimizer import HP, Config, Optimizer, Range, State, as_rows, step_counter
from optimizers.random_search import RandomSearch
from optimizers.restarts import Restarts

__all__ = [
    "HP",
    "OPTIMIZERS",
    "REFERENCES",
    "WRAPPERS",
    "Config",
    "Context",
    "Local",
    "Method",
    "MethodInfo",
    "MethodState",
    "Objective",
    "Optimizer",
    "RandomSearch",
    "Range",
    "Restarts",
    "StartRule",
    "State",
    "TorchReference",
    "as_rows",
    "configure",
    "describe",
    "get",
    "local",
    "method",
    "parse",
    "register",
    "step_counter",
    "uniform_starts",
]
