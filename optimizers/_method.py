"""What the harness runs: a batched search method over rows.

A `Method` owns a whole step: it asks the objective for losses (and gradients) at its points
and moves them. A local optimizer becomes a method with `local`; global-search wrappers
(`random_search`, `restarts(local, ...)`) are methods that compose, so the harness's step loop
never branches on which kind it runs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import torch
from torch import Tensor

from optimizers._optimizer import Config
from problems import Problem

__all__ = ["Context", "Method", "Objective", "local", "uniform_starts"]

Objective = Callable[[Tensor, bool], tuple[Tensor, Tensor | None]]
"""``objective(x, need_grad) -> (loss[R], grad[R, d] or None)``; one evaluation per row."""

MethodState = dict[str, Any]
"""Holds at least ``"x"`` (current points, ``[R, d]``) and, after a step, ``"loss"``
(``[R]``, the loss of the points evaluated in that step). Other entries are the method's own;
tensors among them have leading dimension R."""


@dataclass(frozen=True)
class Context:
    """What a method may use besides the objective: the domain and a device RNG."""

    problem: Problem
    generator: torch.Generator  # on the run's device
    device: torch.device
    dtype: torch.dtype

    def sample(self, n: int) -> Tensor:
        """``n`` points uniform in the problem's bounds, drawn on the device."""
        lower, upper = self.problem.box(self.device, self.dtype)
        u = torch.rand(
            n, self.problem.dim, generator=self.generator, device=self.device, dtype=self.dtype
        )
        return lower + u * (upper - lower)


class Method(Protocol):
    """A batched search method (three members; see the module docstring).

    Attributes:
        label: spec string shown in results (``"adam:lr=0.01"``, ``"restarts(adam,n=32)"``).
        starts_per_seed: rows per seed; a seed's result is the best over its rows.
        evals_per_step: objective evaluations each row spends per step.
    """

    label: str
    starts_per_seed: int
    evals_per_step: int
    hp: dict[str, float]

    def init(self, x0: Tensor, ctx: Context) -> MethodState: ...

    def step(self, state: MethodState, objective: Objective, ctx: Context) -> MethodState: ...


@dataclass(frozen=True, eq=False)
class Local:
    """A local optimizer as a method: evaluate loss and gradient at ``x``, then update.

    The recorded loss of a step is the loss at the point before the update, as in a
    ``loss = f(x); loss.backward(); opt.step()`` loop.
    """

    config: Config
    starts_per_seed: int = 1
    evals_per_step: int = 1

    @property
    def label(self) -> str:
        return self.config.label

    @property
    def hp(self) -> dict[str, float]:
        return {k: v for k, v in self.config.hp.items() if not isinstance(v, Tensor)}

    def init(self, x0: Tensor, ctx: Context) -> MethodState:
        return {"x": x0, "opt": self.config.init(x0)}

    def step(self, state: MethodState, objective: Objective, ctx: Context) -> MethodState:
        loss, grad = objective(state["x"], True)
        assert grad is not None
        x, opt = self.config.step(state["x"], grad, state["opt"])
        return {"x": x, "opt": opt, "loss": loss}


def uniform_starts(
    problem: Problem,
    n: int,
    generator: torch.Generator | None,
    device: torch.device | str = "cpu",
    dtype: torch.dtype = torch.float64,
) -> Tensor:
    """``n`` starts uniform in the box from the seed's CPU generator (never a literature x0).

    The start rule of global-search methods (``starts = staticmethod(uniform_starts)``).
    """
    return problem.sample(n, generator, device=device, dtype=dtype)


def local(config: Config) -> Local:
    """Wrap a configured optimizer as a method."""
    return Local(config)
