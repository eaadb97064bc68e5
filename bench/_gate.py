"""The convergence gate: is an optimizer's final gap worse than in a saved run, by a factor?

``--convergence-compare-fail=gap:FACTOR`` compares each benchmark's ``extra_info["gap_median"]``
(`bench.pytest_plugin` records it) with the same benchmark (by ``fullname``) in the run that
``--benchmark-compare`` loads. A benchmark regresses when

.. math::
    \\max(g_{now}, \\varepsilon) > \\text{FACTOR} \\cdot \\max(g_{saved}, \\varepsilon),
    \\qquad \\varepsilon = \\text{eps(dtype)} \\cdot \\max(1, |f^\\ast|),

so gaps at rounding level (machine epsilon of the run's dtype, relative to the optimum's
scale) never fail the gate, and a gap that became infinite (the median seed diverged, stored
as None) fails it against any finite saved gap. Pure Python: no torch, no pytest.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from problems import SpecError, float_precision

__all__ = ["GapRegression", "gap_floor", "gap_regressions", "parse_gap_fail"]

"""Machine epsilon by dtype name."""


def parse_gap_fail(text: str) -> float:
    """``"gap:2"`` -> 2.0: the factor by which a final gap may grow before the gate fails.

    Example:
        >>> parse_gap_fail("gap:1.5")
        1.5
    """
    field, sep, value = str(text).partition(":")
    try:
        factor = float(value)
    except ValueError:
        factor = math.nan
    if field != "gap" or not sep or not factor >= 1 or not math.isfinite(factor):
        msg = f"invalid --convergence-compare-fail {text!r}; allowed: gap:FACTOR with FACTOR >= 1"
        raise SpecError(msg)
    return factor


def gap_floor(info: Mapping[str, Any]) -> float:
    """The gap below which differences are rounding: ``eps(dtype) * max(1, |f_star|)``.

    Example:
        >>> gap_floor({"dtype": "float64", "f_star": None})
        2.220446049250313e-16
    """
    f_star = info.get("f_star")
    return float_precision(
        f_star if isinstance(f_star, (int, float)) else None, str(info.get("dtype"))
    )


@dataclass(frozen=True)
class GapRegression:
    """One benchmark whose median final gap grew by more than the factor."""

    fullname: str
    saved: float | None
    now: float | None
    factor: float

    def __str__(self) -> str:
        def show(gap: float | None) -> str:
            return "inf (diverged)" if gap is None else f"{gap:.3g}"

        return (
            f"{self.fullname}: median final gap {show(self.now)} against {show(self.saved)} "
            f"saved (allowed: up to {self.factor:g}x)"
        )


def _gap(info: Mapping[str, Any]) -> float:
    value = info.get("gap_median")
    return math.inf if value is None else float(value)


def gap_regressions(
    now: Iterable[Mapping[str, Any]], saved: Iterable[Mapping[str, Any]], factor: float
) -> tuple[list[GapRegression], int]:
    """The regressions of `now` against `saved`, and how many benchmarks were compared.

    Both are pytest-benchmark benchmark entries (``fullname`` and ``extra_info``); only those
    with a ``gap_median`` in their ``extra_info`` on both sides are compared.
    """
    by_name = {b["fullname"]: b.get("extra_info") or {} for b in saved}
    found: list[GapRegression] = []
    compared = 0
    for bench in now:
        info = bench.get("extra_info") or {}
        before = by_name.get(bench["fullname"])
        if before is None or "gap_median" not in info or "gap_median" not in before:
            continue
        compared += 1
        floor = gap_floor(info)
        if max(_gap(info), floor) > factor * max(_gap(before), floor):
            found.append(
                GapRegression(
                    bench["fullname"], before.get("gap_median"), info.get("gap_median"), factor
                )
            )
    return found, compared
