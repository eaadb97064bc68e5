"""Random restarts around any local method: ``restarts(adam:lr=0.01,n=32,mode=sequential)``.

Parallel mode runs ``n`` starts per seed as rows; sequential mode also re-samples a row
(and resets its optimizer state) when it stalls. Either way the wrapper is a `Method` that
takes a `Method`, so the harness's step loop never branches on restarts (optax-style
composition).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import torch
from torch import Tensor

from optimizers._catalogue import WRAPPERS
from optimizers._method import (
    Context,
    Method,
    MethodInfo,
    MethodState,
    Objective,
    uniform_starts,
)
from problems import Spec, SpecError

__all__ = ["MODES", "Restarts", "restarts"]

MODES = ("parallel", "sequential")
OWN = ("n", "mode", "window", "tol", "gtol")
DEFAULT_N = {"parallel": 16, "sequential": 1}
"""Starts per seed when ``n`` is not given: 16 side by side, or 1 restarted in turn."""
DEFAULT_WINDOW = 50
DEFAULT_TOL = 1e-6
DEFAULT_GTOL = 1e-8


@dataclass(frozen=True, eq=False)
class Restarts:
    r"""Multi-start local search, batched; the best over a seed's starts is its result.

    Parallel mode (``mode=parallel``): ``n`` starts per seed, uniform in the problem's box,
    run side by side as rows of `local`. With a budget of E evaluations per seed each start
    gets ``E / n`` of them, so ``restarts(adam, n=32)`` and ``adam`` compare at equal cost.

    Sequential mode (``mode=sequential``): additionally, row r is *stalled* after step t
    when any of

    .. math::
        &t - t_r \ge \text{window}, \quad t_r = \text{last step with }
        f_t < f_{\text{ref}} - \text{tol}\,|f_{\text{ref}}|
        \;(\text{then } f_{\text{ref}} \leftarrow f_t), \\
        &\lVert \nabla f(x_t) \rVert_2 < \text{gtol}, \qquad
        f_t \text{ or } x_{t+1} \text{ non-finite},

    i.e. its best loss has not improved by more than ``tol`` relative in ``window`` steps,
    or it sits at a stationary point, or the update blew up. A stalled row is re-sampled
    uniformly in the box (``ctx.sample``) and its optimizer state replaced by a fresh one
    with ``torch.where``; its best-so-far carries over. Restarts cost no extra
    evaluations: the new point is evaluated by the next step. ``x_t`` and its gradient are
    those of the step's first evaluation (the one whose loss the local method reports).

    The fresh state is built once per cell (`_Fresh`): a local method's ``init`` that holds
    its start and otherwise depends only on shapes (every core optimizer, the torch
    adapter's row-by-row mode) gets a template in which the start is swapped for the new
    samples; any other ``init`` runs again on the samples at every step.

    State: ``inner`` (the local method's state), ``x`` (current points), ``loss`` (this
    step's losses), ``best_loss`` / ``best_x`` (best over all restarts of the row),
    ``restarts`` (int64 count per row), ``watch`` (the objective seen by the local method),
    in sequential mode ``ref`` / ``stall`` / ``fresh``, and ``evals`` (this step's
    evaluations per row) when the local method reports it.

    Sequential mode blends the local state row by row, so every tensor in it must have the
    rows as leading dimension (`init` checks; a shared 0-d step counter is refused).
    Opaque non-tensor entries are kept as they are: the torch adapter's row-by-row mode
    (`TorchRows`) rebuilds the torch optimizers of rows whose ``fresh`` flag the blend sets.

    Source: multi-start local search, e.g. R. Martí, "Multi-start methods", Handbook of
    Metaheuristics (2003); restart on stagnation as in Auger & Hansen, "A restart CMA
    evolution strategy with increasing population size", CEC 2005.
    """

    local: Method
    n: int
    mode: str = "parallel"
    window: int = DEFAULT_WINDOW
    tol: float = DEFAULT_TOL
    gtol: float = DEFAULT_GTOL

    @property
    def sequential(self) -> bool:
        return self.mode == "sequential"

    @property
    def options(self) -> dict[str, Any]:
        """The wrapper's own options as they appear in the label (`n` always)."""
        opts: dict[str, Any] = {"n": self.n}
        if self.sequential:
            opts["mode"] = self.mode
            for key, default in (
                ("window", DEFAULT_WINDOW),
                ("tol", DEFAULT_TOL),
                ("gtol", DEFAULT_GTOL),
            ):
                if getattr(self, key) != default:
                    opts[key] = getattr(self, key)
        return opts

    @cached_property
    def info(self) -> MethodInfo:
        """Label ``restarts(<local label>,n=...,[mode=sequential,...])`` (parses back via
        `optimizers.method`); ``n`` starts per local start, uniform in the box."""
        local = self.local.info
        own = {k: float(v) for k, v in self.options.items() if k != "mode"}
        return MethodInfo(
            "restarts",
            str(Spec("restarts", self.options, (local.label,))),
            starts_per_seed=self.n * local.starts_per_seed,
            evals_per_step=local.evals_per_step,
            hp={**local.hp, **own},
            starts=uniform_starts,
        )

    def init(self, x0: Tensor, ctx: Context) -> MethodState:
        inner = self.local.init(x0, ctx)
        if self.sequential:
            _check_rows(inner, x0.shape[0], self.local.info.label)
        rows = x0.shape[0]
        inf = torch.full((rows,), math.inf, device=x0.device, dtype=x0.dtype)
        state: MethodState = {
            "x": inner["x"],
            "inner": inner,
            "best_loss": inf,
            "best_x": x0,
            "restarts": torch.zeros(rows, device=x0.device, dtype=torch.int64),
            "watch": _Watch(),
        }
        if "evals" in inner:  # the local method counts its evaluations per row (L-BFGS)
            state["evals"] = inner["evals"]
        if self.sequential:
            state["ref"] = inf
            state["stall"] = torch.zeros(rows, device=x0.device, dtype=torch.int64)
            state["fresh"] = _Fresh.of(self.local, x0, ctx)
        return state

    def step(self, state: MethodState, objective: Objective, ctx: Context) -> MethodState:
        watch: _Watch = state["watch"]
        watch.start(objective)
        inner = self.local.step(state["inner"], watch, ctx)
        loss = inner["loss"]
        evaluated = state["x"] if watch.x is None else watch.x
        grad = watch.grad
        watch.start(None)  # drop the references until the next step
        better = loss < state["best_loss"]  # NaN never wins
        new: MethodState = {
            "x": inner["x"],
            "inner": inner,
            "loss": loss,
            "best_loss": torch.where(better, loss, state["best_loss"]),
            "best_x": torch.where(better.unsqueeze(-1), evaluated, state["best_x"]),
            "restarts": state["restarts"],
            "watch": watch,
        }
        if "evals" in inner:  # this step's count, taken before a restart resets the row
            new["evals"] = inner["evals"]
        if self.sequential:
            self._restart_stalled(state, new, grad, ctx)
        return new

    def _restart_stalled(
        self, state: MethodState, new: MethodState, grad: Tensor | None, ctx: Context
    ) -> None:
        """Detect stalled rows; give them a fresh start and a fresh optimizer state (in `new`)."""
        inner, loss = new["inner"], new["loss"]
        ref = state["ref"]
        threshold = torch.where(torch.isfinite(ref), ref - self.tol * ref.abs(), ref)
        improved = loss < threshold
        ref = torch.where(improved, loss, ref)
        stall = (state["stall"] + 1).masked_fill_(improved, 0)
        stalled = (stall >= self.window) | ~torch.isfinite(loss)
        stalled |= ~torch.isfinite(inner["x"]).all(dim=-1)
        if grad is not None:
            stalled |= torch.linalg.vector_norm(grad, dim=-1) < self.gtol
        fresh: _Fresh = state["fresh"]
        inner = fresh.blend(stalled, inner, ctx.sample(loss.shape[0]), ctx)
        new["inner"], new["x"], new["fresh"] = inner, inner["x"], fresh
        new["ref"] = ref.masked_fill(stalled, math.inf)
        new["stall"] = stall.masked_fill_(stalled, 0)
        new["restarts"] = state["restarts"] + stalled.to(torch.int64)


@dataclass(eq=False)
class _Watch:
    """The objective as the local method sees it: keeps the step's first evaluation.

    One per run (built by `init`), so a step builds no closure; `Restarts.step` points it
    at the step's objective and reads back the evaluated points and their gradient.
    """

    objective: Objective | None = None
    x: Tensor | None = None
    grad: Tensor | None = None

    def start(self, objective: Objective | None) -> None:
        self.objective, self.x, self.grad = objective, None, None

    def __call__(self, x: Tensor, need_grad: bool) -> tuple[Tensor, Tensor | None]:
        assert self.objective is not None
        loss, grad = self.objective(x, need_grad)
        if self.x is None:
            self.x, self.grad = x, grad
        return loss, grad


@dataclass(frozen=True, eq=False)
class _Fresh:
    """A fresh local state for restarted rows, built once per cell.

    Attributes:
        local: the local method.
        template: ``local.init(probe)`` when every tensor in it other than the probe itself
            is the same for any start (zeros, ones, counters); None otherwise.
        probe: the start `template` was built from; where the template holds it, the new
            samples take its place.
    """

    local: Method
    template: Any
    probe: Tensor

    @staticmethod
    def of(local: Method, x0: Tensor, ctx: Context) -> _Fresh:
        probe = torch.zeros_like(x0)
        template = local.init(probe, ctx)
        other = local.init(torch.ones_like(x0), ctx)
        constant = _same_but_start(template, other, probe)
        return _Fresh(local, template if constant else None, probe)

    def blend(self, mask: Tensor, old: Any, sample: Tensor, ctx: Context) -> Any:
        """``old`` with the rows in `mask` replaced by a fresh state started at `sample`."""
        if self.template is None:  # init depends on the start: run it on the samples
            return _blend(mask, self.local.init(sample, ctx), old, None, sample)
        return _blend(mask, self.template, old, self.probe, sample)


def _same_but_start(a: Any, b: Any, probe: Tensor) -> bool:
    """True when states `a` (built from `probe`) and `b` agree everywhere but at the probe."""
    if isinstance(a, Tensor):
        if a is probe:
            return True
        return isinstance(b, Tensor) and a.shape == b.shape and bool(torch.equal(a, b))
    if isinstance(a, Mapping):
        return isinstance(b, Mapping) and all(
            k in b and _same_but_start(v, b[k], probe) for k, v in a.items()
        )
    if isinstance(a, (list, tuple)):
        return (
            isinstance(b, (list, tuple))
            and len(a) == len(b)
            and all(_same_but_start(u, v, probe) for u, v in zip(a, b))
        )
    return True  # opaque entries are never blended


def _blend(mask: Tensor, fresh: Any, old: Any, probe: Tensor | None, sample: Tensor) -> Any:
    """``fresh`` where `mask` (per row) else ``old``, through dicts, lists and tuples.

    A tensor of `fresh` that is `probe` stands for the new start `sample`.
    """
    if isinstance(old, Tensor):
        if fresh is probe:
            fresh = sample
        where = mask.reshape(-1, *([1] * (old.ndim - 1)))
        return torch.where(where, fresh.to(old.dtype), old)
    if isinstance(old, Mapping):
        return {
            k: _blend(mask, fresh[k], v, probe, sample) if k in fresh else v for k, v in old.items()
        }
    if isinstance(old, (list, tuple)):
        return type(old)(_blend(mask, f, o, probe, sample) for f, o in zip(fresh, old))
    return old


def _check_rows(state: Any, rows: int, label: str, path: str = "state") -> None:
    """Sequential restarts reset single rows, so every tensor in the state must be per row."""
    if isinstance(state, Tensor):
        if state.ndim == 0 or state.shape[0] != rows:
            msg = (
                f"restarts(mode=sequential): {label}'s {path} has shape {list(state.shape)}, "
                f"not [R={rows}, ...]; sequential restarts need per-row optimizer state"
            )
            raise SpecError(msg)
    elif isinstance(state, Mapping):
        for key, value in state.items():
            _check_rows(value, rows, label, f"{path}[{key!r}]")
    elif isinstance(state, (list, tuple)):
        for i, value in enumerate(state):
            _check_rows(value, rows, label, f"{path}[{i}]")


def _check_int(key: str, value: object, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        msg = f"restarts: invalid {key} {value!r}; allowed: an integer >= {minimum}"
        raise SpecError(msg)
    return value


def _check_float(key: str, value: object) -> float:
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if not number or not 0 <= float(value) < math.inf:  # type: ignore[arg-type]
        msg = f"restarts: invalid {key} {value!r}; allowed: a finite number >= 0"
        raise SpecError(msg)
    return float(value)  # type: ignore[arg-type]


def _local_method(local: object, forwarded: dict[str, Any]) -> Method:
    """The inner method: a spec (options not known to restarts go to it) or a Method.

    A spec arrives parsed (`optimizers.parse` parses the inner specs of a wrapper with the
    outer one); a string is parsed here, once.
    """
    from optimizers._catalogue import method, parse

    if isinstance(local, (str, Spec)):
        spec = parse(local)
        if not forwarded:
            return method(spec)
        try:
            return method(Spec(spec.name, {**spec.options, **forwarded}, spec.inner))
        except SpecError as error:
            msg = f"restarts: {error} (options other than {', '.join(OWN)} go to {spec.name})"
            raise SpecError(msg) from None
    if forwarded:
        key = next(iter(forwarded))
        msg = f"restarts: unknown option {key!r}; allowed: {', '.join(OWN)}"
        raise SpecError(msg)
    if not all(hasattr(local, a) for a in ("init", "step", "info")):
        msg = f"restarts: expected a spec string or a Method, got {local!r}"
        raise SpecError(msg)
    return local  # type: ignore[return-value]


@WRAPPERS.register("restarts")
def restarts(
    *local: object,
    n: object = None,
    mode: object = "parallel",
    window: object = None,
    tol: object = None,
    gtol: object = None,
    **inner_options: object,
) -> Restarts:
    """Random restarts of one local method: ``restarts("adam:lr=0.01", n=32)``.

    Args:
        local: exactly one inner method, as a spec string (``"adam:lr=0.01"``, the
            torch.optim adapter's spelling included) or a built `Method`.
        n: starts per seed (rows), an integer >= 1; default 16 in parallel mode and 1 in
            sequential mode.
        mode: ``parallel`` or ``sequential`` (re-sample stalled rows).
        window: sequential only; steps without a relative improvement > ``tol`` before a
            row restarts (integer >= 1, default 50).
        tol: sequential only; relative improvement of the row's best loss that counts
            (>= 0, default 1e-6).
        gtol: sequential only; a row whose gradient norm falls below it restarts
            (>= 0, default 1e-8; 0 disables).
        inner_options: any other option is the inner optimizer's: a spec string splits
            ``restarts(adam:lr=0.01,eps=1e-6,n=4)`` into ``adam:lr=0.01`` and
            ``eps=1e-6,n=4``, so ``eps`` is passed back to ``adam``.

    Raises:
        SpecError: a bad value, named with what is allowed.
    """
    if len(local) != 1:
        got = ", ".join(map(str, local)) or "none"
        msg = f"restarts takes exactly one inner optimizer, e.g. restarts(adam,n=32); got {got}"
        raise SpecError(msg)
    if mode not in MODES:
        msg = f"restarts: invalid mode {mode!r}; allowed: {', '.join(MODES)}"
        raise SpecError(msg)
    sequential_only = {"window": window, "tol": tol, "gtol": gtol}
    if mode == "parallel" and (given := [k for k, v in sequential_only.items() if v is not None]):
        msg = f"restarts: {given[0]} applies only to mode=sequential (mode is parallel)"
        raise SpecError(msg)
    inner = _local_method(local[0], inner_options)
    return Restarts(
        inner,
        _check_int("n", DEFAULT_N[str(mode)] if n is None else n, 1),
        str(mode),
        _check_int("window", DEFAULT_WINDOW if window is None else window, 1),
        _check_float("tol", DEFAULT_TOL if tol is None else tol),
        _check_float("gtol", DEFAULT_GTOL if gtol is None else gtol),
    )
