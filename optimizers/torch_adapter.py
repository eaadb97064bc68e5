"""Any ``torch.optim.Optimizer`` subclass as an optbench optimizer: ``torch:NAdam:lr=0.01``.

Spelling (parses unambiguously next to ``adam:lr=1e-3`` and ``restarts(adam,n=32)``):

- ``torch:<Class>[:key=value,...]`` names a class in ``torch.optim`` (``torch:Adamax``,
  ``torch:NAdam:lr=0.01``, ``torch:LBFGS:line_search_fn=strong_wolfe``);
- ``<module.path>:<Class>[:key=value,...]`` names any importable subclass
  (``torch_optimizer:Lamb:lr=1e-3``, ``mypkg.opt:MyOpt``).

A spec is an adapter spec when the text after the first colon (up to the next colon) holds no
``=``, and the head is ``torch`` or not a registered optimizer name. Hyperparameters are the
keyword arguments of the class's constructor, flat: a tuple argument becomes numbered names
(``betas=(b1, b2)`` -> ``beta1``, ``beta2``; ``etas`` -> ``eta1``, ``eta2``), a boolean one a
0/1 flag (``amsgrad=1`` or ``amsgrad=true``), a ``None``-default one takes a number or text
(``none`` is ``None``). ``foreach``, ``fused``, ``capturable``, ``differentiable`` and
``maximize`` are fixed at torch's defaults.

Two modes, and `TorchOptimizer.elementwise` says which:

- **elementwise** (the allow-list `ELEMENTWISE`: SGD, Adam, AdamW, Adamax, NAdam, RAdam,
  Adagrad, Adadelta, RMSprop, Rprop, ASGD): the whole batch ``x: [R, d]`` is ONE parameter
  tensor. That is exact because these updates act element by element, so rows never mix;
  for the same reason one optimizer has one value per hyperparameter, and per-row (tensor)
  hyperparameters are rejected.
- **row by row** (L-BFGS, anything using a norm over the parameter, like Adafactor's
  factored moments, and any class the probe finds not elementwise): one parameter and one
  torch optimizer per row, driven by `TorchRows`, a `Method` that also supplies the closure
  L-BFGS needs and counts its evaluations. Per-row hyperparameters work here (each row's
  optimizer gets its own value).

A class outside the allow-list (a subclass, a third-party or a user's class such as
``mymod:SignSGD``) is **probed** once per hyperparameter setting (`is_elementwise`): one
optimizer on a stacked batch ``[R, d]`` against the same rows one optimizer each, for a
few steps on random data. Equal results mean the update acts element by element, and the
class runs batched (`TorchOptimizer.probed` is then True); otherwise, or with per-row
hyperparameters, it runs row by row. The results' ``mode`` column says which ran.
"""

from __future__ import annotations

import importlib
import inspect
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache, cached_property
from typing import Any

import torch
from torch import Tensor

from optimizers._catalogue import OPTIMIZERS
from optimizers._method import Context, MethodInfo, MethodState, Objective
from optimizers._optimizer import (
    HP,
    NONNEGATIVE,
    POSITIVE,
    UNIT,
    Config,
    Optimizer,
    Range,
    Rule,
    State,
)
from problems import Spec, SpecError, parse_spec, unknown

__all__ = [
    "ELEMENTWISE",
    "TorchOptimizer",
    "TorchRows",
    "is_adapter_spec",
    "parse_adapter",
    "torch_names",
    "torch_optimizer",
]

ELEMENTWISE: frozenset[type[torch.optim.Optimizer]] = frozenset(
    {
        torch.optim.SGD,
        torch.optim.Adam,
        torch.optim.AdamW,
        torch.optim.Adamax,
        torch.optim.NAdam,
        torch.optim.RAdam,
        torch.optim.Adagrad,
        torch.optim.Adadelta,
        torch.optim.RMSprop,
        torch.optim.Rprop,
        torch.optim.ASGD,
    }
)
"""torch.optim classes whose update is elementwise (exact classes: a subclass may add a
global norm, so it runs row by row like any class not listed)."""

UNSUPPORTED: Mapping[type, str] = {
    cls: why
    for cls, why in (
        (torch.optim.SparseAdam, "it needs sparse gradients; use torch:Adam"),
        (getattr(torch.optim, "Muon", None), "it optimises 2-D weight matrices, rows are vectors"),
    )
    if cls is not None
}
"""torch.optim classes that cannot run on rows of points, and why."""

FIXED = frozenset(
    {"self", "params", "foreach", "fused", "capturable", "differentiable", "maximize"}
)

OVERRIDES: Mapping[type, Mapping[str, object]] = {torch.optim.LBFGS: {"max_iter": 1}}
"""Defaults that differ from torch's: L-BFGS takes one iteration (one evaluation) per step,
so a step costs what ``evals_per_step`` says; ``torch:LBFGS:max_iter=20`` restores torch's."""

RULES: Mapping[str, Rule] = {
    "lr": POSITIVE,
    "eps": POSITIVE,
    "weight_decay": NONNEGATIVE,
    "momentum": NONNEGATIVE,
    "beta1": UNIT,
    "beta2": UNIT,
}
"""Checked here with our messages; everything else is checked by the class's constructor."""

REQUIRED = "required"


@dataclass(frozen=True)
class Arg:
    """Where a flat hyperparameter goes: constructor argument `name`, tuple position `index`."""

    name: str
    index: int | None
    kind: str  # "number", "flag" (bool argument) or "any" (None default: number or text)


@dataclass(frozen=True)
class TorchOptimizer(Optimizer):
    """A torch.optim class as an optimizer spec (see the module docstring for the two modes).

    Attributes:
        cls: the ``torch.optim.Optimizer`` subclass.
        args: flat hyperparameter name -> constructor argument.
        needs_closure: the class's ``step`` requires a closure (L-BFGS); only `TorchRows`
            can run it.
        takes_closure: the class's ``step`` accepts a closure (read once from its signature).
    """

    cls: type[torch.optim.Optimizer] = torch.optim.Optimizer
    args: Mapping[str, Arg] = field(default_factory=dict)
    needs_closure: bool = False
    takes_closure: bool = False
    probed: bool = False

    def configure(self, **hp: Any) -> Config:
        """Check names, numbers and per-row values, then let the class's constructor judge.

        A probed class (`probed`) runs in the mode its probe finds for these values: per-row
        (tensor) values, or values under which the update is not elementwise, give the
        row-by-row variant.
        """
        if self.probed:
            variant = _variant(self.name, _probe_mode(self, hp))
            if variant is not self:
                return variant.configure(**hp)
        values: dict[str, Any] = {}
        for key, value in hp.items():
            if key not in self.args:
                values[key] = value
                continue
            arg = self.args[key]
            if isinstance(value, Tensor):
                values[key] = self._check_rows(key, value)
            elif arg.kind == "flag" and isinstance(value, bool):
                values[key] = float(value)
            else:
                values[key] = self._check_value(key, value)
        unknown_keys = [k for k in values if k not in self.args]
        if unknown_keys:
            allowed = ", ".join(self.args) or "none"
            msg = f"{self.name}: unknown hyperparameter {unknown_keys[0]!r}; allowed: {allowed}"
            raise SpecError(msg)
        merged = {**self.defaults, **values}
        missing = [k for k, v in merged.items() if v == REQUIRED]
        if missing:
            msg = f"{self.name}: hyperparameter {missing[0]!r} is required (no default)"
            raise SpecError(msg)
        rows = max((v.numel() for v in merged.values() if isinstance(v, Tensor)), default=1)
        for i in range(rows):  # torch's own validation, per row
            try:
                self.cls([torch.zeros(1, requires_grad=True)], **self.kwargs(merged, i))
            except (ValueError, TypeError, RuntimeError) as exc:
                first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                msg = f"{self.name}: {first}"
                raise SpecError(msg) from None
        return Config(self, merged)

    def _check_value(self, key: str, value: object) -> object:
        arg = self.args[key]
        if isinstance(value, str) and arg.kind == "any":
            return value
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            kind = "0 or 1 (or true/false)" if arg.kind == "flag" else "a number"
            msg = f"{self.name}: {key} must be {kind}, got {value!r}"
            raise SpecError(msg)
        rule = RULES.get(key)
        if arg.kind == "flag" and value not in (0, 1):
            msg = f"{self.name}: invalid {key} {value!r}; allowed: {{0, 1}}"
            raise SpecError(msg)
        if math.isnan(value) or (rule is not None and not rule.admits(float(value))):
            allowed = f"; allowed: {rule}" if rule is not None else ""
            msg = f"{self.name}: invalid {key} {value!r}{allowed}"
            raise SpecError(msg)
        return value

    def _check_rows(self, key: str, value: Tensor) -> Tensor:
        if self.elementwise:
            msg = (
                f"{self.name} runs the whole batch as one tensor (elementwise mode), so {key} "
                f"takes one value, not one per row; got a tensor of shape {list(value.shape)}"
            )
            raise SpecError(msg)
        for v in value.flatten().tolist():
            self._check_value(key, v)
        return value

    def kwargs(self, hp: HP | Mapping[str, Any], row: int = 0) -> dict[str, Any]:
        """The constructor's keyword arguments for row `row` (tuples rebuilt, flags as bools)."""
        return constructor_kwargs(self.args, hp, row)


def constructor_kwargs(
    args: Mapping[str, Arg], hp: HP | Mapping[str, Any], row: int = 0
) -> dict[str, Any]:
    """A class's keyword arguments from flat hyperparameters, for row `row` of per-row ones."""
    out: dict[str, Any] = {}
    for key, arg in args.items():
        value = hp[key]
        if isinstance(value, Tensor):
            flat = value.flatten()
            value = flat[row if flat.numel() > 1 else 0].item()
        if arg.kind == "flag":
            value = bool(value)
        elif arg.kind == "any" and isinstance(value, str) and value.lower() == "none":
            value = None
        if arg.index is None:
            out[arg.name] = value
        else:
            out.setdefault(arg.name, []).append(value)
    return {k: tuple(v) if isinstance(v, list) else v for k, v in out.items()}


def is_adapter_spec(text: str) -> bool:
    """True for ``torch:Class[:opts]`` and ``module.path:Class[:opts]`` (not ``adam:lr=1``)."""
    head, sep, rest = text.strip().partition(":")
    if not sep or "(" in head:
        return False
    cls_name = rest.split(":", 1)[0].strip()
    if not cls_name or "=" in cls_name or "," in cls_name:
        return False
    return head.strip() == "torch" or head.strip() not in OPTIMIZERS


def parse_adapter(text: str) -> Spec:
    """``"torch:NAdam:lr=0.01"`` -> ``Spec("torch:NAdam", {"lr": 0.01})``."""
    head, _, rest = text.strip().partition(":")
    cls_name, _, opts = rest.partition(":")
    options = parse_spec(f"x:{opts}").options if opts.strip() else {}
    return Spec(f"{head.strip()}:{cls_name.strip()}", options)


def torch_names() -> list[str]:
    """``torch:<Class>`` for every optimizer class in ``torch.optim`` that can run here."""
    return [f"torch:{n}" for n, c in sorted(_classes(torch.optim).items()) if c not in UNSUPPORTED]


def _classes(module: object) -> dict[str, type[torch.optim.Optimizer]]:
    return {
        n: c
        for n, c in vars(module).items()
        if isinstance(c, type)
        and issubclass(c, torch.optim.Optimizer)
        and c is not torch.optim.Optimizer
        and not n.startswith("_")
    }


def load_class(name: str) -> type[torch.optim.Optimizer]:
    """The class named by ``torch:Class`` or ``module.path:Class``; one-line errors."""
    head, _, cls_name = name.partition(":")
    module_name = "torch.optim" if head == "torch" else head
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        msg = f"optimizer {name!r}: cannot import module {module_name!r} ({exc})"
        raise SpecError(msg) from None
    found = getattr(module, cls_name, None)
    if found is None or found is torch.optim.Optimizer:
        raise unknown(f"optimizer class in {module_name}", cls_name, _classes(module))
    if not (isinstance(found, type) and issubclass(found, torch.optim.Optimizer)):
        msg = f"optimizer {name!r}: {module_name}.{cls_name} is not a torch.optim.Optimizer"
        raise SpecError(msg)
    if found in UNSUPPORTED:
        msg = f"optimizer {name!r} cannot run here: {UNSUPPORTED[found]}"
        raise SpecError(msg)
    return found


@cache
def torch_optimizer(name: str) -> TorchOptimizer:
    """The spec for ``torch:Class`` or ``module.path:Class`` (built once per name)."""
    cls = load_class(name)
    args, defaults = _signature(cls)
    step_params = inspect.signature(cls.step).parameters
    closure = step_params.get("closure")
    needs_closure = closure is not None and closure.default is inspect.Parameter.empty
    probed = cls not in ELEMENTWISE and not needs_closure and cls is not torch.optim.LBFGS
    return _build(name, cls, args, defaults, needs_closure, closure is not None, probed)


def _build(
    name: str,
    cls: type[torch.optim.Optimizer],
    args: dict[str, Arg],
    defaults: dict[str, Any],
    needs_closure: bool,
    takes_closure: bool,
    probed: bool,
    elementwise: bool | None = None,
) -> TorchOptimizer:
    """The spec of `cls` in one mode: the allow-list's, the probe's at the defaults, or
    `elementwise` when given (`_variant`)."""
    if elementwise is None:
        elementwise = cls in ELEMENTWISE or (probed and _probe(cls, args, defaults))
    space: dict[str, Range] = {}
    lr = defaults.get("lr")
    if isinstance(lr, (int, float)) and not isinstance(lr, bool) and lr > 0:
        space["lr"] = Range(lr / 100, lr * 100, log=True)
    for key, low, high in (("beta1", 0.5, 0.99), ("beta2", 0.9, 0.9999)):
        if key in args:
            space[key] = Range(low, high)
    doc = (inspect.getdoc(cls) or "").strip().splitlines()
    mode = "elementwise: the batch runs as one tensor" if elementwise else "row by row"
    if probed:
        mode = f"probed: {mode}"
    summary = f"{cls.__module__}.{cls.__qualname__} ({mode}). {doc[0] if doc else ''}".strip()
    init, step = _functional(cls, name, elementwise)
    spec = TorchOptimizer(
        name,
        init,
        step,
        defaults=defaults,
        rules={k: r for k, r in RULES.items() if k in args},
        space=space,
        elementwise=elementwise,
        summary=summary,
        cls=cls,
        args=args,
        needs_closure=needs_closure,
        takes_closure=takes_closure,
        probed=probed,
    )
    return spec


@cache
def _variant(name: str, elementwise: bool) -> TorchOptimizer:
    """``torch_optimizer(name)`` in the given mode (a probed class, whose mode depends on its
    hyperparameters); the same object when that is already its mode."""
    base = torch_optimizer(name)
    if base.elementwise == elementwise:
        return base
    return _build(
        name,
        base.cls,
        dict(base.args),
        dict(base.defaults),
        base.needs_closure,
        base.takes_closure,
        base.probed,
        elementwise,
    )


PROBE_ROWS, PROBE_DIM, PROBE_STEPS = 5, 3, 3
"""The probe's batch: rows, coordinates per row, steps (each with a fresh random gradient)."""


def _probe_mode(spec: TorchOptimizer, hp: Mapping[str, Any]) -> bool:
    """The mode of a probed class under `hp`: batched only for one value per hyperparameter
    and an update the probe finds elementwise."""
    if any(isinstance(v, Tensor) for v in hp.values()):
        return False
    if any(k not in spec.args for k in hp):
        return spec.elementwise  # configure names the unknown key
    return _probe(spec.cls, spec.args, {**spec.defaults, **hp})


def _probe(
    cls: type[torch.optim.Optimizer], args: Mapping[str, Arg], hp: Mapping[str, Any]
) -> bool:
    """`is_elementwise` at the flat hyperparameters `hp` (False when they cannot build it)."""
    if any(v == REQUIRED for v in hp.values()):
        return False
    try:
        kwargs = constructor_kwargs(args, hp)
    except (KeyError, TypeError, ValueError):
        return False
    return is_elementwise(cls, tuple(sorted(kwargs.items())))


_PROBED: dict[tuple[type, tuple[tuple[str, Any], ...]], bool] = {}
"""`is_elementwise`'s answers, per class and keyword arguments."""


def is_elementwise(cls: type[torch.optim.Optimizer], kwargs: tuple[tuple[str, Any], ...]) -> bool:
    """Whether ``cls(**kwargs)`` updates a parameter element by element: the probe.

    One optimizer on a stacked batch ``x: [R, d]`` and R optimizers on its rows take
    `PROBE_STEPS` steps with the same random gradients (float64, seeded); the update is
    elementwise when the results agree to 1e-12 (relative) and are finite. A norm, a mean or
    a shape-dependent rule over the parameter makes them differ; so does randomness inside
    the step. A class whose constructor or step raises here runs row by row. Cached per
    class and keyword arguments.
    """
    key = (cls, kwargs)
    if key not in _PROBED:
        _PROBED[key] = _probe_once(cls, dict(kwargs))
    return _PROBED[key]


def _probe_once(cls: type[torch.optim.Optimizer], options: dict[str, Any]) -> bool:
    generator = torch.Generator().manual_seed(2024)
    shape = (PROBE_ROWS, PROBE_DIM)
    x = torch.randn(shape, generator=generator, dtype=torch.float64)
    grads = [
        torch.randn(shape, generator=generator, dtype=torch.float64) for _ in range(PROBE_STEPS)
    ]
    try:
        batch = torch.nn.Parameter(x.clone())
        opt = cls([batch], **options)
        rows = [torch.nn.Parameter(x[i].clone()) for i in range(PROBE_ROWS)]
        opts = [cls([row], **options) for row in rows]
        for grad in grads:
            batch.grad = grad.clone()
            opt.step()
            for i, (row, row_opt) in enumerate(zip(rows, opts)):
                row.grad = grad[i].clone()
                row_opt.step()
    except Exception:  # a class that cannot even step here is not batched
        return False
    together, apart = batch.detach(), torch.stack([r.detach() for r in rows])
    return bool(torch.isfinite(together).all()) and torch.allclose(
        together, apart, rtol=1e-12, atol=1e-15
    )


def _signature(cls: type) -> tuple[dict[str, Arg], dict[str, Any]]:
    args: dict[str, Arg] = {}
    defaults: dict[str, Any] = {}
    overrides = OVERRIDES.get(cls, {})
    for pname, param in inspect.signature(cls.__init__).parameters.items():  # type: ignore[misc]
        if pname in FIXED or param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        default = overrides.get(pname, param.default)
        if default is inspect.Parameter.empty:
            args[pname], defaults[pname] = Arg(pname, None, "number"), REQUIRED
        elif isinstance(default, tuple):
            stem = pname[:-1] if pname.endswith("s") and pname != "eps" else pname
            for i, item in enumerate(default):
                key = f"{stem}{i + 1}"
                args[key] = Arg(pname, i, _kind(item))
                defaults[key] = _flat(item)
        else:
            args[pname], defaults[pname] = Arg(pname, None, _kind(default)), _flat(default)
    return args, defaults


def _kind(default: object) -> str:
    if isinstance(default, bool):
        return "flag"
    if isinstance(default, (int, float, Tensor)):
        return "number"
    return "any"


def _flat(default: object) -> object:
    if isinstance(default, bool):
        return float(default)
    if isinstance(default, Tensor):
        return default.item()
    return "none" if default is None else default


HANDLE = "torch_optimizer"
"""The state entry that holds an elementwise run's torch optimizer (`_Handle`)."""


@dataclass(eq=False)
class _Handle:
    """One run's torch optimizer in elementwise mode: built at its first step, then reused.

    Attributes:
        param: the batch ``[R, d]`` as one parameter; each step copies ``x`` and the
            gradient into it (device to device) and the optimizer updates it in place.
        optimizer: ``cls([param], **kwargs(hp))``.
        hp: the hyperparameters it was built with (a step with other ones builds anew).
    """

    param: torch.nn.Parameter
    optimizer: torch.optim.Optimizer
    hp: HP


def _functional(
    cls: type[torch.optim.Optimizer], name: str, elementwise: bool
) -> tuple[Callable[[Tensor], State], Callable[[Tensor, Tensor, State, HP], tuple[Tensor, State]]]:
    """``init``/``step`` for `Config` use: the batch as one parameter (elementwise mode only)."""

    def init(x: Tensor) -> State:
        # torch creates its state lazily on the first step; until then only its 0-d step
        # counter, shared by all rows like torch's (so wrappers that reset single rows,
        # such as sequential restarts, see at once that this state is not per row)
        return {"step": torch.zeros(())}

    def step(x: Tensor, grad: Tensor, state: State, hp: HP) -> tuple[Tensor, State]:
        """One step of ``cls`` on the whole batch as one parameter tensor.

        The state is torch's own per-parameter state (``step`` is 0-d, shared by all rows)
        plus the run's torch optimizer under `HANDLE`, built at the first step and reused:
        a steady-state step builds nothing and copies ``x`` and ``grad`` device to device.
        As for every optimizer here the state is updated in place (torch does), while the
        caller's ``x`` and ``grad`` are never written and the returned ``x`` is a new tensor.
        """
        if not elementwise:
            msg = (
                f"{name} runs row by row (its update is not elementwise); "
                f"use optimizers.method({name!r}) to run it"
            )
            raise SpecError(msg)
        handle: _Handle | None = state.get(HANDLE)  # type: ignore[assignment]
        own = {k: v for k, v in state.items() if k != HANDLE}
        if handle is None or handle.hp is not hp:
            p = torch.nn.Parameter(x.detach().clone())
            p.grad = grad.detach().clone()
            handle = _Handle(p, cls([p], **torch_optimizer(name).kwargs(hp)), hp)
            if set(own) != {"step"}:  # else: fresh, torch initialises its state
                handle.optimizer.state[p] = own
        else:
            p = handle.param
            with torch.no_grad():
                p.copy_(x)
                assert p.grad is not None
                p.grad.copy_(grad)
            handle.optimizer.state[p] = own  # the caller's state, as the last step left it
        handle.optimizer.step()
        return p.detach().clone(), {**handle.optimizer.state[p], HANDLE: handle}  # type: ignore[dict-item]

    return init, step


@dataclass(eq=False)
class _Rows:
    """One parameter and one torch optimizer per row (opaque to wrappers that blend state)."""

    params: list[Any]
    opts: list[Any]


@dataclass(frozen=True, eq=False)
class TorchRows:
    """A torch optimizer run row by row: one parameter and one optimizer per row (a `Method`).

    Each step evaluates the objective once on the whole batch; every row's optimizer then
    steps with that row's gradient. A row's closure returns the batched result on its first
    call; further calls (L-BFGS iterations and line searches) evaluate the objective again on
    the batch with that row moved to its trial point, and are counted per row in
    ``state["evals"]`` (evaluations in the last step, ``[R]``). ``info.evals_per_step`` is
    the per-step upper bound: 1 unless the optimizer evaluates more (L-BFGS; see there).
    ``state["loss"]`` is the loss of the batched evaluation at the step's start points.

    Each step starts from ``state["x"]``. A row whose ``state["fresh"]`` is set gets a new
    optimizer (built from the row's hyperparameters); the others keep theirs.

    What holds on the hot path: rows run on the host by nature (a Python loop over rows,
    and the torch optimizer's own ``.item()`` calls, L-BFGS's tests on the gradient), so
    on CUDA a step synchronises and the CUDA sync check leaves this mode out. What still
    holds: a steady-state step makes no tensor from Python data and copies nothing from the
    host (no ``torch.tensor(list)``; the evaluation counts are counted on the device), and
    it inspects no signature and builds no optimizer except for fresh rows.
    """

    config: Config

    def __repr__(self) -> str:
        return f"TorchRows({self.info.label!r})"

    @property
    def spec(self) -> TorchOptimizer:
        assert isinstance(self.config.optimizer, TorchOptimizer)
        return self.config.optimizer

    @cached_property
    def info(self) -> MethodInfo:
        hp = {k: float(v) for k, v in self.config.hp.items() if isinstance(v, (int, float))}
        return MethodInfo(
            self.spec.name, self.config.label, evals_per_step=self._evals_per_step(), hp=hp
        )

    def _evals_per_step(self) -> int:
        """Objective evaluations per row and step: exact for one evaluation, else a bound.

        L-BFGS stops a step after ``max_iter`` iterations or once ``max_eval`` evaluations
        are spent; without a line search each iteration costs one evaluation, so at most
        ``min(max_iter, max_eval)``; the strong-Wolfe search may overshoot ``max_eval`` by
        one. The true per-row counts are in ``state["evals"]``.
        """
        if self.spec.cls is not torch.optim.LBFGS:
            return 1
        kw = self.spec.kwargs(self.config.hp)
        max_iter = int(kw["max_iter"])
        max_eval = max(int(kw["max_eval"] or max_iter * 5 // 4), 1)
        if kw["line_search_fn"] is None:
            return max(min(max_iter, max_eval), 1)
        return max_eval + 1

    @property
    def evals_exact(self) -> bool:
        """True when every step costs exactly ``info.evals_per_step`` evaluations per row."""
        return self.info.evals_per_step == 1

    def init(self, x0: Tensor, ctx: Context | None = None) -> MethodState:
        """Per-row state: ``x``, ``fresh`` (rows whose torch optimizer is (re)built at the next
        step), ``evals`` (evaluations each row spent in the last step); the torch optimizers
        themselves live in ``rows``, built at the first step.

        A wrapper that resets rows by blending this state with a fresh one (sequential
        restarts) thereby sets their ``fresh`` flag, and they restart with new optimizers.
        """
        rows = x0.shape[0]
        for key, value in self.config.hp.items():
            if isinstance(value, Tensor) and value.numel() not in (1, rows):
                msg = f"{self.info.label}: {key} has {value.numel()} values for {rows} rows"
                raise SpecError(msg)
        return {
            "x": x0,
            "fresh": torch.ones(rows, dtype=torch.bool, device=x0.device),
            "evals": torch.zeros(rows, dtype=torch.int64, device=x0.device),
            "rows": None,
        }

    def step(
        self, state: MethodState, objective: Objective, ctx: Context | None = None
    ) -> MethodState:
        x: Tensor = state["x"]
        n = x.shape[0]
        rows: _Rows = state["rows"] or _Rows([None] * n, [None] * n)
        loss, grad = objective(x, True)
        assert grad is not None
        evals = torch.ones(n, dtype=torch.int64, device=x.device)
        fresh = state["fresh"].tolist()  # row by row runs on the host anyway
        spec, takes_closure = self.spec, self.spec.takes_closure
        for i in range(n):
            if fresh[i] or rows.opts[i] is None:
                rows.params[i] = torch.nn.Parameter(x[i].detach().clone())
                rows.opts[i] = spec.cls([rows.params[i]], **spec.kwargs(self.config.hp, i))
            p, opt = rows.params[i], rows.opts[i]
            with torch.no_grad():
                p.copy_(x[i])
            p.grad = grad[i].clone()
            if takes_closure:
                opt.step(_RowClosure(i, p, x, loss, grad, objective, evals))
            else:
                opt.step()
        return {
            "x": torch.stack([p.detach() for p in rows.params]),
            "fresh": torch.zeros_like(state["fresh"]),
            "evals": evals,
            "rows": rows,
            "loss": loss,
        }


@dataclass(eq=False)
class _RowClosure:
    """Row `i`'s closure: the batched result first, then evaluations at the row's trial point.

    Every call after the first evaluates the objective on the batch with row `i` moved to
    the parameter's current value, and counts one evaluation in ``evals[i]`` (on the device).
    """

    i: int
    p: Tensor
    x: Tensor
    loss: Tensor
    grad: Tensor
    objective: Objective
    evals: Tensor
    first: bool = True

    def __call__(self) -> Tensor:
        i = self.i
        if self.first:  # the batched evaluation at the row's current point
            self.first = False
            self.p.grad = self.grad[i].clone()
            return self.loss[i]
        trial = self.x.clone()
        trial[i] = self.p.detach()
        loss_t, grad_t = self.objective(trial, True)
        assert grad_t is not None
        self.p.grad = grad_t[i].clone()
        self.evals[i] += 1
        return loss_t[i]
