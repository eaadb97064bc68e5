"""First-hitting steps of targets (`bench._targets.TargetTracker`): its ways of writing
the table (sparse, scatter, held) against the definition, ``first step with value <= t``,
on random monotone sequences, with ties and with several targets crossed in one step."""

from __future__ import annotations

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from bench._targets import TargetTracker

CPU = torch.device("cpu")
WAYS = ["sparse", "scatter", "held", "held scatter"]


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
    tracker = _tracker(targets, values.shape[1], values.dtype, way, window)
    for k, value in enumerate(values, start=1):
        _step(tracker, value, k, way)
    return tracker.hits()


def _tracker(
    targets: list[float], rows: int, dtype: torch.dtype, way: str, window: int | None = None
) -> TargetTracker:
    """A tracker that takes values `way`; the CUDA ways (``"scatter"``, ``"held scatter"``)
    on the CPU."""
    tracker = TargetTracker(targets, rows, CPU, dtype, window=window)
    tracker.sparse = way in ("sparse", "held")
    return tracker


def _step(tracker: TargetTracker, value: torch.Tensor, k: int, way: str) -> None:
    """One step's values, the way `way` takes them; ``"held scatter"``: held, then resolved
    by a scatter of the whole window, as on CUDA."""
    step = torch.tensor(k, dtype=torch.int32)
    if way.startswith("held"):
        tracker.hold(value, step)
        tracker.note(k)
    else:
        tracker.update(value, step)


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
    way=st.sampled_from(WAYS),
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
    for way in WAYS:
        tracker = _tracker([1.0, 1e-6], 2, torch.float64, way)
        _step(tracker, values[1], 1, way)
        tracker.reset()
        for k, value in enumerate(values, start=1):
            _step(tracker, value, k, way)
        assert tracker.hits().tolist() == [[2, -1], [1, 2]], way


def test_half_precision_values_are_compared_in_float32() -> None:
    """NumPy, which resolves the CPU window, has no bfloat16: such values are held as float32
    (exactly) and compared with the targets there."""
    values = torch.tensor([[2.0, 0.5], [0.5, 1e-3]], dtype=torch.bfloat16)
    for way in WAYS:
        tracker = _tracker([1.0, 1e-2], 2, torch.bfloat16, way)
        for k, value in enumerate(values, start=1):
            _step(tracker, value, k, way)
        assert tracker.hits().tolist() == [[2, -1], [1, 2]], way


def test_a_window_is_allocated_only_where_it_is_used() -> None:
    """Off the CPU an eager step scatters (`update`): without a compiled step to `hold`
    values, the tracker keeps no window (64 steps of R values, up to 32 MB)."""
    meta = torch.device("meta")
    assert TargetTracker([1.0], 10**5, meta, torch.float32, holds=False)._held.shape == (0, 10**5)
    assert TargetTracker([1.0], 10**5, meta, torch.float32)._held.shape == (64, 10**5)
    assert TargetTracker([1.0], 10, CPU, torch.float32, holds=False)._held.shape == (64, 10)
