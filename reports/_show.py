"""`bench show`: a summary table per problem x optimizer from a run directory, as text."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from reports._metrics import summary, target_label
from reports._store import load

__all__ = ["SHOW_TARGETS", "show_text", "summary_view"]

SHOW_TARGETS = (1e-1, 1e-4, 1e-8)
"""The targets `show_text` shows when none are given: loose, middle, tight."""


def summary_view(frame: pd.DataFrame, targets: Sequence[float]) -> pd.DataFrame:
    """The columns a reader needs first: median gap [IQR], success and time to each target.

    Args:
        frame: the results table (all record kinds; see docs/RESULTS.md).
        targets: the targets with a success, time-to-target and ERT column each.

    Returns:
        One row per cell, ready to print; ``device`` only when the run has more than one.
    """
    table = summary(frame, targets=list(targets))
    view = pd.DataFrame({"problem": table["problem"], "optimizer": table["optimizer"]})
    if table["device"].nunique() > 1:
        view["device"] = table["device"]
    view["seeds"] = table["n_seeds"]
    view["median gap [IQR]"] = [
        f"{m:.2e} [{a:.1e}, {b:.1e}]" if np.isfinite(m) else "-"
        for m, a, b in zip(table["gap_median"], table["gap_q25"], table["gap_q75"])
    ]
    for t in targets:
        label = target_label(t)
        view[f"ok@{label}"] = [
            f"{s:.2f} [{lo:.2f},{hi:.2f}]" if np.isfinite(s) else "-"
            for s, lo, hi in zip(
                table[f"success@{label}"],
                table[f"success_low@{label}"],
                table[f"success_high@{label}"],
            )
        ]
        view[f"t@{label} s"] = table[f"time_to_target@{label}"]
        view[f"ERT@{label}"] = table[f"ert@{label}"]
    view["ms/step"] = table["step_time_s"] * 1e3
    view["diverged"] = table["diverged"]
    view["failed"] = table["failed"]
    return view


def show_text(run_dir: str | Path, targets: Sequence[float] | None = None) -> str:
    """The summary of `run_dir` as aligned text (success rates with 95% Wilson intervals).

    Args:
        run_dir: a run directory.
        targets: the targets to show (default `SHOW_TARGETS`).

    Raises:
        StoreError: the directory holds no results, or a part is corrupt (named).
    """
    frame = load(run_dir, record=None)
    view = summary_view(frame, list(targets or SHOW_TARGETS))
    with pd.option_context(
        "display.max_rows",
        1000,
        "display.max_columns",
        100,
        "display.width",
        250,
        "display.float_format",
        "{:.3g}".format,
    ):
        return view.to_string(index=False)
