"""The MLP regression task: train a ReLU network by minibatch gradient descent.

A row is one network's parameters, flattened in ``nn.Sequential`` ``state_dict`` order: for
each layer the weight ``[out, in]`` row-major, then the bias ``[out]``. So a row and the
parameters of ``nn.Sequential(Linear, ReLU, ..., Linear)`` are one reshape apart
(`unflatten`, `flatten_module`, `load_row`).

Data are synthetic and seeded, nothing is downloaded (`MLPData`):

* inputs ``x = z A / sqrt(k)`` with ``z ~ N(0, I_k)`` and a fixed ``A ~ N(0, 1)^{k x inputs}``:
  Gaussian, unit variance per feature, intrinsic dimension ``k = latent`` (default
  ``min(16, inputs)``), so a thousand samples are enough to learn the task;
* targets ``y = t(x) + label_noise * eps`` with ``eps ~ N(0, 1)`` and ``t`` a fixed random
  teacher of the student's own architecture (He-normal weights ``N(0, 2 / fan_in)``, the last
  layer ``N(0, 1 / fan_in)``, zero biases), standardised to mean 0 and variance 1 over all
  samples.

So the held-out loss of the best possible predictor is the noise variance ``label_noise**2``
(`MLPProblem.noise_floor`), and predicting the training-target mean gives
`MLPProblem.baseline_loss` (about ``1 + label_noise**2``). ``f_star`` is None: the training loss
of an overparameterised network can go below the noise floor, and its minimum is unknown.

Two executions of the same math, picked per call by the rule in `batched_for`:

* batched: all rows at once, stacked weights ``[R, out, in]`` and ``torch.baddbmm``;
* sequential: rows one after another with plain ``F.linear``, and backpropagation written
  out so that each row's gradient lands in its place in one ``[R, P]`` buffer
  (`problems._mlp_rows`).

Both are row-separable (row ``i`` of the loss depends only on ``x[i]``), so the gradient of
``loss.sum()`` is every row's own gradient, and both are one call from the harness.

Example:
    >>> import torch, problems
    >>> p = problems.get("mlp-regression:inputs=8,hidden=16,n_train=64,n_test=32,batch=16")
    >>> x = p.start(2, torch.Generator().manual_seed(0), dtype=torch.float32)
    >>> tl = p.train_loss([0, 1], "cpu", torch.float32)
    >>> tl(x, 0).shape, p.steps_per_epoch
    (torch.Size([2]), 4)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from problems._catalogue import register
from problems._errors import SpecError
from problems._mlp_rows import layer_shapes, mse_row_by_row
from problems._problem import Problem

__all__ = [
    "EXECUTIONS",
    "SEQUENTIAL_CPU_WIDTH",
    "MLPData",
    "MLPProblem",
    "MinibatchLoss",
    "batched_for",
    "flatten_module",
    "init_rows",
    "layer_shapes",
    "load_row",
    "mlp_regression",
    "sequential_module",
    "unflatten",
]

EXECUTIONS = ("auto", "batched", "sequential")

SEQUENTIAL_CPU_WIDTH = 512
"""On CPU, ``execution=auto`` runs rows one after another from this hidden width up.

Measured through the harness (`bench.run_rows`, Adam, 8 rows, batch 64, 20 steps, ms per
network-step) on 2 Intel Xeon cores, 2026-12-03: stacked ``baddbmm`` against rows one after
another is 0.25 against 0.52 at width 64, 0.91 against 1.01 at width 256, and 2.98 against
1.85 at width 512 (from there each row's matrix products are large enough to use the cores
on their own, and a row run alone through its steps keeps its network in cache,
`bench._row_blocks`). The 2-core AMD EPYC of earlier runs put the crossing between 256 and
1000 as well (docs/PERFORMANCE.md).
"""

_CHUNK_ELEMENTS = 2**25  # full-data evaluation: rows per chunk keep activations under this


def _sizes(widths: Sequence[int]) -> list[int]:
    return [n for out, inp in layer_shapes(widths) for n in (out * inp, out)]


def unflatten(x: Tensor, widths: Sequence[int]) -> list[tuple[Tensor, Tensor]]:
    """Views of rows ``x: [R, P]`` as layers ``(weight [R, out, in], bias [R, out])``.

    The split is along dim 1, so its backward is one concatenation (no per-row zero fills).
    """
    pieces = x.split(_sizes(widths), dim=1)
    return [
        (pieces[2 * k].view(x.shape[0], out, inp), pieces[2 * k + 1])
        for k, (out, inp) in enumerate(layer_shapes(widths))
    ]


def sequential_module(widths: Sequence[int]) -> nn.Sequential:
    """``nn.Sequential(Linear, ReLU, ..., Linear)`` for `widths`, initialised from global RNG."""
    layers: list[nn.Module] = []
    for k, (out, inp) in enumerate(layer_shapes(widths)):
        if k:
            layers.append(nn.ReLU())
        layers.append(nn.Linear(inp, out))
    return nn.Sequential(*layers)


def flatten_module(module: nn.Module) -> Tensor:
    """The row ``[P]`` of a module's parameters, in ``state_dict`` order."""
    return torch.cat([p.detach().reshape(-1) for p in module.parameters()])


def load_row(module: nn.Module, row: Tensor) -> nn.Module:
    """Copy a row ``[P]`` into a module's parameters (the inverse of `flatten_module`)."""
    torch.nn.utils.vector_to_parameters(row.to(next(module.parameters())), module.parameters())
    return module


def init_rows(widths: Sequence[int], n: int, generator: torch.Generator | None) -> Tensor:
    """``n`` rows initialised as ``nn.Linear`` does, float32 on the CPU, ``[n, P]``.

    Each layer draws ``kaiming_uniform_(weight, a=sqrt(5))``, i.e. ``U(-1/sqrt(fan_in),
    1/sqrt(fan_in))``, then the bias from ``U(-1/sqrt(fan_in), 1/sqrt(fan_in))``, in layer
    order, row after row, from `generator` (torch's own init functions, so the same draws):
    ``init_rows(w, 1, torch.Generator().manual_seed(s))`` equals the parameters of
    ``torch.manual_seed(s); sequential_module(w)``.
    """
    rows = []
    for _ in range(n):
        parts = []
        for out, inp in layer_shapes(widths):
            weight = torch.empty(out, inp)
            nn.init.kaiming_uniform_(weight, a=math.sqrt(5), generator=generator)
            bias = torch.empty(out)
            bound = 1 / math.sqrt(inp)
            nn.init.uniform_(bias, -bound, bound, generator=generator)
            parts += [weight.reshape(-1), bias]
        rows.append(torch.cat(parts))
    return torch.stack(rows) if rows else torch.empty(0, sum(_sizes(widths)))


def batched_for(execution: str, device: torch.device, widths: Sequence[int]) -> bool:
    """The execution rule: True for batched (stacked ``baddbmm``), False for row after row.

    ``execution="batched"`` / ``"sequential"`` force one; ``"auto"`` is batched except on the
    CPU when the widest hidden layer has at least `SEQUENTIAL_CPU_WIDTH` units. On CUDA (and
    MPS) it is always batched: one launch per layer for all rows.
    """
    if execution != "auto":
        return execution == "batched"
    hidden = max(widths[1:-1], default=0)
    return device.type != "cpu" or hidden < SEQUENTIAL_CPU_WIDTH


def _forward_batched(layers: list[tuple[Tensor, Tensor]], h: Tensor) -> Tensor:
    """Rows' predictions ``[R, B]`` for inputs ``h: [R, B, in]``."""
    last = len(layers) - 1
    for k, (weight, bias) in enumerate(layers):
        h = torch.baddbmm(bias.unsqueeze(1), h, weight.transpose(1, 2))
        if k < last:
            h = torch.relu(h)
    return h.squeeze(-1)


def mse_rows(
    x: Tensor, widths: Sequence[int], inputs: Tensor, targets: Tensor, *, batched: bool
) -> Tensor:
    """Each row's mean squared error ``mean_b (net_r(inputs_b) - targets_b)^2``, ``[R]``.

    Args:
        x: rows ``[R, P]``.
        widths: layer widths ``(inputs, hidden..., 1)``.
        inputs: ``[B, in]`` shared by all rows, or ``[R, B, in]`` one batch per row.
        targets: ``[B]`` or ``[R, B]`` to match.
        batched: stacked ``baddbmm`` for all rows, else rows one after another.
    """
    rows = x.shape[0]
    if batched:
        if inputs.ndim == 2:
            inputs, targets = inputs.expand(rows, *inputs.shape), targets.expand(rows, -1)
        return (_forward_batched(unflatten(x, widths), inputs) - targets).square().mean(-1)
    return mse_row_by_row(x, widths, inputs, targets)


class MLPData:
    """The synthetic data set of one problem, generated on first use, cached per (device, dtype).

    Generated in float64 on the CPU from ``torch.Generator().manual_seed(data_seed)``, in this
    order: ``A [latent, inputs]``, ``z [n_train + n_test, latent]``, the teacher's weights layer
    by layer, the label noise. Training samples come first, held-out samples after them.
    Nothing is generated until a loss is evaluated, so building the problem (``bench list``)
    stays cheap.
    """

    def __init__(
        self,
        widths: Sequence[int],
        *,
        latent: int,
        n_train: int,
        n_test: int,
        label_noise: float,
        data_seed: int,
    ) -> None:
        self.widths, self.latent, self.label_noise = tuple(widths), latent, label_noise
        self.n_train, self.n_test, self.data_seed = n_train, n_test, data_seed
        self._float64: tuple[Tensor, Tensor, Tensor, Tensor] | None = None
        self._cache: dict[tuple[torch.device, torch.dtype], tuple[Tensor, ...]] = {}

    def _generate(self) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        g = torch.Generator().manual_seed(self.data_seed)
        f64 = torch.float64
        n = self.n_train + self.n_test
        mixing = torch.randn(self.latent, self.widths[0], generator=g, dtype=f64)
        z = torch.randn(n, self.latent, generator=g, dtype=f64)
        inputs = z @ mixing / math.sqrt(self.latent)
        h = inputs
        shapes = layer_shapes(self.widths)
        for k, (out, inp) in enumerate(shapes):
            gain = 1.0 if k == len(shapes) - 1 else 2.0
            weight = torch.randn(out, inp, generator=g, dtype=f64) * math.sqrt(gain / inp)
            h = h @ weight.T
            if k < len(shapes) - 1:
                h = torch.relu(h)
        clean = h.squeeze(-1)
        clean = (clean - clean.mean()) / clean.std()
        targets = clean + self.label_noise * torch.randn(n, generator=g, dtype=f64)
        m = self.n_train
        return inputs[:m], targets[:m], inputs[m:], targets[m:]

    def float64(self) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """``(X_train, y_train, X_test, y_test)`` in float64 on the CPU, as generated."""
        if self._float64 is None:
            self._float64 = self._generate()
        return self._float64

    def on(self, device: torch.device, dtype: torch.dtype) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """``(X_train, y_train, X_test, y_test)`` on `device` in `dtype` (cached)."""
        key = (torch.device(device), dtype)
        if key not in self._cache:
            self._cache[key] = tuple(
                t.to(device=key[0], dtype=dtype).contiguous() for t in self.float64()
            )
        X, y, Xt, yt = self._cache[key]
        return X, y, Xt, yt

    def baseline_loss(self) -> float:
        """Held-out MSE of predicting the training-target mean."""
        _, y, _, yt = self.float64()
        return float((yt - y.mean()).square().mean())


class MinibatchLoss:
    """``train_loss(x, step) -> [R]``: each row's minibatch MSE at global step `step`.

    Row ``r`` with seed ``s`` sees the batches of ``DataLoader(TensorDataset(X, y),
    batch_size=batch, shuffle=True, generator=torch.Generator().manual_seed(s))``, epoch after
    epoch (``drop_last=False``: the last batch of an epoch may be smaller). A DataLoader draws
    from its generator, per epoch: one int64 base seed when the epoch's iterator is made, then
    ``torch.randperm(n)`` for the order, then a second ``randperm(n)`` (RandomSampler's
    ``num_samples % n`` tail, empty but drawn) when the epoch ends. `order` replays exactly
    that; tests/test_mlp.py checks it against a real DataLoader.

    The epoch's orders ``[R, n]`` are built on the CPU once per epoch and copied to the device
    without a host synchronisation (pinned memory, ``non_blocking``); a step slices them and
    gathers its batch on the device. For CUDA graphs, capture `batch_loss` on a static index
    buffer and refresh it from `indices` before each replay: shapes are fixed (one graph for
    full batches, one for a short last batch), and nothing in `batch_loss` syncs the host.
    """

    def __init__(
        self,
        data: MLPData,
        widths: Sequence[int],
        row_seeds: Sequence[int],
        *,
        batch: int,
        execution: str,
        device: torch.device | str,
        dtype: torch.dtype,
    ) -> None:
        self.data, self.widths, self.batch, self.execution = data, tuple(widths), batch, execution
        self.seeds = [int(s) for s in row_seeds]
        self.device, self.dtype = torch.device(device), dtype
        self.n = data.n_train
        self.steps_per_epoch = math.ceil(self.n / batch)
        self._generators: list[torch.Generator] = []
        self._epoch = -1
        self._order = torch.empty(len(self.seeds), 0, dtype=torch.int64)

    def order(self, epoch: int) -> Tensor:
        """Every row's sample order in `epoch`, ``[R, n]`` on the device (epochs from 0)."""
        if epoch < self._epoch or not self._generators:
            self._generators = [torch.Generator().manual_seed(s) for s in self.seeds]
            self._epoch = -1
        while self._epoch < epoch:
            perms = []
            for g in self._generators:
                torch.empty((), dtype=torch.int64).random_(generator=g)  # iterator's base seed
                perms.append(torch.randperm(self.n, generator=g))
                torch.randperm(self.n, generator=g)  # RandomSampler's empty tail
            self._epoch += 1
            self._order = torch.stack(perms) if perms else self._order
        if self._order.device != self.device:
            order = self._order.pin_memory() if self.device.type == "cuda" else self._order
            self._order = order.to(self.device, non_blocking=True)
        return self._order

    def indices(self, step: int) -> Tensor:
        """Each row's sample indices at global `step`, ``[R, b]`` (a view on the device)."""
        epoch, position = divmod(step, self.steps_per_epoch)
        start = position * self.batch
        return self.order(epoch)[:, start : start + self.batch]

    def batch_loss(self, x: Tensor, index: Tensor) -> Tensor:
        """Each row's MSE on its own samples ``index: [R, b]``; graph-capturable."""
        X, y, _, _ = self.data.on(x.device, x.dtype)
        index = index.to(x.device)
        batched = batched_for(self.execution, x.device, self.widths)
        return mse_rows(x, self.widths, X[index], y[index], batched=batched)

    def __call__(self, x: Tensor, step: int) -> Tensor:
        dim = sum(_sizes(self.widths))
        if x.ndim != 2 or x.shape != (len(self.seeds), dim):
            msg = (
                f"mlp-regression: expected x of shape [{len(self.seeds)}, {dim}] "
                f"(one row per seed), got {list(x.shape)}"
            )
            raise SpecError(msg)
        return self.batch_loss(x, self.indices(step))


@dataclass(frozen=True, eq=False)
class MLPProblem(Problem):
    """A `Problem` whose rows are MLP parameters; `start` is ``nn.Linear``'s default init.

    Attributes:
        widths: layer widths ``(inputs, hidden..., 1)``.
        execution: ``auto``, ``batched`` or ``sequential`` as built (see `batched_for`;
            a record: `fn` and `stream` were built with it).
        batch: minibatch size.
        noise_floor: the best achievable held-out loss, ``label_noise**2``.
        data: the data set (`data_tensors`, `baseline_loss`).
    """

    widths: tuple[int, ...] = ()
    execution: str = "auto"
    batch: int = 1
    noise_floor: float = math.nan
    data: MLPData | None = field(default=None, repr=False)

    @property
    def baseline_loss(self) -> float:
        """Held-out loss of predicting the training-target mean (generates the data)."""
        return math.nan if self.data is None else self.data.baseline_loss()

    def rows_one_by_one(self, device: torch.device) -> bool:
        """True where this execution runs rows one after another on `device` (`batched_for`)."""
        return not batched_for(self.execution, torch.device(device), self.widths)

    def data_tensors(
        self, device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32
    ) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """``(X_train [n, in], y_train [n], X_test, y_test)`` on `device` in `dtype`."""
        if self.data is None:
            msg = f"{self.name}: built without data"
            raise SpecError(msg)
        return self.data.on(torch.device(device), dtype)

    def start(
        self,
        n: int,
        generator: torch.Generator | None = None,
        *,
        device: torch.device | str = "cpu",
        dtype: torch.dtype = torch.float64,
    ) -> Tensor:
        """``n`` networks initialised as ``nn.Linear`` does (float32 draws, see `init_rows`)."""
        return init_rows(self.widths, n, generator).to(device=device, dtype=dtype)


def _positive_int(name: str, value: object, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        msg = f"mlp-regression: {name} must be an integer >= {minimum}, got {value!r}"
        raise SpecError(msg)
    return value


@register("mlp-regression")
def mlp_regression(
    inputs: int = 1000,
    hidden: int = 1000,
    depth: int = 2,
    n_train: int = 1024,
    n_test: int = 1024,
    batch: int = 64,
    label_noise: float = 0.1,
    latent: int | None = None,
    data_seed: int = 0,
    execution: str = "auto",
) -> MLPProblem:
    """MLP regression: ``depth`` hidden ReLU layers of ``hidden`` units, one output, MSE loss.

    ``loss(x)`` is the full training-set MSE ``(1/n) sum_i (net_x(x_i) - y_i)^2``; the training
    loss of step ``t`` is the MSE on that step's minibatch (`MinibatchLoss`), and
    ``metrics(x)`` gives the held-out MSE. The reference setting is plain SGD, lr 0.01, for
    100 epochs (studies/mlp.toml).

    Args:
        inputs: input features.
        hidden: units per hidden layer.
        depth: hidden layers.
        n_train: training samples (``steps_per_epoch = ceil(n_train / batch)``).
        n_test: held-out samples.
        batch: minibatch size.
        label_noise: standard deviation of the Gaussian noise on the targets. (Not ``noise``:
            that name is the catalogue's noisy-evaluation variant for every problem.)
        latent: intrinsic dimension of the inputs (see the module docstring); default
            ``min(16, inputs)``.
        data_seed: seeds the data set and the teacher.
        execution: ``auto``, ``batched`` or ``sequential`` (see `batched_for`).

    The bounds are a box used only for sampling (random search): each parameter of a layer with
    fan-in ``f`` lies in ``[-1/sqrt(f), 1/sqrt(f)]``, the support of the default init.

    Source: the teacher-student regression setting (Gardner & Derrida 1989; Saad & Solla 1995),
    here with ``nn.Linear``'s default initialisation and a ``DataLoader``-exact data order.
    """
    latent = min(16, inputs) if latent is None else latent
    for name, value, low in (
        ("inputs", inputs, 1),
        ("hidden", hidden, 1),
        ("depth", depth, 1),
        ("n_train", n_train, 1),
        ("n_test", n_test, 1),
        ("batch", batch, 1),
        ("latent", latent, 1),
        ("data_seed", data_seed, 0),
    ):
        _positive_int(name, value, low)
    if latent > inputs:
        msg = f"mlp-regression: latent={latent} must be at most inputs={inputs}"
        raise SpecError(msg)
    if (
        isinstance(label_noise, bool)
        or not isinstance(label_noise, (int, float))
        or not (label_noise >= 0)
    ):
        msg = f"mlp-regression: label_noise must be a number >= 0, got {label_noise!r}"
        raise SpecError(msg)
    if execution not in EXECUTIONS:
        msg = f"mlp-regression: execution={execution!r}; allowed: {', '.join(EXECUTIONS)}"
        raise SpecError(msg)

    widths = (inputs, *([hidden] * depth), 1)
    data = MLPData(
        widths,
        latent=latent,
        n_train=n_train,
        n_test=n_test,
        label_noise=float(label_noise),
        data_seed=data_seed,
    )
    lower: tuple[float, ...] = ()
    upper: tuple[float, ...] = ()
    for out, inp in layer_shapes(widths):
        lower += (-1 / math.sqrt(inp),) * (out * inp + out)
        upper += (1 / math.sqrt(inp),) * (out * inp + out)

    def chunked(x: Tensor, inputs_: Tensor, targets: Tensor) -> Tensor:
        batched = batched_for(execution, x.device, widths)
        step = max(1, _CHUNK_ELEMENTS // (inputs_.shape[0] * max(widths))) if batched else 1
        if x.shape[0] <= step:
            return mse_rows(x, widths, inputs_, targets, batched=batched)
        return torch.cat(
            [mse_rows(part, widths, inputs_, targets, batched=batched) for part in x.split(step)]
        )

    def fn(x: Tensor) -> Tensor:
        X, y, _, _ = data.on(x.device, x.dtype)
        return chunked(x, X, y)

    def metrics(x: Tensor) -> dict[str, Tensor]:
        _, _, Xt, yt = data.on(x.device, x.dtype)
        with torch.no_grad():
            return {"heldout_loss": chunked(x, Xt, yt)}

    def stream(row_seeds: Sequence[int], device: torch.device, dtype: torch.dtype) -> MinibatchLoss:
        return MinibatchLoss(
            data, widths, row_seeds, batch=batch, execution=execution, device=device, dtype=dtype
        )

    return MLPProblem(
        name="mlp-regression",
        dim=len(lower),
        fn=fn,
        bounds=(lower, upper),
        f_star=None,
        tags=frozenset({"stochastic", "ml"}),
        source="teacher-student MLP regression, synthetic seeded data (problems/mlp.py)",
        stream=stream,
        metrics=metrics,
        steps_per_epoch=math.ceil(n_train / batch),
        widths=widths,
        execution=execution,
        batch=batch,
        noise_floor=float(label_noise) ** 2,
        data=data,
    )
