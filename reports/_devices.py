"""CPU against GPU: the wall time of one step of the same cell on two devices."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from reports._select import records, sorted_unique
from reports._style import (
    Palette,
    finish,
    legend_label,
    log_scale,
    new_figure,
    palette_for,
    plain,
    plot_context,
)

__all__ = ["device_figure", "device_times"]


def device_times(results: pd.DataFrame) -> pd.DataFrame:
    """Mean wall time per step of each cell, one column per device.

    Cells are matched by (run, problem, optimizer); when no run holds two devices (CPU in one
    run, GPU in another), by (problem, optimizer) across runs.

    Returns:
        Columns ``problem``, ``optimizer`` and one per device (seconds per step); empty when
        fewer than two devices are present.
    """
    ck = records(results, "checkpoint")
    if ck.empty or ck["device"].nunique() < 2 or "step_time_s" not in ck:
        return pd.DataFrame()
    for keys in (["run", "problem", "optimizer"], ["problem", "optimizer"]):
        keys = [k for k in keys if k in ck]
        table = ck.pivot_table(index=keys, columns="device", values="step_time_s", aggfunc="median")
        table = table.dropna(thresh=2)
        if not table.empty:
            table.columns = [str(c) for c in table.columns]
            return table.reset_index()
    return pd.DataFrame()


def device_figure(results: pd.DataFrame, *, palette: Palette | None = None) -> Figure | None:
    """Seconds per step on each other device against the CPU (log-log, diagonal = parity).

    Args:
        results: the results table.
        palette: optimizer -> colour.

    Returns:
        The figure, or None when the results hold fewer than two devices.
    """
    table = device_times(results)
    if table.empty:
        return None
    palette = palette or palette_for(results["optimizer"].astype(str))
    devices = sorted_unique(
        pd.Series([c for c in table.columns if c not in ("run", "problem", "optimizer")])
    )
    base = "cpu" if "cpu" in devices else devices[0]
    others = [d for d in devices if d != base]
    with plot_context():
        fig, axes = new_figure(len(others), ncols=3, width=11.0, height=4.0)
        for ax, device in zip(axes, others):
            pairs = table.dropna(subset=[base, device])
            for optimizer, rows in pairs.groupby("optimizer", sort=True):
                ax.scatter(
                    rows[base],
                    rows[device],
                    color=palette.get(str(optimizer)),
                    s=22,
                    alpha=0.85,
                    edgecolors="none",
                )
            values = pairs[[base, device]].to_numpy(float)
            values = values[np.isfinite(values) & (values > 0)]
            if values.size:
                lo, hi = values.min() / 1.5, values.max() * 1.5
                ax.plot([lo, hi], [lo, hi], color="grey", linewidth=0.8, linestyle="--")
                log_scale(ax, x=True)
                log_scale(ax, y=True)
            ax.set_xlabel(plain(f"{base}: seconds per step"))
            ax.set_ylabel(plain(f"{device}: seconds per step"))
            ax.set_title(plain(f"{device} against {base} (below the line: {device} faster)"))
        handles = [
            Line2D(
                [], [], color=palette.get(name), marker="o", linestyle="", label=legend_label(name)
            )
            for name in sorted_unique(table["optimizer"])
        ]
        finish(fig, handles, legend="right")
    return fig
