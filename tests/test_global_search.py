"""Global search: random search and random restarts, driven by a tiny local step loop."""

from __future__ import annotations

import itertools
import math
import re

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import Tensor

import optimizers
import problems
from optimizers import Context, RandomSearch, Restarts
from problems import OptbenchError, Problem, Spec, SpecError

HIMMELBLAU_MINIMA = (
    (3.0, 2.0),
    (-2.805118, 3.131312),
    (-3.779310, -3.283186),
    (3.584428, -1.848126),
)


def himmelblau() -> Problem:
    """Himmelblau (1972): ``(x^2 + y - 11)^2 + (x + y^2 - 7)^2`` on ``[-5, 5]^2``, f* = 0.

    Four global minima (Surjanovic & Bingham's values); built here until the catalogue has it.
    """
    if "himmelblau" in problems.PROBLEMS:
        return problems.get("himmelblau")

    def fn(x: Tensor) -> Tensor:
        a, b = x[:, 0], x[:, 1]
        return (a * a + b - 11) ** 2 + (a + b * b - 7) ** 2

    return Problem(
        "himmelblau",
        2,
        fn,
        ((-5.0, -5.0), (5.0, 5.0)),
        0.0,
        HIMMELBLAU_MINIMA,
        frozenset({"multimodal"}),
    )


class Counting:
    """``objective(x, need_grad)`` by autograd on `problem.loss`, counting evaluated rows."""

    def __init__(self, problem: Problem) -> None:
        self.problem = problem
        self.evals = 0

    def __call__(self, x: Tensor, need_grad: bool) -> tuple[Tensor, Tensor | None]:
        self.evals += x.shape[0]
        if not need_grad:
            with torch.no_grad():
                return self.problem.loss(x), None
        xr = x.detach().requires_grad_(True)
        loss = self.problem.loss(xr)
        (grad,) = torch.autograd.grad(loss.sum(), xr)
        return loss.detach(), grad


def context(problem: Problem, seed: int = 0) -> Context:
    return Context(problem, torch.Generator().manual_seed(seed), torch.device("cpu"), torch.float64)


def starts(method, problem: Problem, seeds) -> Tensor:
    """Rows as the harness builds them: seed s draws its starts from its own generator."""
    info = method.info
    rows = []
    for s in seeds:
        generator = torch.Generator().manual_seed(s)
        if info.starts is not None:
            rows.append(
                info.starts(
                    problem, info.starts_per_seed, generator, device="cpu", dtype=torch.float64
                )
            )
        else:
            rows.append(problem.start(info.starts_per_seed, generator))
    return torch.cat(rows)


def drive(method, problem: Problem, x0: Tensor, steps: int, *, seed: int = 0):
    """Run `steps` steps; returns the final state, losses ``[steps, R]`` and the objective."""
    ctx, objective = context(problem, seed), Counting(problem)
    state = method.init(x0, ctx)
    losses, history = [], []
    for _ in range(steps):
        state = method.step(state, objective, ctx)
        losses.append(state["loss"])
        history.append(state)
    return state, torch.stack(losses), objective, history


# --- spelling, registry, validation -------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "label"),
    [
        ("random-search", "random-search"),
        ("random_search", "random-search"),  # the old spelling, an alias
        ("random-search(batch=1)", "random-search"),
        ("random_search(batch=4)", "random-search(batch=4)"),
        ("restarts(adam,n=32)", "restarts(adam,n=32)"),
        (
            "restarts(adam:lr=0.01,n=32,mode=sequential)",
            "restarts(adam:lr=0.01,n=32,mode=sequential)",
        ),
        (
            "restarts(sgd:lr=0.1,mode=sequential,window=5,tol=0.001,gtol=0.0)",
            "restarts(sgd:lr=0.1,n=1,mode=sequential,window=5,tol=0.001,gtol=0.0)",
        ),
        ("restarts(adam:lr=0.01,beta1=0.8,n=4)", "restarts(adam:lr=0.01,beta1=0.8,n=4)"),
        ("restarts(sgd)", "restarts(sgd,n=16)"),
    ],
)
def test_label_round_trips(spec: str, label: str) -> None:
    method = optimizers.method(spec)
    assert method.info.label == label
    assert optimizers.method(method.info.label).info.label == label


def test_registered_and_exported() -> None:
    assert {"random-search", "restarts"} <= set(optimizers.WRAPPERS.names())
    assert "random_search" not in optimizers.WRAPPERS.names()  # an alias: works, not listed
    assert isinstance(optimizers.method("random-search"), RandomSearch)
    assert isinstance(optimizers.method("random_search"), RandomSearch)


@pytest.mark.parametrize(
    ("spec", "near"),
    [("random-serch", "random-search"), ("restart(adam)", "restarts"), ("adamm", "adam")],
)
def test_unknown_names_suggest_wrappers_too(spec: str, near: str) -> None:
    with pytest.raises(OptbenchError, match=f"did you mean '{re.escape(near)}'"):
        optimizers.method(spec)
    assert isinstance(optimizers.method("restarts(sgd,n=2)"), Restarts)


def test_attributes() -> None:
    m = optimizers.method("restarts(adam:lr=0.01,n=32)")
    assert (m.info.starts_per_seed, m.info.evals_per_step) == (32, 1)
    assert m.info.name == "restarts"
    assert m.info.hp["lr"] == 0.01
    assert m.info.hp["n"] == 32
    assert m.info.starts is optimizers.uniform_starts
    assert optimizers.method("random_search(batch=3)").info.starts_per_seed == 3
    assert optimizers.method("adam").info.starts is None  # the problem's default start
    # a Method object composes too
    inner = optimizers.method("sgd:lr=0.1")
    built = optimizers.WRAPPERS.factory("restarts")(inner, n=3)
    assert built.info.label == "restarts(sgd:lr=0.1,n=3)"


def test_a_wrapper_spec_is_parsed_once_into_one_value() -> None:
    parsed = optimizers.parse("restarts(adam:lr=0.05,eps=1e-6,n=32)")
    assert parsed == Spec("restarts", {"eps": 1e-6, "n": 32}, (Spec("adam", {"lr": 0.05}),))
    assert str(parsed) == "restarts(adam:lr=0.05,eps=1e-06,n=32)"
    assert optimizers.method(parsed).info.label == "restarts(adam:lr=0.05,eps=1e-06,n=32)"


def test_building_a_method_parses_each_spec_text_once(monkeypatch: pytest.MonkeyPatch) -> None:
    import optimizers._catalogue as catalogue

    seen: list[str] = []

    def counting(text: str) -> Spec:
        seen.append(text)
        return problems.parse_spec(text)

    monkeypatch.setattr(catalogue, "parse_spec", counting)
    method = optimizers.method("restarts(adam:lr=0.05,n=32)")
    assert seen == ["restarts(adam:lr=0.05,n=32)", "adam:lr=0.05"]  # the outer, then its inner
    assert method.info.name == "restarts"  # the optimizer_name column, from the built method


# --- every registered wrapper -------------------------------------------------------------

WRAPPER_SPECS = {name: f"{name}(adam:lr=0.05)" for name in optimizers.WRAPPERS.names()}
"""A spec for each wrapper: its name with an inner optimizer, if it takes one."""


def wrapper_spec(name: str) -> str:
    """``name`` alone when the wrapper takes no inner optimizer, else ``name(adam:lr=0.05)``."""
    try:
        optimizers.method(WRAPPER_SPECS[name])
    except SpecError as error:
        if "no inner optimizer" in str(error):
            return name
        raise
    return WRAPPER_SPECS[name]


@pytest.mark.parametrize("name", optimizers.WRAPPERS.names())
def test_every_wrapper_is_a_method_whose_label_round_trips(name: str) -> None:
    method = optimizers.method(wrapper_spec(name))
    info = method.info
    assert info.name == name
    assert optimizers.method(info.label).info == info
    assert info.starts_per_seed >= 1 and info.evals_per_step >= 1
    assert all(isinstance(v, float) for v in info.hp.values())


@pytest.mark.parametrize("name", optimizers.WRAPPERS.names())
def test_every_wrapper_searches_and_counts(name: str) -> None:
    """Best-so-far never worsens, the loss is every row's, evaluations add up (no new code
    for a new wrapper: the registry drives it)."""
    problem = himmelblau()
    method = optimizers.method(wrapper_spec(name))
    seeds, steps = [0, 1], 30
    x0 = starts(method, problem, seeds)
    assert x0.shape == (len(seeds) * method.info.starts_per_seed, 2)
    state, losses, objective, history = drive(method, problem, x0, steps)
    assert losses.shape == (steps, x0.shape[0])
    assert bool(torch.isfinite(losses).all())
    if "evals" not in state:
        assert objective.evals == steps * x0.shape[0] * method.info.evals_per_step
    assert float(losses.min()) < float(losses[0].min())  # the search found better points
    for earlier, later in itertools.pairwise(history):
        if "best_loss" in later:
            assert bool((later["best_loss"] <= earlier["best_loss"]).all())


@pytest.mark.parametrize(
    ("spec", "match"),
    [
        ("restarts(adam,n=0)", "invalid n 0; allowed: an integer >= 1"),
        ("restarts(adam,n=2.5)", "invalid n 2.5"),
        ("restarts(adam,n=true)", "invalid n True"),
        ("restarts(adam,mode=serial)", "invalid mode 'serial'; allowed: parallel, sequential"),
        ("restarts(adam,window=3)", "window applies only to mode=sequential"),
        ("restarts(adam,mode=sequential,window=0)", "invalid window 0"),
        ("restarts(adam,mode=sequential,tol=-1)", "invalid tol -1"),
        ("restarts(adam,mode=sequential,gtol=nan)", "invalid gtol"),
        ("restarts(n=3)", "exactly one inner optimizer"),
        ("restarts(adam,sgd)", "exactly one inner optimizer"),
        ("restarts(adam,foo=1)", "unknown hyperparameter 'foo'"),
        ("restarts(adam:lr=-1)", "invalid lr -1"),
        ("random_search(batch=0)", "invalid batch 0"),
        ("random_search(foo=1)", "unknown option 'foo'; allowed: batch"),
        ("random_search(adam)", "takes no inner optimizer"),
    ],
)
def test_validation(spec: str, match: str) -> None:
    with pytest.raises(SpecError, match=match.replace("(", r"\(").replace(")", r"\)")) as info:
        optimizers.method(spec)
    assert "\n" not in str(info.value)


def test_sequential_needs_per_row_state() -> None:
    scalar = optimizers.Optimizer(
        "scalar-step",
        lambda x: {"t": torch.zeros(())},
        lambda x, g, s, hp: (x, s),
        defaults={"lr": 0.1},
    )
    method = optimizers.WRAPPERS.factory("restarts")(
        optimizers.local(scalar.configure()), mode="sequential"
    )
    problem = problems.get("sphere")
    with pytest.raises(SpecError, match=r"state\['opt'\]\['t'\] has shape \[\]"):
        method.init(problem.sample(2), context(problem))


# --- random search ------------------------------------------------------------------------


def test_random_search_best_is_monotone_and_in_bounds() -> None:
    problem = himmelblau()
    method = optimizers.method("random_search(batch=4)")
    x0 = starts(method, problem, [0, 1])
    _, losses, objective, history = drive(method, problem, x0, 60)
    lower, upper = problem.box()
    previous = torch.full((8,), math.inf, dtype=torch.float64)
    for k, s in enumerate(history):
        assert (s["x"] >= lower).all()
        assert (s["x"] <= upper).all()
        assert (s["best_loss"] <= previous).all()
        previous = s["best_loss"]
        # the incumbent is the best sample so far, and its loss is its own
        torch.testing.assert_close(s["best_loss"], losses[: k + 1].min(0).values)
        torch.testing.assert_close(problem.loss(s["x"]), s["best_loss"])
    assert objective.evals == 60 * 8
    # the first step evaluates the starts (the seed's CPU generator), the next ones new samples
    torch.testing.assert_close(losses[0], problem.loss(x0))
    assert not torch.equal(losses[1], losses[0])


# --- restarts -----------------------------------------------------------------------------


def test_parallel_restarts_find_all_four_himmelblau_minima() -> None:
    problem = himmelblau()
    method = optimizers.method("restarts(adam:lr=0.05,n=64)")
    x0 = starts(method, problem, [0])
    state, _, _, _ = drive(method, problem, x0, 600)
    found = state["best_x"][state["best_loss"] < 1e-6]
    assert len(problem.x_star) == 4
    for minimum in problem.x_star:
        distance = (found - torch.tensor(minimum, dtype=torch.float64)).norm(dim=-1).min()
        assert distance < 1e-3, f"minimum {minimum} not found (closest {float(distance):.3g})"


@settings(max_examples=12, deadline=None)
@given(seed=st.integers(0, 2**31 - 1))
def test_best_of_restarts_is_never_worse_than_first_start(seed: int) -> None:
    problem = himmelblau()
    steps = 40
    for spec in (
        "restarts(adam:lr=0.05,n=6)",
        "restarts(adam:lr=0.05,n=2,mode=sequential,window=5,tol=0.001)",
    ):
        method = optimizers.method(spec)
        x0 = starts(method, problem, [seed])
        state, losses, _, history = drive(method, problem, x0, steps, seed=seed)
        alone = optimizers.method(spec.split("(", 1)[1].split(",")[0])
        _, first, _, _ = drive(alone, problem, x0[:1], steps)
        # steps run before the first row-0 restart follow the first start's own trajectory
        restarted = [int(s["restarts"][0]) for s in history]
        before = restarted.index(1) + 1 if 1 in restarted else steps
        assert state["best_loss"].min() <= first[:before, 0].min()
        assert losses.min() <= first[:before, 0].min()
        assert (state["best_loss"] == losses.min(0).values).all()


@pytest.mark.parametrize(
    "spec",
    [
        "random_search(batch=3)",
        "restarts(sgd:lr=0.01,n=4)",
        "restarts(adam:lr=0.1,n=2,mode=sequential,window=2)",
        "adam",
    ],
)
def test_evaluation_counts_add_up(spec: str) -> None:
    problem = himmelblau()
    method = optimizers.method(spec)
    seeds, steps = [0, 1, 2], 17
    x0 = starts(method, problem, seeds)
    assert x0.shape[0] == len(seeds) * method.info.starts_per_seed
    state, losses, objective, _ = drive(method, problem, x0, steps)
    per_seed = steps * method.info.starts_per_seed * method.info.evals_per_step
    assert objective.evals == len(seeds) * per_seed
    assert losses.shape == (steps, x0.shape[0])
    if "sequential" in spec:  # restarts happened and cost nothing extra
        assert int(state["restarts"].sum()) > 0


def test_sequential_restarts_only_stalled_rows_gtol() -> None:
    problem = problems.get("sphere")
    method = optimizers.method("restarts(adam:lr=0.1,n=4,mode=sequential)")
    x0 = torch.tensor([[0.0, 0.0], [0.0, 0.0], [3.0, 4.0], [-2.0, 1.0]], dtype=torch.float64)
    state, _, _, _ = drive(method, problem, x0, 1)
    # rows 0 and 1 sit at the minimum (gradient 0 < gtol): re-sampled, fresh Adam state
    assert state["restarts"].tolist() == [1, 1, 0, 0]
    assert (state["x"][:2] != 0).all()
    lower, upper = problem.box()
    assert ((state["x"] >= lower) & (state["x"] <= upper)).all()
    assert state["inner"]["opt"]["step"].flatten().tolist() == [0.0, 0.0, 1.0, 1.0]
    # rows 2 and 3 took a plain Adam step (first step moves each coordinate by lr)
    torch.testing.assert_close(state["x"][2:], x0[2:] - 0.1 * x0[2:].sign())
    assert state["best_loss"].tolist() == [0.0, 0.0, 25.0, 5.0]
    assert (state["best_x"] == x0).all()


def test_sequential_restarts_only_stalled_rows_window() -> None:
    def fn(x: Tensor) -> Tensor:  # flat (=1) outside the unit disc: those rows stall
        return (x * x).sum(-1).clamp(max=1.0)

    problem = Problem("capped-sphere", 2, fn, ((-3.0, -3.0), (3.0, 3.0)), 0.0, ((0.0, 0.0),))
    method = optimizers.method("restarts(sgd:lr=0.1,n=4,mode=sequential,window=3,gtol=0.0)")
    x0 = torch.tensor([[0.5, 0.5], [-0.3, 0.2], [2.0, 2.0], [-2.5, 1.0]], dtype=torch.float64)
    _, _, _, history = drive(method, problem, x0, 4)
    # step 1 sets the reference, steps 2-4 bring no improvement: rows 2, 3 stall after step 4
    assert [s["restarts"].tolist() for s in history] == [[0, 0, 0, 0]] * 3 + [[0, 0, 1, 1]]
    final = history[-1]
    torch.testing.assert_close(final["x"][:2], x0[:2] * 0.8**4)  # plain SGD continued
    assert not torch.equal(final["x"][2:], x0[2:])  # re-sampled
    assert final["stall"].tolist() == [0, 0, 0, 0]
    assert final["best_loss"][2:].tolist() == [1.0, 1.0]  # best carries across restarts


def test_harness_drives_restarts() -> None:
    from bench._engine import run_rows
    from bench._engine import starts as harness_starts

    problem = himmelblau()
    method = optimizers.method("restarts(adam:lr=0.05,n=8,mode=sequential,window=20)")
    x0 = harness_starts(method, problem, [0, 1], device=torch.device("cpu"), dtype=torch.float64)
    trace = run_rows(problem, method, x0, steps=100, checkpoints=[10, 100], targets=[1e-4])
    assert trace.best.shape == (3, 16)
    assert float(trace.best[-1].min()) < 1e-4
    assert bool((trace.diverged_at == -1).all())


def test_restarts_wrap_the_torch_adapter() -> None:
    problem = himmelblau()
    ours = optimizers.method("restarts(adam:lr=0.05,n=4)")
    theirs = optimizers.method("restarts(torch:Adam:lr=0.05,n=4)")
    assert optimizers.method(theirs.info.label).info.label == "restarts(torch:Adam:lr=0.05,n=4)"
    x0 = starts(ours, problem, [0, 1])
    torch.testing.assert_close(x0, starts(theirs, problem, [0, 1]))
    _, a, _, _ = drive(ours, problem, x0, 20)
    _, b, _, _ = drive(theirs, problem, x0, 20)
    torch.testing.assert_close(a, b)
    # torch's elementwise Adam keeps one 0-d step for all rows: no per-row reset possible
    with pytest.raises(SpecError, match="per-row optimizer state"):
        optimizers.method("restarts(torch:Adam,mode=sequential)").init(x0, context(problem))


def test_sequential_restarts_of_row_by_row_lbfgs_forward_evaluation_counts() -> None:
    problem = himmelblau()
    spec = "restarts(torch:LBFGS:line_search_fn=strong_wolfe,n=3,mode=sequential,window=3)"
    method = optimizers.method(spec)
    x0 = starts(method, problem, [0])
    state, _, _, history = drive(method, problem, x0, 12)
    assert "evals" in method.init(x0, context(problem))  # the harness counts them
    assert int(state["restarts"].sum()) > 0
    for s in history:  # this step's per-row count, also on rows that restarted after it
        assert bool((s["evals"] >= 1).all())
        assert bool((s["evals"] <= method.info.evals_per_step).all())
    assert float(state["best_loss"].min()) < 1e-8
