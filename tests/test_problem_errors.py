"""Errors name the bad value and what is allowed (STYLE rule 6)."""

from __future__ import annotations

import pytest
import torch

import problems
from problems import OptbenchError, SpecError, UnknownNameError


def test_unknown_name_lists_known_names_and_the_closest() -> None:
    with pytest.raises(UnknownNameError) as caught:
        problems.get("rosenbrok:dim=3")
    message = str(caught.value)
    assert "unknown problem 'rosenbrok'" in message
    assert "did you mean 'rosenbrock'?" in message
    assert "rastrigin" in message and "six-hump-camel" in message
    assert isinstance(caught.value, KeyError) and isinstance(caught.value, OptbenchError)


def test_unknown_name_without_a_close_match() -> None:
    with pytest.raises(UnknownNameError, match="Known: ") as caught:
        problems.get("zzzzzzzz")
    assert "did you mean" not in str(caught.value)


@pytest.mark.parametrize("shape", [(4, 3), (4,), (2, 2, 2), (4, 1)])
def test_wrong_shape_of_x(shape: tuple[int, ...]) -> None:
    p = problems.get("rosenbrock")
    with pytest.raises(SpecError, match=r"rosenbrock: expected x of shape \[R, 2\]"):
        p.loss(torch.zeros(shape))


@pytest.mark.parametrize(
    ("spec", "match"),
    [
        ("rosenbrock:dim=1", "dim=1 is not supported; allowed: dim >= 2"),
        ("trid:dim=1", "dim=1 is not supported; allowed: dim >= 2"),
        ("dixon-price:dim=0", "dim=0 is not supported"),
        ("sphere:dim=0", "dim=0 is not supported; allowed: dim >= 1"),
        ("rastrigin:dim=2.5", "dim must be an integer, got 2.5"),
        ("ackley:dim=true", "dim must be an integer, got True"),
        ("michalewicz:dim=21", "dim=21 is not supported; allowed: 1, 2, 3"),
        ("michalewicz:dim=50", "michalewicz: dim=50 is not supported"),
    ],
)
def test_unsupported_dimension(spec: str, match: str) -> None:
    with pytest.raises(SpecError, match=match):
        problems.get(spec)


def test_fixed_dimension_problems_take_no_dim() -> None:
    with pytest.raises(SpecError, match="has no option 'dim'"):
        problems.get("himmelblau:dim=3")


@pytest.mark.parametrize(
    ("condition", "match"),
    [
        (0.5, "condition=0.5 is out of range; allowed: 1 <= condition <= 1e8"),
        (0, "condition=0 is out of range"),
        (1e9, "condition=1000000000.0 is out of range"),
        (-3.0, "out of range"),
        ("huge", "condition must be a number, got 'huge'"),
        (True, "condition must be a number, got True"),
    ],
)
def test_bad_condition_number(condition: object, match: str) -> None:
    with pytest.raises(SpecError, match=match):
        problems.get("ellipsoid", dim=3, condition=condition)


def test_bad_rotated_flag() -> None:
    with pytest.raises(SpecError, match="rotated must be true or false"):
        problems.get("ellipsoid:rotated=1")


def test_unknown_option() -> None:
    with pytest.raises(SpecError, match="'sphere' has no option 'conditon'; allowed: dim"):
        problems.get("sphere:conditon=10")


def test_condition_bounds_are_accepted() -> None:
    assert problems.get("ellipsoid:dim=3,condition=1").f_star == 0.0
    p = problems.get("ellipsoid:dim=3,condition=1e8")
    x = torch.eye(3, dtype=torch.float64)
    torch.testing.assert_close(p.loss(x), torch.tensor([1.0, 1e4, 1e8], dtype=torch.float64))
    assert "ill-conditioned" in p.tags
    assert "ill-conditioned" not in problems.get("ellipsoid:dim=3,condition=10").tags


def test_unknown_option_suggests_the_closest_and_lists_variants() -> None:
    with pytest.raises(problems.SpecError) as error:
        problems.get("rastrigin:dimm=3")
    message = str(error.value)
    assert "did you mean 'dim'?" in message
    assert "instance" in message
