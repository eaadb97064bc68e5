"""Success rates, Wilson intervals and ERT on a small hand-built results table."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy.stats import binomtest

from reports import (
    ert,
    expected_running_time,
    success_table,
    summary,
    target_label,
    wilson_interval,
)

NAN = math.nan
TARGETS = (1e-2, 1e-3, 1e-4, 1e-8)


def _rows(optimizer: str, seed: int, status: str, checkpoints, targets) -> list[dict]:
    """Checkpoint rows ``(step, gap)`` (10 evals per step) and target rows ``t -> step``."""
    base = {
        "study": "s",
        "problem": "p:dim=2",
        "optimizer": optimizer,
        "device": "cpu",
        "seed": seed,
        "status": status,
        "f_star": 0.0,
        "step_time_s": 1e-3,
    }
    rows = [
        {
            **base,
            "record": "checkpoint",
            "step": s,
            "evals": 10.0 * s,
            "time_s": s * 1e-3,
            "best_loss": g,
            "gap": g,
            "target": NAN,
        }
        for s, g in checkpoints
    ]
    rows += [
        {
            **base,
            "record": "target",
            "step": s,
            "evals": 10.0 * s,
            "time_s": s * 1e-3,
            "best_loss": NAN,
            "gap": NAN,
            "target": t,
        }
        for t, s in targets.items()
    ]
    return rows


@pytest.fixture
def results() -> pd.DataFrame:
    """Cell ``o``: 4 seeds (one diverged, one failed); cell ``q``: 2 seeds, both succeed."""
    rows = [
        # seed 0 reaches 1e-2 at step 10 and 1e-4 at step 40 (between checkpoints)
        *_rows("o", 0, "ok", [(1, 1.0), (10, 5e-3), (100, 1e-5)], {1e-2: 10, 1e-4: 40}),
        # seed 1 reaches 1e-2 at step 30, never 1e-4
        *_rows("o", 1, "ok", [(1, 2.0), (10, 0.5), (100, 5e-3)], {1e-2: 30, 1e-4: NAN}),
        # seed 2 diverged after step 60 without reaching anything
        *_rows("o", 2, "diverged", [(1, 3.0), (10, 3.0), (60, 3.0)], {1e-2: NAN, 1e-4: NAN}),
        # seed 3 failed: no outcome
        *_rows("o", 3, "failed", [(NAN, NAN)], {1e-2: NAN, 1e-4: NAN}),
        *_rows("q", 0, "ok", [(1, 1.0), (100, 1e-3)], {1e-2: 5, 1e-4: NAN}),
        *_rows("q", 1, "ok", [(1, 1.0), (100, 1e-3)], {1e-2: 15, 1e-4: NAN}),
    ]
    return pd.DataFrame(rows)


def test_wilson_matches_scipy() -> None:
    for k, n in [(0, 20), (9, 10), (2, 3), (20, 20), (13, 27)]:
        lo, hi = wilson_interval(k, n)
        ci = binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
        assert float(lo) == pytest.approx(ci.low, abs=1e-12)
        assert float(hi) == pytest.approx(ci.high, abs=1e-12)


def test_wilson_by_hand() -> None:
    # k = 9, n = 10, z = 1.959964: centre = (0.9 + z^2/20) / (1 + z^2/10)
    z = 1.959963984540054
    centre = (0.9 + z * z / 20) / (1 + z * z / 10)
    half = z / (1 + z * z / 10) * math.sqrt(0.9 * 0.1 / 10 + z * z / 400)
    lo, hi = wilson_interval(np.array([9]), np.array([10]))
    assert lo[0] == pytest.approx(centre - half)
    assert hi[0] == pytest.approx(centre + half)
    lo, hi = wilson_interval(0, 0)
    assert math.isnan(float(lo))
    assert math.isnan(float(hi))
    with pytest.raises(ValueError, match="confidence"):
        wilson_interval(1, 2, confidence=1.5)


def test_expected_running_time_by_hand() -> None:
    assert expected_running_time([True, False, True], [100, NAN, 300], [1000, 1000, 1000]) == 700
    assert expected_running_time([False, False], [NAN, NAN], [10, 20]) == math.inf
    assert math.isnan(expected_running_time([], [], []))


def test_success_table(results: pd.DataFrame) -> None:
    table = success_table(results, TARGETS)
    assert len(table) == 6 * len(TARGETS)
    o = table[table["optimizer"] == "o"].set_index(["seed", "target"])
    assert o.loc[(0, 1e-4), "success"]
    assert o.loc[(0, 1e-4), "evals"] == 400
    assert not o.loc[(1, 1e-4), "success"]
    assert not o.loc[(3, 1e-2), "success"]  # failed runs never succeed
    # 1e-3 was not recorded as a target: judged from checkpoints (seed 0 at step 100)
    assert o.loc[(0, 1e-3), "success"]
    assert o.loc[(0, 1e-3), "step"] == 100
    assert not o.loc[(1, 1e-3), "success"]
    assert o.loc[(2, 1e-2), "evals_total"] == 600


def test_ert_by_hand(results: pd.DataFrame) -> None:
    table = ert(results, TARGETS).set_index(["optimizer", "target"])
    # failed seed 3 is left out: 3 runs
    assert (table.loc["o", "runs"] == 3).all()
    # 1e-2: seeds 0, 1 succeed at 100 and 300 evals; seed 2 spent 600
    assert table.loc[("o", 1e-2), "ert"] == pytest.approx((100 + 300 + 600) / 2)
    # 1e-4: only seed 0 (400); seed 1 spent 1000, seed 2 spent 600
    assert table.loc[("o", 1e-4), "ert"] == pytest.approx(400 + 1000 + 600)
    # 1e-3 from checkpoints: seed 0 at 1000 evals
    assert table.loc[("o", 1e-3), "ert"] == pytest.approx(1000 + 1000 + 600)
    assert table.loc[("o", 1e-8), "ert"] == math.inf
    assert table.loc[("q", 1e-2), "ert"] == pytest.approx((50 + 150) / 2)
    assert table.loc[("o", 1e-2), "evals_to_target"] == pytest.approx(200)
    assert table.loc[("o", 1e-2), "success_rate"] == pytest.approx(2 / 3)


def test_summary(results: pd.DataFrame) -> None:
    table = summary(results, TARGETS).set_index("optimizer")
    o = table.loc["o"]
    assert (o["n_seeds"], o["diverged"], o["failed"]) == (4, 1, 1)
    assert o["gap_median"] == pytest.approx(5e-3)
    assert o["gap_q25"] == pytest.approx((1e-5 + 5e-3) / 2)
    assert o["gap_q75"] == pytest.approx((5e-3 + 3.0) / 2)
    assert o["step_time_s"] == pytest.approx(1e-3)
    t = target_label(1e-2)
    assert t == "1e-02"
    assert o[f"success@{t}"] == pytest.approx(2 / 3)
    lo, hi = wilson_interval(2, 3)
    assert o[f"success_low@{t}"] == pytest.approx(float(lo))
    assert o[f"success_high@{t}"] == pytest.approx(float(hi))
    assert o[f"ert@{t}"] == pytest.approx(500)
    assert o[f"steps_to_target@{t}"] == pytest.approx(20)
    assert o[f"time_to_target@{t}"] == pytest.approx(0.02)
    assert table.loc["q", f"success@{t}"] == 1.0
    assert table.loc["q", f"success@{target_label(1e-4)}"] == 0.0
    assert table.loc["q", f"ert@{target_label(1e-4)}"] == math.inf
    assert list(table.reset_index()[["problem", "device"]].iloc[0]) == ["p:dim=2", "cpu"]


def test_no_target_rows_uses_checkpoints(results: pd.DataFrame) -> None:
    checkpoints = results[results["record"] == "checkpoint"]
    table = summary(checkpoints, (1e-2,)).set_index("optimizer")
    # from checkpoints only, seed 0 hits 1e-2 at step 10 and seed 1 at step 100
    assert table.loc["o", "success@1e-02"] == pytest.approx(2 / 3)
    assert table.loc["o", "ert@1e-02"] == pytest.approx((100 + 1000 + 600) / 2)
