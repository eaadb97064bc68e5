"""MLP execution speed: one network per seed, six ways, side by side in one process.

For each hidden width, ``seeds`` networks (``inputs`` -> width -> width -> 1, ReLU, MSE) take
``steps`` Adam steps on minibatches of ``batch`` samples of the mlp-regression data:

a. ``plain``: ``nn.Sequential`` + ``torch.optim.Adam``, the textbook loop, seed after seed;
b. ``vmap``: all seeds as rows, ``torch.func.vmap`` over ``torch.func.functional_call``;
c. ``batched``: all seeds as rows, stacked weights and ``torch.baddbmm`` (the problem's
   ``execution=batched``);
d. ``sequential``: the problem's ``execution=sequential`` (rows one after another, plain
   ``F.linear``, the backward written out into one ``[R, P]`` gradient), all rows a step;
e. ``auto``: what the problem's ``execution=auto`` picks on this device (`batched_for`);
f. ``harness``: the whole harness (`bench.run_rows` with optbench's ``adam``, divergence
   marking, checkpoints at the first and last step), on the ``auto`` problem; where that
   runs rows one after another (width 512 and up) the harness runs each row through all
   its steps before the next, as ``plain`` does (`bench._row_blocks`).

b to f update all rows at once with optbench's own batched Adam
(``optimizers.configure("adam", lr=1e-3)``, torch.optim.Adam's defaults: the step the harness
runs), so ``harness`` against ``auto`` is the harness's own cost; every variant draws each
seed's batches in the same DataLoader order, gathered by index (no DataLoader per-sample
overhead in any of them). Figures are milliseconds per seed-step (one network, one step);
``ratio`` is the speed-up over ``plain`` (``plain_ms / variant_ms``, above 1 is faster).
Warm-up steps are excluded; each variant is timed ``repeats`` times, interleaved, and the
fastest is kept (the machine is shared).

Run ``python -m bench.perf.mlp`` (``--help`` for options) or ``bench perf --mlp``;
docs/PERFORMANCE.md has a table.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path

import torch
from torch import Tensor

import optimizers
import problems
from bench._allocator import keep_freed_memory
from bench._engine import run_rows
from bench._sync import synchronize as _sync
from problems.mlp import (
    MinibatchLoss,
    MLPProblem,
    batched_for,
    layer_shapes,
    sequential_module,
    unflatten,
)

__all__ = ["VARIANTS", "main", "markdown", "mlp_main", "mlp_records", "mlp_speed_table"]

LR = 1e-3
VARIANTS = ("plain", "vmap", "batched", "sequential", "auto", "harness")


def _batches(
    p: MLPProblem, seeds: Sequence[int], device: torch.device, dtype: torch.dtype
) -> MinibatchLoss:
    """The problem's per-seed batch orders (`MinibatchLoss.indices`), shared by every variant."""
    order = p.train_loss(seeds, device, dtype)
    assert isinstance(order, MinibatchLoss)
    return order


def _time_plain(
    p: MLPProblem,
    seeds: Sequence[int],
    steps: int,
    warmup: int,
    device: torch.device,
    dtype: torch.dtype,
) -> float:
    X, y, _, _ = p.data_tensors(device, dtype)
    order = _batches(p, seeds, device, dtype)
    elapsed = 0.0
    for r, seed in enumerate(seeds):
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = sequential_module(p.widths).to(device=device, dtype=dtype)
        opt = torch.optim.Adam(model.parameters(), lr=LR)
        for k in range(warmup + steps):
            if k == warmup:
                _sync(device)
                begin = time.perf_counter()
            index = order.indices(k)[r]
            loss = torch.nn.functional.mse_loss(model(X[index]).squeeze(-1), y[index])
            opt.zero_grad()
            loss.backward()
            opt.step()
        _sync(device)
        elapsed += time.perf_counter() - begin
    return elapsed


def _vmap_loss(
    p: MLPProblem, seeds: Sequence[int], device: torch.device, dtype: torch.dtype
) -> Callable[[Tensor, int], Tensor]:
    """Rows' minibatch MSE through ``vmap(functional_call)`` over an ``nn.Sequential``."""
    X, y, _, _ = p.data_tensors(device, dtype)
    order = _batches(p, seeds, device, dtype)
    module = sequential_module(p.widths).to(device="meta")
    names = [name for name, _ in module.named_parameters()]

    def one(params: dict[str, Tensor], xb: Tensor, yb: Tensor) -> Tensor:
        out = torch.func.functional_call(module, params, (xb,))
        return (out.squeeze(-1) - yb).square().mean()

    batched_one = torch.func.vmap(one)

    def loss(x: Tensor, step: int) -> Tensor:
        index = order.indices(step)
        flat = [t for layer in unflatten(x, p.widths) for t in layer]
        return batched_one(dict(zip(names, flat)), X[index], y[index])

    return loss


def _time_rows(
    loss: Callable[[Tensor, int], Tensor], x0: Tensor, steps: int, warmup: int, device: torch.device
) -> float:
    adam = optimizers.configure("adam", lr=LR)
    x = x0.clone()
    state = adam.init(x)
    for k in range(warmup + steps):
        if k == warmup:
            _sync(device)
            begin = time.perf_counter()
        xr = x.detach().requires_grad_()
        (grad,) = torch.autograd.grad(loss(xr, k).sum(), xr)
        x, state = adam.step(x, grad, state)
    _sync(device)
    return time.perf_counter() - begin


def _time_harness(p: MLPProblem, x0: Tensor, steps: int, warmup: int) -> float:
    trace = run_rows(
        p,
        optimizers.method(f"adam:lr={LR}"),
        x0.clone(),
        steps=steps,
        checkpoints=[0, steps],
        warmup=warmup,
    )
    return trace.time_s[-1]


def mlp_speed_table(
    widths: Sequence[int] = (64, 256, 1000),
    seeds: int = 8,
    batch: int = 64,
    steps: int = 20,
    device: str = "cpu",
    *,
    inputs: int = 1000,
    depth: int = 2,
    dtype: torch.dtype = torch.float32,
    warmup: int = 3,
    repeats: int = 5,
) -> list[dict[str, object]]:
    """Milliseconds per seed-step of the five executions at each hidden width.

    Returns:
        One dict per width: ``width``, ``inputs``, ``seeds``, ``batch``, ``steps``,
        ``device``, ``auto_picks`` (``batched`` / ``sequential``), ``<variant>_ms`` and
        ``<variant>_ratio`` (speed-up over ``plain``) for every variant.
    """
    dev = torch.device(device)
    row_seeds = list(range(seeds))
    table = []
    for width in widths:
        spec = (
            f"mlp-regression:inputs={inputs},hidden={width},depth={depth},batch={batch},"
            f"latent={min(16, inputs)}"
        )
        built = {e: problems.get(spec, execution=e) for e in ("batched", "sequential", "auto")}
        p = built["auto"]
        assert isinstance(p, MLPProblem)
        x0 = torch.cat(
            [
                p.start(1, torch.Generator().manual_seed(s), device=dev, dtype=dtype)
                for s in row_seeds
            ]
        )
        timers: dict[str, Callable[[], float]] = {
            "plain": partial(_time_plain, p, row_seeds, steps, warmup, dev, dtype),
            "vmap": partial(
                _time_rows, _vmap_loss(p, row_seeds, dev, dtype), x0, steps, warmup, dev
            ),
        }
        timers["harness"] = partial(_time_harness, p, x0, steps, warmup)
        for e, q in built.items():
            timers[e] = partial(
                _time_rows, q.train_loss(row_seeds, dev, dtype), x0, steps, warmup, dev
            )
        best = {name: float("inf") for name in VARIANTS}
        for _ in range(repeats):
            for name in VARIANTS:
                best[name] = min(best[name], timers[name]())
        per = {name: 1e3 * best[name] / (seeds * steps) for name in VARIANTS}
        row: dict[str, object] = {
            "width": width,
            "inputs": inputs,
            "seeds": seeds,
            "batch": batch,
            "steps": steps,
            "device": dev.type,
            "auto_picks": "batched" if batched_for("auto", dev, p.widths) else "sequential",
        }
        for name in VARIANTS:
            row[f"{name}_ms"] = round(per[name], 3)
            row[f"{name}_ratio"] = round(per["plain"] / per[name], 2)
        table.append(row)
    return table


def markdown(table: list[dict[str, object]]) -> str:
    """The table as Markdown: ms per seed-step, speed-up over plain in brackets."""
    head = "| width | " + " | ".join(VARIANTS) + " | auto picks |"
    lines = [head, "|" + "---|" * (len(VARIANTS) + 2)]
    for row in table:
        cells = [f"{row[f'{n}_ms']:.3f} ({row[f'{n}_ratio']:.2f}x)" for n in VARIANTS]
        lines.append(f"| {row['width']} | " + " | ".join(cells) + f" | {row['auto_picks']} |")
    return "\n".join(lines)


def _print_table(
    widths: Sequence[int],
    seeds: int,
    batch: int,
    steps: int,
    device: str,
    repeats: int,
    *,
    as_json: bool = False,
) -> list[dict[str, object]]:
    """Measure width after width, printing each row as it comes (a slow machine shows
    partial results); with `as_json`, print only the JSON rows at the end."""
    if not as_json:
        print(
            f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
            f"{platform.processor() or platform.machine()}, device {device}; "
            "ms per seed-step (speed-up over plain)"
        )
    table: list[dict[str, object]] = []
    for width in widths:
        row = mlp_speed_table((width,), seeds, batch, steps, device, repeats=repeats)
        table += row
        if not as_json:
            lines = markdown(row).splitlines()
            print("\n".join(lines if len(table) == 1 else lines[2:]), flush=True)
    if as_json:
        print(json.dumps(table, indent=1))
    return table


def mlp_records(*, quick: bool = False, device: str = "cpu") -> list[dict[str, object]]:
    """The MLP table (printed as it is measured) as `bench perf` records: per width, the
    plain loop (``mode="per-run"``) and the harness (``mode="eager"``; the MLP's minibatch
    loss is stochastic, so the harness never compiles it), in seed-steps per second, with
    the memory-bandwidth floor of the harness's Adam step (x, gradient, both moments)."""
    from bench.perf._analytic import copy_bandwidth

    widths, steps, repeats = ((64, 256), 10, 1) if quick else ((64, 256, 1000), 20, 5)
    table = _print_table(widths, 8, 64, steps, device, repeats)
    bandwidth = copy_bandwidth(torch.device(device))
    records: list[dict[str, object]] = []
    for row in table:
        width, inputs = int(str(row["width"])), int(str(row["inputs"]))
        params = sum(o * i + o for o, i in layer_shapes([inputs, width, width, 1]))
        floor = bandwidth / (2 * 4 * 4 * params)  # x, grad, exp_avg, exp_avg_sq; float32
        for mode, variant in (("per-run", "plain"), ("eager", "harness")):
            rate = 1e3 / float(row[f"{variant}_ms"])  # type: ignore[arg-type]
            records.append(
                {
                    "problem": f"mlp-regression:hidden={width}",
                    "optimizer": f"adam:lr={LR}",
                    "device": torch.device(device).type,
                    "mode": mode,
                    "loop": "per-run" if mode == "per-run" else "harness",
                    "rows": int(row["seeds"]),  # type: ignore[call-overload]
                    "width": width,
                    "steps": int(row["steps"]),  # type: ignore[call-overload]
                    "run_steps_per_s": rate,
                    "floor_run_steps_per_s": floor,
                    "vs_floor": rate / floor,
                    "vs_per_run": float(row[f"{variant}_ratio"]),  # type: ignore[arg-type]
                }
            )
    return records


def mlp_main(*, quick: bool = False, device: str = "cpu", json_path: Path | None = None) -> int:
    """`bench perf --mlp`: the table at the default sizes (``quick``: widths 64 and 256, 10
    steps timed once), its records as a JSON list with `json_path`; exit 0."""
    records = mlp_records(quick=quick, device=device)
    if json_path is not None:
        json_path.write_text(json.dumps(records, indent=1))
    return 0


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m bench.perf.mlp``: the table with every size as an option."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.perf.mlp",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--widths", type=int, nargs="+", default=[64, 256, 1000])
    parser.add_argument("--seeds", type=int, default=8)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", action="store_true", help="print JSON rows instead")
    args = parser.parse_args(argv)
    keep_freed_memory()  # as `bench run` does; every variant runs under the same allocator
    _print_table(
        args.widths,
        args.seeds,
        args.batch,
        args.steps,
        args.device,
        args.repeats,
        as_json=args.json,
    )
