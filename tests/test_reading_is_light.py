"""The reading side stands on its own: `bench show` and `bench report` run without torch, and
`reports` imports neither the harness, torch nor the problem catalogue.

The first tests run the CLI in a subprocess whose PYTHONPATH starts with a directory holding a
`torch` package that raises on import, so any import of torch (direct, or through the
catalogue or the harness's engine) fails the command.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
import _synthetic as synthetic

ROOT = Path(__file__).resolve().parents[1]
BLOCKER = "raise ImportError('torch is blocked: the reading side must not import it')\n"


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    problems = [p for p in synthetic.DEFAULT_PROBLEMS if p.spec in {"rosenbrock", "beale"}]
    optimizers = [o for o in synthetic.DEFAULT_OPTIMIZERS if o[1] in {"sgd", "adam"}]
    return synthetic.write_study(
        tmp_path_factory.mktemp("runs") / "light",
        name="light",
        problems=problems,
        optimizers=optimizers,
        seeds=3,
        steps=100,
        checkpoints=8,
    )


def _without_torch(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    blocked = tmp_path / "blocked"
    (blocked / "torch").mkdir(parents=True, exist_ok=True)
    (blocked / "torch" / "__init__.py").write_text(BLOCKER)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(blocked), str(ROOT)])}
    return subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, env=env, timeout=300, check=False
    )


def test_the_blocker_blocks(tmp_path: Path) -> None:
    """The harness does need torch: the same blocker makes `bench list` fail."""
    done = _without_torch(tmp_path, "-m", "bench", "list")
    assert done.returncode != 0
    assert "torch is blocked" in done.stderr


def test_bench_show_runs_without_torch(tmp_path: Path, run_dir: Path) -> None:
    done = _without_torch(tmp_path, "-m", "bench", "show", str(run_dir))
    assert done.returncode == 0, done.stderr
    assert "rosenbrock" in done.stdout and "ok@1e-04" in done.stdout


def test_bench_report_runs_without_torch(tmp_path: Path, run_dir: Path) -> None:
    out = tmp_path / "report.html"
    done = _without_torch(tmp_path, "-m", "bench", "report", str(run_dir), "-o", str(out))
    assert done.returncode == 0, done.stderr
    page = out.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and 'id="winloss"' in page


def test_reading_imports_no_plotting_and_no_scipy() -> None:
    """`import reports` and `bench show`'s text load pandas only; a report adds matplotlib."""
    code = (
        "import sys, reports; reports.load; reports.summary; reports.show_text;"
        "heavy = {'torch', 'matplotlib', 'seaborn', 'scipy', 'bench', 'problems._catalogue'};"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in heavy or m in heavy));"
        "reports.render;"
        "print(sorted(m for m in ('seaborn', 'scipy', 'torch') if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["[]", "[]"]


# --- the arrows -------------------------------------------------------------------------------

FORBIDDEN = ("bench", "optimizers", "torch", "seaborn", "scipy")
"""What a module of reports/ must not import at module level (or anywhere, for bench)."""


def imports(source: str) -> list[tuple[str, int]]:
    """Every module an import statement of `source` names, with its line (relative ones
    resolved against ``reports``), at any depth (inside functions too)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            found.append((f"reports.{base}" if node.level else base, node.lineno))
    return found


def wrong_arrows(source: str, *, allow_seaborn: bool = False) -> list[str]:
    """The imports of a reports/ module that point the wrong way.

    reports may import the light parts of `problems` (errors, DEFAULT_TARGETS: the package's
    facade), never `problems._catalogue` or another package's private `_module`, never bench,
    optimizers or torch; seaborn only lazily where it draws (`allow_seaborn`).
    """
    bad = []
    for name, line in imports(source):
        top = name.split(".")[0]
        if top in FORBIDDEN and not (allow_seaborn and top == "seaborn"):
            bad.append(f"line {line}: import {name}")
        elif top == "problems" and name != "problems":
            bad.append(f"line {line}: import {name} (use the problems facade)")
    return bad


@pytest.mark.parametrize("path", sorted((ROOT / "reports").glob("*.py")), ids=lambda p: p.name)
def test_reports_imports_point_one_way(path: Path) -> None:
    source = path.read_text(encoding="utf-8")
    lazy_seaborn = path.name == "_style.py"  # the husl palette beyond 10 optimizers
    assert wrong_arrows(source, allow_seaborn=lazy_seaborn) == []


def test_the_arrow_test_fails_on_a_wrong_arrow() -> None:
    """Reintroducing the old `import bench` (reports/_load.py read through bench.load) fails."""
    source = (ROOT / "reports" / "_load.py").read_text(encoding="utf-8")
    assert wrong_arrows(source) == []
    broken = source.replace(
        "def load_runs(",
        "def _old(d):\n    import bench\n\n    return bench.load(d)\n\n\ndef load_runs(",
    )
    assert wrong_arrows(broken) == [
        f"line {broken.count(chr(10), 0, broken.index('import bench')) + 1}: import bench"
    ]
    assert wrong_arrows("from bench._metrics import summary\n") == ["line 1: import bench._metrics"]
    assert wrong_arrows("from problems._catalogue import get\n") == [
        "line 1: import problems._catalogue (use the problems facade)"
    ]
    assert wrong_arrows("from . import _store\nfrom ._store import load\n") == []
