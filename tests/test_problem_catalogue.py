"""docs/CATALOGUE.md lists every registered problem.

Regenerate the table after adding a problem: ``.venv/bin/python tests/test_problem_catalogue.py``.
Its options column comes from the same source as ``bench list`` (`bench._listing`).
"""

from __future__ import annotations

import inspect
import sys
from pathlib import Path

import problems
from bench._listing import factory_options, options_text
from problems import PROBLEMS, SpecError

DOC = Path(__file__).resolve().parents[1] / "docs" / "CATALOGUE.md"
README = Path(__file__).resolve().parents[1] / "README.md"
BEGIN, END = "<!-- table:begin -->", "<!-- table:end -->"
PROBE_DIMS = (2, 5, 10)


def supported_dims(name: str) -> str:
    if "dim" not in inspect.signature(PROBLEMS.factory(name)).parameters:
        return str(problems.get(name).dim)
    ok = []
    for d in range(1, 32):
        try:
            problems.get(name, dim=d)
        except SpecError:
            continue
        ok.append(d)
    if ok and ok[-1] == 31:
        return f"any d >= {ok[0]}"
    return f"{ok[0]} to {ok[-1]}"


def f_star_text(name: str) -> str:
    if "dim" not in inspect.signature(PROBLEMS.factory(name)).parameters:
        value = problems.get(name).f_star
        return "unknown" if value is None else f"{value:.10g}"
    values = {d: problems.get(name, dim=d).f_star for d in PROBE_DIMS}
    if len(set(values.values())) == 1:
        (value,) = set(values.values())
        return "unknown" if value is None else f"{value:.10g}"
    return "; ".join(f"d={d}: {v:.10g}" for d, v in values.items())


def options_cell(name: str) -> str:
    """The problem's own options with their defaults, as ``bench list`` shows them."""
    text = options_text(factory_options(PROBLEMS.factory(name)))
    return " ".join(f"`{item}`" for item in text.split()) if text else "-"


def table() -> str:
    rows = [
        "| name | dims | f* | options (defaults) | tags | source |",
        "|---|---|---|---|---|---|",
    ]
    for name in PROBLEMS.names():
        p = problems.get(name)
        tags = ", ".join(sorted(p.tags))
        source = p.source.splitlines()[0] if p.source else ""
        rows.append(
            f"| `{name}` | {supported_dims(name)} | {f_star_text(name)} | {options_cell(name)} "
            f"| {tags} | {source} |"
        )
    return "\n".join(rows)


def render(text: str) -> str:
    head, _, rest = text.partition(BEGIN)
    _, _, tail = rest.partition(END)
    return f"{head}{BEGIN}\n{table()}\n{END}{tail}"


def test_catalogue_lists_every_problem() -> None:
    text = DOC.read_text()
    missing = [name for name in PROBLEMS.names() if f"| `{name}` |" not in text]
    assert not missing, f"docs/CATALOGUE.md lacks {missing}; run: python {Path(__file__).name}"


def test_catalogue_shows_the_options_bench_list_shows() -> None:
    """The table's options column is made from the factories, as `bench list` is."""
    text = DOC.read_text()
    stale = [name for name in PROBLEMS.names() if f"| {options_cell(name)} |" not in text]
    assert not stale, f"docs/CATALOGUE.md's options are stale for {stale}; run: python {DOC.name}"
    assert "`condition=1000000.0`" in text
    assert "`rotated=false`" in text
    readme = README.read_text()  # the README shows the same table
    assert (
        readme[readme.index(BEGIN) : readme.index(END)] == text[text.index(BEGIN) : text.index(END)]
    )


if __name__ == "__main__":
    for path in (DOC, README):
        path.write_text(render(path.read_text()))
        sys.stdout.write(f"wrote {path}\n")
