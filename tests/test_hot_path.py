"""The hot path: in steady state a step makes no tensor from Python data and copies nothing in.

Every method the registries can build (`tests/_methods.py`) runs two warm-up steps, then a
few steps under `HostData`, a ``TorchDispatchMode`` that sees every ATen call of the step.
What counts as a violation:

- a tensor made from Python data: ``torch.tensor(...)`` / ``torch.as_tensor(...)`` dispatch to
  ``aten.lift_fresh``; ``torch.where(mask, 1.0, x)`` and friends to ``aten.scalar_tensor``;
- a copy from the host: ``aten._to_copy`` (``.to(device)``, ``.to(dtype)``) of a tensor that
  was not made inside the step (constants, hyperparameters, anything built before), and an
  ``aten.copy_`` between devices. On CPU a host-to-device copy cannot be seen as a device
  change, so ``_to_copy`` of an outside tensor stands for it: on CUDA that is exactly the
  copy of a host constant (or a per-row hyperparameter left on the CPU) at every step.

Steady state means: whatever a method builds once per cell (bounds on the device, the torch
optimizer of the adapter, per-row hyperparameters moved by `Config.to`) is built in `init`
or at the first step, not again. The row-by-row torch mode (`TorchRows`, e.g. L-BFGS) runs
on the host by nature (a Python loop over rows, reading the fresh flags); what holds for it
here is the same rule: no tensor from Python data, nothing copied in.

On CUDA, `test_no_host_sync_between_checkpoints_on_cuda` runs the same list through the
harness (`bench.run_rows(check_sync=True)`: CUDA's sync debug mode set to "error" between
checkpoints), all but the row-by-row mode, which synchronises by nature.

`test_the_check_can_fail` shows that a method which does ``torch.tensor(...)`` in its step,
or leaves a per-row hyperparameter on the host, fails the check.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
import torch
from _methods import METHOD_SPECS, on_the_device
from torch import Tensor
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

import bench
import optimizers
import problems

aten = torch.ops.aten

FROM_PYTHON = {
    aten.lift_fresh.default,
    aten.lift_fresh_copy.default,
    aten.lift.default,
    aten.scalar_tensor.default,
}
"""Ops that make a tensor from Python data."""

WARMUP, STEPS, ROWS = 2, 3, 6


class HostData(TorchDispatchMode):
    """Records the ATen calls that make a tensor from Python data or copy one in."""

    def __init__(self) -> None:
        super().__init__()
        self.made: set[int] = set()  # ids of tensors made inside (kept alive: ids stay unique)
        self.alive: list[Tensor] = []
        self.violations: list[str] = []

    def __torch_dispatch__(
        self, func: Any, types: Any, args: tuple[Any, ...] = (), kwargs: Any = None
    ) -> Any:
        kwargs = kwargs or {}
        if func in FROM_PYTHON:
            self.violations.append(f"{func}: a tensor from Python data")
        elif func.overloadpacket is aten._to_copy and id(args[0]) not in self.made:
            self.violations.append(
                f"{func}: copies a tensor made outside the step "
                f"({list(args[0].shape)} {args[0].dtype} {args[0].device} -> {kwargs})"
            )
        elif func.overloadpacket is aten.copy_ and args[0].device != args[1].device:
            self.violations.append(f"{func}: {args[1].device} -> {args[0].device}")
        out = func(*args, **kwargs)
        for t in tree_flatten(out)[0]:
            if isinstance(t, Tensor):
                self.made.add(id(t))
                self.alive.append(t)
        return out


def problem() -> problems.Problem:
    return problems.get("rosenbrock:dim=3")


def steady_state_violations(
    method: optimizers.Method, dtype: torch.dtype = torch.float64
) -> list[str]:
    """Run `method` as the harness does (its objective, context and starts) and record."""
    prob, device = problem(), torch.device("cpu")
    x0 = bench.starts(method, prob, range(2), device=device, dtype=dtype, uniform=True)
    step = [0]
    objective = bench.make_objective(prob.train_loss(range(x0.shape[0]), device, dtype), step)
    generator = torch.Generator(device=device).manual_seed(0)
    ctx = optimizers.Context(prob, generator, device, dtype)
    state = method.init(x0, ctx)
    for k in range(WARMUP):
        step[0] = k
        state = method.step(state, objective, ctx)
    mode = HostData()
    with mode:
        for k in range(WARMUP, WARMUP + STEPS):
            step[0] = k
            state = method.step(state, objective, ctx)
    assert bool(torch.isfinite(state["loss"]).all())
    return mode.violations


@pytest.mark.parametrize("spec", METHOD_SPECS)
def test_steady_state_steps_make_no_tensor_from_host_data(spec: str) -> None:
    violations = steady_state_violations(optimizers.method(spec))
    assert not violations, f"{spec}: {violations[:3]}"


@pytest.mark.parametrize("name", optimizers.OPTIMIZERS.names())
def test_per_row_hyperparameters_go_to_the_device_once(name: str) -> None:
    """Every hyperparameter one value per row, made as float32 for a float64 run: moved once."""
    opt = optimizers.get(name)
    rows = 2  # bench.starts: 2 seeds x 1 start
    hp = {k: torch.full((rows,), float(v), dtype=torch.float32) for k, v in opt.defaults.items()}
    method = optimizers.local(opt.configure(**hp))
    violations = steady_state_violations(method, torch.float64)
    assert not violations, f"{name}: {violations[:3]}"


@dataclass(frozen=True, eq=False)
class _Bad:
    """A method whose step breaks the rule in one of two ways."""

    how: str

    @property
    def info(self) -> optimizers.MethodInfo:
        return optimizers.MethodInfo("bad", f"bad-{self.how}")

    def init(self, x0: Tensor, ctx: optimizers.Context) -> optimizers.MethodState:
        return {"x": x0, "lr": torch.full((x0.shape[0], 1), 1e-5, dtype=torch.float32)}

    def step(
        self,
        state: optimizers.MethodState,
        objective: Callable[[Tensor, bool], tuple[Tensor, Tensor | None]],
        ctx: optimizers.Context,
    ) -> optimizers.MethodState:
        loss, grad = objective(state["x"], True)
        assert grad is not None
        if self.how == "tensor":  # a constant rebuilt from Python data at every step
            lr: Tensor = torch.tensor([1e-5], dtype=grad.dtype)
        else:  # a per-row hyperparameter copied to the run's device and dtype at every step
            lr = state["lr"].to(device=grad.device, dtype=grad.dtype)
        return {"x": state["x"] - lr * grad, "lr": state["lr"], "loss": loss}


@pytest.mark.parametrize("how", ["tensor", "copy"])
def test_the_check_can_fail(how: str) -> None:
    violations = steady_state_violations(_Bad(how))
    assert len(violations) == STEPS
    expected = "lift_fresh" if how == "tensor" else "_to_copy"
    assert all(expected in v for v in violations)


@pytest.mark.cuda
@pytest.mark.parametrize("spec", [s for s in METHOD_SPECS if on_the_device(s)])
def test_no_host_sync_between_checkpoints_on_cuda(spec: str) -> None:
    prob, device = problems.get("sphere:dim=2"), torch.device("cuda")
    method = optimizers.method(spec)
    x0 = bench.starts(method, prob, range(500), device=device, dtype=torch.float32, uniform=True)
    trace = bench.run_rows(
        prob,
        method,
        x0,
        steps=200,
        checkpoints=bench.log_checkpoints(200, 5),
        targets=list(problems.DEFAULT_TARGETS),
        check_sync=True,
    )
    assert trace.checkpoints[-1] == 200
    assert bool(torch.isfinite(trace.best[-1]).all())
