"""What the harness runs: a batched search method over rows.

A `Method` owns a whole step: it asks the objective for losses (and gradients) at its points
and moves them. A local optimizer becomes a method with `local`; global-search wrappers
(`random_search`, `restarts(local, ...)`) are methods that compose, so the harness's step loop
never branches on which kind it runs.

The contract has three members (STYLE rule 3): ``init(x0, ctx) -> state``,
``step(state, objective, ctx) -> state`` and ``info``, one `MethodInfo` value with what the
harness and the results table read (name, label, rows per seed, evaluations per step,
hyperparameters, start rule).

Rules every step follows (the harness calls it in a tight loop; tests/test_hot_path.py checks
them for every method the registries build):

- no host synchronisation: no ``.item()``, ``.cpu()`` or Python branch on a tensor value;
- no tensor made from Python data and no copy from the host: constants (the problem's bounds,
  per-row hyperparameters) go to the run's device once, in `init` or on first use.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Protocol

import torch
from torch import Tensor

from optimizers._optimizer import Config
from problems import Problem

__all__ = [
    "Context",
    "Local",
    "Method",
    "MethodInfo",
    "MethodState",
    "Objective",
    "StartRule",
    "local",
    "uniform_starts",
]

Objective = Callable[[Tensor, bool], tuple[Tensor, Tensor | None]]
"""``objective(x, need_grad) -> (loss[R], grad[R, d] or None)``; one evaluation per row."""

MethodState = dict[str, Any]
"""What the harness reads: ``"x"`` (current points, ``[R, d]``), after a step ``"loss"``
(``[R]``, the loss of the points evaluated in that step), and ``"evals"`` (``[R]``, this
step's evaluations per row) when the method counts them. Other entries are the method's own;
tensors among them have leading dimension R."""


class StartRule(Protocol):
    """``rule(problem, n, generator, device=, dtype=) -> Tensor[n, d]``: a seed's starts."""

    def __call__(
        self,
        problem: Problem,
        n: int,
        generator: torch.Generator | None,
        *,
        device: torch.device | str,
        dtype: torch.dtype,
    ) -> Tensor: ...


@dataclass(frozen=True)
class MethodInfo:
    """What a method is, for the harness and the results table.

    Attributes:
        name: the registered name (``"adam"``, ``"torch:NAdam"``, ``"restarts"``); the
            results' ``optimizer_name`` column.
        label: spec string that rebuilds the method (``"adam:lr=0.01"``,
            ``"restarts(adam,n=32)"``).
        starts_per_seed: rows per seed; a seed's result is the best over its rows.
        evals_per_step: objective evaluations each row spends per step (an upper bound when
            the state counts them in ``"evals"``).
        hp: hyperparameters as numbers (the results' ``hp_*`` columns).
        starts: the method's own start rule (global search samples the domain); None for
            the problem's default start.
    """

    name: str
    label: str
    starts_per_seed: int = 1
    evals_per_step: int = 1
    hp: Mapping[str, float] = field(default_factory=dict)
    starts: StartRule | None = None


@dataclass(frozen=True)
class Context:
    """What a method may use besides the objective: the domain and a device RNG.

    ``tensor_hp=True`` asks `init` to hold every hyperparameter as a device tensor (a plain
    number becomes a 0-d tensor; `Config.to`): a compiled step then takes them as inputs
    instead of constants, so cells that differ only in their hyperparameters share one
    compiled graph. The numbers are the same up to rounding (a tensor is never `is_zero`, so
    e.g. a zero weight decay adds ``0 * x``).
    """

    problem: Problem
    generator: torch.Generator  # on the run's device
    device: torch.device
    dtype: torch.dtype
    tensor_hp: bool = False

    def sample(self, n: int) -> Tensor:
        """``n`` points uniform in the problem's bounds, drawn on the device.

        The bounds are the problem's cached device constants: nothing comes from the host.
        """
        lower, upper = self.problem.box(self.device, self.dtype)
        u = torch.rand(
            n, self.problem.dim, generator=self.generator, device=self.device, dtype=self.dtype
        )
        return lower + u * (upper - lower)


class Method(Protocol):
    """A batched search method: `info`, `init` and `step` (see the module docstring)."""

    @property
    def info(self) -> MethodInfo: ...

    def init(self, x0: Tensor, ctx: Context) -> MethodState: ...

    def step(self, state: MethodState, objective: Objective, ctx: Context) -> MethodState: ...


@dataclass(frozen=True, eq=False)
class Local:
    """A local optimizer as a method: evaluate loss and gradient at ``x``, then update.

    The recorded loss of a step is the loss at the point before the update, as in a
    ``loss = f(x); loss.backward(); opt.step()`` loop.

    State: ``x``, ``opt`` (the optimizer's own state), ``config`` (the configuration with
    per-row hyperparameters on the run's device and dtype: `Config.to` once per cell, so
    the step copies nothing) and after a step ``loss``.
    """

    config: Config

    @cached_property
    def info(self) -> MethodInfo:
        hp = {k: v for k, v in self.config.hp.items() if not isinstance(v, Tensor)}
        return MethodInfo(self.config.optimizer.name, self.config.label, hp=hp)

    def init(self, x0: Tensor, ctx: Context) -> MethodState:
        config = self.config.to(x0, scalars=ctx is not None and ctx.tensor_hp)
        return {"x": x0, "opt": self.config.init(x0), "config": config}

    def step(self, state: MethodState, objective: Objective, ctx: Context) -> MethodState:
        loss, grad = objective(state["x"], True)
        assert grad is not None
        config: Config = state["config"]
        x, opt = config.step(state["x"], grad, state["opt"])
        return {"x": x, "opt": opt, "config": config, "loss": loss}


def uniform_starts(
    problem: Problem,
    n: int,
    generator: torch.Generator | None,
    device: torch.device | str = "cpu",
    dtype: torch.dtype = torch.float64,
) -> Tensor:
    """``n`` starts uniform in the box from the seed's CPU generator (never a literature x0).

    The start rule of global-search methods (``MethodInfo.starts``), and of every method in
    a study with ``start = "uniform"``.
    """
    return problem.sample(n, generator, device=device, dtype=dtype)


def local(config: Config) -> Local:
    """Wrap a configured optimizer as a method."""
    return Local(config)
