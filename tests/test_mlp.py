"""The MLP regression problem against plain torch: nn.Sequential, torch.optim.SGD, DataLoader."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

import problems
from problems.mlp import (
    MinibatchLoss,
    MLPProblem,
    flatten_module,
    init_rows,
    load_row,
    sequential_module,
)

SMALL = "mlp-regression:inputs=8,hidden=16,n_train=100,n_test=60,batch=16,latent=4"
F32 = torch.float32


def small(**options: object) -> MLPProblem:
    p = problems.get(SMALL, **options)
    assert isinstance(p, MLPProblem)
    return p


def fresh_sgd(p: MLPProblem, x: torch.Tensor, seeds: list[int], lr: float, steps: int):
    """The batched side: a bare loop over ``train_loss``, every row its own seed."""
    tl = p.train_loss(seeds, "cpu", x.dtype)
    losses = []
    for step in range(steps):
        x = x.detach().requires_grad_()
        loss = tl(x, step)
        (grad,) = torch.autograd.grad(loss.sum(), x)
        x = x - lr * grad
        losses.append(loss.detach())
    return torch.stack(losses), x.detach()


def plain_sgd(p: MLPProblem, seed: int, lr: float, steps: int):
    """The reference: nn.Sequential, torch.optim.SGD and a shuffled DataLoader with `seed`."""
    X, y, _, _ = p.data_tensors(torch.device("cpu"), F32)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        model = sequential_module(p.widths)
    loader = DataLoader(
        TensorDataset(X, y),
        batch_size=p.batch,
        shuffle=True,
        generator=torch.Generator().manual_seed(seed),
    )
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    losses = []
    while len(losses) < steps:
        for xb, yb in loader:
            loss = torch.nn.functional.mse_loss(model(xb).squeeze(-1), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.detach())
            if len(losses) == steps:
                break
    return torch.stack(losses), flatten_module(model)


def test_registered_with_the_documented_shape() -> None:
    p = small()
    assert p.name == "mlp-regression"
    assert p.spec == SMALL
    assert p.widths == (8, 16, 16, 1)
    assert p.dim == 8 * 16 + 16 + 16 * 16 + 16 + 16 + 1
    assert p.steps_per_epoch == math.ceil(100 / 16) == 7
    assert p.f_star is None
    assert p.tags == frozenset({"stochastic", "ml"})
    assert p.noise_floor == pytest.approx(0.01)
    lower, upper = p.box()
    assert lower[0] == -1 / math.sqrt(8) and upper[-1] == 1 / math.sqrt(16)
    assert torch.equal(lower, -upper)
    default = problems.PROBLEMS.factory("mlp-regression")
    assert default.__defaults__[:3] == (1000, 1000, 2)  # the architecture


def test_data_are_seeded_and_scaled() -> None:
    a, b, c = small(), small(), small(data_seed=1)
    Xa, ya, Xt, yt = a.data_tensors(torch.device("cpu"), torch.float64)
    assert torch.equal(ya, b.data_tensors(torch.device("cpu"), torch.float64)[1])
    assert not torch.equal(ya, c.data_tensors(torch.device("cpu"), torch.float64)[1])
    assert Xa.shape == (100, 8) and Xt.shape == (60, 8) and yt.shape == (60,)
    assert torch.linalg.matrix_rank(Xa).item() == 4  # latent dimension
    assert a.baseline_loss == pytest.approx(float((yt - ya.mean()).square().mean()))
    assert 0.5 < a.baseline_loss < 2.0  # standardised teacher + noise


def test_start_is_nn_linear_default_init() -> None:
    widths = (8, 16, 16, 1)
    for seed in (0, 3):
        with torch.random.fork_rng():
            torch.manual_seed(seed)
            expected = flatten_module(sequential_module(widths))
        got = small().start(1, torch.Generator().manual_seed(seed), dtype=F32)
        assert torch.equal(got[0], expected)
    rows = init_rows(widths, 3, torch.Generator().manual_seed(0))  # rows draw one after another
    assert torch.equal(rows[0], init_rows(widths, 1, torch.Generator().manual_seed(0))[0])
    assert not torch.equal(rows[0], rows[1])
    lower, upper = small().box(dtype=F32)
    assert bool(((rows >= lower) & (rows <= upper)).all())


def test_load_row_round_trip() -> None:
    p = small()
    row = p.start(1, torch.Generator().manual_seed(5), dtype=F32)[0]
    model = load_row(sequential_module(p.widths), row)
    assert torch.equal(flatten_module(model), row)
    X, y, _, _ = p.data_tensors(torch.device("cpu"), F32)
    expected = torch.nn.functional.mse_loss(model(X).squeeze(-1), y)
    torch.testing.assert_close(p.loss(row[None])[0], expected)


@pytest.mark.parametrize(("n", "batch"), [(100, 16), (64, 16), (7, 10)])
def test_batches_are_the_dataloaders(n: int, batch: int) -> None:
    p = small(n_train=n, batch=batch)
    seeds = [0, 11, 2]
    tl = p.train_loss(seeds, "cpu", F32)
    assert isinstance(tl, MinibatchLoss)
    for r, seed in enumerate(seeds):
        loader = DataLoader(
            TensorDataset(torch.arange(n)),
            batch_size=batch,
            shuffle=True,
            generator=torch.Generator().manual_seed(seed),
        )
        step = 0
        for _ in range(3):
            for (expected,) in loader:
                assert torch.equal(tl.indices(step)[r], expected)
                step += 1
        assert step == 3 * p.steps_per_epoch


def test_epochs_replay_in_any_order() -> None:
    p = small()
    forward = p.train_loss([4, 5], "cpu", F32)
    orders = [forward.order(e).clone() for e in range(3)]
    again = p.train_loss([4, 5], "cpu", F32)
    assert torch.equal(again.order(2), orders[2])
    assert torch.equal(again.order(0), orders[0])  # going back replays from the seed
    assert torch.equal(again.order(1), orders[1])


@pytest.mark.parametrize("execution", ["batched", "sequential"])
def test_one_row_follows_the_plain_torch_loop(execution: str) -> None:
    p = small(execution=execution)
    steps, lr = 3 * p.steps_per_epoch + 2, 0.05
    x0 = p.start(1, torch.Generator().manual_seed(7), dtype=F32)
    losses, x = fresh_sgd(p, x0, [7], lr, steps)
    expected_losses, expected_x = plain_sgd(p, 7, lr, steps)
    torch.testing.assert_close(losses[:, 0], expected_losses, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(x[0], expected_x, rtol=1e-5, atol=1e-5)
    assert losses[-1, 0] < losses[0, 0]


def test_each_of_four_rows_follows_its_own_plain_run() -> None:
    p = small()
    seeds, steps, lr = [0, 1, 2, 3], 2 * p.steps_per_epoch + 3, 0.05
    x0 = torch.cat([p.start(1, torch.Generator().manual_seed(s), dtype=F32) for s in seeds])
    losses, x = fresh_sgd(p, x0, seeds, lr, steps)
    for r, seed in enumerate(seeds):
        expected_losses, expected_x = plain_sgd(p, seed, lr, steps)
        torch.testing.assert_close(losses[:, r], expected_losses, rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(x[r], expected_x, rtol=1e-5, atol=1e-5)


def test_batched_and_sequential_agree() -> None:
    batched, sequential = small(execution="batched"), small(execution="sequential")
    x = batched.start(3, torch.Generator().manual_seed(0)) * 1.5
    tl_b = batched.train_loss([0, 1, 2], "cpu", torch.float64)
    tl_s = sequential.train_loss([0, 1, 2], "cpu", torch.float64)
    for step in (0, 6, 13):
        xb, xs = x.clone().requires_grad_(), x.clone().requires_grad_()
        lb, ls = tl_b(xb, step), tl_s(xs, step)
        torch.testing.assert_close(lb, ls, rtol=1e-12, atol=1e-12)
        (gb,) = torch.autograd.grad(lb.sum(), xb)
        (gs,) = torch.autograd.grad(ls.sum(), xs)
        torch.testing.assert_close(gb, gs, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(batched.loss(x), sequential.loss(x), rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(
        batched.metrics(x)["heldout_loss"],
        sequential.metrics(x)["heldout_loss"],
        rtol=1e-12,
        atol=1e-12,
    )


@pytest.mark.parametrize("execution", ["batched", "sequential"])
def test_rows_are_separable(execution: str) -> None:
    p = small(execution=execution)
    x = p.start(3, torch.Generator().manual_seed(1))
    y = x.clone()
    y[1] += 0.3
    for f in (p.loss, lambda v: p.train_loss([0, 1, 2], "cpu", v.dtype)(v, 9)):
        xa, ya = x.clone().requires_grad_(), y.clone().requires_grad_()
        (ga,) = torch.autograd.grad(f(xa).sum(), xa)
        (gb,) = torch.autograd.grad(f(ya).sum(), ya)
        torch.testing.assert_close(ga[[0, 2]], gb[[0, 2]], rtol=0, atol=0)
        assert not torch.allclose(ga[1], gb[1])
    # a row's minibatch loss depends on its own seed only, not on its neighbours
    alone = p.train_loss([2], "cpu", x.dtype)(x[2:], 9)
    torch.testing.assert_close(p.train_loss([0, 1, 2], "cpu", x.dtype)(x, 9)[2:], alone)


def test_full_loss_chunks_rows(monkeypatch: pytest.MonkeyPatch) -> None:
    import problems.mlp as mlp

    p = small(execution="batched")
    x = p.start(5, torch.Generator().manual_seed(2))
    whole = p.loss(x)
    monkeypatch.setattr(mlp, "_CHUNK_ELEMENTS", 1)
    torch.testing.assert_close(p.loss(x), whole, rtol=1e-12, atol=1e-12)


def test_sgd_learns_well_below_the_mean_predictor() -> None:
    p = problems.get("mlp-regression:inputs=32,hidden=64,n_train=256,n_test=256,batch=32,latent=4")
    assert isinstance(p, MLPProblem)
    x = p.start(2, torch.Generator().manual_seed(0), dtype=F32)
    before = p.metrics(x)["heldout_loss"]
    _, x = fresh_sgd(p, x, [0, 1], 0.05, 30 * p.steps_per_epoch)
    after = p.metrics(x)["heldout_loss"]
    assert bool((before > 0.8 * p.baseline_loss).all())
    assert bool((after < 0.25 * p.baseline_loss).all()), (after, p.baseline_loss)
    assert p.noise_floor < p.baseline_loss


@pytest.mark.parametrize(
    ("options", "word"),
    [
        ({"execution": "fast"}, "execution"),
        ({"label_noise": -1.0}, "label_noise"),
        ({"latent": 9}, "latent"),
        ({"hidden": 0}, "hidden"),
        ({"depth": 1.5}, "depth"),
    ],
)
def test_bad_options_name_the_value(options: dict[str, object], word: str) -> None:
    with pytest.raises(problems.SpecError, match=word):
        small(**options)


def test_wrong_number_of_rows_is_an_error() -> None:
    p = small()
    with pytest.raises(problems.SpecError, match="one row per seed"):
        p.train_loss([0, 1], "cpu", F32)(p.start(3, dtype=F32), 0)


def static_buffer_sgd(
    p: MLPProblem, x0: torch.Tensor, seeds: list[int], lr: float, steps: int, *, graph: bool
) -> torch.Tensor:
    """SGD the CUDA-graph way: fixed buffers for rows and batch indices, refreshed per step.

    With ``graph=True`` the step (minibatch loss + grad + update) is captured once in a
    ``torch.cuda.CUDAGraph`` and replayed; without, the same step function runs eagerly.
    """
    tl = p.train_loss(seeds, x0.device, x0.dtype)
    assert isinstance(tl, MinibatchLoss)
    x = x0.clone()
    index = tl.indices(0).clone()
    loss = torch.empty(len(seeds), device=x0.device, dtype=x0.dtype)

    def step_fn() -> None:
        xr = x.detach().requires_grad_()
        out = tl.batch_loss(xr, index)
        (grad,) = torch.autograd.grad(out.sum(), xr)
        loss.copy_(out.detach())
        x.sub_(lr * grad)

    run = step_fn
    if graph:
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):  # warm up before capture, as the CUDA graph docs ask
            for _ in range(3):
                step_fn()
        torch.cuda.current_stream().wait_stream(side)
        cuda_graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(cuda_graph):
            step_fn()
        run = cuda_graph.replay
        x.copy_(x0)
    for step in range(steps):
        index.copy_(tl.indices(step))
        run()
    return x


def test_static_buffer_step_equals_train_loss_loop() -> None:
    """The graph-ready step (fixed index buffer + `batch_loss`) is the `train_loss` loop."""
    p = small(n_train=96)  # 96 % 16 == 0: every batch has one shape
    seeds, lr = [0, 1, 2], 0.05
    x0 = p.start(3, torch.Generator().manual_seed(0), dtype=F32)
    steps = 2 * p.steps_per_epoch + 1
    _, expected = fresh_sgd(p, x0, seeds, lr, steps)
    got = static_buffer_sgd(p, x0, seeds, lr, steps, graph=False)
    torch.testing.assert_close(got, expected, rtol=1e-6, atol=1e-7)


@pytest.mark.cuda
def test_cuda_graph_step_equals_eager() -> None:
    """Capture minibatch loss + grad + SGD update in a CUDA graph; replay it against eager."""
    device, lr, seeds = torch.device("cuda"), 0.05, [0, 1, 2, 3]
    p = problems.get(
        "mlp-regression:inputs=32,hidden=64,n_train=256,n_test=64,batch=32,execution=batched"
    )
    assert isinstance(p, MLPProblem)
    x0 = p.start(len(seeds), torch.Generator().manual_seed(0), device=device, dtype=F32)
    steps = 2 * p.steps_per_epoch  # n_train % batch == 0: one batch shape, one graph
    tl = p.train_loss(seeds, device, F32)
    eager = x0.clone()
    for step in range(steps):
        xr = eager.detach().requires_grad_()
        (grad,) = torch.autograd.grad(tl(xr, step).sum(), xr)
        eager = eager - lr * grad
    got = static_buffer_sgd(p, x0, seeds, lr, steps, graph=True)
    torch.testing.assert_close(got, eager, rtol=1e-5, atol=1e-6)


@pytest.mark.slow
def test_study_files_load_and_the_small_one_learns(tmp_path: Path) -> None:
    """studies/mlp*.toml parse; a short cut of the small study, through the harness, learns."""
    import bench
    import reports

    root = Path(__file__).resolve().parents[1] / "studies"
    full = bench.Study.from_toml(root / "mlp.toml")
    assert full.epochs == 100 and "sgd:lr=0.01" in full.optimizers
    assert full.problems == ("mlp-regression",)
    study = bench.Study.from_toml(root / "mlp-small.toml")
    assert study.epochs == 100 and "sgd:lr=0.01" in study.optimizers
    short = dataclasses.replace(
        study, optimizers=("sgd:lr=0.01",), epochs=40, seeds=(0, 1), checkpoints=4
    )
    bench.run_study(short, tmp_path / "run", quiet=True)
    df = reports.load(tmp_path / "run")
    last = df[(df.record == "checkpoint") & (df.epoch == 40)]
    assert len(last) == 2
    assert (last.status == "ok").all()
    assert (last.heldout_loss < 0.5 * last.baseline_loss).all(), last.heldout_loss
    assert last.noise_floor.tolist() == pytest.approx([0.01, 0.01])


def test_speed_table_runs() -> None:
    from bench.perf import VARIANTS, mlp_speed_table

    (row,) = mlp_speed_table((8,), seeds=2, batch=4, steps=2, inputs=8, warmup=1, repeats=1)
    assert row["width"] == 8 and row["auto_picks"] == "batched"
    for name in VARIANTS:
        assert row[f"{name}_ms"] > 0
        # the ratio is the speed-up over plain (plain_ms / variant_ms), not its inverse;
        # both are rounded (ms to 3 decimals, ratios to 2), hence the tolerance
        speedup = row["plain_ms"] / row[f"{name}_ms"]
        assert row[f"{name}_ratio"] == pytest.approx(speedup, rel=0.1, abs=0.01), name


@pytest.mark.parametrize("shared_batch", [False, True])
def test_row_by_row_backprop_is_autograds(shared_batch: bool) -> None:
    """The sequential execution's written-out backward (`problems._mlp_rows`) against autograd
    through the same forward, with a batch per row and with one batch for all rows."""
    from problems._mlp_rows import _forward, _row_layers, mse_row_by_row
    from problems.mlp import mse_rows

    p = small(execution="sequential")
    x = p.start(3, torch.Generator().manual_seed(0), dtype=torch.float64) * 1.5
    X = torch.randn(
        3, 16, p.widths[0], dtype=torch.float64, generator=torch.Generator().manual_seed(1)
    )
    y = torch.randn(3, 16, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    if shared_batch:
        X, y = X[0], y[0]
    upstream = torch.tensor([1.0, -0.5, 3.0], dtype=torch.float64)  # not just loss.sum()
    fast = x.clone().requires_grad_()
    loss = mse_row_by_row(fast, p.widths, X, y)
    (grad,) = torch.autograd.grad(loss, fast, upstream)
    plain = x.clone().requires_grad_()
    rows = []
    for r, row in enumerate(plain.unbind(0)):
        h, t = (X, y) if shared_batch else (X[r], y[r])
        rows.append((_forward(_row_layers(row, p.widths), h)[0].squeeze(-1) - t).square().mean())
    (reference,) = torch.autograd.grad(torch.stack(rows), plain, upstream)
    assert torch.equal(loss, torch.stack(rows))
    torch.testing.assert_close(grad, reference, rtol=1e-12, atol=1e-15)
    assert grad.abs().min() < grad.abs().max()  # a real gradient, not zeros
    with torch.no_grad():  # no graph: nothing kept for a backward
        assert torch.equal(mse_rows(x, p.widths, X, y, batched=False), loss.detach())
    assert mse_row_by_row(x[:0], p.widths, X[:0] if not shared_batch else X, y).shape == (0,)
