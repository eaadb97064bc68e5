"""Rows for `bench list`: the problem catalogue and the optimizers."""

from __future__ import annotations

import math

import optimizers
import problems
from problems import SpecError

__all__ = ["optimizer_rows", "problem_rows", "table"]


def problem_rows(tags: list[str] | None = None) -> list[dict[str, object]]:
    """One row per registered problem at its default options, filtered by `tags` (all must hold)."""
    wanted = set(tags or ())
    if bad := wanted - problems.TAGS:
        msg = f"unknown tag {sorted(bad)[0]!r}; allowed: {', '.join(sorted(problems.TAGS))}"
        raise SpecError(msg)
    rows = []
    for name in problems.PROBLEMS:
        p = problems.get(name)
        if not wanted <= p.tags:
            continue
        f_star = None if p.f_star is None or math.isnan(p.f_star) else p.f_star
        rows.append(
            {
                "name": name,
                "dim": p.dim,
                "f_star": f_star,
                "minimisers": len(p.x_star),
                "tags": sorted(p.tags),
                "source": p.source.splitlines()[0] if p.source else "",
            }
        )
    return rows


def optimizer_rows() -> list[dict[str, object]]:
    """One row per optimizer and wrapper; ``spec`` is a spelling that runs as it stands
    (a wrapper that needs an inner optimizer shows one: ``restarts(adam)``)."""
    rows: list[dict[str, object]] = []
    for name in optimizers.OPTIMIZERS:
        opt = optimizers.get(name)
        space = {
            k: f"{r.low:g}..{r.high:g}{' (log)' if r.log else ''}" for k, r in opt.space.items()
        }
        rows.append(
            {
                "name": name,
                "spec": name,
                "defaults": dict(opt.defaults),
                "search_space": space,
                "mode": "batched" if opt.elementwise else "row by row",
            }
        )
    for name in optimizers.WRAPPERS:
        rows.append(
            {
                "name": name,
                "spec": _wrapper_spec(name),
                "defaults": {},
                "search_space": {},
                "mode": "global search",
            }
        )
    return rows


def _wrapper_spec(name: str) -> str:
    """`name` when the wrapper runs alone (``random_search``), else it around ``adam``."""
    try:
        optimizers.method(name)
    except SpecError:
        return f"{name}(adam)"
    return name


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, list):
        return ",".join(map(str, value))
    if isinstance(value, dict):
        return " ".join(f"{k}={_cell(v)}" for k, v in value.items())
    return "-" if value is None else str(value)


def table(rows: list[dict[str, object]]) -> str:
    """A plain aligned text table."""
    if not rows:
        return "(nothing)"
    keys = list(rows[0])
    cells = [[_cell(r[k]) for k in keys] for r in rows]
    widths = [max(len(k), *(len(c[i]) for c in cells)) for i, k in enumerate(keys)]
    line = lambda values: "  ".join(v.ljust(w) for v, w in zip(values, widths)).rstrip()  # noqa: E731
    return "\n".join([line(keys), line(["-" * w for w in widths]), *map(line, cells)])
