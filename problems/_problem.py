"""The `Problem` type: a batched loss landscape over a box.

Every run is a row: ``loss(x)`` scores a batch ``x: Tensor[R, d]`` and returns ``Tensor[R]``.
Row ``i`` of the result depends only on row ``i`` of the input, so the gradient of
``loss(x).sum()`` with respect to ``x`` is every row's own gradient.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace

import torch
from torch import Tensor

from problems._errors import SpecError
from problems._spec import Spec

__all__ = ["TAGS", "Problem", "TrainLoss"]

TAGS = frozenset(
    {
        "convex",
        "separable",
        "multimodal",
        "ill-conditioned",
        "valley",
        "plateau",
        "stochastic",
        "ml",
    }
)

TrainLoss = Callable[[Tensor, int], Tensor]
"""``train_loss(x, step) -> Tensor[R]``: the loss whose gradient drives step `step`."""


@dataclass(frozen=True, eq=False)
class Problem:
    """A loss landscape ``f: R^d -> R`` evaluated on a batch of rows.

    Attributes:
        name: kebab-case registry name (``"rosenbrock"``).
        dim: the dimension d.
        fn: the batched objective ``Tensor[R, d] -> Tensor[R]``.
        bounds: the box of the domain, ``(lower, upper)``, each a tuple of d floats.
        f_star: the global minimum value, or None where it is unknown.
        x_star: every known global minimiser (possibly none).
        tags: a subset of `TAGS`.
        source: where the definition and optimum come from.
        x0: the literature's fixed start, or None to start uniformly in the bounds.
        options: the factory options that built it (for the spec string).
        stream: for stochastic problems, ``stream(row_seeds, device, dtype) -> TrainLoss``;
            None means the training loss is `fn` itself.
        metrics: extra per-row quantities recorded at checkpoints
            (``x -> {"heldout_loss": Tensor[R]}``); None for none.
        steps_per_epoch: minibatch steps per pass over the data (stochastic ML problems).
    """

    name: str
    dim: int
    fn: Callable[[Tensor], Tensor]
    bounds: tuple[tuple[float, ...], tuple[float, ...]]
    f_star: float | None = None
    x_star: tuple[tuple[float, ...], ...] = ()
    tags: frozenset[str] = frozenset()
    source: str = ""
    x0: tuple[float, ...] | None = None
    options: Mapping[str, object] = field(default_factory=dict)
    stream: Callable[[Sequence[int], torch.device, torch.dtype], TrainLoss] | None = None
    metrics: Callable[[Tensor], dict[str, Tensor]] | None = None
    steps_per_epoch: int | None = None
    _boxes: dict[tuple[torch.device, torch.dtype], tuple[Tensor, Tensor]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        lower, upper = self.bounds
        if len(lower) != self.dim or len(upper) != self.dim:
            msg = f"{self.name}: bounds have {len(lower)}/{len(upper)} entries, dim is {self.dim}"
            raise SpecError(msg)
        if any(map(operator.gt, lower, upper)):
            i = next(i for i, (lo, hi) in enumerate(zip(lower, upper)) if lo > hi)
            msg = (
                f"{self.name}: reversed bounds in coordinate {i}: "
                f"lower {lower[i]} > upper {upper[i]}"
            )
            raise SpecError(msg)
        if bad := set(self.tags) - TAGS:
            msg = f"{self.name}: unknown tags {sorted(bad)}; allowed: {sorted(TAGS)}"
            raise SpecError(msg)
        for point in self.x_star + ((self.x0,) if self.x0 is not None else ()):
            if len(point) != self.dim:
                msg = f"{self.name}: point {point} has {len(point)} entries, dim is {self.dim}"
                raise SpecError(msg)

    @property
    def spec(self) -> str:
        """The spec string that rebuilds this problem (``rastrigin:dim=10``)."""
        return str(Spec(self.name, dict(self.options)))

    def loss(self, x: Tensor) -> Tensor:
        """Score a batch: ``Tensor[R, d] -> Tensor[R]``."""
        if x.ndim != 2 or x.shape[1] != self.dim:
            msg = f"{self.name}: expected x of shape [R, {self.dim}], got {list(x.shape)}"
            raise SpecError(msg)
        return self.fn(x)

    def box(
        self, device: torch.device | str = "cpu", dtype: torch.dtype = torch.float64
    ) -> tuple[Tensor, Tensor]:
        """The bounds as two tensors of shape ``[d]``: device constants, built once.

        The pair is cached per (device, dtype), so a step that samples the domain
        (`optimizers.Context.sample`) makes no tensor from the tuples again (for
        ``mlp-regression`` they hold two million floats each). Callers must not write to
        them. The cache is not a field of the dataclass: equality, ``repr`` and `with_`
        (``dataclasses.replace``, which starts an empty cache) ignore it.
        """
        key = (torch.device(device), dtype)
        cached = self._boxes.get(key)
        if cached is None:
            lower, upper = self.bounds
            cached = (
                torch.tensor(lower, device=key[0], dtype=dtype),
                torch.tensor(upper, device=key[0], dtype=dtype),
            )
            self._boxes[key] = cached
        return cached

    def sample(
        self,
        n: int,
        generator: torch.Generator | None = None,
        *,
        device: torch.device | str = "cpu",
        dtype: torch.dtype = torch.float64,
    ) -> Tensor:
        """``n`` points uniform in the bounds, ``Tensor[n, d]``, drawn from `generator`.

        The generator lives on the CPU so that a seed gives the same points on every device.
        """
        lower, upper = self.box("cpu", torch.float64)
        u = torch.rand(n, self.dim, generator=generator, dtype=torch.float64)
        return (lower + u * (upper - lower)).to(device=device, dtype=dtype)

    def start(
        self,
        n: int,
        generator: torch.Generator | None = None,
        *,
        device: torch.device | str = "cpu",
        dtype: torch.dtype = torch.float64,
    ) -> Tensor:
        """The default start: the literature's `x0` repeated, else `sample`."""
        if self.x0 is None:
            return self.sample(n, generator, device=device, dtype=dtype)
        return torch.tensor(self.x0, device=device, dtype=dtype).expand(n, self.dim).clone()

    def train_loss(
        self, row_seeds: Sequence[int], device: torch.device | str, dtype: torch.dtype
    ) -> TrainLoss:
        """The loss that drives optimisation for rows seeded by `row_seeds`.

        Deterministic problems return ``lambda x, step: loss(x)``; stochastic ones a
        minibatch or noisy loss drawn from per-row generators.
        """
        if self.stream is None:
            return lambda x, step: self.fn(x)
        return self.stream(row_seeds, torch.device(device), dtype)

    def rows_one_by_one(self, device: torch.device) -> bool:
        """Whether `fn` and `train_loss` evaluate rows one after another on `device`, nothing
        batched across rows: the harness may then run each row through all its steps before
        the next (`bench.run_rows`). False here; the MLP is True where it runs its rows
        sequentially (`problems.mlp.batched_for`)."""
        return False

    def with_(self, **changes: object) -> Problem:
        """A copy with some fields changed (used by instances and variants)."""
        return replace(self, **changes)  # type: ignore[arg-type]
