"""The batched step loop: every run is a row of one tensor.

`run_rows` advances all rows of a cell together. Inside the loop there is no host
synchronisation: losses at checkpoints go into preallocated device buffers, a row whose loss
turns NaN or infinite is frozen and marked with `torch.where`, and first-hitting steps of the
targets are tracked on the device (`TargetTracker`). Wall time is read only at checkpoints,
after a device synchronisation; the time spent recording a checkpoint and the warm-up steps
are excluded from it.

The whole step (loss, gradient, update, divergence marking and target tracking) is one
function, `_Advance`, which runs as it is (``step_mode="eager"``) or under `torch.compile`
(``"compiled"``): it creates no tensor from host data and its step counter is a device
tensor, so the compiled code is traced once per shape and reused from step to step and
across cells of the same shape. `step_mode_for` picks the mode from a study's ``compile``
setting (``True``, ``False`` or ``"auto"``); a compilation that fails falls back to eager with
one warning, and the trace says which mode ran.
"""

from __future__ import annotations

import threading
import time
import warnings
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import replace
from typing import Any, Literal

import torch
from torch import Tensor

from bench._row_blocks import by_row, merged, row_method
from bench._status import RUNNING, STOPPED, HostMark, mark
from bench._sync import synchronize as _sync
from bench._targets import TargetTracker
from bench._trace import Trace
from optimizers import Context, Method, MethodState, Objective, uniform_starts
from problems import Problem, SpecError

__all__ = [
    "AUTO_COMPILE_RUN_STEPS",
    "COMPILE_CHOICES",
    "STEP_MODES",
    "CompileChoice",
    "Control",
    "Trace",
    "make_objective",
    "run_rows",
    "starts",
    "step_mode_for",
]

STEP_MODES = ("eager", "compiled", "graph")
"""How a cell's steps ran: as Python calls of torch ops, under `torch.compile`, or replayed
from a captured CUDA graph (`bench perf` only)."""

CompileChoice = bool | Literal["auto"]
COMPILE_CHOICES: tuple[CompileChoice, ...] = (True, False, "auto")

AUTO_COMPILE_RUN_STEPS = 200_000_000
"""``compile = "auto"`` compiles a cell from this many run-steps (rows x steps) up.

Break-even measured on the 2-core CPU machine (docs/PERFORMANCE.md, "compile = auto",
2026-12-02): compiling the step of a 2-D landscape takes 2 to 18 s there (18 s with a cold
inductor cache, about 2 s once its on-disk cache holds the kernels' building blocks; a
second cell of the same shape in one process reuses the graph), and through the harness
the compiled step saves 1.4e-8 (R = 10^6) to 3.5e-8 s (R = 10^4) per run-step against
eager: 5 s / 3.5e-8 s is about 1.4e8 run-steps, 2e8 allows for a colder cache. The
default study's cells (10 seeds x a few thousand steps) stay far below it and run eagerly.
"""


Control = Callable[[int, Tensor, Tensor], "Tensor | None"]
"""``control(step, loss, best) -> stop`` at each checkpoint: ``loss`` is every row's loss at
its current point (``[R]``, NaN for a stopped or diverged row), ``best`` its best loss so
far (``[R]``; a stopped row keeps the value it had when it stopped); ``stop`` is None or a
boolean ``[R]`` mask of rows to stop there (a pruned trial's rows). Stopped rows are frozen
on the device."""


def make_objective(
    train_loss: Callable[[Tensor, int], Tensor], step: list[int], *, functional: bool = False
) -> Objective:
    """``objective(x, need_grad) -> (loss[R], grad[R, d] | None)`` at the current ``step[0]``.

    Rows are independent, so the gradient of the summed loss is every row's own gradient.
    The eager objective calls `torch.autograd.grad`; ``functional=True`` builds the same
    gradient with `torch.func.grad_and_value`, which `torch.compile` traces into the step's
    graph (dynamo does not trace `torch.autograd.grad`). Only deterministic losses are
    traced: the functional objective reads ``step[0]`` as 0.
    """
    if functional:

        def summed(x: Tensor) -> tuple[Tensor, Tensor]:
            loss = train_loss(x, 0)
            return loss.sum(), loss

        grad_and_value = torch.func.grad_and_value(summed, has_aux=True)

        def traced(x: Tensor, need_grad: bool) -> tuple[Tensor, Tensor | None]:
            if not need_grad:
                with torch.no_grad():
                    return train_loss(x, 0), None
            grad, (_, loss) = grad_and_value(x)
            return loss, grad

        return traced

    def objective(x: Tensor, need_grad: bool) -> tuple[Tensor, Tensor | None]:
        if not need_grad:
            with torch.no_grad():
                return train_loss(x, step[0]), None
        with torch.enable_grad():
            xr = x.detach().requires_grad_(True)
            loss = train_loss(xr, step[0])
            (grad,) = torch.autograd.grad(loss.sum(), xr)
        return loss.detach(), grad

    return objective


def step_mode_for(
    compile: CompileChoice, problem: Problem, rows: int, steps: int, device: torch.device
) -> str:
    """The step mode a cell runs: ``"compiled"`` or ``"eager"``.

    ``compile=False`` is eager; ``True`` compiles; ``"auto"`` compiles only cells of at least
    `AUTO_COMPILE_RUN_STEPS` run-steps, where compiling pays for itself. Stochastic problems
    (minibatch losses, whose batch index comes from the host step by step) always run eagerly.
    """
    if compile not in COMPILE_CHOICES:
        msg = f'compile must be true, false or "auto", got {compile!r}'
        raise SpecError(msg)
    if compile is False or problem.stream is not None:
        return "eager"
    if compile == "auto":
        return "compiled" if rows * steps >= AUTO_COMPILE_RUN_STEPS else "eager"
    return "compiled"


def starts(
    method: Method,
    problem: Problem,
    seeds: Sequence[int],
    *,
    device: torch.device,
    dtype: torch.dtype,
    uniform: bool = False,
) -> Tensor:
    """Rows for `seeds`: seed ``s`` draws its ``starts_per_seed`` starts from its own generator.

    The method's own start rule (``method.info.starts``) wins (restarts sample the domain);
    otherwise the problem's default start, except that ``uniform=True`` replaces a
    literature's fixed start (which would make every seed the same run of a deterministic
    problem) by uniform samples.
    """
    info = method.info
    rule = info.starts
    if rule is None and uniform and problem.x0 is not None:
        rule = uniform_starts
    rows = []
    for seed in seeds:
        generator = torch.Generator().manual_seed(int(seed))
        n = info.starts_per_seed
        if rule is not None:
            rows.append(rule(problem, n, generator, device=device, dtype=dtype))
        else:
            rows.append(problem.start(n, generator, device=device, dtype=dtype))
    return torch.cat(rows).to(device=device, dtype=dtype)


class _SyncGuard:
    """Turns CUDA's sync debug mode to "error" between checkpoints when asked to."""

    def __init__(self, device: torch.device, enabled: bool) -> None:
        self.enabled = enabled and device.type == "cuda"

    def on(self) -> None:
        if self.enabled:
            torch.cuda.set_sync_debug_mode("error")

    def off(self) -> None:
        if self.enabled:
            torch.cuda.set_sync_debug_mode("default")


def _advance_fn(
    method: Method,
    objective: Objective,
    ctx: Context,
    *,
    tracker: TargetTracker | None,
    f_star: float,
    stochastic: bool,
    fused: bool = False,
) -> Callable[..., MethodState]:
    """The whole step of every row, recording included, as one function of tensors.

    ``advance(state, status, best, k, evals_total) -> state`` (less its ``"loss"``,
    `_inputs`) takes one step of `method` and updates, in place: the step counter ``k``
    (0-d int32), every row's ``status`` and ``best`` loss (`bench._status`; best only for
    deterministic problems), the target tracker's first-hit table and the evaluation count
    ``evals_total`` (when the state reports ``"evals"``). Everything it reads from the host
    (the method's hyperparameters, ``f_star``) is a constant of the cell.

    Eager on the CPU the marking asks the host first (`bench._status.HostMark`: one sum,
    then ``best = min(best, loss)``) and so does the tracker (`TargetTracker.update`);
    compiled steps and CUDA mark every row elementwise (`bench._status.mark`), which the
    compiler fuses and which never synchronises.

    ``fused=True`` (the compiled step) holds the targets' values in the tracker's window
    (`TargetTracker.hold`), which the caller notes after the step (`TargetTracker.note`).
    """
    marks = HostMark() if not fused and ctx.device.type == "cpu" else mark

    def advance(
        state: MethodState,
        status: Tensor,
        best: Tensor,
        k: Tensor,
        evals_total: Tensor | None,
    ) -> MethodState:
        k.add_(1)
        state = method.step(state, objective, ctx)
        marks(status, None if stochastic else best, state["loss"], k)
        if evals_total is not None:
            evals_total.add_(state["evals"])
        if tracker is not None and not stochastic:
            if fused:
                tracker.hold(_gap(best, f_star), k)
            else:
                tracker.update(_gap(best, f_star), k)
        return _inputs(state)

    return advance


def run_rows(
    problem: Problem,
    method: Method,
    x0: Tensor,
    *,
    steps: int,
    checkpoints: Sequence[int],
    targets: Sequence[float] = (),
    row_seeds: Sequence[int] | None = None,
    seconds: float | None = None,
    warmup: int = 2,
    traced_rows: int = 0,
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
    check_sync: bool = False,
    compile: CompileChoice = False,
    control: Control | None = None,
) -> Trace:
    """Advance all rows of `x0` by `steps` steps of `method` on `problem`.

    Args:
        problem: the landscape.
        method: what moves the rows (`optimizers.method(...)`).
        x0: starting rows ``[R, d]`` on the run's device and dtype.
        steps: the step budget.
        checkpoints: steps at which to record (0 = before the first step).
        targets: precisions on the gap ``best - f_star`` (on the best loss when f_star is unknown).
        row_seeds: per-row seeds for stochastic problems (default: 0..R-1).
        seconds: optional wall-time budget; checked at checkpoints.
        warmup: steps run on a throwaway copy first (compilation, caches), timed separately;
            at least 2 when the step is compiled (the compilation happens there).
        traced_rows: record the points of the first K rows at every checkpoint.
        seed: seeds the device generator the method may sample from.
        progress: called as ``progress(step, steps)`` at each checkpoint (outside the timing).
        check_sync: on CUDA, make any host synchronisation between checkpoints an error
            (``torch.cuda.set_sync_debug_mode("error")``); used by the tests.
        compile: run the step under `torch.compile` (``True``), eagerly (``False``) or where
            it pays (``"auto"``, `step_mode_for`); ``Trace.step_mode`` says which ran.
        control: called at each checkpoint after recording (outside the timing); rows in
            the mask it returns stop there: their point is frozen (``torch.where`` after
            each later step), their best loss no longer changes and later checkpoints
            record NaN for them. When every row has stopped the loop ends early.
            ``Trace.extra["stopped_at"]`` holds each row's stopping step (-1: never).
            Without `control` the loop is exactly the plain one.

    Where the problem evaluates rows one by one (`Problem.rows_one_by_one`: the wide MLP on
    the CPU), the method is a local optimizer and nothing looks at all rows at once (no
    `seconds`, no `control`, eager steps), each row runs through all its steps before the
    next, as the plain per-network loop does (`bench._row_blocks`); the results are the same,
    value for value, and ``Trace.extra["rows_per_block"]`` is 1.
    """
    device, dtype = x0.device, x0.dtype
    rows = x0.shape[0]
    row_seeds = list(range(rows)) if row_seeds is None else list(row_seeds)
    generator = torch.Generator(device=device).manual_seed(seed)
    mode = step_mode_for(compile, problem, rows, steps, device)
    if seconds is None and control is None and by_row(problem, method, rows, device, mode):

        def alone(r: int) -> Trace:
            def report(k: int, n: int) -> None:
                assert progress is not None
                progress(r * n + k, rows * n)

            return run_rows(
                problem,
                row_method(method, r),
                x0[r : r + 1],
                steps=steps,
                checkpoints=checkpoints,
                targets=targets,
                row_seeds=row_seeds[r : r + 1],
                warmup=warmup,
                traced_rows=int(r < traced_rows),
                seed=seed,
                progress=None if progress is None else report,
                check_sync=check_sync,
                compile=compile,
            )

        return merged([alone(r) for r in range(rows)])
    ctx = Context(problem, generator, device, dtype, tensor_hp=mode == "compiled")
    current = [0]
    train_loss = problem.train_loss(row_seeds, device, dtype)
    objective = make_objective(train_loss, current)
    stochastic = problem.stream is not None
    ckpts = sorted({c for c in checkpoints if 0 <= c <= steps} | {0, steps})
    f_star = 0.0 if problem.f_star is None else problem.f_star
    holds = mode == "compiled" and not stochastic  # the step holds the targets' values
    tracker = TargetTracker(list(targets), rows, device, dtype, holds=holds) if targets else None

    def advance_for(which: str) -> Callable[..., MethodState]:
        functional = which == "compiled"
        fn = _advance_fn(
            method,
            make_objective(train_loss, current, functional=True) if functional else objective,
            ctx,
            tracker=tracker,
            f_star=f_star,
            stochastic=stochastic,
            fused=functional,
        )
        return _compile(fn) if functional else fn

    advance = advance_for(mode)
    warm = min(max(warmup, 2 if mode == "compiled" else 0), max(steps, 1))

    by_columns = mode == "compiled"  # compiled rows are column-major unless that fails

    def start() -> Tensor:
        """A fresh copy of the starting rows, in the layout of the cell's step mode."""
        return column_major(x0) if mode == "compiled" and by_columns else x0.clone()

    state = method.init(start(), ctx)  # the warm-up's own copy (the run's is made below)
    counted = "evals" in state  # the method reports per-row evaluations of each step

    def fresh() -> tuple[Tensor, Tensor, Tensor, Tensor | None]:
        return (
            torch.full((rows,), RUNNING, device=device, dtype=torch.int32),  # status
            torch.full((rows,), float("inf"), device=device, dtype=dtype),  # best
            torch.zeros((), device=device, dtype=torch.int32),  # k: the step number
            torch.zeros(rows, device=device, dtype=torch.int64) if counted else None,
        )

    warmup_s = 0.0
    settled = False  # a compiled step whose warm-up left nothing to compile
    if warm > 0:
        _sync(device)
        begin = time.perf_counter()
        if mode == "compiled":  # build the landscape's cached constants before tracing
            with torch.no_grad():
                problem.loss(x0[:1])
        try:
            with warnings.catch_warnings():  # torch's own deprecations, raised while compiling
                warnings.simplefilter("ignore", DeprecationWarning)
                try:
                    settled = _warm_up(advance, state, fresh(), warm, current)
                except Exception:
                    if mode != "compiled":
                        raise
                    # a loss that views its rows as row-major (x.view(-1)) cannot take the
                    # column-major layout: compile once more on row-major rows
                    by_columns = False
                    advance = advance_for("compiled")
                    settled = _warm_up(advance, method.init(start(), ctx), fresh(), warm, current)
        except Exception as error:  # a compiler failure on either layout: run eagerly
            if mode != "compiled":
                raise
            reason = f"{type(error).__name__}: {error}".splitlines()[0][:300]
            warnings.warn(
                f"torch.compile failed for {method.info.label} on {problem.name}, running "
                f"eagerly: {reason}",
                RuntimeWarning,
                stacklevel=2,
            )
            ctx = replace(ctx, tensor_hp=False)
            mode, advance = "eager", advance_for("eager")
            settled = _warm_up(advance, method.init(start(), ctx), fresh(), warm, current)
        _sync(device)
        warmup_s = time.perf_counter() - begin
        generator.manual_seed(seed)
        if tracker is not None:
            tracker.reset()
        state = method.init(start(), ctx)

    n_ckpt = len(ckpts)
    loss_buf = torch.full((n_ckpt, rows), float("nan"), device=device, dtype=dtype)
    best_buf = torch.full_like(loss_buf, float("nan"))
    metric_bufs: dict[str, Tensor] = {}
    positions = (
        torch.full((n_ckpt, traced_rows, x0.shape[1]), float("nan"), device=device, dtype=dtype)
        if traced_rows
        else None
    )
    status, best, k_now, evals_total = fresh()
    evals_buf = torch.zeros((n_ckpt, rows), device=device, dtype=torch.int64) if counted else None
    times: list[float] = []
    recorded: list[int] = []
    elapsed = 0.0

    def record(index: int, k: int) -> None:
        x = state["x"]
        with torch.no_grad():
            now = problem.loss(x)
            running = status == RUNNING
            loss_buf[index] = torch.where(running, now, float("nan"))
            if stochastic:  # minibatch losses are noisy: best is over full-loss checkpoints
                best.copy_(torch.where(running, torch.fmin(best, now), best))
                if tracker is not None:
                    tracker.update(best - f_star, k_now)
            best_buf[index] = best
            if problem.metrics is not None:
                for name, value in problem.metrics(x).items():
                    buf = metric_bufs.setdefault(name, torch.full_like(loss_buf, float("nan")))
                    buf[index] = value
            if positions is not None:
                positions[index] = x[:traced_rows]
            if evals_buf is not None and evals_total is not None:
                evals_buf[index] = evals_total
        times.append(elapsed)
        recorded.append(k)

    stopped_at = torch.full((rows,), -1, dtype=torch.int64) if control is not None else None
    frozen: Tensor | None = None  # [R] bool on the device, once some row has stopped
    held: Tensor | None = None  # the frozen rows' points

    def stop_rows(k: int, index: int) -> bool:
        """Apply `control` at checkpoint `index`; True when no row is left running."""
        nonlocal frozen, held
        assert control is not None and stopped_at is not None
        mask = control(k, loss_buf[index], best_buf[index])
        if mask is None:
            return False
        mask = mask.to(device=device, dtype=torch.bool)
        new = mask if frozen is None else mask & ~frozen
        stopped_at[new.cpu()] = k
        x = state["x"]
        held = x.clone() if held is None else torch.where(new[:, None], x, held)
        frozen = new if frozen is None else frozen | new
        status.masked_fill_(new & (status == RUNNING), STOPPED)
        return bool(frozen.all())

    holding = holds and tracker is not None and mode == "compiled"  # not after a fallback
    next_index = 0
    if ckpts[0] == 0:
        record(0, 0)
        next_index = 1
    guard = _SyncGuard(device, check_sync)
    _sync(device)
    begin = time.perf_counter()
    guard.on()
    with _warmed(settled and mode == "compiled"):
        for k in range(1, steps + 1):
            current[0] = k - 1
            state = advance(state, status, best, k_now, evals_total)
            if holding:
                tracker.note(k)  # type: ignore[union-attr]
            if frozen is not None:
                state["x"] = torch.where(frozen[:, None], held, state["x"])  # type: ignore[arg-type]
            if k == ckpts[next_index]:
                guard.off()
                _sync(device)
                elapsed += time.perf_counter() - begin
                record(next_index, k)
                next_index += 1
                out_of_time = seconds is not None and elapsed >= seconds
                if control is not None and stop_rows(k, next_index - 1):
                    out_of_time = True  # every row has stopped: nothing left to run
                if progress is not None:
                    progress(k, steps)
                _sync(device)
                begin = time.perf_counter()
                guard.on()
                if out_of_time:
                    break
    guard.off()
    used = len(recorded)
    extra: dict[str, object] = {} if stopped_at is None else {"stopped_at": stopped_at}
    return Trace(
        checkpoints=recorded,
        time_s=times,
        loss=loss_buf[:used].cpu(),
        best=best_buf[:used].cpu(),
        metrics={k: v[:used].cpu() for k, v in metric_bufs.items()},
        hits=tracker.hits().cpu() if tracker is not None else torch.empty(rows, 0),
        targets=tracker.targets if tracker is not None else [],
        diverged_at=torch.where(status >= 0, status, -1).to(torch.int64).cpu(),
        positions=positions[:used].cpu() if positions is not None else None,
        warmup_s=warmup_s,
        step_mode=mode,
        evals=evals_buf[:used].cpu() if evals_buf is not None else None,
        extra=extra,
    )


def _gap(best: Tensor, f_star: float) -> Tensor:
    """What the targets are precisions on: ``best - f_star`` (the best loss itself when the
    optimum is 0 or unknown, which `run_rows` passes as 0)."""
    return best - f_star if f_star != 0.0 else best


def column_major(x: Tensor) -> Tensor:
    """A copy of the rows ``x: [R, d]`` stored as ``[d, R]`` (strides ``(1, R)``).

    The compiled step's layout: inductor vectorises a kernel along the innermost dimension
    in memory, which for row-major rows is d (2 for a 2-D landscape: masked vectors, a
    quarter used) and here is R. Eager steps keep row-major rows, whose rounding the pinned
    results of the default study were computed with.
    """
    return x.T.contiguous().T


def _inputs(state: MethodState) -> MethodState:
    """The state the next step starts from: a step's ``"loss"`` is an output only (`record`
    evaluates its own), so a compiled step returns no loss tensor and sees the structure
    `Method.init` gives at its first call and every later one."""
    return {key: value for key, value in state.items() if key != "loss"}


def _warm_up(
    advance: Callable[..., MethodState],
    state: MethodState,
    record: tuple[Tensor, Tensor, Tensor, Tensor | None],
    steps: int,
    current: list[int],
) -> bool:
    """Run `steps` steps, then (compiled) more, at most `SETTLE_STEPS`, until one compiles
    nothing: a step's state can have another layout than the one before it (the first
    step's aliases, a ``torch.where`` of two layouts), and its graph is compiled here, not
    in the timed loop. True when the last step compiled nothing and no step broke the graph,
    so the loop's calls meet only graphs compiled here (`_warmed`)."""
    counters = torch._dynamo.utils.counters
    breaks = sum(counters["graph_break"].values())
    fresh_graph = True
    k = 0
    with torch._dynamo.config.patch(fail_on_recompile_limit_hit=True):  # not eager unsaid
        while k < steps or (fresh_graph and k < steps + SETTLE_STEPS):
            graphs = counters["stats"]["unique_graphs"]
            current[0] = k
            state = advance(state, *record)
            fresh_graph = counters["stats"]["unique_graphs"] > graphs
            k += 1
    return not fresh_graph and sum(counters["graph_break"].values()) == breaks


SETTLE_STEPS = 8
"""Steps a compiled warm-up may add until a step compiles nothing (`_warm_up`)."""


def _warmed(settled: bool) -> AbstractContextManager[Any]:
    """Where the timed loop of a compiled step runs once its warm-up has `settled`
    (`_warm_up`): dynamo checks only the guards that tell the cached graphs apart (the ones
    that have failed once, ``skip_guard_eval_unsafe``), not all of them.

    Safe there because nothing the other guards check changes during the loop: each call
    passes what a warm-up call passed (tensors of the same kinds and layouts, and inductor
    asserts every input's sizes and strides), the cell's Python objects and constants are
    not touched between steps (the landscape's cached constants are built before the
    warm-up), the graph the warm-up's last call ran is the first dynamo tries, and where the
    telling guards match no graph dynamo raises rather than compile. It saves about 2.5 us
    of a 75 us Adam step at R = 10^4 on the 2-core machine (docs/PERFORMANCE.md). Outside
    the loop, for steps with graph breaks and off the main thread (the stance is
    process-wide, and a Dask worker's other thread may be compiling), every guard is checked.
    """
    if not settled or threading.current_thread() is not threading.main_thread():
        return nullcontext()
    return torch.compiler.set_stance("default", skip_guard_eval_unsafe=True)


def _compile(advance: Callable[..., MethodState]) -> Callable[..., MethodState]:
    """`torch.compile` of a step (``dynamic=False``: one graph per shape, no symbolic sizes).

    Dynamo keeps the compiled code on the step function's code object, guarded by the
    cell's constants, so every later cell of the same shape and constants reuses it. Its
    default limit of 8 compilations per code object would send a study's ninth distinct
    cell on a process silently back to eager, so the limit is raised (once, process-wide)
    to `RECOMPILE_LIMIT`; a process that has compiled a code object nearly that often
    forgets every graph (`torch._dynamo.reset`) and compiles afresh, and a warm-up that
    reaches the limit anyway raises (`_warm_up`), so the cell runs eagerly with a warning.

    Guards on module globals (the step's ``torch``, its functions, constants such as
    `bench._status.RUNNING`) are dropped (`keep_guards`): dynamo checked the identity of
    each of them on every call, about 7 us of an 80 us step at R = 10^4 on the 2-core
    machine (docs/PERFORMANCE.md), and nothing rebinds them once imported. Guards on the
    cell's own objects, constants and tensors stay, so cells still get their own graphs.
    """
    with warnings.catch_warnings():  # inductor imports torch.utils.mkldnn, deprecated
        warnings.simplefilter("ignore", DeprecationWarning)
        import torch.fx.experimental.optimization
    config = torch._dynamo.config
    config.recompile_limit = max(config.recompile_limit, RECOMPILE_LIMIT)
    config.accumulated_recompile_limit = max(config.accumulated_recompile_limit, RECOMPILE_LIMIT)
    compiled = torch._dynamo.convert_frame.FRAME_COMPILE_COUNTER.values()
    if max(compiled, default=0) >= RECOMPILE_LIMIT - RECOMPILE_ROOM:
        torch._dynamo.reset()
    return torch.compile(advance, dynamic=False, options={"guard_filter_fn": keep_guards})


def keep_guards(entries: Sequence[Any]) -> list[bool]:
    """Dynamo's ``guard_filter_fn``: keep every guard but those on module globals that are
    not tensors (a plugin that rebinds a module global between cells must start a new
    process)."""
    return [not entry.is_global or entry.guard_type == "TENSOR_MATCH" for entry in entries]


RECOMPILE_LIMIT = 256
RECOMPILE_ROOM = 64
"""Compilations a cell may still need of a code object (its warm-up, on two layouts)."""
