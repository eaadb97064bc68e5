"""The layers point one way, and no package reaches into another's private modules.

``problems`` <- ``optimizers`` <- ``bench``; ``problems`` <- ``reports``. ``reports`` reads results
files (the schema in docs/RESULTS.md is the contract) and never imports ``bench``; only the
command line (``bench/_cli.py``) imports ``reports``, and only inside a function, so that
``bench run`` never loads the plotting stack. Checked on the source with `ast`, every import
included (module level and inside functions).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("problems", "optimizers", "bench", "reports")
MAY_IMPORT = {
    "problems": {"problems"},
    "optimizers": {"problems", "optimizers"},
    "bench": {"problems", "optimizers", "bench"},
    "reports": {"problems", "reports"},
}
LAZY_ONLY = {("bench", "reports"): ("bench/_cli.py", "bench/cli/", "bench/_api.py")}
"""(importer, imported) pairs allowed only inside a function, and only in these files."""
FORBIDDEN_THIRD_PARTY = {"reports": {"torch"}}
"""The reading side stays light: no torch (``bench show`` and ``bench report`` run without it)."""
LAZY_THIRD_PARTY = {"reports": {"seaborn", "scipy"}}
"""Imported only inside the function that needs them (``import reports`` stays cheap)."""
FACADE_ONLY = {"reports": {"problems"}}
"""Packages a layer may use only through their facade (``problems.convex`` would load torch)."""


def _imports(tree: ast.AST) -> list[tuple[str, int, bool]]:
    """``(module, line, at module level)`` for every absolute import in `tree`."""
    found: list[tuple[str, int, bool]] = []

    def visit(node: ast.AST, top: bool) -> None:
        for child in ast.iter_child_nodes(node):
            inner = top and not isinstance(
                child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)
            )
            if isinstance(child, ast.Import):
                found.extend((a.name, child.lineno, top) for a in child.names)
            elif isinstance(child, ast.ImportFrom) and child.level == 0 and child.module:
                found.append((child.module, child.lineno, top))
            visit(child, inner)

    visit(tree, True)
    return found


def _type_checking_lines(tree: ast.AST) -> set[int]:
    """Lines under ``if TYPE_CHECKING:`` (imports for the type checker only)."""
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.body:
                lines.update(range(child.lineno, (child.end_lineno or child.lineno) + 1))
    return lines


def violations(path: str, source: str) -> list[str]:
    """What is wrong with the imports of the module at `path` (relative to the root)."""
    owner = path.split("/")[0]
    tree = ast.parse(source)
    typing_only = _type_checking_lines(tree)
    wrong = []
    for module, line, top in _imports(tree):
        head, _, rest = module.partition(".")
        where = f"{path}:{line}: import {module}"
        if head in FORBIDDEN_THIRD_PARTY.get(owner, set()):
            wrong.append(f"{where} ({owner} must not import {head})")
        if head in LAZY_THIRD_PARTY.get(owner, set()) and top and line not in typing_only:
            wrong.append(f"{where} (import {head} lazily, inside the function that needs it)")
        if head in FACADE_ONLY.get(owner, set()) and rest:
            wrong.append(f"{where} ({owner} may use {head} only through its facade)")
        if head not in PACKAGES or head == owner:
            continue
        if rest.startswith("_") or "._" in f".{rest}":
            wrong.append(f"{where} (a private module of {head}; use the {head} facade)")
        if head not in MAY_IMPORT[owner]:
            files = LAZY_ONLY.get((owner, head))
            allowed_here = files is not None and path.startswith(files)
            if not allowed_here:
                wrong.append(f"{where} ({owner} may import only {sorted(MAY_IMPORT[owner])})")
            elif top and line not in typing_only:
                wrong.append(f"{where} (import {head} lazily, inside the function that needs it)")
    return wrong


def _sources() -> list[Path]:
    return sorted(p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py"))


@pytest.mark.parametrize("path", _sources(), ids=lambda p: str(p.relative_to(ROOT)))
def test_imports_point_one_way(path: Path) -> None:
    relative = path.relative_to(ROOT).as_posix()
    assert violations(relative, path.read_text()) == []


@pytest.mark.parametrize(
    ("path", "source", "complaint"),
    [
        ("reports/_render.py", "import bench\n", "reports may import only"),
        ("reports/_render.py", "def f():\n    from bench import run_study\n", "may import only"),
        ("reports/_metrics.py", "import torch\n", "must not import torch"),
        ("reports/_winloss.py", "import scipy.stats\n", "lazily"),
        ("reports/_store.py", "from problems.convex import sphere\n", "only through its facade"),
        ("problems/convex.py", "from optimizers import method\n", "problems may import only"),
        ("optimizers/adam.py", "import bench\n", "optimizers may import only"),
        ("bench/_engine.py", "from optimizers._method import Local\n", "private module"),
        ("bench/_cli.py", "import reports\n", "lazily"),
        ("bench/_runner.py", "def f():\n    import reports\n", "bench may import only"),
    ],
)
def test_a_wrong_arrow_is_caught(path: str, source: str, complaint: str) -> None:
    """The checker itself can fail: each of these reintroduced imports is reported."""
    found = violations(path, source)
    assert found, f"{source!r} in {path} passed the layer check"
    assert complaint in found[0]


def test_the_allowed_arrows_pass() -> None:
    assert violations("bench/_cli.py", "def report():\n    import reports\n") == []
    assert violations("reports/_store.py", "from problems import StoreError\n") == []
    assert violations("reports/_style.py", "def palette():\n    import seaborn\n") == []
    assert violations("optimizers/adam.py", "from optimizers._optimizer import Rule\n") == []
