"""Instances (seeded shift and rotation) and noisy variants."""

from __future__ import annotations

import pytest
import torch

import problems
from problems import SpecError
from problems.variants import gaussian, instance, noisy, random_rotation, row_keys


def points(problem: problems.Problem, n: int = 16, seed: int = 0) -> torch.Tensor:
    return problem.sample(n, torch.Generator().manual_seed(seed))


# ---------------------------------------------------------------------- instances


def test_random_rotation_is_orthogonal_and_seeded() -> None:
    q = random_rotation(6, torch.Generator().manual_seed(1))
    torch.testing.assert_close(q @ q.T, torch.eye(6, dtype=torch.float64))
    assert torch.equal(q, random_rotation(6, torch.Generator().manual_seed(1)))
    assert not torch.equal(q, random_rotation(6, torch.Generator().manual_seed(2)))


def test_instance_is_the_transformed_function() -> None:
    """``f'(x) = f(Q (x - s))`` and ``x'* = s + Q^T x*``; the sphere sees only ``|x - s|``."""
    base = problems.get("sphere:dim=4")
    inst = problems.get("sphere:dim=4,instance=5")
    s = torch.tensor(inst.x_star[0], dtype=torch.float64)  # x* = 0, so x'* = s
    assert s.abs().min() > 0
    x = points(inst)
    torch.testing.assert_close(inst.loss(x), ((x - s) ** 2).sum(-1))
    assert inst.f_star == base.f_star
    assert inst.bounds == base.bounds
    assert "separable" in base.tags and "separable" not in inst.tags
    assert "convex" in inst.tags


def test_instance_seeds_give_different_reproducible_instances() -> None:
    first = problems.get("levy:dim=3,instance=1")
    assert first.x_star == problems.get("levy:dim=3,instance=1").x_star
    assert first.x_star != problems.get("levy:dim=3,instance=2").x_star
    assert first.x_star != problems.get("levy:dim=3").x_star
    # the same seed gives different shifts on different problems
    assert first.x_star != problems.get("rosenbrock:dim=3,instance=1").x_star


def test_shift_only_and_rotate_only() -> None:
    base = problems.get("styblinski-tang:dim=3")
    shifted = problems.get("styblinski-tang:dim=3,instance=4,rotate=false")
    rotated = problems.get("styblinski-tang:dim=3,instance=4,shift=false")
    assert "separable" in shifted.tags and "separable" not in rotated.tags
    x = points(base)
    s = torch.tensor(shifted.x_star[0]) - torch.tensor(base.x_star[0])
    torch.testing.assert_close(shifted.loss(x + s), base.loss(x))
    # a pure rotation keeps distances to the origin
    norm = torch.linalg.vector_norm
    assert norm(torch.tensor(rotated.x_star[0])) == pytest.approx(
        norm(torch.tensor(base.x_star[0]))
    )
    assert shifted.spec == "styblinski-tang:dim=3,instance=4,rotate=false"


def test_instance_moves_the_literature_start() -> None:
    base = problems.get("rosenbrock")
    inst = problems.get("rosenbrock:instance=2")
    assert inst.x0 is not None and inst.x0 != base.x0
    x0 = torch.tensor([base.x0], dtype=torch.float64)
    x0_inst = torch.tensor([inst.x0], dtype=torch.float64)
    torch.testing.assert_close(inst.loss(x0_inst), base.loss(x0))


@pytest.mark.parametrize("name", ["schwefel:dim=2", "eggholder", "michalewicz:dim=2", "shubert"])
def test_box_defined_problems_do_not_beat_f_star_outside_the_box(name: str) -> None:
    """Schwefel & co. go lower outside their box; the boundary penalty keeps f_star honest."""
    base = problems.get(name)
    lower, upper = base.box()
    u = torch.rand(
        100_000, base.dim, generator=torch.Generator().manual_seed(1), dtype=torch.float64
    )
    wide = lower - (upper - lower) + 3 * (upper - lower) * u  # a box three times as wide
    assert base.loss(wide).min().item() >= base.f_star - 1e-9
    inside = base.sample(1000, torch.Generator().manual_seed(2))
    raw = problems.PROBLEMS.create(name)  # the factory's function, without the penalty
    if name in ("schwefel:dim=2", "eggholder"):  # the penalty is needed ...
        assert raw.loss(wide).min().item() < base.f_star - 1e-3
    torch.testing.assert_close(base.loss(inside), raw.loss(inside))  # ... and changes no inside


def test_box_defined_instances_do_not_beat_f_star_outside_the_box() -> None:
    """Schwefel goes lower outside [-500, 500]; its instances add the boundary penalty."""
    inst = problems.get("schwefel:dim=2,instance=3")
    x = inst.sample(100_000, torch.Generator().manual_seed(0))
    assert inst.loss(x).min().item() >= inst.f_star
    torch.testing.assert_close(
        inst.loss(torch.tensor(inst.x_star, dtype=torch.float64)),
        torch.tensor([inst.f_star], dtype=torch.float64),
    )


def test_bukin_instances_only_shift_exactly() -> None:
    inst = problems.get("bukin-n6:instance=9")
    base = problems.get("bukin-n6")
    assert inst.loss(torch.tensor(inst.x_star, dtype=torch.float64)).item() == 0.0
    x = points(base)
    s = torch.tensor(inst.x_star[0]) - torch.tensor(base.x_star[0])
    torch.testing.assert_close(inst.loss(x + s), base.loss(x))


def test_multi_minimiser_instances_keep_every_minimiser_inside() -> None:
    for name in ("shubert", "holder-table", "himmelblau", "alpine-n1:dim=3"):
        for seed in range(5):
            inst = problems.get(f"{name}{',' if ':' in name else ':'}instance={seed}")
            lower, upper = inst.box()
            x = torch.tensor(inst.x_star, dtype=torch.float64)
            assert bool(((x >= lower) & (x <= upper)).all())
            torch.testing.assert_close(
                inst.loss(x), torch.full((len(x),), inst.f_star, dtype=torch.float64)
            )


def test_instance_function_api_matches_options() -> None:
    direct = instance(problems.get("griewank:dim=3"), 6)
    assert direct.spec == "griewank:dim=3,instance=6"
    assert direct.x_star == problems.get(direct.spec).x_star


@pytest.mark.parametrize(
    ("spec", "match"),
    [
        ("sphere:instance=-1", "instance must be an integer >= 0"),
        ("sphere:instance=1.5", "instance must be an integer >= 0"),
        ("sphere:instance=true", "instance must be an integer >= 0"),
        ("sphere:shift=false", "need instance"),
        ("sphere:rotate=false", "need instance"),
        ("sphere:instance=1,shift=false,rotate=false", "changes nothing"),
        ("sphere:instance=1,rotate=yes", "rotate must be true or false"),
    ],
)
def test_instance_errors(spec: str, match: str) -> None:
    with pytest.raises(SpecError, match=match):
        problems.get(spec)


# ---------------------------------------------------------------------- noise


def test_noise_makes_a_stochastic_problem_with_a_clean_loss() -> None:
    clean = problems.get("rosenbrock:dim=3")
    noisy_problem = problems.get("rosenbrock:dim=3,noise=0.5")
    assert "stochastic" in noisy_problem.tags and "stochastic" not in clean.tags
    x = points(clean)
    assert torch.equal(noisy_problem.loss(x), clean.loss(x))
    assert noisy_problem.f_star == clean.f_star
    train = noisy_problem.train_loss(range(len(x)), "cpu", torch.float64)
    assert not torch.equal(train(x, 0), clean.loss(x))
    assert noisy_problem.spec == "rosenbrock:dim=3,noise=0.5"


def test_noise_is_seeded_per_row_and_step() -> None:
    p = problems.get("sphere:dim=2,noise=1.0")
    x = points(p, 4)
    train = p.train_loss([10, 11, 12, 13], "cpu", torch.float64)
    again = p.train_loss([10, 11, 12, 13], "cpu", torch.float64)
    assert torch.equal(train(x, 3), again(x, 3))
    assert not torch.equal(train(x, 3), train(x, 4))
    # a row's noise depends on its seed only, not on the rows beside it
    alone = p.train_loss([12], "cpu", torch.float64)
    assert alone(x[2:3], 3).item() == train(x, 3)[2].item()


def test_noise_statistics() -> None:
    keys = row_keys(range(20_000), "cpu")
    z = torch.stack([gaussian(keys, step, torch.float64) for step in range(5)])
    assert abs(z.mean().item()) < 0.02
    assert abs(z.std().item() - 1) < 0.02
    assert abs(torch.corrcoef(z[:2])[0, 1].item()) < 0.03
    assert z.abs().max().item() < 7


def test_additive_and_multiplicative_noise() -> None:
    p_add = problems.get("sphere:dim=2,noise=0.1")
    p_mul = problems.get("sphere:dim=2,noise=0.1,noise_kind=multiplicative")
    assert p_mul.spec == "sphere:dim=2,noise=0.1,noise_kind=multiplicative"
    x = points(p_add, 1000)
    seeds = range(1000)
    z = gaussian(row_keys(seeds, "cpu"), 7, torch.float64)
    f = p_add.loss(x)
    torch.testing.assert_close(p_add.train_loss(seeds, "cpu", torch.float64)(x, 7), f + 0.1 * z)
    torch.testing.assert_close(
        p_mul.train_loss(seeds, "cpu", torch.float64)(x, 7), f * (1 + 0.1 * z)
    )


def test_noise_keeps_gradients_flowing_and_dtype(device: torch.device) -> None:
    p = problems.get("ackley:dim=3,instance=2,noise=0.2,noise_kind=multiplicative")
    x = points(p, 8).to(device=device, dtype=torch.float32).requires_grad_(True)
    value = p.train_loss(range(8), device, torch.float32)(x, 1)
    assert value.dtype == torch.float32 and value.device.type == device.type
    (grad,) = torch.autograd.grad(value.sum(), x)
    assert bool(torch.isfinite(grad).all())


def test_noise_on_an_instance_round_trips() -> None:
    p = problems.get("griewank:dim=4,noise=0.3,instance=8")
    assert p.spec == "griewank:dim=4,instance=8,noise=0.3"
    rebuilt = problems.get(p.spec)
    x = points(p)
    assert torch.equal(rebuilt.loss(x), p.loss(x))
    train, train2 = (q.train_loss([1, 2], "cpu", torch.float64) for q in (p, rebuilt))
    assert torch.equal(train(x[:2], 5), train2(x[:2], 5))


def test_noisy_function_api() -> None:
    p = noisy(problems.get("booth"), 2, kind="multiplicative")
    assert p.spec == "booth:noise=2,noise_kind=multiplicative"
    assert problems.get(p.spec).spec == p.spec


@pytest.mark.parametrize(
    ("spec", "match"),
    [
        ("sphere:noise=-0.1", "noise must be a number >= 0"),
        ("sphere:noise=loud", "noise must be a number >= 0"),
        ("sphere:noise=0.1,noise_kind=gaussian", "noise_kind must be one of"),
        ("sphere:noise_kind=additive", "needs noise"),
    ],
)
def test_noise_errors(spec: str, match: str) -> None:
    with pytest.raises(SpecError, match=match):
        problems.get(spec)
