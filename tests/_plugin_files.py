"""Plugin files for the plugin, check and API tests, and a fixture that forgets them.

A plugin registers names in the process-wide registries; `forget_plugins` takes a snapshot
of the registries (and of the plugins imported) and restores it afterwards, so the other
test modules never see a test plugin's entries.
"""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

import optimizers
import problems
from bench import _plugins

PLUGIN = textwrap.dedent(
    '''
    """A test plugin: a shifted bowl and signSGD (batched)."""

    import torch

    import optimizers
    import problems


    def init(x):
        return {"step": optimizers.step_counter(x)}


    def step(x, grad, state, hp):
        lr = optimizers.as_rows(hp["lr"], x)
        return x - lr * torch.sign(grad), {"step": state["step"] + 1}


    @optimizers.register("t-sign-sgd")
    def sign_sgd():
        """signSGD: x <- x - lr sign(g). Bernstein et al. (2018)."""
        return optimizers.Optimizer("t-sign-sgd", init, step, defaults={"lr": 0.05})


    @problems.register("t-bowl")
    def bowl(dim: int = 3):
        """f(x) = sum (x_i - 1)^2; f* = 0 at (1, ..., 1)."""
        return problems.from_function(
            lambda x: ((x - 1.0) ** 2).sum(),
            dim=dim,
            bounds=(-5.0, 5.0),
            f_star=0.0,
            x_star=[[1.0] * dim],
            name="t-bowl",
            tags={"convex"},
        )
    '''
)

WRONG = textwrap.dedent(
    '''
    """Wrong on purpose: f* = 0.5 is above the reachable 0; the optimizers mix rows."""

    import torch

    import optimizers
    import problems


    @problems.register("t-wrong-bowl")
    def wrong_bowl(dim: int = 2):
        return problems.from_function(
            lambda x: (x**2).sum(), dim=dim, bounds=(-3.0, 3.0), f_star=0.5, name="t-wrong-bowl"
        )


    def init(x):
        return {}


    def norm_step(x, grad, state, hp):  # a norm over the whole batch couples the rows
        return x - optimizers.as_rows(hp["lr"], x) * grad / grad.norm(), state


    def plain_step(x, grad, state, hp):  # hp["lr"] used as is: a per-row [R] tensor breaks
        return x - hp["lr"] * grad, state


    @optimizers.register("t-norm-sgd")
    def norm_sgd():
        return optimizers.Optimizer("t-norm-sgd", init, norm_step, defaults={"lr": 0.1})


    @optimizers.register("t-plain-sgd")
    def plain_sgd():
        return optimizers.Optimizer("t-plain-sgd", init, plain_step, defaults={"lr": 0.1})
    '''
)

TORCH_CLASSES = textwrap.dedent(
    '''
    """Two third-party torch.optim classes: one elementwise, one that takes a norm."""

    import torch


    class _Direction(torch.optim.Optimizer):
        """x <- x - lr direction(g)."""

        def __init__(self, params, lr=1e-2):
            super().__init__(params, {"lr": lr})

        @torch.no_grad()
        def step(self, closure=None):
            for group in self.param_groups:
                for p in group["params"]:
                    if p.grad is not None:
                        p.add_(self.direction(p.grad), alpha=-group["lr"])


    class SignSGD(_Direction):
        """x <- x - lr sign(g): elementwise."""

        def direction(self, grad):
            return torch.sign(grad)


    class NormSGD(_Direction):
        """x <- x - lr g / |g|: the norm of the whole parameter couples its entries."""

        def direction(self, grad):
            return grad / grad.norm()
    '''
)


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text)
    return path


@pytest.fixture(scope="module")
def forget_plugins() -> Iterator[None]:
    """Restore the registries and the imported plugins as they were before the module."""
    registries = (problems.PROBLEMS, optimizers.OPTIMIZERS)
    saved = [(dict(r._factories), dict(r.aliases)) for r in registries]
    references = dict(optimizers.REFERENCES)
    loaded = dict(_plugins._LOADED)
    modules = set(sys.modules)
    yield
    for registry, (factories, aliases) in zip(registries, saved):
        registry._factories.clear()
        registry._factories.update(factories)
        registry.aliases.clear()
        registry.aliases.update(aliases)
    optimizers.REFERENCES.clear()
    optimizers.REFERENCES.update(references)
    _plugins._LOADED.clear()
    _plugins._LOADED.update(loaded)
    for name in set(sys.modules) - modules:
        if name.startswith(("optbench_plugin_", "optbench_test_")):
            del sys.modules[name]
