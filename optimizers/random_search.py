"""Pure random search: uniform samples in the problem's box, keep the best.

Spelled ``random-search`` or ``random-search(batch=4)`` (``random-search:batch=4`` too); the
older ``random_search`` still works (an alias), so old study files and results keep running.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import torch
from torch import Tensor

from optimizers._catalogue import WRAPPERS
from optimizers._method import Context, MethodInfo, MethodState, Objective, uniform_starts
from problems import SpecError

__all__ = ["RandomSearch", "random_search"]


@dataclass(frozen=True, eq=False)
class RandomSearch:
    r"""Pure random search (Brooks 1958; Rastrigin 1963), batched.

    Each of a seed's ``batch`` rows draws one point uniformly in the box per step and keeps
    the best seen:

    .. math::
        u_t \sim \mathcal U([l, u]^d), \qquad
        x_t^\ast = \begin{cases} u_t & f(u_t) < f(x_{t-1}^\ast) \\
        x_{t-1}^\ast & \text{otherwise.} \end{cases}

    The first sample of each row is its start (``info.starts``: uniform in the box from the
    seed's CPU generator, so the first evaluation is the same on every device); later
    samples come from the device generator in the `Context`.

    State: ``x`` is the incumbent (best point so far; trajectories show it), ``best_loss``
    its loss, ``candidate`` the point the next step evaluates, and after a step ``loss``
    the loss of that step's sample. One evaluation per row per step, no gradient.

    Source: S. H. Brooks, "A discussion of random methods for seeking maxima", Operations
    Research 6(2), 1958.
    """

    batch: int = 1

    @cached_property
    def info(self) -> MethodInfo:
        label = "random-search" if self.batch == 1 else f"random-search(batch={self.batch})"
        return MethodInfo(
            "random-search",
            label,
            starts_per_seed=self.batch,
            evals_per_step=1,
            hp={"batch": float(self.batch)},
            starts=uniform_starts,
        )

    def init(self, x0: Tensor, ctx: Context) -> MethodState:
        best = torch.full((x0.shape[0],), float("inf"), device=x0.device, dtype=x0.dtype)
        return {"x": x0, "candidate": x0, "best_loss": best}

    def step(self, state: MethodState, objective: Objective, ctx: Context) -> MethodState:
        candidate = state["candidate"]
        loss, _ = objective(candidate, False)
        better = loss < state["best_loss"]  # NaN never wins
        return {
            "x": torch.where(better.unsqueeze(-1), candidate, state["x"]),
            "best_loss": torch.where(better, loss, state["best_loss"]),
            "candidate": ctx.sample(candidate.shape[0]),
            "loss": loss,
        }


def _check_count(owner: str, key: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        msg = f"{owner}: invalid {key} {value!r}; allowed: an integer >= 1"
        raise SpecError(msg)
    return value


@WRAPPERS.register("random-search", aliases=("random_search",))
def random_search(*inner: object, batch: int = 1, **unknown: object) -> RandomSearch:
    """Random search with ``batch`` samples per seed per step (``random-search(batch=4)``).

    Args:
        batch: uniform samples per seed per step (each seed's rows; the best counts).
    """
    if inner:
        msg = f"random-search takes no inner optimizer, got {', '.join(map(str, inner))}"
        raise SpecError(msg)
    if unknown:
        msg = f"random-search: unknown option {next(iter(unknown))!r}; allowed: batch"
        raise SpecError(msg)
    return RandomSearch(_check_count("random-search", "batch", batch))
