"""What `bench list` prints: the problem catalogue with every option, the optimizers and wrappers.

One source for the command line and docs/CATALOGUE.md: a factory's options are its keyword
parameters with their defaults (`inspect.signature`), described by the ``Args:`` section of
its Google-style docstring.
"""

from __future__ import annotations

import inspect
import math
import re
from collections.abc import Callable
from typing import Any

import optimizers
import problems
from problems import SpecError, format_value, unknown

__all__ = [
    "VARIANT_OPTIONS",
    "arg_docs",
    "detail_text",
    "factory_options",
    "optimizer_rows",
    "options_text",
    "problem_detail",
    "problem_rows",
    "table",
    "wrapper_options",
]

VARIANT_OPTIONS = {
    "instance": "a seeded shift and rotation (COCO/BBOB instances); f* unchanged",
    "shift": "with instance=: false keeps only the rotation",
    "rotate": "with instance=: false keeps only the shift",
    "noise": "seeded Gaussian noise of this sigma on the training loss (stochastic)",
    "noise_kind": "additive (f + sigma z, the default) or multiplicative (f (1 + sigma z))",
}
"""The options every problem understands (problems.variants), with what they do."""


def arg_docs(fn: Callable[..., Any]) -> dict[str, str]:
    """``{parameter: description}`` from the ``Args:`` section of `fn`'s Google docstring.

    Example:
        >>> def f(dim: int = 2) -> None:
        ...     '''F.
        ...
        ...     Args:
        ...         dim: the dimension,
        ...             at least 1.
        ...     '''
        >>> arg_docs(f)
        {'dim': 'the dimension, at least 1.'}
    """
    doc = inspect.getdoc(fn) or ""
    out: dict[str, str] = {}
    in_args, current = False, None
    for line in doc.splitlines():
        if re.match(r"^(Args|Arguments):\s*$", line):
            in_args = True
            continue
        if in_args and line and not line.startswith(" "):
            break  # the next section
        match = re.match(r"^    (\*{0,2}\w+)(?: \([^)]*\))?:\s*(.*)$", line) if in_args else None
        if match:
            current = match.group(1)
            out[current] = match.group(2).strip()
        elif in_args and current and line.strip():
            out[current] = f"{out[current]} {line.strip()}"
    return out


def factory_options(fn: Callable[..., Any]) -> dict[str, object]:
    """A factory's keyword options and their defaults (``None``: computed when built)."""
    return {
        name: (None if p.default is inspect.Parameter.empty else p.default)
        for name, p in inspect.signature(fn).parameters.items()
        if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    }


def options_text(options: dict[str, object]) -> str:
    """``dim=2 condition=1000000.0 rotated=false``: options as a spec spells their defaults."""
    return " ".join(f"{k}={'auto' if v is None else format_value(v)}" for k, v in options.items())


def _f_star(p: problems.Problem) -> float | None:
    return None if p.f_star is None or math.isnan(p.f_star) else p.f_star


def problem_rows(tags: list[str] | None = None) -> list[dict[str, object]]:
    """One row per registered problem at its default options, filtered by `tags` (all must hold).

    ``options`` are the problem's own keyword options with their defaults; every problem
    also understands the variant options (`VARIANT_OPTIONS`).
    """
    wanted = set(tags or ())
    if bad := wanted - problems.TAGS:
        msg = f"unknown tag {sorted(bad)[0]!r}; allowed: {', '.join(sorted(problems.TAGS))}"
        raise SpecError(msg)
    rows = []
    for name in problems.PROBLEMS:
        p = problems.get(name)
        if not wanted <= p.tags:
            continue
        rows.append(
            {
                "name": name,
                "dim": p.dim,
                "f_star": _f_star(p),
                "options": factory_options(problems.PROBLEMS.factory(name)),
                "tags": sorted(p.tags),
                "source": p.source.splitlines()[0] if p.source else "",
            }
        )
    return rows


def problem_detail(spec: str) -> dict[str, object]:
    """One problem in full (``bench list NAME``): options with defaults and meaning, the
    variant options, f*, minimisers, start, bounds, tags, source and the definition.

    Args:
        spec: a name or a spec (``ellipsoid`` or ``ellipsoid:dim=10``); the problem is
            built at those options.

    Raises:
        UnknownNameError: not a registered problem (the closest named).
    """
    name = spec.split(":")[0]
    if name not in problems.PROBLEMS:
        raise unknown("problem", name, problems.PROBLEMS.names())
    factory = problems.PROBLEMS.factory(name)
    p = problems.get(spec)
    docs = arg_docs(factory)
    doc = inspect.getdoc(factory) or ""
    lower, upper = p.bounds
    box = (
        f"[{lower[0]:g}, {upper[0]:g}]^{p.dim}"
        if len(set(lower)) == 1 and len(set(upper)) == 1
        else f"{len(lower)} coordinates"
    )
    return {
        "name": name,
        "spec": p.spec,
        "summary": doc.split("\n\n")[0].replace("\n", " "),
        "options": {
            k: {"default": v, "about": docs.get(k, "")} for k, v in factory_options(factory).items()
        },
        "variant_options": dict(VARIANT_OPTIONS),
        "dim": p.dim,
        "f_star": _f_star(p),
        "minimisers": [list(x) for x in p.x_star[:8]],
        "minimisers_total": len(p.x_star),
        "start": "uniform in the bounds" if p.x0 is None else list(p.x0),
        "bounds": box,
        "tags": sorted(p.tags),
        "source": p.source,
    }


def detail_text(detail: dict[str, object]) -> str:
    """`problem_detail` as text for the terminal."""
    options = detail["options"]
    assert isinstance(options, dict)
    lines = [f"{detail['name']}: {detail['summary']}", ""]
    lines.append("options (defaults):" if options else "options: none of its own")
    width = max((len(k) for k in options), default=0)
    for key, info in options.items():
        default = "auto" if info["default"] is None else format_value(info["default"])
        lines.append(f"  {key}={default}".ljust(width + 16) + f"  {info['about']}".rstrip())
    lines.append("options of every problem:")
    for key, about in VARIANT_OPTIONS.items():
        lines.append(f"  {key}=".ljust(width + 16) + f"  {about}")
    lines.append("")
    f_star = detail["f_star"]
    lines += [
        f"spec:       {detail['spec']}",
        f"dim:        {detail['dim']}",
        f"f*:         {'unknown' if f_star is None else f'{f_star:.17g}'}",
        f"minimisers: {detail['minimisers_total']} "
        + " ".join(str(tuple(m)) for m in detail["minimisers"][:4])  # type: ignore[index]
        + (" ..." if detail["minimisers_total"] > 4 else ""),  # type: ignore[operator]
        f"start:      {detail['start']}",
        f"bounds:     {detail['bounds']}",
        f"tags:       {', '.join(detail['tags'])}",  # type: ignore[arg-type]
        f"source:     {detail['source']}",
    ]
    return "\n".join(lines)


def wrapper_options(name: str) -> dict[str, object]:
    """A global-search wrapper's keyword options and their defaults (``n=16 mode=parallel``)."""
    return factory_options(optimizers.WRAPPERS.factory(name))


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
                "defaults": wrapper_options(name),
                "search_space": {},
                "mode": "global search",
            }
        )
    return rows


def _wrapper_spec(name: str) -> str:
    """`name` when the wrapper runs alone (``random-search``), else it around ``adam``."""
    try:
        optimizers.method(name)
    except SpecError:
        return f"{name}(adam)"
    return name


def _cell(value: object) -> str:
    if isinstance(value, bool):
        return format_value(value)
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, list):
        return ",".join(map(str, value))
    if isinstance(value, dict):
        return options_text(value) or "-"
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
