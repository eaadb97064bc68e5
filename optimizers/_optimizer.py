"""The batched optimizer spec: ``init(x) -> state`` and ``step(x, grad, state, hp) -> (x, state)``.

Every run is a row: ``x`` and ``grad`` are ``Tensor[R, d]``, the state is a dict of tensors
whose leading dimension is R, and each hyperparameter is a float or a tensor broadcastable to
``[R, 1]`` (so a learning-rate sweep is just more rows).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Union

import torch
from torch import Tensor

from problems import SpecError
from problems._spec import Spec

__all__ = ["HP", "Config", "Optimizer", "Range", "State"]

State = dict[str, Tensor]
HP = Mapping[str, Union[float, Tensor]]


@dataclass(frozen=True)
class Range:
    """An Optuna search range for one hyperparameter (``suggest_float(name, low, high, log=)``)."""

    low: float
    high: float
    log: bool = False


@dataclass(frozen=True)
class Rule:
    """An allowed interval for a hyperparameter, as text for messages: ``[0, 1)``."""

    low: float
    high: float = math.inf
    low_open: bool = False
    high_open: bool = True

    def admits(self, v: float) -> bool:
        above = v > self.low if self.low_open else v >= self.low
        below = v < self.high if self.high_open else v <= self.high
        return above and below

    def __str__(self) -> str:
        lo = "(" if self.low_open else "["
        hi = ")" if self.high_open else "]"
        return f"{lo}{self.low:g}, {self.high:g}{hi}"


POSITIVE = Rule(0.0, low_open=True)
NONNEGATIVE = Rule(0.0)
UNIT = Rule(0.0, 1.0)  # [0, 1)
FLAG = Rule(0.0, 1.0, high_open=False)


@dataclass(frozen=True)
class Optimizer:
    """A batched optimizer, registered by name.

    Attributes:
        name: kebab-case name (``"adam"``).
        init: ``x -> state``.
        step: ``(x, grad, state, hp) -> (x, state)``; must not mutate its inputs' storage
            in a way the caller can see, nor synchronise with the host.
        defaults: every hyperparameter with its default value.
        rules: allowed interval per hyperparameter (checked at `configure`).
        space: Optuna search ranges (at least ``lr``).
        elementwise: True when rows update independently and the whole batch runs at once;
            False when the update couples coordinates of a row (L-BFGS, global norms), in
            which case it runs row by row.
        uses_grad: False for derivative-free methods.
    """

    name: str
    init: Callable[[Tensor], State]
    step: Callable[[Tensor, Tensor, State, HP], tuple[Tensor, State]]
    defaults: Mapping[str, float]
    rules: Mapping[str, Rule] = field(default_factory=dict)
    space: Mapping[str, Range] = field(default_factory=dict)
    elementwise: bool = True
    uses_grad: bool = True

    def configure(self, **hp: float | Tensor) -> Config:
        """Validate hyperparameters (unknown names, ranges, NaN) and fill in the defaults."""
        for key, value in hp.items():
            if key not in self.defaults:
                allowed = ", ".join(self.defaults) or "none"
                msg = f"{self.name}: unknown hyperparameter {key!r}; allowed: {allowed}"
                raise SpecError(msg)
            rule = self.rules.get(key)
            values = value.flatten().tolist() if isinstance(value, Tensor) else [value]
            for v in values:
                if isinstance(v, bool) or not isinstance(v, (int, float)):
                    msg = f"{self.name}: {key} must be a number, got {v!r}"
                    raise SpecError(msg)
                if math.isnan(v) or (rule is not None and not rule.admits(float(v))):
                    allowed = f"; allowed: {rule}" if rule is not None else ""
                    msg = f"{self.name}: invalid {key} {v!r}{allowed}"
                    raise SpecError(msg)
        return Config(self, {**self.defaults, **hp})


@dataclass(frozen=True, eq=False)
class Config:
    """An optimizer with validated hyperparameters: what a study cell runs."""

    optimizer: Optimizer
    hp: Mapping[str, float | Tensor]

    @property
    def label(self) -> str:
        """Spec string of the changed hyperparameters: ``adam:lr=0.01``."""
        changed = {
            k: v
            for k, v in self.hp.items()
            if not isinstance(v, Tensor) and v != self.optimizer.defaults[k]
        }
        return str(Spec(self.optimizer.name, changed))

    def init(self, x: Tensor) -> State:
        return self.optimizer.init(x)

    def step(self, x: Tensor, grad: Tensor, state: State) -> tuple[Tensor, State]:
        return self.optimizer.step(x, grad, state, self.hp)


def as_rows(value: float | Tensor, like: Tensor) -> float | Tensor:
    """A hyperparameter ready to broadcast against ``like: [R, d]`` (tensors become ``[R, 1]``)."""
    if isinstance(value, Tensor):
        return value.to(device=like.device, dtype=like.dtype).reshape(-1, 1)
    return value


def zeros_like_rows(x: Tensor) -> Tensor:
    return torch.zeros_like(x)
