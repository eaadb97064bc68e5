"""Conformance checks for any problem or optimizer: the catalogue's own tests, as a library.

``bench check NAME...`` runs them on registered names, a plugin's included, and prints a
table; ``tests/test_problems.py`` and ``tests/test_optimizers.py`` call the same functions
over the whole registry, so the checks are written once.

Problem checks (each a function ``Problem -> Outcome``, listed in `PROBLEM_CHECKS`):

- ``minimisers reach f*``: ``loss(x*) = f*`` at every listed minimiser (absolute 1e-6);
- ``minimisers are minima``: an L-BFGS polish from each minimiser finds nothing lower;
- ``nothing below f*``: no loss below f* among seeded uniform samples, nor after a bounded
  L-BFGS polish from the best of them (an f* above a reachable value fails here);
- ``batched = row by row``: ``loss(x)[i] = loss(x[i:i+1])`` (relative and absolute 1e-12);
- ``gradients finite``: the gradient of the summed loss is finite on samples;
- ``float32 = float64``: the float32 loss agrees with the float64 one (relative 1e-4);
- ``cpu = <device>``: the loss on a CUDA device agrees with the CPU's (skipped without one).

Optimizer checks (functions ``spec -> Outcome``, in `OPTIMIZER_CHECKS`), on a
convex quadratic ``sum_i c_i x_i^2`` with ``c`` from 1 to 10, in float64:

- ``batched = row by row``: 20 steps on 6 rows equal the same rows run one at a time;
- ``per-row hyperparameters``: a learning rate per row (a tensor) equals each row run with
  its own value (skipped where the optimizer takes one value per batch);
- ``diverged rows stay apart``: a row started at NaN stays non-finite (so the harness marks
  it diverged) while the other rows move exactly as they do without it;
- ``parity with torch.optim``: the trajectory of `optimizers.REFERENCES`'s class, row by row
  with the same per-row hyperparameters (relative 1e-10; only where one is declared).
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

import optimizers
import problems
from bench._engine import make_objective
from optimizers.torch_adapter import TorchOptimizer, TorchRows
from problems import Problem, SpecError, UnknownNameError, closest

__all__ = [
    "OPTIMIZER_CHECKS",
    "PROBLEM_CHECKS",
    "Outcome",
    "check",
    "check_optimizer",
    "check_problem",
    "check_table",
]

ATOL = 1e-6
"""Absolute tolerance on f* (relative 1e-3 of |f*| beyond 1000)."""
SAMPLES = 100_000
"""Uniform samples of ``nothing below f*`` (`bench check` uses `CLI_SAMPLES`)."""
CLI_SAMPLES = 20_000
POLISH_STEPS = 200
MAX_FLOATS = 1 << 22
"""Rows of a check are capped so that ``rows * dim`` stays below this (ML problems)."""


@dataclass(frozen=True)
class Outcome:
    """One check's result: ``status`` is ``"ok"``, ``"failed"`` or ``"skipped"``."""

    subject: str
    check: str
    status: str
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.status != "failed"


def tolerance(problem: Problem) -> float:
    return ATOL * max(1.0, abs(problem.f_star or 0.0) * 1e-3)


def _rows(problem: Problem, wanted: int) -> int:
    return max(2, min(wanted, MAX_FLOATS // max(problem.dim, 1)))


def _outcome(subject: str, name: str, failure: str | None, skipped: str | None = None) -> Outcome:
    if skipped is not None:
        return Outcome(subject, name, "skipped", skipped)
    return Outcome(subject, name, "failed" if failure else "ok", failure or "")


def polish(problem: Problem, start: np.ndarray | Tensor, steps: int = POLISH_STEPS) -> float:
    """A bounded L-BFGS polish from `start` (float64); the best in-box value seen.

    The box is kept by the boundary penalty: ``f(clip(z)) + |z - clip(z)|^2`` has the same
    minimum as f on the box, and only in-box values ``f(clip(z))`` are recorded.
    """
    lower, upper = problem.box()
    z = torch.as_tensor(start, dtype=torch.float64).reshape(1, -1).clone().requires_grad_(True)
    optimizer = torch.optim.LBFGS(
        [z],
        max_iter=steps,
        max_eval=steps + steps // 2,
        tolerance_grad=1e-12,
        tolerance_change=1e-15,
        line_search_fn="strong_wolfe",
    )
    best = math.inf

    def closure() -> Tensor:
        nonlocal best
        optimizer.zero_grad()
        inside = torch.clamp(z, lower, upper)
        value = problem.loss(inside).sum()
        if torch.isfinite(value):
            best = min(best, value.item())
        loss = value + ((z - inside) ** 2).sum()
        loss.backward()
        return loss

    optimizer.step(closure)
    return best


def _minimisers(problem: Problem) -> Tensor:
    return torch.tensor(problem.x_star, dtype=torch.float64).reshape(-1, problem.dim)


# --------------------------------------------------------------------------- problems


def minimisers_reach_f_star(problem: Problem) -> Outcome:
    name = "minimisers reach f*"
    if problem.f_star is None:
        return _outcome(problem.spec, name, None, "f* unknown")
    if not problem.x_star:
        return _outcome(problem.spec, name, None, "no minimiser listed")
    x = _minimisers(problem)
    lower, upper = problem.box()
    outside = ~((x >= lower) & (x <= upper)).all(dim=1)
    if bool(outside.any()):
        i = int(outside.nonzero()[0])
        return _outcome(problem.spec, name, f"x*[{i}] = {x[i].tolist()} is outside the bounds")
    values = problem.loss(x)
    error = (values - problem.f_star).abs()
    i = int(error.argmax())
    if not bool(torch.isfinite(values).all()) or error[i].item() > ATOL:
        return _outcome(
            problem.spec, name, f"loss(x*[{i}]) = {values[i].item():.10g}, f* = {problem.f_star}"
        )
    return _outcome(problem.spec, name, None)


def minimisers_are_minima(problem: Problem) -> Outcome:
    name = "minimisers are minima"
    if problem.f_star is None or not problem.x_star:
        return _outcome(problem.spec, name, None, "f* or x* unknown")
    for i, point in enumerate(_minimisers(problem)[:4]):
        found = polish(problem, point, steps=50)
        if found < problem.f_star - tolerance(problem):
            return _outcome(problem.spec, name, f"a polish from x*[{i}] reaches {found:.10g} < f*")
    return _outcome(problem.spec, name, None)


def nothing_below_f_star(problem: Problem, samples: int = SAMPLES) -> Outcome:
    """Seeded uniform samples, then a polish from the best of them, stay above f*."""
    name = "nothing below f*"
    if problem.f_star is None:
        return _outcome(problem.spec, name, None, "f* unknown")
    generator = torch.Generator().manual_seed(1234)
    n = _rows(problem, samples)
    x = problem.sample(n, generator)
    values = problem.loss(x)
    floor = problem.f_star - tolerance(problem)
    low = values.min().item()
    if low < floor:
        return _outcome(
            problem.spec, name, f"a sample has loss {low:.6g} < f* = {problem.f_star:g}"
        )
    found = polish(problem, x[values.argmin()])
    if found < floor:
        return _outcome(
            problem.spec, name, f"a polish reaches {found:.6g} < f* = {problem.f_star:g}"
        )
    return _outcome(problem.spec, name, None)


def batched_equals_rowwise(problem: Problem) -> Outcome:
    name = "batched = row by row"
    x = problem.sample(_rows(problem, 32), torch.Generator().manual_seed(7))
    batched = problem.loss(x)
    if batched.shape != (len(x),):
        return _outcome(
            problem.spec, name, f"loss of {len(x)} rows has shape {list(batched.shape)}"
        )
    rows = torch.cat([problem.loss(x[i : i + 1]) for i in range(len(x))])
    return _outcome(problem.spec, name, _differ(batched, rows, 1e-12, 1e-12))


def gradients_finite(problem: Problem) -> Outcome:
    name = "gradients finite"
    x = problem.sample(_rows(problem, 256), torch.Generator().manual_seed(11))
    x.requires_grad_(True)
    (grad,) = torch.autograd.grad(problem.loss(x).sum(), x)
    bad = ~torch.isfinite(grad).all(dim=1)
    if bool(bad.any()):
        i = int(bad.nonzero()[0])
        return _outcome(problem.spec, name, f"non-finite gradient at {x[i].tolist()[:4]}")
    return _outcome(problem.spec, name, None)


def float32_matches_float64(problem: Problem) -> Outcome:
    name = "float32 = float64"
    x32 = problem.sample(
        _rows(problem, 2048), torch.Generator().manual_seed(3), dtype=torch.float32
    )
    f32 = problem.loss(x32)
    if f32.dtype != torch.float32:
        return _outcome(problem.spec, name, f"a float32 batch gives {f32.dtype}")
    f64 = problem.loss(x32.double())
    scale = f64.abs().max().item()
    return _outcome(problem.spec, name, _differ(f32.double(), f64, 1e-4, 1e-5 * max(scale, 1.0)))


def device_agrees(problem: Problem) -> Outcome:
    name = "cpu = cuda"
    if not torch.cuda.is_available():
        return _outcome(problem.spec, name, None, "no other device here")
    x = problem.sample(_rows(problem, 64), torch.Generator().manual_seed(9))
    on_device = problem.loss(x.to("cuda")).cpu()
    return _outcome(problem.spec, name, _differ(on_device, problem.loss(x), 1e-10, 1e-10))


PROBLEM_CHECKS: tuple[Callable[[Problem], Outcome], ...] = (
    minimisers_reach_f_star,
    minimisers_are_minima,
    nothing_below_f_star,
    batched_equals_rowwise,
    gradients_finite,
    float32_matches_float64,
    device_agrees,
)


def check_problem(problem: Problem | str, *, samples: int = SAMPLES) -> list[Outcome]:
    """Every problem check on `problem` (a `Problem` or a spec ``"rastrigin:dim=5"``)."""
    built = problems.get(problem) if isinstance(problem, str) else problem
    out = []
    for fn in PROBLEM_CHECKS:
        out.append(_guarded(built.spec, fn, built, samples))
    return out


def _guarded(subject: str, fn: Callable[..., Outcome], arg: object, samples: int) -> Outcome:
    """Run one check; an exception is that check's failure (named, one line)."""
    name = CHECK_NAMES.get(fn, fn.__name__.replace("_", " "))
    try:
        if fn is nothing_below_f_star:
            return nothing_below_f_star(arg, samples)  # type: ignore[arg-type]
        return fn(arg)
    except Exception as error:  # a user's code may raise anything: it is the finding
        text = str(error).splitlines()[0] if str(error) else ""
        return Outcome(subject, name, "failed", f"raised {type(error).__name__}: {text}")


# --------------------------------------------------------------------------- optimizers

DIM, ROWS, STEPS = 4, 6, 20


def _quadratic(x: Tensor) -> Tensor:
    c = torch.linspace(1.0, 10.0, x.shape[-1], dtype=x.dtype, device=x.device)
    return (c * x * x).sum(-1)


QUADRATIC = Problem(
    "check-quadratic",
    DIM,
    _quadratic,
    ((-2.0,) * DIM, (2.0,) * DIM),
    f_star=0.0,
    x_star=((0.0,) * DIM,),
    tags=frozenset({"convex"}),
    source="sum_i c_i x_i^2, c from 1 to 10",
)


def _start(rows: int = ROWS) -> Tensor:
    return QUADRATIC.sample(rows, torch.Generator().manual_seed(5))


def _trajectory(method: optimizers.Method, x0: Tensor, steps: int = STEPS) -> Tensor:
    """The rows after `steps` steps of `method` on the quadratic (the engine's objective)."""
    ctx = optimizers.Context(QUADRATIC, torch.Generator().manual_seed(0), x0.device, x0.dtype)
    objective = make_objective(lambda x, step: _quadratic(x), [0])
    state = method.init(x0.clone(), ctx)
    for _ in range(steps):
        state = method.step(state, objective, ctx)
    x: Tensor = state["x"]
    return x


def _local_or_rows(config: optimizers.Config) -> optimizers.Method:
    """The method for a config with per-row values (`optimizers.method` takes spec strings)."""
    if config.optimizer.elementwise:
        return optimizers.local(config)
    return TorchRows(config)


def optimizer_batched_equals_rowwise(spec: str) -> Outcome:
    name = "batched = row by row"
    x0 = _start()
    method = optimizers.method(spec)
    batched = _trajectory(method, x0)
    rows = torch.cat([_trajectory(method, x0[i : i + 1]) for i in range(len(x0))])
    return _outcome(spec, name, _differ(batched, rows, 1e-12, 1e-12))


def _lrs(spec: str, rows: int = ROWS) -> tuple[float, Tensor] | None:
    config = optimizers.configure(spec)
    lr = config.hp.get("lr")
    if not isinstance(lr, (int, float)):
        return None
    return float(lr), float(lr) * torch.logspace(-0.5, 0.5, rows, dtype=torch.float64)


def per_row_hyperparameters(spec: str) -> Outcome:
    name = "per-row hyperparameters"
    found = _lrs(spec)
    if found is None:
        return _outcome(spec, name, None, "no learning rate")
    _, lrs = found
    try:
        config = optimizers.configure(spec, lr=lrs)
    except SpecError:
        return _outcome(spec, name, None, "one value per batch (torch.optim elementwise mode)")
    x0 = _start()
    batched = _trajectory(_local_or_rows(config), x0)
    rows = torch.cat(
        [
            _trajectory(_local_or_rows(optimizers.configure(spec, lr=float(lr))), x0[i : i + 1])
            for i, lr in enumerate(lrs.tolist())
        ]
    )
    return _outcome(spec, name, _differ(batched, rows, 1e-12, 1e-12))


def diverged_rows_stay_apart(spec: str) -> Outcome:
    name = "diverged rows stay apart"
    x0 = _start()
    poisoned = x0.clone()
    poisoned[0] = math.nan
    method = optimizers.method(spec)
    got = _trajectory(method, poisoned, steps=5)
    want = _trajectory(method, x0[1:], steps=5)
    if bool(torch.isfinite(got[0]).all()):
        return _outcome(spec, name, "a row started at NaN came back finite")
    return _outcome(spec, name, _differ(got[1:], want, 1e-12, 1e-12, "the other rows"))


def parity_with_torch(spec: str) -> Outcome:
    name = "parity with torch.optim"
    config = optimizers.configure(spec)
    reference = optimizers.REFERENCES.get(config.optimizer.name)
    if reference is None and isinstance(config.optimizer, TorchOptimizer):
        adapted = config.optimizer  # a torch.optim class is its own reference, row by row
        reference = optimizers.TorchReference(adapted.cls, adapted.kwargs)
    if reference is None:
        return _outcome(spec, name, None, "no torch.optim reference declared")
    found = _lrs(spec)
    if found is None:
        return _outcome(spec, name, None, "no learning rate")
    hp = {k: float(v) for k, v in config.hp.items() if isinstance(v, (int, float))}
    x0, lrs = _start(), found[1]
    try:
        method = _local_or_rows(optimizers.configure(spec, lr=lrs))
    except SpecError:  # one value for the whole batch (torch.optim's elementwise mode)
        lrs = torch.full_like(lrs, found[0])
        method = optimizers.method(spec)
    got = _trajectory(method, x0)
    want = []
    for i, lr in enumerate(lrs.tolist()):
        p = torch.nn.Parameter(x0[i].clone())
        opt = reference.cls([p], **reference.kwargs({**hp, "lr": lr}))
        for _ in range(STEPS):
            opt.zero_grad()
            _quadratic(p[None]).sum().backward()
            opt.step()
        want.append(p.detach())
    return _outcome(spec, name, _differ(got, torch.stack(want), 1e-10, 1e-12, "torch.optim's"))


OPTIMIZER_CHECKS: tuple[Callable[[str], Outcome], ...] = (
    optimizer_batched_equals_rowwise,
    per_row_hyperparameters,
    diverged_rows_stay_apart,
    parity_with_torch,
)


CHECK_NAMES: dict[Callable[..., Outcome], str] = {
    minimisers_reach_f_star: "minimisers reach f*",
    minimisers_are_minima: "minimisers are minima",
    nothing_below_f_star: "nothing below f*",
    batched_equals_rowwise: "batched = row by row",
    gradients_finite: "gradients finite",
    float32_matches_float64: "float32 = float64",
    device_agrees: "cpu = cuda",
    optimizer_batched_equals_rowwise: "batched = row by row",
    per_row_hyperparameters: "per-row hyperparameters",
    diverged_rows_stay_apart: "diverged rows stay apart",
    parity_with_torch: "parity with torch.optim",
}
"""Each check's name in the table (the name of its outcome, also when it raises)."""


def check_optimizer(spec: str) -> list[Outcome]:
    """Every optimizer check on `spec` (``"adam"``, ``"adam:lr=0.01"``, ``"mymod:SignSGD"``)."""
    parsed = optimizers.parse(spec)
    if parsed.name in optimizers.WRAPPERS:
        msg = (
            f"{spec!r} is a global-search wrapper; bench check covers problems and optimizers "
            "(check its inner optimizer)"
        )
        raise SpecError(msg)
    optimizers.configure(parsed)  # a bad name or value fails here, with one line
    label = str(parsed)
    return [_guarded(label, fn, label, 0) for fn in OPTIMIZER_CHECKS]


# --------------------------------------------------------------------------- names


def check(names: Sequence[str], *, samples: int = CLI_SAMPLES) -> list[Outcome]:
    """The checks of every name: a problem spec (``rastrigin:dim=5``) or an optimizer spec.

    Raises:
        UnknownNameError: a name is neither (the closest of both registries is named).
    """
    out: list[Outcome] = []
    for name in names:
        head = name.split(":")[0].split("(")[0].strip()
        if head in problems.PROBLEMS:
            out += check_problem(name, samples=samples)
        elif head in optimizers.OPTIMIZERS or head in optimizers.WRAPPERS or ":" in name:
            out += check_optimizer(name)
        else:
            known = [*problems.PROBLEMS.names(), *optimizers.OPTIMIZERS.names()]
            near = closest(head, known)
            hint = f"; did you mean {near!r}?" if near else ""
            msg = (
                f"bench check: {head!r} is neither a problem nor an optimizer{hint} "
                "(bench list and bench list --optimizers show the names; a plugin's need "
                "--plugin)"
            )
            raise UnknownNameError(msg)
    return out


def check_table(outcomes: Sequence[Outcome]) -> str:
    """The outcomes as a table (rich), one row per check, failures first in the summary."""
    from rich import box
    from rich.console import Console
    from rich.table import Table

    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    for column in ("subject", "check", "status", "detail"):
        table.add_column(column, overflow="fold")
    for o in outcomes:
        status = {"ok": "ok", "failed": "FAILED", "skipped": "skipped"}[o.status]
        table.add_row(o.subject, o.check, status, o.detail)
    console = Console(width=100, record=True, file=io.StringIO(), color_system=None)
    console.print(table)
    text = "\n".join(line.rstrip() for line in console.export_text().splitlines())
    failed = [o for o in outcomes if o.status == "failed"]
    ok = sum(o.status == "ok" for o in outcomes)
    skipped = sum(o.status == "skipped" for o in outcomes)
    tail = f"{ok} passed, {len(failed)} failed, {skipped} skipped"
    if failed:
        tail += ": " + "; ".join(f"{o.subject}: {o.check}" for o in failed)
    return text.rstrip() + "\n" + tail


def _differ(
    got: Tensor, want: Tensor, rtol: float, atol: float, what: str = "row by row"
) -> str | None:
    """None when `got` and `want` agree (NaNs in the same places), else where they do not."""
    if got.shape != want.shape:
        return f"shapes {list(got.shape)} and {list(want.shape)} differ"
    same_nan = torch.isnan(got) == torch.isnan(want)
    close = torch.isclose(got, want, rtol=rtol, atol=atol, equal_nan=True) & same_nan
    if bool(close.all()):
        return None
    index = tuple(int(i) for i in (~close).nonzero()[0])
    return (
        f"differs from {what} at {list(index)}: {got[index].item():.10g} vs "
        f"{want[index].item():.10g}"
    )
