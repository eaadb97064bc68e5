"""Shared look: the Agg canvas, one colour per optimizer, and figures encoded as PNG.

Figures are built as `matplotlib.figure.Figure` objects on an Agg canvas, outside pyplot: the
report never opens a window, never touches the user's pyplot backend, and a figure is freed
when its last reference goes.

Every plot function takes an optional ``palette`` (optimizer label -> colour); `render` builds it
once with `palette_for` so an optimizer keeps its colour in every figure of a report.
"""

from __future__ import annotations

import base64
import contextlib
import html
import io
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import matplotlib
import seaborn as sns
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import LogLocator, NullLocator

__all__ = [
    "DPI",
    "LINESTYLES",
    "Palette",
    "figure_html",
    "legend_handles",
    "legend_label",
    "log_scale",
    "new_figure",
    "palette_for",
    "plain",
    "plot_context",
    "title",
]

DPI = 80
"""PNG resolution: modest, dense plots stay small."""

LINESTYLES = ["-", "--", ":", "-."]
"""One line style per run / device variant of an optimizer."""

Palette = Mapping[str, tuple[float, float, float]]

RC: dict[str, Any] = {
    "text.usetex": False,
    "axes.titlesize": 10,
    "axes.labelsize": 9,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "legend.fontsize": 8,
    "figure.dpi": DPI,
    "savefig.dpi": DPI,
}


def palette_for(optimizers: Iterable[str]) -> dict[str, tuple[float, float, float]]:
    """One colour per optimizer label, in sorted order, stable across figures.

    Args:
        optimizers: optimizer labels (duplicates are fine).

    Returns:
        ``{label: (r, g, b)}``; seaborn's colour-blind palette up to 10 labels, husl beyond.
    """
    names = sorted(set(optimizers))
    colours = sns.color_palette("colorblind" if len(names) <= 10 else "husl", len(names))
    return {name: tuple(colour) for name, colour in zip(names, colours)}  # type: ignore[misc]


def plain(name: object) -> str:
    r"""`name` as literal figure text: ``$`` escaped, so a name is never parsed as mathtext.

    (Turning mathtext off globally would break the log axes' ``10^k`` tick labels.)
    """
    return str(name).replace("$", r"\$")


def title(name: object, width: int = 44) -> str:
    """`plain` text for an axes title, wrapped at commas (then anywhere) to `width` chars."""
    text = plain(name)
    lines: list[str] = []
    for piece in text.replace(",", ",\0").split("\0"):
        if lines and len(lines[-1]) + len(piece) <= width:
            lines[-1] += piece
        else:
            lines.append(piece)
    wrapped = [chunk[i : i + width] for chunk in lines for i in range(0, max(len(chunk), 1), width)]
    return "\n".join(wrapped[:3]) + ("…" if len(wrapped) > 3 else "")


def legend_label(name: object) -> str:
    """A legend-safe label: literal text (`plain`), and not hidden for a leading underscore."""
    text = plain(name)
    return " " + text if text.startswith("_") else text


def legend_handles(
    styles: Mapping[str, tuple[tuple[float, float, float], str]],
) -> list[Line2D]:
    """Legend lines for ``{solver: (colour, line style)}``, sorted by solver."""
    return [
        Line2D([], [], color=c, linestyle=s, label=legend_label(name))  # type: ignore[arg-type]
        for name, (c, s) in sorted(styles.items())
    ]


def log_scale(ax: Axes, *, x: bool = False, y: bool = False, base: float = 10) -> None:
    """Log axes with at most ~6 major ticks and no minor ticks.

    Call it after plotting. Minor tick labels on many log facets dominate the drawing time
    (tick layout), so they are left out, except on axes spanning under two decades, which
    would otherwise have no label at all.
    """
    for flag, axis, setter, limits in (
        (x, ax.xaxis, ax.set_xscale, ax.get_xlim),
        (y, ax.yaxis, ax.set_yscale, ax.get_ylim),
    ):
        if flag:
            setter("log", base=base)
            lo, hi = limits()
            if lo > 0 and hi / lo < base**2:
                continue  # under two decades: matplotlib's labelled minor ticks are needed
            axis.set_major_locator(LogLocator(base=base, numticks=6))
            axis.set_minor_locator(NullLocator())


@contextlib.contextmanager
def plot_context() -> Iterator[None]:
    """The report's seaborn theme and rcParams, restored on exit."""
    with sns.axes_style("whitegrid"), matplotlib.rc_context(RC):  # type: ignore[arg-type]
        yield


def new_figure(
    n: int, *, ncols: int = 4, width: float = 13.0, height: float = 2.6
) -> tuple[Figure, list[Axes]]:
    """A figure with `n` facets wrapped into at most `ncols` columns (extra axes removed).

    Args:
        n: number of facets (at least 1).
        ncols: the most facets per row.
        width: figure width in inches.
        height: height of one row in inches.

    Returns:
        The figure and its `n` axes, in reading order.
    """
    n = max(n, 1)
    cols = min(n, ncols)
    rows = -(-n // cols)
    fig_width = min(width, max(width * cols / ncols, 6.0))  # few facets: a narrower figure
    fig = Figure(figsize=(fig_width, height * rows + 0.6), layout="constrained")
    FigureCanvasAgg(fig)  # the non-interactive Agg canvas, whatever pyplot's backend is
    axes = fig.subplots(rows, cols, squeeze=False).ravel().tolist()
    for ax in axes[n:]:
        ax.remove()
    return fig, axes[:n]


def figure_html(fig: Figure, alt: str, *, dpi: int = DPI) -> str:
    """Encode `fig` as an inline base64 PNG ``<img>`` and release it.

    Args:
        fig: the figure (closed afterwards).
        alt: the alternative text (escaped here).
        dpi: PNG resolution.

    Returns:
        ``<img src="data:image/png;base64,..." alt="...">``.
    """
    buf = io.BytesIO()
    try:
        fig.savefig(buf, format="png", dpi=dpi)
    finally:
        fig.clear()
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return f'<img src="data:image/png;base64,{data}" alt="{html.escape(alt)}">'
