"""Shared look: the Agg canvas, one colour per optimizer, a fixed layout, and PNG encoding.

Figures are built as `matplotlib.figure.Figure` objects on an Agg canvas, outside pyplot: the
report never opens a window, never touches the user's pyplot backend, and a figure is freed
when its last reference goes.

Every plot function takes an optional ``palette`` (optimizer label -> colour); `render` builds it
once with `palette_for` so an optimizer keeps its colour in every figure of a report.

An optimizer's colour and line style come from its name alone (`optimizer_style`), so it
looks the same in every report. The look is seaborn's ``whitegrid`` theme, written out here
as rcParams, with Paul Tol's colour-blind-safe palette, so that drawing a report does not
import seaborn (which imports
``scipy.stats``, more than a second on two cores). Margins are fixed in inches by `finish`
from the text the figure holds (title lines, legend labels) instead of measured by
matplotlib's constrained layout, which lays out every tick label once more before each draw
and took more than half of a report's drawing time.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import html
import io
import math
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, Literal

import matplotlib
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import LogFormatterSciNotation, LogLocator, NullLocator

__all__ = [
    "COLORBLIND",
    "CONFIG_STYLES",
    "DPI",
    "FAMILY_COLOURS",
    "LINESTYLES",
    "WHITEGRID",
    "Palette",
    "PlainLogFormatter",
    "family",
    "figure_html",
    "finish",
    "legend_handles",
    "legend_label",
    "log_scale",
    "new_figure",
    "optimizer_style",
    "palette_for",
    "plain",
    "plain_math",
    "plot_context",
    "title",
]

DPI = 80
"""PNG resolution: modest, dense plots stay small."""

LINESTYLES = ["-", "--", ":", "-."]
"""One line style per run / device variant of an optimizer."""

Palette = Mapping[str, tuple[float, float, float]]

COLORBLIND = (
    "#332288", "#88CCEE", "#44AA99", "#117733", "#999933",
    "#DDCC77", "#CC6677", "#882255", "#AA4499", "#4D4D4D",
)  # fmt: skip
"""Paul Tol's *muted* qualitative scheme (indigo, cyan, teal, green, olive, sand, rose, wine,
purple; P. Tol, "Colour schemes", SRON/EPS/TN/09-002, 2021, personal.sron.nl/~pault), which
stays distinct under the common colour-vision deficiencies, and a dark grey."""

FAMILY_COLOURS = {
    "sgd": 0,
    "momentum": 3,
    "nesterov": 2,
    "adam": 6,
    "adamw": 7,
    "amsgrad": 8,
    "rmsprop": 4,
    "adagrad": 5,
    "random-search": 9,
    "restarts": 1,
}
"""The slot in `COLORBLIND` of each registered optimizer family: fixed, so that an optimizer
has the same colour in every report, and chosen so that the families of the default study
(sgd, momentum, adam, random search, restarts) are five clearly different hues."""

CONFIG_STYLES = ("-", "--", "-.", ":")
"""Line styles of a family's configurations other than its bare name (``adam:lr=0.05``),
chosen by a hash of the label."""

WHITEGRID: dict[str, Any] = {
    "figure.facecolor": "white",
    "axes.facecolor": "white",
    "axes.edgecolor": ".8",
    "axes.grid": True,
    "axes.axisbelow": True,
    "axes.labelcolor": ".15",
    "axes.spines.left": True,
    "axes.spines.bottom": True,
    "axes.spines.right": True,
    "axes.spines.top": True,
    "grid.color": ".8",
    "grid.linestyle": "-",
    "text.color": ".15",
    "xtick.color": ".15",
    "ytick.color": ".15",
    "xtick.direction": "out",
    "ytick.direction": "out",
    "xtick.top": False,
    "ytick.right": False,
    "xtick.bottom": False,
    "ytick.left": False,
    "font.family": ["sans-serif"],
    "font.sans-serif": [
        "Arial",
        "DejaVu Sans",
        "Liberation Sans",
        "Bitstream Vera Sans",
        "sans-serif",
    ],
    "lines.solid_capstyle": "round",
    "patch.edgecolor": "w",
    "patch.force_edgecolor": True,
}
"""seaborn 0.13's ``axes_style("whitegrid")`` as rcParams (its ``image.cmap`` aside: the
report names every colour map it uses)."""

RC: dict[str, Any] = {
    "text.usetex": False,
    "axes.titlesize": 10,
    "axes.titley": 1.0,  # a fixed title position: no top ticks to avoid, nothing to measure
    "axes.labelsize": 9,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "legend.fontsize": 8,
    "figure.dpi": DPI,
    "savefig.dpi": DPI,
}


def family(label: str) -> str:
    """The optimizer family of a method label: ``adam`` for ``adam:lr=0.05``, ``restarts`` for
    ``restarts(adam,n=8)``, ``torch:NAdam`` for ``torch:NAdam:lr=0.01``; the old spelling
    ``random_search`` is ``random-search``.

    Example:
        >>> family("restarts(adam:lr=0.05,n=8)"), family("torch:NAdam:lr=0.01")
        ('restarts', 'torch:NAdam')
    """
    head = label.split("(")[0].strip()
    parts = head.split(":")
    name = ":".join(parts[:2]) if parts[0] == "torch" and len(parts) > 1 else parts[0]
    return name.replace("_", "-") if name in ("random_search",) else name


def _digest(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")


def optimizer_style(label: str) -> tuple[tuple[float, float, float], str]:
    """The colour and line style of an optimizer label, from its name alone.

    The family (`family`) picks the colour: a fixed slot of `COLORBLIND` for the registered
    families (`FAMILY_COLOURS`), a stable hash of the name for others (``torch:NAdam``,
    ``module:Class``). The family's bare name is drawn solid; any other configuration of it
    (``adam:lr=0.05``) takes a line style from a stable hash of the whole label, so two
    configurations of one family in a report usually differ by line style. Nothing depends
    on which other optimizers a report holds: a label looks the same in every report.

    Example:
        >>> optimizer_style("adam") == optimizer_style("adam")
        True
        >>> optimizer_style("adam:lr=0.05")[0] == optimizer_style("adam")[0]
        True
    """
    name = family(str(label))
    slot = FAMILY_COLOURS.get(name)
    if slot is None:
        slot = _digest(name) % len(COLORBLIND)
    colour: tuple[float, float, float] = matplotlib.colors.to_rgb(COLORBLIND[slot])
    if str(label) == name or str(label).replace("_", "-") == name:
        return colour, "-"
    return colour, CONFIG_STYLES[_digest(str(label)) % len(CONFIG_STYLES)]


def palette_for(optimizers: Iterable[str]) -> dict[str, tuple[float, float, float]]:
    """One colour per optimizer label, from the label alone (`optimizer_style`).

    Args:
        optimizers: optimizer labels (duplicates are fine).

    Returns:
        ``{label: (r, g, b)}``: the same colour for a label in every report, whatever else
        the report holds.
    """
    return {name: optimizer_style(name)[0] for name in sorted({str(o) for o in optimizers})}


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


_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def plain_math(label: str) -> str:
    r"""A log tick label in matplotlib's mathtext as the same plain text.

    Example:
        >>> plain_math(r"$\mathdefault{10^{-5}}$"), plain_math(r"$\mathdefault{6\times10^{1}}$")
        ('10⁻⁵', '6×10¹')
    """
    if len(label) < 2 or not (label.startswith("$") and label.endswith("$")):
        return label
    text = label[1:-1].replace(r"\mathdefault", "").replace(r"\times", "×")
    text = re.sub(r"\^\{([^{}]*)\}", lambda m: m.group(1).translate(_SUPERSCRIPT), text)
    return text.replace("{", "").replace("}", "").replace("-", "\N{MINUS SIGN}")


class PlainLogFormatter(LogFormatterSciNotation):
    """matplotlib's log tick labels (``10⁻⁵``, ``6×10¹``) as plain text, not mathtext.

    Which ticks get a label is matplotlib's choice (`LogFormatterSciNotation`); only the
    spelling differs: superscript digits instead of a mathtext expression, whose parser
    (pyparsing) took a sixth of a report's drawing time.
    """

    def __call__(self, x: float, pos: int | None = None) -> str:
        return plain_math(super().__call__(x, pos))


def log_scale(ax: Axes, *, x: bool = False, y: bool = False, base: float = 10) -> None:
    """Log axes with at most ~6 major ticks and no minor ticks, labelled as plain text.

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
            axis.set_major_formatter(PlainLogFormatter(base=base))
            lo, hi = limits()
            if lo > 0 and hi / lo < base**2:  # under two decades: labelled minor ticks needed
                axis.set_minor_formatter(PlainLogFormatter(base=base, labelOnlyBase=False))
                continue
            axis.set_major_locator(LogLocator(base=base, numticks=6))
            axis.set_minor_locator(NullLocator())


@contextlib.contextmanager
def plot_context() -> Iterator[None]:
    """The report's theme (`WHITEGRID`) and rcParams (`RC`), restored on exit."""
    with matplotlib.rc_context({**WHITEGRID, **RC}):  # type: ignore[dict-item]
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
        The figure and its `n` axes, in reading order; `finish` sets its margins and legend
        once the axes are drawn.
    """
    n = max(n, 1)
    cols = min(n, ncols)
    rows = -(-n // cols)
    fig_width = min(width, max(width * cols / ncols, 6.0))  # few facets: a narrower figure
    fig = Figure(figsize=(fig_width, height * rows + 0.6))
    FigureCanvasAgg(fig)  # the non-interactive Agg canvas, whatever pyplot's backend is
    axes = fig.subplots(rows, cols, squeeze=False).ravel().tolist()
    for ax in axes[n:]:
        ax.remove()
    return fig, axes[:n]


CHAR_IN = 0.6 * 8 / 72
"""Mean width of a character at 8 pt (tick and legend labels), inches."""

LINE_IN = 1.25 * 10 / 72
"""Height of a line of a 10 pt axes title, inches."""

TICKS_IN = 0.5
"""Room for tick labels and an axis label below (or left of) an axes, inches."""


def finish(
    fig: Figure,
    handles: Sequence[Artist] = (),
    *,
    legend: Literal["bottom", "right"] = "bottom",
    legend_cols: int = 5,
    left: float = 0.8,
    bottom: float = TICKS_IN,
) -> None:
    """Fix the margins of `fig`'s grid of axes and place its legend, without measuring text.

    The margins, in inches, follow from what the figure holds: the most lines in an axes
    title, the legend's rows (below) or its longest label (on the right). The gaps between
    facets are the same as the margins, so every facet keeps room for its ticks and title.

    Args:
        fig: a figure made by `new_figure` (its axes in one grid).
        handles: the legend's entries (none: no legend).
        legend: where the legend goes: below the axes, centred, or on the right, at the top.
        legend_cols: entries per row of a legend below.
        left: room for the y tick labels and label, inches.
        bottom: room for the x tick labels and label, inches.
    """
    axes = [ax for ax in fig.axes if ax.get_subplotspec() is not None]
    if not axes:
        return
    spec = axes[0].get_subplotspec()
    assert spec is not None
    grid = spec.get_topmost_subplotspec().get_gridspec()
    rows, cols = grid.nrows, grid.ncols
    width, height = (float(v) for v in fig.get_size_inches())
    lines = max(ax.get_title().count("\n") + 1 if ax.get_title() else 0 for ax in axes)
    title_in = 0.1 + LINE_IN * lines
    top, right = 0.08 + title_in, 0.2
    if handles:
        labels = [str(h.get_label()) for h in handles]
        if legend == "bottom":
            ncols = max(min(len(labels), legend_cols), 1)
            bottom += 0.1 + 0.2 * math.ceil(len(labels) / ncols)
            fig.legend(
                handles=list(handles),
                loc="lower center",
                bbox_to_anchor=(0.5, 0.04 / height),
                ncols=ncols,
                frameon=False,
            )
        else:
            right += 0.6 + CHAR_IN * max(len(label) for label in labels)
            fig.legend(
                handles=list(handles),
                loc="upper right",
                bbox_to_anchor=(1.0, 1.0 - top / height),
                frameon=False,
            )
    wgap, hgap = left, bottom + title_in - 0.1
    ax_w = max((width - left - right - (cols - 1) * wgap) / cols, 0.5)
    ax_h = max((height - top - bottom - (rows - 1) * hgap) / rows, 0.5)
    fig.subplots_adjust(
        left=left / width,
        right=max(1.0 - right / width, (left + 0.5) / width),
        bottom=bottom / height,
        top=max(1.0 - top / height, (bottom + 0.5) / height),
        wspace=wgap / ax_w,
        hspace=hgap / ax_h,
    )


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
