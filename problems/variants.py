"""Instances (seeded shift and rotation) and noisy variants, composable with every problem.

Every problem understands these options in `problems.get`:

- ``instance=<seed>``: a seeded shift and rotation, as COCO/BBOB instances do:
  ``f'(x) = f(Q (x - s))``. The minimisers move to ``x' = s + Q^T x*``, ``f_star`` is unchanged
  and the bounds stay the same. ``shift=false`` or ``rotate=false`` keeps only the other part.
- ``noise=<sigma>`` with ``noise_kind=additive|multiplicative``: seeded Gaussian noise on the
  training loss (``f + sigma z`` or ``f (1 + sigma z)``), tagged ``stochastic``. The clean
  `Problem.loss` is unchanged, so ``f_star`` keeps its meaning.

Example:
    >>> import problems, torch
    >>> p = problems.get("rastrigin:dim=3,instance=7,noise=0.1")
    >>> p.spec
    'rastrigin:dim=3,instance=7,noise=0.1'
    >>> x_star = torch.tensor(p.x_star, dtype=torch.float64)
    >>> abs(p.loss(x_star).item() - p.f_star) < 1e-9
    True
    >>> sorted(p.tags)
    ['multimodal', 'stochastic']
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence

import torch
from torch import Tensor

from problems._errors import SpecError
from problems._problem import Problem, TrainLoss
from problems.dims import Constant

__all__ = [
    "MAX_ROTATION_DIM",
    "NOISE_KINDS",
    "VARIANT_KEYS",
    "apply_variants",
    "box_defined",
    "boxed",
    "gaussian",
    "instance",
    "is_box_defined",
    "noisy",
    "random_rotation",
    "row_keys",
    "shift_only",
    "split_variant_options",
]

VARIANT_KEYS = ("instance", "shift", "rotate", "noise", "noise_kind")
NOISE_KINDS = ("additive", "multiplicative")

_BOX_DEFINED: set[str] = set()
_SHIFT_ONLY: set[str] = set()
_DYADIC = 2.0**20
MAX_ROTATION_DIM = 1024
"""Instances rotate problems up to this dimension (a d x d matrix); beyond, pass rotate=false."""
_ROTATION_TRIES = 8
_EDGE = 0.1  # instances keep the minimisers off the outer tenth of the feasible shifts


# --------------------------------------------------------------------------------- registry


def box_defined(name: str) -> str:
    """Mark `name` as a landscape whose ``f_star`` holds on its box only; return the name.

    Schwefel, Eggholder, Holder table and friends go lower outside their box, and periodic
    ones (Shubert, Branin, Alpine N.1) repeat their minimisers there. They evaluate
    ``f(clip(y)) + |y - clip(y)|^2`` (the boundary penalty of COCO/BBOB), with ``y = x`` for
    the problem itself and ``y = Q (x - s)`` for its instances, so an optimizer that leaves
    the box never beats ``f_star`` there and the minimisers are exactly the listed ones.
    Use it inside the decorator: ``@register(box_defined("schwefel"))``.
    """
    _BOX_DEFINED.add(name)
    return name


def is_box_defined(name: str) -> bool:
    """Whether `name` was marked with `box_defined`."""
    return name in _BOX_DEFINED


def shift_only(name: str) -> str:
    """Mark `name` as a landscape whose instances shift but never rotate; return the name.

    For landscapes that are not Lipschitz at their minimiser (Bukin N.6 has a square root
    there): the rounding of a rotation (~1e-16) would move ``f(x*)`` by ~1e-6. Shifts are
    dyadic (multiples of 2^-20), so ``x* + s - s`` is exact. Use it inside the decorator:
    ``@register(shift_only("bukin-n6"))``.
    """
    _SHIFT_ONLY.add(name)
    return name


# --------------------------------------------------------------------------------- options


def split_variant_options(
    options: Mapping[str, object],
) -> tuple[dict[str, object], dict[str, object]]:
    """Separate the variant keys (`VARIANT_KEYS`) from a problem's own options."""
    base = {k: v for k, v in options.items() if k not in VARIANT_KEYS}
    variant = {k: v for k, v in options.items() if k in VARIANT_KEYS}
    return base, variant


def apply_variants(problem: Problem, options: Mapping[str, object]) -> Problem:
    """Apply the variant options: the instance first, then the noise.

    Raises:
        SpecError: a variant option has a bad value or is given without the option it needs.
    """
    has_instance = "instance" in options
    if not has_instance and ("shift" in options or "rotate" in options):
        msg = f"{problem.name}: shift=/rotate= need instance=<seed> to draw the transformation"
        raise SpecError(msg)
    if "noise_kind" in options and "noise" not in options:
        msg = f"{problem.name}: noise_kind= needs noise=<sigma>"
        raise SpecError(msg)
    if not has_instance and is_box_defined(problem.name):
        problem = boxed(problem)
    if has_instance:
        problem = instance(
            problem,
            options["instance"],  # type: ignore[arg-type]
            shift=_flag(problem.name, "shift", options.get("shift", True)),
            rotate=_flag(problem.name, "rotate", options.get("rotate", True)),
        )
    if "noise" in options:
        kind = options.get("noise_kind", "additive")
        problem = noisy(problem, options["noise"], kind=kind)  # type: ignore[arg-type]
    return problem


def boxed(problem: Problem) -> Problem:
    """`problem` with the boundary penalty of `box_defined` outside its bounds, unmoved."""
    lower, upper = problem.box()
    identity = _Transform(None, torch.zeros_like(lower), lower, upper, penalty=True)
    return problem.with_(fn=identity.wrap(problem.fn))


def _flag(name: str, key: str, value: object) -> bool:
    if not isinstance(value, bool):
        msg = f"{name}: {key} must be true or false, got {value!r}"
        raise SpecError(msg)
    return value


# --------------------------------------------------------------------------------- instances


def random_rotation(dim: int, generator: torch.Generator) -> Tensor:
    """A Haar-random orthogonal ``[dim, dim]`` float64 matrix drawn from `generator`.

    QR of a Gaussian matrix with the signs of R's diagonal folded into Q (Mezzadri 2007).
    """
    gauss = torch.randn(dim, dim, generator=generator, dtype=torch.float64)
    q, r = torch.linalg.qr(gauss)
    signs = torch.sign(torch.diagonal(r))
    signs[signs == 0] = 1.0
    return q * signs


def instance(problem: Problem, seed: int, *, shift: bool = True, rotate: bool = True) -> Problem:
    """The seeded instance ``f'(x) = f(Q (x - s))`` of `problem`.

    ``Q`` is a Haar-random rotation and ``s`` a shift, both drawn from `seed` and the
    problem's spec, so the same seed gives different instances of different problems. The
    shift is dyadic (a multiple of 2^-20) and chosen so that every transformed minimiser
    ``s + Q^T x*`` lies inside the bounds, away from their edges where there is room. When no
    drawn rotation fits the minimisers inside the box the instance is shift-only (and with
    ``shift=false``, the identity).
    Box-defined landscapes (`box_defined`) get the boundary penalty described there;
    `shift_only` landscapes are never rotated.

    Args:
        problem: the problem to transform.
        seed: the instance number, an integer >= 0.
        shift: draw a shift (else ``s = 0``).
        rotate: draw a rotation (else ``Q = I``).

    Raises:
        SpecError: `seed` is not a non-negative integer or both parts are switched off.
    """
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        msg = f"{problem.name}: instance must be an integer >= 0, got {seed!r}"
        raise SpecError(msg)
    if not (shift or rotate):
        msg = f"{problem.name}: instance={seed} with shift=false and rotate=false changes nothing"
        raise SpecError(msg)
    if rotate and problem.dim > MAX_ROTATION_DIM:
        msg = (
            f"{problem.name}: instance rotation needs dim <= {MAX_ROTATION_DIM} "
            f"(a d x d matrix), got dim={problem.dim}; pass rotate=false for a shift only"
        )
        raise SpecError(msg)
    digest = hashlib.sha256(f"{problem.name}:{problem.dim}#{seed}".encode()).digest()
    generator = torch.Generator().manual_seed(int.from_bytes(digest[:8], "little"))
    lower, upper = problem.box()
    minimisers = torch.tensor(problem.x_star, dtype=torch.float64).reshape(-1, problem.dim)
    q = None
    if rotate and problem.name not in _SHIFT_ONLY:
        q = _fitting_rotation(minimisers, lower, upper, generator, shift=shift)
    rotation = torch.eye(problem.dim, dtype=torch.float64) if q is None else q
    moved = minimisers @ rotation  # rows are Q^T x*
    s = _shift(moved, lower, upper, generator) if shift else torch.zeros(problem.dim).double()
    transform = _Transform(q, s, lower, upper, penalty=is_box_defined(problem.name))

    def image(point: Sequence[float]) -> tuple[float, ...]:
        return tuple((s + torch.tensor(point, dtype=torch.float64) @ rotation).tolist())

    options = {**problem.options, "instance": seed}
    if not shift:
        options["shift"] = False
    if not rotate:
        options["rotate"] = False
    tags = problem.tags - {"separable"} if q is not None else problem.tags
    return problem.with_(
        fn=transform.wrap(problem.fn),
        x_star=tuple(map(tuple, torch.clamp(s + moved, lower, upper).tolist())),
        x0=None if problem.x0 is None else image(problem.x0),
        tags=tags,
        options=options,
        stream=_wrap_stream(problem.stream, transform),
        metrics=_wrap_metrics(problem.metrics, transform),
    )


def _fitting_rotation(
    minimisers: Tensor, lower: Tensor, upper: Tensor, generator: torch.Generator, *, shift: bool
) -> Tensor | None:
    """A drawn rotation under which the minimisers still fit in the box, or None.

    With a shift to follow, the rotated minimisers must fit in the box's extent; without,
    they must lie inside the box as they are.
    """
    for _ in range(_ROTATION_TRIES):
        q = random_rotation(minimisers.shape[1], generator)
        moved = minimisers @ q
        if len(moved) == 0:
            return q
        if shift:
            fits = (moved.amax(0) - moved.amin(0)) <= (upper - lower)
        else:
            fits = (moved.amin(0) >= lower) & (moved.amax(0) <= upper)
        if bool(fits.all()):
            return q
    return None


def _shift(moved: Tensor, lower: Tensor, upper: Tensor, generator: torch.Generator) -> Tensor:
    """A shift ``s`` with every row of ``s + moved`` inside ``[lower, upper]``."""
    u = torch.rand(moved.shape[1], generator=generator, dtype=torch.float64)
    if len(moved) == 0:  # minimisers unknown: a modest shift, a fifth of the box at most
        return (u - 0.5) * 0.2 * (upper - lower)
    lo = lower - moved.amin(0)
    hi = torch.maximum(upper - moved.amax(0), lo)
    s = lo + (_EDGE + (1 - 2 * _EDGE) * u) * (hi - lo)
    return torch.clamp(torch.round(s * _DYADIC) / _DYADIC, lo, hi)


class _Transform:
    """``x -> y = Q (x - s)``, optionally with the box penalty of `box_defined` landscapes."""

    def __init__(
        self, q: Tensor | None, s: Tensor, lower: Tensor, upper: Tensor, *, penalty: bool
    ) -> None:
        self.q = None if q is None else Constant(q)
        self.s = Constant(s)
        self.lower, self.upper = Constant(lower), Constant(upper)
        self.penalty = penalty

    def __call__(self, x: Tensor) -> Tensor:
        y = x - self.s.like(x)
        return y if self.q is None else y @ self.q.like(x).T

    def wrap(self, fn: Callable[[Tensor], Tensor]) -> Callable[[Tensor], Tensor]:
        if not self.penalty:
            return lambda x: fn(self(x))

        def penalised(x: Tensor) -> Tensor:
            y = self(x)
            inside = torch.clamp(y, self.lower.like(y), self.upper.like(y))
            return fn(inside) + ((y - inside) ** 2).sum(-1)

        return penalised


def _wrap_metrics(
    metrics: Callable[[Tensor], dict[str, Tensor]] | None, transform: _Transform
) -> Callable[[Tensor], dict[str, Tensor]] | None:
    if metrics is None:
        return None
    return lambda x: metrics(transform(x))


def _wrap_stream(
    stream: Callable[[Sequence[int], torch.device, torch.dtype], TrainLoss] | None,
    transform: _Transform,
) -> Callable[[Sequence[int], torch.device, torch.dtype], TrainLoss] | None:
    if stream is None:
        return None

    def transformed(row_seeds: Sequence[int], device: torch.device, dtype: torch.dtype):
        inner = stream(row_seeds, device, dtype)
        if not transform.penalty:
            return lambda x, step: inner(transform(x), step)
        return lambda x, step: transform.wrap(lambda y: inner(y, step))(x)

    return transformed


# --------------------------------------------------------------------------------- noise


def noisy(problem: Problem, sigma: float, *, kind: str = "additive") -> Problem:
    """`problem` with seeded Gaussian noise on its training loss; tagged ``stochastic``.

    ``additive``: ``f(x) + sigma z``; ``multiplicative``: ``f(x) (1 + sigma z)``, with
    ``z ~ N(0, 1)`` drawn per row and per step from the row's seed by a counter-based hash,
    so a row's noise depends only on its seed and the step (not on the batch it runs in)
    and costs no host synchronisation. Multiplicative noise flips the sign of the loss where
    ``1 + sigma z < 0`` (rare for sigma < 0.3). Additive noise does not change the gradient; it
    perturbs only what loss-based methods (random search, restarts) see. `Problem.loss`
    stays the clean function.

    Raises:
        SpecError: `sigma` is negative or not a number, or `kind` is unknown.
    """
    if isinstance(sigma, bool) or not isinstance(sigma, int | float) or not sigma >= 0:
        msg = f"{problem.name}: noise must be a number >= 0, got {sigma!r}"
        raise SpecError(msg)
    if kind not in NOISE_KINDS:
        msg = f"{problem.name}: noise_kind must be one of {', '.join(NOISE_KINDS)}, got {kind!r}"
        raise SpecError(msg)
    scale = float(sigma)

    def stream(row_seeds: Sequence[int], device: torch.device, dtype: torch.dtype) -> TrainLoss:
        inner = problem.train_loss(row_seeds, device, dtype)
        keys = row_keys(row_seeds, device)

        def train_loss(x: Tensor, step: int) -> Tensor:
            z = gaussian(keys, step, x.dtype)
            value = inner(x, step)
            if kind == "additive":
                return value + scale * z
            return value * (1 + scale * z)

        return train_loss

    options = {**problem.options, "noise": sigma}
    if kind != "additive":
        options["noise_kind"] = kind
    return problem.with_(stream=stream, tags=problem.tags | {"stochastic"}, options=options)


_M32 = 0xFFFFFFFF
_GOLDEN = 0x9E3779B9


def _mix(h: Tensor) -> Tensor:
    """A 32-bit integer hash (a bijection on ``[0, 2^32)``), on int64 tensors."""
    h = ((h >> 16) ^ h) * 0x45D9F3B & _M32
    h = ((h >> 16) ^ h) * 0x45D9F3B & _M32
    return (h >> 16) ^ h


def row_keys(row_seeds: Sequence[int], device: torch.device | str) -> Tensor:
    """Each row's seed folded to 32 bits and hashed, an int64 tensor ``[R]`` on `device`."""
    seeds = torch.as_tensor(list(row_seeds), dtype=torch.int64)
    return _mix(seeds & _M32 ^ (seeds >> 32) & _M32).to(device)


def gaussian(keys: Tensor, step: int, dtype: torch.dtype) -> Tensor:
    """Standard normal draws ``[R]``, a pure function of the row keys and the step."""
    base = _mix(keys ^ (step * _GOLDEN & _M32))
    work = torch.float64 if dtype == torch.float64 else torch.float32
    u1 = (_mix(base ^ 0x68E31DA4).to(work) + 0.5) / 2.0**32
    u2 = (_mix(base ^ 0xB5297A4D).to(work) + 0.5) / 2.0**32
    z = torch.sqrt(-2 * torch.log(u1)) * torch.cos(2 * torch.pi * u2)
    return z.to(dtype)
