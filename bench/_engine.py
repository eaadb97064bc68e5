"""The batched step loop: every run is a row of one tensor.

`run_rows` advances all rows of a cell together. Inside the loop there is no host
synchronisation: losses at checkpoints go into preallocated device buffers, a row whose loss
turns NaN or infinite is frozen and marked with `torch.where`, and first-hitting steps of the
targets are tracked on the device (`TargetTracker`). Wall time is read only at checkpoints,
after a device synchronisation; the time spent recording a checkpoint and the warm-up steps
are excluded from it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
from torch import Tensor

from bench._sync import synchronize as _sync
from bench._targets import TargetTracker
from optimizers import Context, Method, uniform_starts
from problems import Problem

__all__ = ["Trace", "make_objective", "run_rows", "starts"]


@dataclass
class Trace:
    """What a cell's rows went through, on the host.

    Shapes: C checkpoints, R rows, T targets, d dimensions, K traced rows.
    """

    checkpoints: list[int]  # steps actually recorded (a time budget may cut the list)
    time_s: list[float]  # cumulative step time at each checkpoint
    loss: Tensor  # [C, R] full loss at the checkpoint's point
    best: Tensor  # [C, R] best loss evaluated so far
    metrics: dict[str, Tensor]  # name -> [C, R]
    hits: Tensor  # [R, T] first step reaching each target (-1: never), targets loose -> tight
    targets: list[float]  # loose -> tight
    diverged_at: Tensor  # [R] step at which the row's loss became non-finite (-1: never)
    positions: Tensor | None  # [C, K, d] points of the first K rows (2-D problems)
    warmup_s: float = 0.0
    evals: Tensor | None = None  # [C, R] evaluations counted by the method (None: steps x rate)
    extra: dict[str, object] = field(default_factory=dict)


def make_objective(
    train_loss: Callable[[Tensor, int], Tensor], step: list[int]
) -> Callable[[Tensor, bool], tuple[Tensor, Tensor | None]]:
    """``objective(x, need_grad) -> (loss[R], grad[R, d] | None)`` at the current ``step[0]``.

    Rows are independent, so the gradient of the summed loss is every row's own gradient.
    """

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
        warmup: steps run on a throwaway copy first (compilation, caches), timed separately.
        traced_rows: record the points of the first K rows at every checkpoint.
        seed: seeds the device generator the method may sample from.
        progress: called as ``progress(step, steps)`` at each checkpoint (outside the timing).
        check_sync: on CUDA, make any host synchronisation between checkpoints an error
            (``torch.cuda.set_sync_debug_mode("error")``); used by the tests.
    """
    device, dtype = x0.device, x0.dtype
    rows = x0.shape[0]
    row_seeds = list(range(rows)) if row_seeds is None else list(row_seeds)
    generator = torch.Generator(device=device).manual_seed(seed)
    ctx = Context(problem, generator, device, dtype)
    current = [0]
    objective = make_objective(problem.train_loss(row_seeds, device, dtype), current)
    stochastic = problem.stream is not None
    ckpts = sorted({c for c in checkpoints if 0 <= c <= steps} | {0, steps})

    warmup_s = 0.0
    if warmup > 0:
        _sync(device)
        begin = time.perf_counter()
        state = method.init(x0.clone(), ctx)
        for k in range(min(warmup, max(steps, 1))):
            current[0] = k
            state = method.step(state, objective, ctx)
        _sync(device)
        warmup_s = time.perf_counter() - begin
        generator.manual_seed(seed)

    n_ckpt = len(ckpts)
    loss_buf = torch.full((n_ckpt, rows), float("nan"), device=device, dtype=dtype)
    best_buf = torch.full_like(loss_buf, float("nan"))
    metric_bufs: dict[str, Tensor] = {}
    positions = (
        torch.full((n_ckpt, traced_rows, x0.shape[1]), float("nan"), device=device, dtype=dtype)
        if traced_rows
        else None
    )
    f_star = 0.0 if problem.f_star is None else problem.f_star
    tracker = TargetTracker(list(targets), rows, device, dtype) if targets else None
    best = torch.full((rows,), float("inf"), device=device, dtype=dtype)
    alive = torch.ones(rows, device=device, dtype=torch.bool)
    diverged_at = torch.full((rows,), -1, device=device, dtype=torch.int64)
    step_counter = torch.zeros((rows, 1), device=device, dtype=torch.int32)

    state = method.init(x0.clone(), ctx)
    counted = "evals" in state  # the method reports per-row evaluations of each step
    evals_total = torch.zeros(rows, device=device, dtype=torch.int64)
    evals_buf = torch.zeros((n_ckpt, rows), device=device, dtype=torch.int64) if counted else None
    times: list[float] = []
    recorded: list[int] = []
    elapsed = 0.0

    def record(index: int, k: int) -> None:
        x = state["x"]
        with torch.no_grad():
            now = problem.loss(x)
            loss_buf[index] = torch.where(alive, now, float("nan"))
            if stochastic:  # minibatch losses are noisy: best is over full-loss checkpoints
                best.copy_(torch.where(alive, torch.fmin(best, now), best))
                if tracker is not None:
                    tracker.update(best - f_star, step_counter.fill_(k))
            best_buf[index] = best
            if problem.metrics is not None:
                for name, value in problem.metrics(x).items():
                    buf = metric_bufs.setdefault(name, torch.full_like(loss_buf, float("nan")))
                    buf[index] = value
            if positions is not None:
                positions[index] = x[:traced_rows]
            if evals_buf is not None:
                evals_buf[index] = evals_total
        times.append(elapsed)
        recorded.append(k)

    next_index = 0
    if ckpts[0] == 0:
        record(0, 0)
        next_index = 1
    guard = _SyncGuard(device, check_sync)
    _sync(device)
    begin = time.perf_counter()
    guard.on()
    for k in range(1, steps + 1):
        current[0] = k - 1
        state = method.step(state, objective, ctx)
        loss = state["loss"]
        finite = torch.isfinite(loss)
        diverged_at = diverged_at.masked_fill(alive & ~finite, k)
        alive = alive & finite
        if counted:
            evals_total += state["evals"]
        if not stochastic:
            best = torch.where(alive, torch.fmin(best, loss), best)
            if tracker is not None:
                step_counter.add_(1)
                tracker.update(best - f_star, step_counter)
        if k == ckpts[next_index]:
            guard.off()
            _sync(device)
            elapsed += time.perf_counter() - begin
            record(next_index, k)
            next_index += 1
            out_of_time = seconds is not None and elapsed >= seconds
            if progress is not None:
                progress(k, steps)
            _sync(device)
            begin = time.perf_counter()
            guard.on()
            if out_of_time:
                break
    guard.off()
    used = len(recorded)
    return Trace(
        checkpoints=recorded,
        time_s=times,
        loss=loss_buf[:used].cpu(),
        best=best_buf[:used].cpu(),
        metrics={k: v[:used].cpu() for k, v in metric_bufs.items()},
        hits=tracker.hits().cpu() if tracker is not None else torch.empty(rows, 0),
        targets=tracker.targets if tracker is not None else [],
        diverged_at=diverged_at.cpu(),
        positions=positions[:used].cpu() if positions is not None else None,
        warmup_s=warmup_s,
        evals=evals_buf[:used].cpu() if evals_buf is not None else None,
    )
