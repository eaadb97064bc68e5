"""The torch.optim adapter gives torch's numbers, batched where that is exact, row by row else."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest
import torch
from torch import Tensor

import optimizers
from optimizers.torch_adapter import (
    ELEMENTWISE,
    HANDLE,
    TorchOptimizer,
    TorchRows,
    torch_names,
)
from problems import Spec, SpecError, UnknownNameError, parse_spec


def rosenbrock(x: Tensor) -> Tensor:
    a, b = x[..., :-1], x[..., 1:]
    return (100.0 * (b - a * a) ** 2 + (1.0 - a) ** 2).sum(-1)


def quadratic(x: Tensor) -> Tensor:
    c = torch.linspace(1.0, 10.0, x.shape[-1], dtype=x.dtype)
    return (c * x * x).sum(-1)


def objective_of(fn: Callable[[Tensor], Tensor]) -> optimizers.Objective:
    """What the harness passes to a method: batched loss and per-row gradients."""

    def objective(x: Tensor, need_grad: bool) -> tuple[Tensor, Tensor | None]:
        xr = x.detach().requires_grad_(True)
        loss = fn(xr)
        (grad,) = torch.autograd.grad(loss.sum(), xr)
        return loss.detach(), grad

    return objective


def run_method(method: Any, fn: Callable[[Tensor], Tensor], x0: Tensor, steps: int) -> Tensor:
    objective = objective_of(fn)
    state = method.init(x0.clone(), None)
    for _ in range(steps):
        state = method.step(state, objective, None)
    return state["x"]


def run_torch(
    cls: type, kwargs: dict[str, Any], fn: Callable[[Tensor], Tensor], x0: Tensor, steps: int
) -> Tensor:
    """The plain torch loop on one parameter tensor `x0` (a row, or the whole batch)."""
    p = torch.nn.Parameter(x0.clone())
    opt = cls([p], **kwargs)

    def closure() -> Tensor:
        opt.zero_grad()
        loss = fn(p if p.ndim == 2 else p[None]).sum()
        loss.backward()
        return loss

    for _ in range(steps):
        opt.step(closure)
    return p.detach()


def per_row(
    cls: type, kwargs: dict[str, Any], fn: Callable[[Tensor], Tensor], x0: Tensor, steps: int
) -> Tensor:
    return torch.stack([run_torch(cls, kwargs, fn, x0[i], steps) for i in range(x0.shape[0])])


@pytest.fixture
def x0() -> Tensor:
    gen = torch.Generator().manual_seed(0)
    return torch.rand(5, 3, generator=gen, dtype=torch.float64) * 2 - 1


# --- elementwise mode --------------------------------------------------------------------

ELEMENTWISE_CASES = [
    (
        "torch:SGD:lr=0.001,momentum=0.9,nesterov=true",
        torch.optim.SGD,
        {"lr": 1e-3, "momentum": 0.9, "nesterov": True},
    ),
    (
        "torch:Adam:lr=0.01,beta1=0.8,amsgrad=1",
        torch.optim.Adam,
        {"lr": 0.01, "betas": (0.8, 0.999), "amsgrad": True},
    ),
    ("torch:AdamW:lr=0.01", torch.optim.AdamW, {"lr": 0.01}),
    ("torch:Adamax", torch.optim.Adamax, {}),
    (
        "torch:NAdam:lr=0.01,momentum_decay=0.01",
        torch.optim.NAdam,
        {"lr": 0.01, "momentum_decay": 0.01},
    ),
    ("torch:RAdam:lr=0.01", torch.optim.RAdam, {"lr": 0.01}),
    ("torch:Adagrad:lr=0.05,lr_decay=0.01", torch.optim.Adagrad, {"lr": 0.05, "lr_decay": 0.01}),
    ("torch:Adadelta", torch.optim.Adadelta, {}),
    (
        "torch:RMSprop:lr=0.001,centered=true,momentum=0.5",
        torch.optim.RMSprop,
        {"lr": 1e-3, "centered": True, "momentum": 0.5},
    ),
    (
        "torch:Rprop:eta1=0.4,step_size2=10",
        torch.optim.Rprop,
        {"etas": (0.4, 1.2), "step_sizes": (1e-6, 10)},
    ),
    ("torch:ASGD:lr=0.001,t0=10", torch.optim.ASGD, {"lr": 1e-3, "t0": 10}),
]


def test_every_allow_listed_class_has_a_case() -> None:
    assert {cls for _, cls, _ in ELEMENTWISE_CASES} == set(ELEMENTWISE)


@pytest.mark.parametrize(("spec", "cls", "kwargs"), ELEMENTWISE_CASES, ids=lambda v: str(v)[:24])
def test_elementwise_matches_torch(
    spec: str, cls: type, kwargs: dict[str, Any], x0: Tensor
) -> None:
    assert optimizers.get(f"torch:{cls.__name__}").elementwise
    method = optimizers.method(spec)
    assert not isinstance(method, TorchRows)
    got = run_method(method, rosenbrock, x0, 30)
    # the same torch optimizer on the batch as one tensor, and on each row alone
    torch.testing.assert_close(got, run_torch(cls, kwargs, rosenbrock, x0, 30), rtol=0, atol=0)
    torch.testing.assert_close(
        got, per_row(cls, kwargs, rosenbrock, x0, 30), rtol=1e-12, atol=1e-14
    )


def test_elementwise_config_step_leaves_x_and_grad_alone(x0: Tensor) -> None:
    """The caller's points and gradient are never written; the state is torch's, in place."""
    config = optimizers.configure("torch:NAdam:lr=0.01")
    grad = objective_of(rosenbrock)(x0, True)[1]
    assert grad is not None
    saved_x0, saved_grad = x0.clone(), grad.clone()
    x1, state = config.step(x0, grad, config.init(x0))
    saved_x1 = x1.clone()
    x2, _ = config.step(x1, grad, state)
    assert torch.equal(x0, saved_x0)
    assert torch.equal(grad, saved_grad)
    assert torch.equal(x1, saved_x1)  # a returned x is the caller's: later steps leave it alone
    assert not torch.equal(x2, x1)


def test_elementwise_builds_its_torch_optimizer_once(x0: Tensor) -> None:
    config = optimizers.configure("torch:Adam:lr=0.01")
    grad = objective_of(rosenbrock)(x0, True)[1]
    assert grad is not None
    x, state = config.step(x0, grad, config.init(x0))
    handle = state[HANDLE]
    for _ in range(3):
        x, state = config.step(x, grad, state)
        assert state[HANDLE] is handle
    # other hyperparameters (another config) build a new one, from the same torch state
    other = optimizers.configure("torch:Adam:lr=0.02")
    _, moved = other.step(x, grad, state)
    assert moved[HANDLE] is not handle
    assert moved["step"] is state["step"]


def test_elementwise_rejects_per_row_hyperparameters() -> None:
    with pytest.raises(SpecError, match=r"torch:Adam runs the whole batch as one tensor.*lr"):
        optimizers.configure("torch:Adam", lr=torch.tensor([1e-3, 1e-2]))


# --- row by row ---------------------------------------------------------------------------


class GlobalNormSGD(torch.optim.Optimizer):
    """``x <- x - lr g / ||g||`` with the norm over ALL parameters: not elementwise."""

    def __init__(self, params: Any, lr: float = 0.1) -> None:
        super().__init__(params, {"lr": lr})

    @torch.no_grad()
    def step(self, closure: Callable[[], Tensor] | None = None) -> Tensor | None:
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        grads = [p.grad for g in self.param_groups for p in g["params"] if p.grad is not None]
        norm = torch.sqrt(sum((g * g).sum() for g in grads))
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    p.sub_(group["lr"] * p.grad / norm)
        return loss


CUSTOM = f"{__name__}:GlobalNormSGD"


def test_global_norm_optimizer_on_the_batch_would_be_wrong(x0: Tensor) -> None:
    batch = run_torch(GlobalNormSGD, {"lr": 0.05}, quadratic, x0, 20)
    rows = per_row(GlobalNormSGD, {"lr": 0.05}, quadratic, x0, 20)
    assert not torch.allclose(batch, rows, rtol=1e-3)


def test_unknown_class_runs_row_by_row_and_matches_per_row_runs(x0: Tensor) -> None:
    spec = optimizers.get(CUSTOM)
    assert isinstance(spec, TorchOptimizer)
    assert not spec.elementwise
    method = optimizers.method(f"{CUSTOM}:lr=0.05")
    assert isinstance(method, TorchRows)
    got = run_method(method, quadratic, x0, 20)
    torch.testing.assert_close(
        got, per_row(GlobalNormSGD, {"lr": 0.05}, quadratic, x0, 20), rtol=0, atol=0
    )
    with pytest.raises(SpecError, match=r"runs row by row.*optimizers\.method"):
        optimizers.configure(CUSTOM).step(x0, x0, {})


def test_row_by_row_takes_per_row_hyperparameters(x0: Tensor) -> None:
    lrs = [0.01, 0.02, 0.05, 0.1, 0.2]
    method = TorchRows(optimizers.configure(CUSTOM, lr=torch.tensor(lrs, dtype=torch.float64)))
    got = run_method(method, quadratic, x0, 10)
    want = torch.stack(
        [run_torch(GlobalNormSGD, {"lr": lr}, quadratic, x0[i], 10) for i, lr in enumerate(lrs)]
    )
    torch.testing.assert_close(got, want, rtol=0, atol=0)
    with pytest.raises(SpecError, match="lr has 2 values for 5 rows"):
        TorchRows(optimizers.configure(CUSTOM, lr=torch.tensor([0.1, 0.2]))).init(x0)
    with pytest.raises(SpecError, match=r"invalid lr -0\.1"):
        optimizers.configure("torch:LBFGS", lr=torch.tensor([0.1, -0.1]))


def test_adafactor_is_not_elementwise(x0: Tensor) -> None:
    """Adafactor factors its second moment over rows and columns of a 2-D parameter."""
    assert not optimizers.get("torch:Adafactor").elementwise
    batch = run_torch(torch.optim.Adafactor, {}, rosenbrock, x0, 10)
    rows = per_row(torch.optim.Adafactor, {}, rosenbrock, x0, 10)
    assert not torch.allclose(batch, rows, rtol=1e-6)
    got = run_method(optimizers.method("torch:Adafactor"), rosenbrock, x0, 10)
    torch.testing.assert_close(got, rows, rtol=0, atol=0)


@pytest.mark.parametrize(
    ("spec", "kwargs", "evals_per_step"),
    [
        ("torch:LBFGS:lr=0.5", {"lr": 0.5, "max_iter": 1}, 1),
        ("torch:LBFGS:max_iter=4", {"max_iter": 4}, 4),
        (
            "torch:LBFGS:max_iter=3,line_search_fn=strong_wolfe",
            {"max_iter": 3, "line_search_fn": "strong_wolfe"},
            4,  # max_eval = 3 * 5 // 4 = 3, and the line search may overshoot by one
        ),
    ],
)
def test_lbfgs_row_by_row_with_closure(
    spec: str, kwargs: dict[str, Any], evals_per_step: int, x0: Tensor
) -> None:
    method = optimizers.method(spec)
    assert isinstance(method, TorchRows)
    assert method.info.evals_per_step == evals_per_step
    assert method.evals_exact == (evals_per_step == 1)
    objective = objective_of(rosenbrock)
    state = method.init(x0.clone(), None)
    spent = torch.zeros(x0.shape[0], dtype=torch.int64)
    for _ in range(5):
        state = method.step(state, objective, None)
        assert state["evals"].max().item() <= evals_per_step
        spent += state["evals"]

    want, calls = [], []
    for i in range(x0.shape[0]):
        p = torch.nn.Parameter(x0[i].clone())
        opt = torch.optim.LBFGS([p], **kwargs)
        count = [0]

        def closure(p: Tensor = p, opt: Any = opt, count: list[int] = count) -> Tensor:
            count[0] += 1
            opt.zero_grad()
            loss = rosenbrock(p[None]).sum()
            loss.backward()
            return loss

        for _ in range(5):
            opt.step(closure)
        want.append(p.detach())
        calls.append(count[0])
    torch.testing.assert_close(state["x"], torch.stack(want), rtol=0, atol=0)
    assert spent.tolist() == calls
    if "line_search" not in spec:
        assert calls == [5 * evals_per_step] * x0.shape[0]


def test_rows_restart_from_the_harness_edits(x0: Tensor) -> None:
    """The harness freezes a diverged row by writing ``state["x"]``; the next step uses it."""
    method = optimizers.method(f"{CUSTOM}:lr=0.05")
    objective = objective_of(quadratic)
    state = method.init(x0.clone(), None)
    state = method.step(state, objective, None)
    state["x"] = x0.clone()
    state = method.step(state, objective, None)
    fresh = method.step(method.init(x0.clone(), None), objective, None)
    torch.testing.assert_close(state["x"], fresh["x"], rtol=0, atol=0)


def test_rows_marked_fresh_restart_with_new_optimizers(x0: Tensor) -> None:
    """Sequential restarts blend a fresh ``init`` into some rows: those rows start over."""
    method = optimizers.method("torch:LBFGS:lr=0.5")
    objective = objective_of(rosenbrock)
    state = method.init(x0.clone(), None)
    for _ in range(3):
        state = method.step(state, objective, None)
    restart = torch.tensor([True, False, False, True, False])
    fresh = method.init(torch.zeros_like(x0), None)
    state = {
        **state,
        "x": torch.where(restart[:, None], fresh["x"], state["x"]),
        "fresh": torch.where(restart, fresh["fresh"], state["fresh"]),
    }
    kept = state["x"].clone()
    for _ in range(3):
        state = method.step(state, objective, None)
    new = method.init(kept, None)
    for _ in range(3):
        new = method.step(new, objective, None)
    torch.testing.assert_close(state["x"][restart], new["x"][restart], rtol=0, atol=0)
    assert not torch.equal(state["x"][~restart], new["x"][~restart])


def test_elementwise_state_is_not_per_row_and_says_so(x0: Tensor) -> None:
    state = optimizers.configure("torch:Adam").init(x0)
    assert state["step"].shape == ()


DIVERGES_ON_ROSENBROCK = {"torch:ASGD"}  # torch's default lr=0.01 is too large from (-1.2, 1)


@pytest.mark.parametrize("name", torch_names())
@pytest.mark.parametrize(
    ("fn", "start"),
    [(quadratic, [1.0, -1.0, 0.5]), (rosenbrock, [-1.2, 1.0])],
    ids=["quadratic", "rosenbrock"],
)
def test_torch_defaults_decrease_the_loss(
    name: str, fn: Callable[[Tensor], Tensor], start: list[float]
) -> None:
    if fn is rosenbrock and name in DIVERGES_ON_ROSENBROCK:
        pytest.skip(f"{name} diverges with torch's defaults")
    x0 = torch.tensor([start], dtype=torch.float64)
    x = run_method(optimizers.method(name), fn, x0, 100)
    assert fn(x).item() < 0.9 * fn(x0).item()


@pytest.mark.parametrize(
    "name", [f"torch:{n}" for n in ("SparseAdam", "Muon") if hasattr(torch.optim, n)]
)
def test_classes_that_cannot_run_on_rows_say_why(name: str) -> None:
    with pytest.raises(SpecError, match=f"optimizer '{name}' cannot run here: it "):
        optimizers.get(name)


# --- names --------------------------------------------------------------------------------


def test_spelling_round_trips() -> None:
    config = optimizers.configure("torch:NAdam:lr=0.01")
    assert config.label == "torch:NAdam:lr=0.01"
    assert optimizers.configure(config.label).hp == config.hp
    assert optimizers.configure("torch:NAdam").label == "torch:NAdam"
    label = optimizers.configure("torch:LBFGS:line_search_fn=strong_wolfe,max_iter=5").label
    assert label == "torch:LBFGS:max_iter=5,line_search_fn=strong_wolfe"
    assert optimizers.configure(label).label == label
    assert (
        optimizers.configure("torch.optim:Adam:beta2=0.99").label == "torch.optim:Adam:beta2=0.99"
    )
    assert parse_spec("restarts(torch:NAdam:lr=0.01,n=4)").inner == ("torch:NAdam:lr=0.01",)


def test_parse_knows_adapter_names() -> None:
    assert optimizers.parse("torch:NAdam:lr=0.01") == Spec("torch:NAdam", {"lr": 0.01})
    assert optimizers.parse("torch:LBFGS") == Spec("torch:LBFGS")
    assert optimizers.parse("a.b:C:x=1,y=2") == Spec("a.b:C", {"x": 1, "y": 2})
    assert optimizers.parse("adam:lr=0.01") == Spec("adam", {"lr": 0.01})
    assert optimizers.parse("restarts(torch:NAdam,n=2)").inner == (Spec("torch:NAdam"),)


def test_betas_are_flat() -> None:
    spec = optimizers.get("torch:Adam")
    assert spec.defaults["beta1"] == 0.9
    assert spec.defaults["beta2"] == 0.999
    assert isinstance(spec, TorchOptimizer)
    kwargs = spec.kwargs(optimizers.configure("torch:Adam:beta1=0.5").hp)
    assert kwargs["betas"] == (0.5, 0.999)
    assert kwargs["amsgrad"] is False


@pytest.mark.parametrize(
    ("spec", "error", "message"),
    [
        ("torch:Adamx", UnknownNameError, r"'Adamx'; did you mean 'Adamax'\?"),
        ("torch:NAdam:lr=-1", SpecError, r"torch:NAdam: invalid lr -1; allowed: \(0, inf\)"),
        ("torch:NAdam:lr=nan", SpecError, "invalid lr nan"),
        ("torch:Adam:beta2=1", SpecError, r"invalid beta2 1; allowed: \[0, 1\)"),
        ("torch:SGD:weight_decay=-1", SpecError, "invalid weight_decay -1"),
        ("torch:SGD:momentum=-0.5", SpecError, "invalid momentum -0.5"),
        ("torch:Adam:eps=0", SpecError, "invalid eps 0"),
        ("torch:Adam:amsgrad=2", SpecError, r"invalid amsgrad 2; allowed: \{0, 1\}"),
        ("torch:Adam:lr=fast", SpecError, "lr must be a number, got 'fast'"),
        ("torch:NAdam:gamma=1", SpecError, "unknown hyperparameter 'gamma'; allowed: lr,"),
        ("torch:Rprop:eta1=2", SpecError, "torch:Rprop: Invalid eta values: 2, 1.2"),
        ("torch:SGD:nesterov=1", SpecError, "Nesterov momentum requires a momentum"),
        ("nosuch.module:Opt", SpecError, "cannot import module 'nosuch.module'"),
        ("math:Foo", UnknownNameError, "unknown optimizer class in math 'Foo'"),
        ("torch:Optimizer", UnknownNameError, "'Optimizer'"),
        ("problems:Problem", SpecError, "problems.Problem is not a torch.optim.Optimizer"),
    ],
)
def test_bad_adapter_specs(spec: str, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        optimizers.method(spec)


def test_listing_includes_torch_classes() -> None:
    rows = {r["name"]: r for r in optimizers.describe(torch=True)}
    assert rows["torch:NAdam"]["mode"] == "batched"
    assert rows["torch:LBFGS"]["mode"] == "row by row"
    assert rows["torch:NAdam"]["summary"].startswith("torch.optim.nadam.NAdam (elementwise")
    assert math.isclose(rows["torch:NAdam"]["defaults"]["lr"], 2e-3)
