"""The batched optimizer spec: ``init(x) -> state`` and ``step(x, grad, state, hp) -> (x, state)``.

Every run is a row: ``x`` and ``grad`` are ``Tensor[R, d]``, the state is a dict of tensors
whose leading dimension is R, and each hyperparameter is a float or a tensor broadcastable to
``[R, 1]`` (so a learning-rate sweep is just more rows).

Rules every step follows (the harness calls it in a tight loop):

- no host synchronisation: no ``.item()``, ``.cpu()`` or Python branch on a tensor value;
  Python branches on plain-float hyperparameters (``weight_decay == 0``) are fine;
- out of place: the caller's ``x``, ``grad`` and state tensors are never written;
- torch.optim's numbers: each core optimizer rounds as torch's single-tensor loop does
  (``add_scaled`` is ``Tensor.add(alpha=)``), so float64 runs usually match torch.optim bit
  for bit; the parity tests hold every entry to 1e-10 (float64) and 1e-5 (float32);
- the step counter ``step`` is a per-row ``[R, 1]`` tensor (`step_counter`), so a wrapper can
  reset single rows with ``torch.where`` (a fresh ``init`` blended in).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import torch
from torch import Tensor

from problems import Spec, SpecError

__all__ = ["HP", "Config", "Optimizer", "Range", "Rule", "State", "as_rows", "step_counter"]

State = dict[str, Tensor]
HP = Mapping[str, float | Tensor]


@dataclass(frozen=True)
class Range:
    """An Optuna search range for one hyperparameter (``suggest_float(name, low, high, log=)``)."""

    low: float
    high: float
    log: bool = False


@dataclass(frozen=True)
class Rule:
    """An allowed interval for a hyperparameter, as text for messages: ``[0, 1)``.

    With `values`, only those numbers are allowed (a 0/1 flag reads ``{0, 1}``).
    """

    low: float
    high: float = math.inf
    low_open: bool = False
    high_open: bool = True
    values: tuple[float, ...] | None = None

    def admits(self, v: float) -> bool:
        if self.values is not None:
            return v in self.values
        above = v > self.low if self.low_open else v >= self.low
        below = v < self.high if self.high_open else v <= self.high
        return above and below

    def __str__(self) -> str:
        if self.values is not None:
            return "{" + ", ".join(f"{v:g}" for v in self.values) + "}"
        lo = "(" if self.low_open else "["
        hi = ")" if self.high_open else "]"
        return f"{lo}{self.low:g}, {self.high:g}{hi}"


POSITIVE = Rule(0.0, low_open=True)  # (0, inf)
NONNEGATIVE = Rule(0.0)  # [0, inf)
UNIT = Rule(0.0, 1.0)  # [0, 1)
OPEN_UNIT = Rule(0.0, 1.0, low_open=True)  # (0, 1)
CLOSED_UNIT = Rule(0.0, 1.0, high_open=False)  # [0, 1]
FLAG = Rule(0.0, 1.0, high_open=False, values=(0.0, 1.0))  # {0, 1}; true/false accepted


@dataclass(frozen=True)
class Optimizer:
    """A batched optimizer, registered by name.

    Attributes:
        name: kebab-case name (``"adam"``).
        init: ``x -> state``.
        step: ``(x, grad, state, hp) -> (x, state)``; must not mutate ``x`` or ``grad`` nor
            synchronise with the host. The state is the optimizer's own: it may be updated
            in place (as torch.optim does), so callers use the state the step returns.
        defaults: every hyperparameter with its default value.
        rules: allowed interval per hyperparameter (checked at `configure`).
        space: Optuna search ranges (at least ``lr``).
        elementwise: True when rows update independently and the whole batch runs at once;
            False when the update couples coordinates of a row (L-BFGS, global norms), in
            which case it runs row by row.
        uses_grad: False for derivative-free methods.
        summary: one line for listings: the update rule and its source.
    """

    name: str
    init: Callable[[Tensor], State]
    step: Callable[[Tensor, Tensor, State, HP], tuple[Tensor, State]]
    defaults: Mapping[str, float]
    rules: Mapping[str, Rule] = field(default_factory=dict)
    space: Mapping[str, Range] = field(default_factory=dict)
    elementwise: bool = True
    uses_grad: bool = True
    summary: str = ""

    def configure(self, **hp: float | Tensor) -> Config:
        """Validate hyperparameters (unknown names, ranges, NaN) and fill in the defaults.

        A tensor value is checked element by element (one value per row). A flag (rule
        `FLAG`) also takes ``true``/``false``, stored as 1.0/0.0.
        """
        hp = {
            k: float(v) if isinstance(v, bool) and self.rules.get(k) is FLAG else v
            for k, v in hp.items()
        }
        for key, value in hp.items():
            if key not in self.defaults:
                allowed = ", ".join(self.defaults) or "none"
                msg = f"{self.name}: unknown hyperparameter {key!r}; allowed: {allowed}"
                raise SpecError(msg)
            rule = self.rules.get(key)
            values = value.flatten().tolist() if isinstance(value, Tensor) else [value]
            for v in values:
                if isinstance(v, bool) or not isinstance(v, (int, float)):
                    msg = f"{self.name}: {key} must be a number, got {v!r}"
                    raise SpecError(msg)
                if math.isnan(v) or (rule is not None and not rule.admits(float(v))):
                    allowed = f"; allowed: {rule}" if rule is not None else ""
                    msg = f"{self.name}: invalid {key} {v!r}{allowed}"
                    raise SpecError(msg)
        return Config(self, {**self.defaults, **hp})


@dataclass(frozen=True, eq=False)
class Config:
    """An optimizer with validated hyperparameters: what a study cell runs."""

    optimizer: Optimizer
    hp: Mapping[str, float | Tensor]

    @property
    def label(self) -> str:
        """Spec string of the changed hyperparameters: ``adam:lr=0.01``."""
        changed = {
            k: v
            for k, v in self.hp.items()
            if not isinstance(v, Tensor) and v != self.optimizer.defaults[k]
        }
        return str(Spec(self.optimizer.name, changed))

    def to(self, like: Tensor, *, scalars: bool = False) -> Config:
        """The same config with per-row (tensor) hyperparameters on `like`'s device and dtype.

        Call it once before the step loop, so that `as_rows` inside the step copies nothing.
        With ``scalars=True`` plain numbers become 0-d tensors there too (a compiled step's
        inputs rather than its constants), except flags (rule `FLAG`), which pick code paths.
        """
        hp = {
            k: v.to(device=like.device, dtype=like.dtype)
            if isinstance(v, Tensor)
            else torch.tensor(float(v), device=like.device, dtype=like.dtype)
            if scalars and self.optimizer.rules.get(k) is not FLAG
            else v
            for k, v in self.hp.items()
        }
        return Config(self.optimizer, hp)

    def init(self, x: Tensor) -> State:
        return self.optimizer.init(x)

    def step(self, x: Tensor, grad: Tensor, state: State) -> tuple[Tensor, State]:
        return self.optimizer.step(x, grad, state, self.hp)


def as_rows(value: float | Tensor, like: Tensor) -> float | Tensor:
    """A hyperparameter ready to broadcast against ``like: [R, d]`` (tensors become ``[R, 1]``)."""
    if isinstance(value, Tensor):
        return value.to(device=like.device, dtype=like.dtype).reshape(-1, 1)
    return value


def is_zero(value: float | Tensor) -> bool:
    """True for a plain number equal to 0 (a tensor is never treated as zero: no host sync)."""
    return not isinstance(value, Tensor) and value == 0


def zeros_like_rows(x: Tensor) -> Tensor:
    return torch.zeros_like(x)


def step_counter(x: Tensor) -> Tensor:
    """A per-row step counter ``[R, 1]`` of zeros on x's device, as torch's ``state["step"]``.

    Per-row so that a wrapper may reset single rows with ``torch.where``; bias corrections are
    computed from it with tensor ops, never on the host. Its dtype is x's, but at least
    float32 (a 16-bit float cannot count past 256 or 2048).
    """
    dtype = x.dtype if x.dtype in (torch.float32, torch.float64) else torch.float32
    return torch.zeros(x.shape[0], 1, dtype=dtype, device=x.device)


def add_scaled(y: Tensor, a: float | Tensor, x: Tensor) -> Tensor:
    """``y + a * x`` rounded as torch's ``y.add(x, alpha=a)`` (one fused multiply-add).

    A per-row ``a`` (``[R, 1]``) goes through ``torch.addcmul``, which rounds the same way,
    so batched runs reproduce torch.optim's per-parameter loops bit for bit where possible.
    """
    if isinstance(a, Tensor):
        return torch.addcmul(y, a, x)
    return torch.add(y, x, alpha=a)


def over_second(op: Callable[..., Tensor], a: Tensor, b: Tensor) -> Tensor:
    """``op(a, b)`` (an elementwise ``torch`` function: ``torch.div``, ``torch.sub``), written
    over `b` where that saves an allocation.

    Eagerly the result goes into `b` (``out=b``), which must be a temporary of the step: at R
    networks of a million parameters each, a fresh ``[R, P]`` tensor per step is a pass over
    new memory, and glibc may unmap and re-fault it every step. Under `torch.compile`, which
    fuses the op into its kernel anyway (and cannot trace ``out=`` into a non-contiguous
    tensor, such as the compiled step's column-major state), it is the plain op. The values
    are the same either way.
    """
    if torch.compiler.is_compiling():
        return op(a, b)
    return op(a, b, out=b)


def power(base: float | Tensor, t: Tensor) -> Tensor:
    """``base ** t`` for a per-row step count `t` (``[R, 1]``): Adam's bias corrections.

    Eagerly torch's ``pow``, whose rounding `torch.optim` shares. Under `torch.compile` it is
    ``exp(t log(base))``, which inductor vectorises along the rows, where a power with a
    tensor exponent costs a scalar call per element: on the 2-core CPU machine that doubled
    the compiled Rosenbrock + Adam step at R = 10^4 (docs/PERFORMANCE.md). The two agree to
    a few float ulps (relative error about ``t * eps``).
    """
    if not torch.compiler.is_compiling():
        return base**t
    log = math.log(base) if not isinstance(base, Tensor) else torch.log(base)
    return torch.exp(t * log)
