"""`from_module`: a ``torch.nn.Module`` and a data set as an ML problem, seeds as rows.

A row is one copy of the module's parameters, flattened in ``named_parameters`` order; the
loss of a batch of rows is `torch.func.functional_call` of the module under
`torch.func.vmap`, so every seed's network trains in the same call, as in ``mlp-regression``:

- ``loss(x)`` is each row's loss on the whole training set;
- the training loss of step ``t`` is each row's loss on its own minibatch, in the order a
  ``DataLoader(shuffle=True, generator=torch.Generator().manual_seed(seed))`` gives
  (the same replay as `problems.mlp.MinibatchLoss`);
- ``metrics(x)`` gives the held-out loss (``heldout_loss``);
- the start of seed ``s`` is the module's own initialisation (``reset_parameters`` of every
  submodule that has one) drawn from seed ``s``'s generator, global RNG state left as it was.

Example:
    >>> import torch, problems
    >>> X = torch.randn(64, 3, generator=torch.Generator().manual_seed(0))
    >>> y = X @ torch.tensor([1.0, -2.0, 0.5])
    >>> p = problems.from_module(torch.nn.Linear(3, 1), (X, y), batch=16, name="linear")
    >>> p.dim, p.steps_per_epoch
    (4, 4)
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F  # noqa: N812
from torch import Tensor, nn

from problems._errors import SpecError
from problems._problem import Problem
from problems.mlp import MinibatchLoss

__all__ = ["ModuleMinibatchLoss", "ModuleProblem", "from_module"]

HELDOUT = 0.2
"""The share of `data` held out when no test set is given (its last samples)."""


def _mse(prediction: Tensor, target: Tensor) -> Tensor:
    return F.mse_loss(prediction.reshape(target.shape), target)


class _Rows:
    """Rows <-> the module's parameters, and the batched loss of rows on data."""

    def __init__(self, module: nn.Module, loss: Callable[[Tensor, Tensor], Tensor]) -> None:
        self.module = module
        self.names = [n for n, _ in module.named_parameters()]
        self.shapes = [p.shape for _, p in module.named_parameters()]
        self.sizes = [p.numel() for _, p in module.named_parameters()]
        self.loss = loss
        self.full = torch.func.vmap(self.row_loss, in_dims=(0, None, None))
        self.per_row = torch.func.vmap(self.row_loss, in_dims=(0, 0, 0))

    def params(self, row: Tensor) -> dict[str, Tensor]:
        pieces = row.split(self.sizes)
        return {n: p.view(s) for n, p, s in zip(self.names, pieces, self.shapes)}

    def row_loss(self, row: Tensor, inputs: Tensor, targets: Tensor) -> Tensor:
        prediction = torch.func.functional_call(self.module, self.params(row), (inputs,))
        return self.loss(prediction, targets)

    def flatten(self, module: nn.Module) -> Tensor:
        return torch.cat([p.detach().reshape(-1) for p in module.parameters()])


class _Data:
    """The data on each (device, dtype), built once (float inputs and targets cast)."""

    def __init__(self, train: tuple[Tensor, Tensor], test: tuple[Tensor, Tensor]) -> None:
        self.host = (*train, *test)
        self._cache: dict[tuple[torch.device, torch.dtype], tuple[Tensor, ...]] = {}

    def on(self, device: torch.device, dtype: torch.dtype) -> tuple[Tensor, ...]:
        key = (torch.device(device), dtype)
        if key not in self._cache:
            self._cache[key] = tuple(
                t.to(device=key[0], dtype=dtype if t.is_floating_point() else t.dtype)
                for t in self.host
            )
        return self._cache[key]


class ModuleMinibatchLoss(MinibatchLoss):
    """Each row's loss on its own minibatch at step ``t`` (the DataLoader order of
    `problems.mlp.MinibatchLoss`, whose `order` and `indices` it reuses)."""

    def __init__(
        self,
        rows: _Rows,
        data: _Data,
        row_seeds: Sequence[int],
        *,
        batch: int,
        device: torch.device | str,
        dtype: torch.dtype,
    ) -> None:
        self.rows, self.module_data, self.batch = rows, data, batch
        self.seeds = [int(s) for s in row_seeds]
        self.device, self.dtype = torch.device(device), dtype
        self.n = data.host[0].shape[0]
        self.steps_per_epoch = math.ceil(self.n / batch)
        self._generators: list[torch.Generator] = []
        self._epoch = -1
        self._order = torch.empty(len(self.seeds), 0, dtype=torch.int64)

    def batch_loss(self, x: Tensor, index: Tensor) -> Tensor:
        X, y, _, _ = self.module_data.on(x.device, x.dtype)
        index = index.to(x.device)
        return self.rows.per_row(x, X[index], y[index])

    def __call__(self, x: Tensor, step: int) -> Tensor:
        return self.batch_loss(x, self.indices(step))


def from_module(
    module: nn.Module,
    data: tuple[Tensor, Tensor],
    *,
    loss: Callable[[Tensor, Tensor], Tensor] | None = None,
    test: tuple[Tensor, Tensor] | None = None,
    batch: int = 64,
    name: str = "module",
    source: str = "",
) -> Problem:
    """An ML problem from a module and a data set: seeds as rows, minibatches, held-out loss.

    Args:
        module: the network; its parameters are the rows (buffers are kept as they are, so
            a module that updates buffers in ``forward``, such as batch norm in training
            mode, is not supported).
        data: ``(inputs [n, ...], targets [n, ...])``, the training set.
        loss: ``loss(prediction, targets) -> scalar`` on a batch (default: mean squared error,
            the prediction reshaped to the targets' shape).
        test: the held-out set; default: the last 20% of `data` (the rest trains).
        batch: the minibatch size (``steps_per_epoch = ceil(n_train / batch)``).
        name: the problem's name.
        source: where the task comes from.

    The bounds are a box used only for sampling (random search): each parameter tensor's
    entries lie in ``[-b, b]``, b the largest magnitude of the module's initial values of
    that tensor (1 where they are all zero).

    Raises:
        SpecError: the data are not two tensors with one sample per row each, the module
            has no parameters, or the batch size is not a positive integer.
    """
    inputs, targets = _pair(data, name, "data")
    if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
        msg = f"{name}: batch must be a positive integer, got {batch!r}"
        raise SpecError(msg)
    if test is None:
        cut = inputs.shape[0] - max(1, round(HELDOUT * inputs.shape[0]))
        if cut < 1:
            msg = f"{name}: {inputs.shape[0]} samples are too few to hold some out; give test="
            raise SpecError(msg)
        train, held = (inputs[:cut], targets[:cut]), (inputs[cut:], targets[cut:])
    else:
        train, held = (inputs, targets), _pair(test, name, "test")
    template = copy.deepcopy(module)
    if not list(template.parameters()):
        msg = f"{name}: the module has no parameters to optimise"
        raise SpecError(msg)
    rows = _Rows(template, loss or _mse)
    store = _Data(train, held)
    lower: tuple[float, ...] = ()
    upper: tuple[float, ...] = ()
    for p in template.parameters():
        bound = float(p.detach().abs().max()) or 1.0
        lower += (-bound,) * p.numel()
        upper += (bound,) * p.numel()

    def fn(x: Tensor) -> Tensor:
        X, y, _, _ = store.on(x.device, x.dtype)
        return rows.full(x, X, y)

    def metrics(x: Tensor) -> dict[str, Tensor]:
        _, _, Xt, yt = store.on(x.device, x.dtype)
        with torch.no_grad():
            return {"heldout_loss": rows.full(x, Xt, yt)}

    def stream(
        row_seeds: Sequence[int], device: torch.device, dtype: torch.dtype
    ) -> ModuleMinibatchLoss:
        return ModuleMinibatchLoss(rows, store, row_seeds, batch=batch, device=device, dtype=dtype)

    return ModuleProblem(
        name=name,
        dim=len(lower),
        fn=fn,
        bounds=(lower, upper),
        f_star=None,
        tags=frozenset({"stochastic", "ml"}),
        source=source or f"from_module({type(module).__name__})",
        stream=stream,
        metrics=metrics,
        steps_per_epoch=math.ceil(train[0].shape[0] / batch),
        initialise=_initialiser(template, rows),
    )


def _pair(value: object, name: str, what: str) -> tuple[Tensor, Tensor]:
    if (
        not isinstance(value, (tuple, list))
        or len(value) != 2
        or not all(isinstance(t, Tensor) for t in value)
    ):
        msg = f"{name}: {what} must be (inputs, targets), two tensors"
        raise SpecError(msg)
    inputs, targets = value
    if inputs.ndim == 0 or targets.ndim == 0 or inputs.shape[0] != targets.shape[0]:
        msg = (
            f"{name}: {what} needs one target per input, got {list(inputs.shape)} inputs and "
            f"{list(targets.shape)} targets"
        )
        raise SpecError(msg)
    return inputs.detach(), targets.detach()


def _initialiser(template: nn.Module, rows: _Rows) -> Callable[[torch.Generator | None], Tensor]:
    """One start drawn from `generator`: the module re-initialised from a seed it draws."""
    resettable = [m for m in template.modules() if callable(getattr(m, "reset_parameters", None))]

    def draw(generator: torch.Generator | None) -> Tensor:
        if not resettable:  # nothing to re-initialise: every seed starts at the module's values
            return rows.flatten(template)
        seed = int(torch.randint(0, 2**62, (1,), generator=generator))
        fresh = copy.deepcopy(template)
        with torch.random.fork_rng(devices=[]):  # the caller's global RNG state is restored
            torch.manual_seed(seed)
            for m in fresh.modules():
                reset = getattr(m, "reset_parameters", None)
                if callable(reset):
                    reset()
        return rows.flatten(fresh)

    return draw


@dataclass(frozen=True, eq=False)
class ModuleProblem(Problem):
    """A `Problem` whose default start is the module's initialisation, per seed.

    Attributes:
        initialise: ``generator -> Tensor[d]``, one start drawn from the generator.
    """

    initialise: Callable[[torch.Generator | None], Tensor] | None = field(default=None, repr=False)

    def start(
        self,
        n: int,
        generator: torch.Generator | None = None,
        *,
        device: torch.device | str = "cpu",
        dtype: torch.dtype = torch.float64,
    ) -> Tensor:
        """`n` fresh initialisations of the module, drawn from `generator`."""
        if self.initialise is None:
            return super().start(n, generator, device=device, dtype=dtype)
        rows = [self.initialise(generator) for _ in range(n)]
        return torch.stack(rows).to(device=device, dtype=dtype)
