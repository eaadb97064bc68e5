"""First-hitting steps of targets (`bench._targets.TargetTracker`): its three ways of writing
the table (sparse, scatter, fused) against the definition, ``first step with value <= t``,
on random monotone sequences, with ties and with several targets crossed in one step."""

from __future__ import annotations

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from bench._targets import TargetTracker

CPU = torch.device("cpu")


def _by_definition(values: torch.Tensor, targets: list[float]) -> torch.Tensor:
    """``[R, T]``: the first step (1-based) at which each row's value is at or below each
    target (loose -> tight), -1 where never."""
    out = torch.full((values.shape[1], len(targets)), -1, dtype=torch.int32)
    for j, target in enumerate(sorted(targets, reverse=True)):
        for r in range(values.shape[1]):
            hit = (values[:, r] <= target).nonzero()
            if hit.numel():
                out[r, j] = int(hit[0]) + 1
    return out


def _tracked(
    values: torch.Tensor, targets: list[float], way: str, window: int | None = None
) -> torch.Tensor:
    tracker = TargetTracker(
        targets, values.shape[1], CPU, values.dtype, column_major=way == "fused", window=window
    )
    tracker.sparse = way == "sparse"
    for k, value in enumerate(values, start=1):
        tracker.update(value, torch.tensor(k, dtype=torch.int32), fused=way == "fused")
    return tracker.hits()


@st.composite
def _monotone_rows(draw: st.DrawFn) -> tuple[torch.Tensor, list[float]]:
    """Best-so-far values ``[steps, R]`` drawn from a few levels (so that values equal
    targets and jump past several at once), and targets drawn from the same levels."""
    levels = [10.0**-k for k in range(-1, 8)] + [0.0, float("inf")]
    steps = draw(st.integers(1, 12))
    rows = draw(st.integers(1, 6))
    raw = draw(
        st.lists(st.lists(st.sampled_from(levels), min_size=rows, max_size=rows),
                 min_size=steps, max_size=steps)
    )  # fmt: skip
    values = torch.tensor(raw, dtype=torch.float64).cummin(0).values
    targets = draw(st.lists(st.sampled_from(levels[:-2]), min_size=1, max_size=6, unique=True))
    return values, targets


@settings(max_examples=150, deadline=None)
@given(
    case=_monotone_rows(),
    way=st.sampled_from(["sparse", "scatter", "fused"]),
    window=st.sampled_from([None, 1, 2, 3, 5]),
)
def test_every_way_finds_the_first_step_at_or_below_each_target(
    case: tuple[torch.Tensor, list[float]], way: str, window: int | None
) -> None:
    """``window``: the sparse way's held steps, so that windows end inside the sequence."""
    values, targets = case
    got = _tracked(values, targets, way, window)
    assert torch.equal(got, _by_definition(values, targets))


def test_reset_forgets_the_hits_of_every_way() -> None:
    values = torch.tensor([[5.0, 0.5], [1e-3, 1e-9]], dtype=torch.float64)
    for way in ("sparse", "scatter", "fused"):
        tracker = TargetTracker([1.0, 1e-6], 2, CPU, torch.float64, column_major=way == "fused")
        tracker.sparse = way == "sparse"
        tracker.update(values[1], torch.tensor(7, dtype=torch.int32), fused=way == "fused")
        tracker.reset()
        for k, value in enumerate(values, start=1):
            tracker.update(value, torch.tensor(k, dtype=torch.int32), fused=way == "fused")
        assert tracker.hits().tolist() == [[2, -1], [1, 2]], way
