"""Conformance of every registered optimizer: it converges, validates, lists, and never syncs."""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest
import torch
from torch import Tensor

import optimizers
from bench._check import CHECK_NAMES, OPTIMIZER_CHECKS, Outcome
from optimizers._optimizer import FLAG, Rule
from problems import SpecError, UnknownNameError

NAMES = optimizers.OPTIMIZERS.names()
STATE_NAMES = {
    "exp_avg",
    "exp_avg_sq",
    "max_exp_avg_sq",
    "momentum_buffer",
    "square_avg",
    "grad_avg",
    "sum",
    "step",
}


def quadratic(x: Tensor) -> Tensor:
    """Convex, condition number 10: ``sum_i c_i x_i^2``."""
    c = torch.linspace(1.0, 10.0, x.shape[-1], dtype=x.dtype, device=x.device)
    return (c * x * x).sum(-1)


def rosenbrock(x: Tensor) -> Tensor:
    a, b = x[..., :-1], x[..., 1:]
    return (100.0 * (b - a * a) ** 2 + (1.0 - a) ** 2).sum(-1)


def run(config: optimizers.Config, fn: Callable[[Tensor], Tensor], x: Tensor, steps: int) -> Tensor:
    state = config.init(x)
    for _ in range(steps):
        xr = x.detach().requires_grad_(True)
        (grad,) = torch.autograd.grad(fn(xr).sum(), xr)
        x, state = config.step(x, grad, state)
    return x


# --- convergence with the defaults ---------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize(
    ("fn", "start"),
    [(quadratic, [1.0, -1.0, 0.5]), (rosenbrock, [-1.2, 1.0])],
    ids=["quadratic", "rosenbrock"],
)
def test_defaults_decrease_the_loss(
    name: str, fn: Callable[[Tensor], Tensor], start: list[float]
) -> None:
    x0 = torch.tensor([start], dtype=torch.float64)
    x = run(optimizers.configure(name), fn, x0, 200)
    assert fn(x).item() < 0.9 * fn(x0).item()


# --- the spec reads well -------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_spec_is_complete(name: str) -> None:
    opt = optimizers.get(name)
    assert opt.name == name
    assert opt.summary
    assert opt.elementwise
    assert "lr" in opt.defaults
    assert opt.space["lr"].log
    assert set(opt.rules) <= set(opt.defaults)
    assert set(opt.space) <= set(opt.defaults)
    for key, value in opt.defaults.items():  # defaults are valid, and so is the search space
        rule = opt.rules.get(key)
        assert rule is None or rule.admits(value), (key, value)
        if key in opt.space:
            r = opt.space[key]
            assert r.low < r.high
            assert rule is None or (rule.admits(r.low) and rule.admits(r.high)), key
    assert opt.step.__doc__
    assert "torch.optim" in opt.summary


@pytest.mark.parametrize("name", NAMES)
def test_state_is_per_row_and_named_after_the_math(name: str) -> None:
    config = optimizers.configure(name)
    x = torch.randn(6, 3, dtype=torch.float64)
    x, state = config.step(x, torch.randn_like(x), config.init(x))
    assert set(state) <= STATE_NAMES
    assert all(v.shape[0] == 6 for v in state.values())


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_low_precision_keeps_its_dtype_and_counts_steps(name: str, dtype: torch.dtype) -> None:
    config = optimizers.configure(name, lr=torch.tensor([0.02, 0.1], dtype=dtype))
    x = torch.ones(2, 3, dtype=dtype)
    state = config.init(x)
    for _ in range(300):
        x, state = config.step(x, 2 * x, state)
    assert x.dtype == dtype
    assert all(v.dtype == dtype for k, v in state.items() if k != "step")
    if "step" in state:
        assert state["step"].flatten().tolist() == [300.0, 300.0]
    assert torch.isfinite(x).all()
    assert (x.float() < 1).all()


def test_describe_lists_every_optimizer() -> None:
    rows = optimizers.describe()
    assert [r["name"] for r in rows] == NAMES
    adam = next(r for r in rows if r["name"] == "adam")
    assert adam["defaults"]["lr"] == 1e-3
    assert adam["space"]["lr"] == "1e-05..1 (log)"
    assert adam["mode"] == "batched"
    assert "Kingma" in adam["summary"]


def test_defaults_follow_torch() -> None:
    assert optimizers.get("adam").defaults["lr"] == 1e-3
    assert optimizers.get("adamw").defaults["weight_decay"] == 1e-2
    assert optimizers.get("rmsprop").defaults["alpha"] == 0.99
    assert optimizers.get("adagrad").defaults["eps"] == 1e-10
    assert optimizers.get("sgd").defaults["lr"] == 1e-3


# --- labels ---------------------------------------------------------------------------------


def test_label_round_trips() -> None:
    config = optimizers.configure("adam:lr=0.01,beta1=0.8")
    assert config.label == "adam:lr=0.01,beta1=0.8"
    assert optimizers.configure(config.label).hp == config.hp
    assert optimizers.configure("adam").label == "adam"
    assert optimizers.configure("adam", lr=torch.tensor([1e-3, 1e-2])).label == "adam"


def test_config_to_moves_per_row_values() -> None:
    config = optimizers.configure("adam", lr=torch.tensor([1e-3, 1e-2]), beta1=0.8)
    moved = config.to(torch.zeros(2, 3, dtype=torch.float64))
    assert moved.hp["lr"].dtype == torch.float64
    assert moved.hp["beta1"] == 0.8
    assert moved.label == config.label == "adam:beta1=0.8"


def test_flags_take_true_and_false() -> None:
    assert optimizers.configure("rmsprop:centered=true").hp["centered"] == 1.0
    assert optimizers.configure("rmsprop:centered=false").hp["centered"] == 0.0
    assert optimizers.configure("rmsprop:centered=1").label == "rmsprop:centered=1"


# --- validation -----------------------------------------------------------------------------


def bad_values(rule: Rule) -> list[float]:
    """Values just outside `rule`, and NaN."""
    if rule.values is not None:
        return [0.5, 2.0, math.nan]
    out = [rule.low if rule.low_open else rule.low - 1.0, math.nan]
    if math.isfinite(rule.high):
        out.append(rule.high if rule.high_open else rule.high + 0.5)
    return out


CASES = [
    pytest.param(name, key, value, id=f"{name}-{key}={value}")
    for name in NAMES
    for key, rule in optimizers.get(name).rules.items()
    for value in bad_values(rule)
]


@pytest.mark.parametrize(("name", "key", "value"), CASES)
def test_out_of_range_values_fail_naming_the_value(name: str, key: str, value: float) -> None:
    rule = optimizers.get(name).rules[key]
    message = f"{name}: invalid {key} {value!r}; allowed: {rule}"
    with pytest.raises(SpecError, match=f"^{_escape(message)}$"):
        optimizers.configure(name, **{key: value})
    # the same value in one row of a per-row tensor
    rows = torch.tensor([optimizers.get(name).defaults[key], value], dtype=torch.float64)
    with pytest.raises(SpecError, match=f"invalid {key}"):
        optimizers.configure(name, **{key: rows})


def _escape(text: str) -> str:
    import re

    return re.escape(text)


@pytest.mark.parametrize(
    ("spec", "error", "message"),
    [
        ("adam:lr=-1", SpecError, r"^adam: invalid lr -1; allowed: \(0, inf\)$"),
        ("sgd:lr=0", SpecError, r"^sgd: invalid lr 0; allowed: \(0, inf\)$"),
        ("adam:lr=nan", SpecError, r"^adam: invalid lr nan; allowed: \(0, inf\)$"),
        ("adam:beta1=1", SpecError, r"^adam: invalid beta1 1; allowed: \[0, 1\)$"),
        ("adamw:beta2=-0.1", SpecError, r"^adamw: invalid beta2 -0.1; allowed: \[0, 1\)$"),
        ("momentum:weight_decay=-1", SpecError, r"invalid weight_decay -1; allowed: \[0, inf\)"),
        ("momentum:momentum=-0.5", SpecError, r"invalid momentum -0.5; allowed: \[0, 1\)"),
        ("nesterov:momentum=0", SpecError, r"invalid momentum 0; allowed: \(0, 1\)"),
        ("adam:eps=0", SpecError, r"invalid eps 0; allowed: \(0, inf\)"),
        ("rmsprop:centered=2", SpecError, r"invalid centered 2; allowed: \{0, 1\}"),
        ("adam:lr=fast", SpecError, r"^adam: lr must be a number, got 'fast'$"),
        (
            "adam:gamma=1",
            SpecError,
            r"^adam: unknown hyperparameter 'gamma'; allowed: lr, beta1, beta2, eps, weight_decay$",
        ),
        ("adamm", UnknownNameError, r"unknown optimizer 'adamm'; did you mean 'adam'\? Known: "),
        ("adam:lr", SpecError, r"bad option 'lr'"),
        (
            "restarts2(adam)",
            SpecError,
            r"^.restarts2. is not a wrapper \(did you mean 'restarts'\?\); known wrappers: ",
        ),
    ],
)
def test_bad_specs_fail_with_one_line(spec: str, error: type, message: str) -> None:
    with pytest.raises(error, match=message) as info:
        optimizers.method(spec)
    assert "\n" not in str(info.value)


def test_unknown_name_lists_the_known_ones() -> None:
    with pytest.raises(UnknownNameError) as info:
        optimizers.get("nadam")
    text = str(info.value)
    assert all(name in text for name in NAMES)
    assert "torch:<Class>" in text


def test_flag_rule_reads_as_a_set() -> None:
    assert str(FLAG) == "{0, 1}"


# --- no host synchronisation ---------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_step_traces_as_one_graph(name: str) -> None:
    """``fullgraph=True`` fails on ``.item()`` or a Python branch on a tensor value."""
    opt = optimizers.get(name)
    hp = {k: torch.full((4, 1), float(v), dtype=torch.float64) for k, v in opt.defaults.items()}
    config = opt.configure(**hp)
    x = torch.randn(4, 3, dtype=torch.float64)
    grad = torch.randn_like(x)
    compiled = torch.compile(opt.step, backend="eager", fullgraph=True)
    try:  # a fresh state per call: steps may update their own state in place
        got, _ = compiled(x, grad, config.init(x), config.hp)
        compiled(x, grad, config.init(x), optimizers.configure(name).hp)  # plain floats too
    finally:
        torch._dynamo.reset()
    expected = opt.step(x, grad, config.init(x), config.hp)[0]
    torch.testing.assert_close(got, expected, rtol=0, atol=0)


@pytest.mark.cuda
@pytest.mark.parametrize("name", NAMES)
def test_no_sync_on_cuda(name: str) -> None:
    opt = optimizers.get(name)
    dev = torch.device("cuda")
    hp = {
        k: torch.full((64, 1), float(v), dtype=torch.float32, device=dev)
        for k, v in opt.defaults.items()
    }
    config = opt.configure(**hp)
    x = torch.randn(64, 8, device=dev)
    grad, state = torch.randn_like(x), config.init(x)
    x, state = config.step(x, grad, state)  # first call may allocate / initialise
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        for _ in range(3):
            x, state = config.step(x, grad, state)
    finally:
        torch.cuda.set_sync_debug_mode("default")
    assert torch.isfinite(x).all()


# --- the conformance checks `bench check` runs ---------------------------------------------


@pytest.mark.parametrize("check", OPTIMIZER_CHECKS, ids=lambda fn: CHECK_NAMES[fn])
@pytest.mark.parametrize("name", NAMES)
def test_bench_check_passes(name: str, check: Callable[[str], Outcome]) -> None:
    """Batched = row by row, per-row hyperparameters, diverged rows stay apart, and parity
    with the declared torch.optim reference (`bench._check`, shared with ``bench check``)."""
    outcome = check(name)
    assert outcome.status == "ok", f"{outcome.check}: {outcome.detail}"
