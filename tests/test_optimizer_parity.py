"""Every core optimizer reproduces torch.optim's trajectory, per-row hyperparameters included.

`optimizers.REFERENCES` (declared with ``register(..., reference=)``, and read by
``bench check`` too) maps each registered name to its torch.optim class and the translation
of our flat hyperparameters (``beta1``, ``beta2``, ``centered=1``) to torch's arguments
(``betas=(beta1, beta2)``, ``centered=True``); the info table here adds the draw ranges. A new
registry entry fails `test_every_optimizer_has_torch_info` until it has both, and is then
covered by the parity test without new test code.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
import torch
from torch import Tensor

import optimizers

# --- landscapes (local, so these tests do not depend on the problems catalogue) ------------


def quadratic(x: Tensor) -> Tensor:
    """Ill-conditioned convex quadratic ``sum_i c_i x_i^2`` with ``c_i`` from 1 to 10."""
    c = torch.linspace(1.0, 10.0, x.shape[-1], dtype=x.dtype, device=x.device)
    return (c * x * x).sum(-1)


def rosenbrock(x: Tensor) -> Tensor:
    """``sum_i 100 (x_{i+1} - x_i^2)^2 + (1 - x_i)^2``."""
    a, b = x[..., :-1], x[..., 1:]
    return (100.0 * (b - a * a) ** 2 + (1.0 - a) ** 2).sum(-1)


def rastrigin(x: Tensor) -> Tensor:
    """``10 d + sum_i x_i^2 - 10 cos(2 pi x_i)``."""
    return 10.0 * x.shape[-1] + (x * x - 10.0 * torch.cos(2 * math.pi * x)).sum(-1)


LANDSCAPES: dict[str, Callable[[Tensor], Tensor]] = {
    "quadratic": quadratic,
    "rosenbrock": rosenbrock,
    "rastrigin": rastrigin,
}

# --- the info table -------------------------------------------------------------------------


@dataclass(frozen=True)
class TorchInfo:
    """How the parity test draws a registered optimizer's hyperparameters.

    Attributes:
        lr: the log-uniform range the parity test draws ``lr`` from (kept small enough
            that no row diverges within the test's steps).
        ranges: draw ranges for other hyperparameters, overriding `DRAW`.
    """

    lr: tuple[float, float]
    ranges: dict[str, tuple[float, float]] = field(default_factory=dict)


INFO: dict[str, TorchInfo] = {
    "sgd": TorchInfo(lr=(1e-4, 2e-3)),
    "momentum": TorchInfo(lr=(1e-4, 1e-3)),
    "nesterov": TorchInfo(lr=(1e-4, 1e-3), ranges={"momentum": (0.1, 0.95)}),
    "adam": TorchInfo(lr=(1e-3, 3e-2)),
    "adamw": TorchInfo(lr=(1e-3, 3e-2)),
    "amsgrad": TorchInfo(lr=(1e-3, 3e-2)),
    "rmsprop": TorchInfo(lr=(1e-4, 3e-3)),
    "adagrad": TorchInfo(lr=(1e-3, 1e-1)),
}

DRAW: dict[str, tuple[float, float]] = {
    "beta1": (0.5, 0.95),
    "beta2": (0.9, 0.999),
    "eps": (1e-8, 1e-3),  # log-uniform
    "weight_decay": (0.0, 0.05),
    "momentum": (0.0, 0.95),
    "dampening": (0.0, 0.5),
    "alpha": (0.8, 0.99),
    "centered": (0.0, 1.0),  # a flag: 0 or 1
    "lr_decay": (0.0, 0.05),
    "initial_accumulator_value": (0.0, 0.5),
}


def draw(name: str, rng: random.Random, rows: int) -> dict[str, list[float]]:
    """Random hyperparameters, one value per row, for optimizer `name`."""
    info = INFO[name]
    out: dict[str, list[float]] = {}
    for key in optimizers.get(name).defaults:
        low, high = info.lr if key == "lr" else info.ranges.get(key, DRAW[key])
        if key in ("lr", "eps"):
            values = [math.exp(rng.uniform(math.log(low), math.log(high))) for _ in range(rows)]
        elif key == "centered":
            values = [float(rng.random() < 0.5) for _ in range(rows)]
        else:
            values = [rng.uniform(low, high) for _ in range(rows)]
            if low == 0.0:  # exercise the exact-zero branches (torch skips them) too
                values = [0.0 if rng.random() < 0.3 else v for v in values]
        out[key] = values
    return out


def batched_hp(
    values: dict[str, list[float]], rng: random.Random, dtype: torch.dtype
) -> tuple[dict[str, float | Tensor], dict[str, list[float]]]:
    """Per hyperparameter, either one tensor value per row or one shared float.

    ``lr`` is always per row; the others are per row or shared by a coin flip. Returns the
    batched hyperparameters and the per-row floats they stand for.
    """
    hp: dict[str, float | Tensor] = {}
    rows: dict[str, list[float]] = {}
    for key, vals in values.items():
        if key == "lr" or rng.random() < 0.5:
            hp[key] = torch.tensor(vals, dtype=dtype).reshape(-1, 1)
            rows[key] = hp[key].flatten().tolist()  # the values the rows really get
        else:
            hp[key] = vals[0]
            rows[key] = [vals[0]] * len(vals)
    return hp, rows


# --- runners --------------------------------------------------------------------------------


def gradient(fn: Callable[[Tensor], Tensor], x: Tensor) -> Tensor:
    x = x.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(fn(x).sum(), x)
    return grad


def run_batched(
    config: optimizers.Config, fn: Callable[[Tensor], Tensor], x0: Tensor, steps: int
) -> Tensor:
    x, state = x0.clone(), config.init(x0)
    for _ in range(steps):
        x, state = config.step(x, gradient(fn, x), state)
    return x


def run_torch(
    cls: type[torch.optim.Optimizer],
    kwargs: dict[str, Any],
    fn: Callable[[Tensor], Tensor],
    x0: Tensor,
    steps: int,
) -> Tensor:
    """One row, one nn.Parameter, the usual torch.optim loop."""
    p = torch.nn.Parameter(x0.clone())
    opt = cls([p], **kwargs)
    for _ in range(steps):
        opt.zero_grad()
        fn(p[None]).sum().backward()
        opt.step()
    return p.detach()


# --- tests ----------------------------------------------------------------------------------

CORE = optimizers.OPTIMIZERS.names()
TOL = {torch.float64: {"rtol": 1e-10, "atol": 1e-12}, torch.float32: {"rtol": 1e-5, "atol": 1e-6}}


def test_every_optimizer_has_torch_info() -> None:
    missing = sorted(set(CORE) - set(INFO))
    assert not missing, f"add a TorchInfo row for {missing}"
    undeclared = sorted(set(CORE) - set(optimizers.REFERENCES))
    assert not undeclared, f"declare a torch.optim reference for {undeclared}"


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("landscape", sorted(LANDSCAPES))
@pytest.mark.parametrize("name", CORE)
@pytest.mark.parametrize("seed", [0, 1])
def test_matches_torch_optim(name: str, landscape: str, dtype: torch.dtype, seed: int) -> None:
    rows, dim, steps = 4, 3, 100
    rng = random.Random(f"{name}/{landscape}/{seed}")
    hp, per_row = batched_hp(draw(name, rng, rows), rng, dtype)
    config = optimizers.get(name).configure(**hp)
    gen = torch.Generator().manual_seed(seed)
    x0 = (torch.rand(rows, dim, generator=gen, dtype=torch.float64) * 3 - 1.5).to(dtype)
    fn = LANDSCAPES[landscape]

    got = run_batched(config, fn, x0, steps)

    reference = optimizers.REFERENCES[name]
    want = torch.stack(
        [
            run_torch(
                reference.cls,
                reference.kwargs({k: v[i] for k, v in per_row.items()}),
                fn,
                x0[i],
                steps,
            )
            for i in range(rows)
        ]
    )
    assert torch.isfinite(want).all(), "draw ranges let a torch run diverge; narrow them"
    torch.testing.assert_close(got, want, **TOL[dtype])


@pytest.mark.parametrize("name", CORE)
def test_step_does_not_mutate_inputs(name: str) -> None:
    """x and grad belong to the caller; the state is the optimizer's own (updated in place
    where that saves memory passes, as torch.optim does), and the returned state is current."""
    config = optimizers.configure(name)
    x = torch.randn(3, 2, dtype=torch.float64)
    state = config.init(x)
    x, state = config.step(x, gradient(rosenbrock, x), state)
    grad = gradient(rosenbrock, x)
    before_x, before_grad = x.clone(), grad.clone()
    reference = {k: v.clone() for k, v in state.items()}
    x_new, state = config.step(x, grad, state)
    torch.testing.assert_close(x, before_x, rtol=0, atol=0)
    torch.testing.assert_close(grad, before_grad, rtol=0, atol=0)
    again, _ = config.step(before_x, before_grad, reference)
    torch.testing.assert_close(again, x_new, rtol=0, atol=0)
