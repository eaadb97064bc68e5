"""The reading side stands on its own: `bench show` and `bench report` run without torch, and
`reports` imports neither the harness, torch nor the problem catalogue (the static check of
the arrows is tests/test_layers.py).

The first tests run the CLI in a subprocess whose PYTHONPATH starts with a directory holding a
`torch` package that raises on import, so any import of torch (direct, or through the
catalogue or the harness's engine) fails the command.
"""

from __future__ import annotations

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
