"""Bad input, everywhere: one line on stderr and exit 2, a traceback only with --debug.

A table of hand-picked bad inputs (docs/RELIABILITY.md lists them with what happens), then
hypothesis property tests: study files built from valid and invalid pieces run when every
piece is valid and exit 2 with one line otherwise; arbitrary text as a study file never
raises a traceback.
"""

from __future__ import annotations

import contextlib
import errno
import io
import json
import os
import re
import tempfile
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import bench
import problems
from bench import _store
from bench._cli import main as cli
from problems import SpecError

FLAGS = ["--problems", "sphere:dim=2", "--optimizers", "sgd:lr=0.1", "--seeds", "2"]


def _run(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = cli(argv)
        except SystemExit as exit:  # argparse
            code = int(exit.code or 0)
    return code, out.getvalue(), err.getvalue()


def _one_line_error(code: int, err: str, expected: str) -> None:
    assert code == 2, err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, lines
    assert expected in lines[0], lines[0]


CASES = {
    "unknown problem": (["--problems", "spher", "--optimizers", "sgd"], "did you mean 'sphere'"),
    "unknown optimizer": (["--problems", "booth", "--optimizers", "adma"], "did you mean 'adam'"),
    "unknown option": (["--problems", "sphere:dimm=3", "--optimizers", "sgd"], "'dim'"),
    "negative steps": ([*FLAGS, "--steps", "-5"], "steps must be a positive integer, got -5"),
    "zero seeds": ([*FLAGS, "--seeds", "0", "--steps", "5"], "seeds must be a positive count"),
    "lr = 0": (["--problems", "booth", "--optimizers", "adam:lr=0"], "invalid lr 0"),
    "lr < 0": (["--problems", "booth", "--optimizers", "sgd:lr=-1e-3"], "invalid lr -0.001"),
    "seconds <= 0": ([*FLAGS, "--seconds", "0"], "seconds must be > 0"),
    "unsupported dim": (["--problems", "sphere:dim=0", "--optimizers", "sgd"], "dim=0"),
    "a fixed-dimension problem": (["--problems", "booth:dim=5", "--optimizers", "sgd"], "dim"),
    "a non-integer dim": (["--problems", "sphere:dim=2.5", "--optimizers", "sgd"], "integer"),
    "--workers 0": ([*FLAGS, "--steps", "5", "--workers", "0"], "--workers must be >= 1"),
    "--workers and --scheduler": (
        [*FLAGS, "--steps", "5", "--workers", "2", "--scheduler", "tcp://127.0.0.1:9"],
        "not both",
    ),
    "not a number": ([*FLAGS, "--steps", "ten"], "invalid int value: 'ten'"),
    "unknown flag": ([*FLAGS, "--step", "5", "--stepz"], "unrecognized arguments"),
    "unbalanced wrapper": (["--problems", "booth", "--optimizers", "restarts(adam"], "'('"),
    "a bad dtype": ([*FLAGS, "--dtype", "float16"], "invalid choice: 'float16'"),
    "no optimizer": (["--problems", "booth"], "both --problems and --optimizers"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_flags_are_one_line_and_exit_2(case: str, tmp_path: Path) -> None:
    argv, expected = CASES[case]
    code, _, err = _run(["run", *argv, "--out", str(tmp_path / "run"), "--quiet"])
    _one_line_error(code, err, expected)
    assert not (tmp_path / "run").exists()  # refused before anything is written


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is available here")
def test_cuda_without_cuda(tmp_path: Path) -> None:
    code, _, err = _run(["run", *FLAGS, "--steps", "5", "--device", "cuda", "--out", str(tmp_path)])
    _one_line_error(code, err, "device 'cuda' asked for, but torch sees no CUDA device here")


def test_malformed_toml_names_file_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    path.write_text('name = "x"\nseeds = 3\nsteps = [1,\nproblems = "sphere"\n')
    code, _, err = _run(["run", str(path), "--quiet"])
    _one_line_error(code, err, f"{path}:4:1: invalid TOML: Invalid value")


def test_a_bad_value_in_a_study_file_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    path.write_text(
        'name = "x"\nseeds = 3\nsteps = -1\nproblems = ["booth"]\noptimizers = ["sgd"]\n'
    )
    code, _, err = _run(["run", str(path), "--quiet"])
    _one_line_error(code, err, f"{path}:3: steps must be a positive integer, got -1")


def test_a_spec_listed_twice_is_refused(tmp_path: Path) -> None:
    argv = ["--problems", "booth,sphere:dim=2,booth", "--optimizers", "sgd", "--steps", "5"]
    code, _, err = _run(["run", *argv, "--out", str(tmp_path / "run"), "--quiet"])
    _one_line_error(code, err, "problem 'booth' is listed twice")


def test_reversed_bounds_are_refused() -> None:
    with pytest.raises(SpecError, match=r"reversed bounds in coordinate 1: lower 2.0 > upper -2.0"):
        problems.Problem(
            "box", 2, lambda x: x.sum(-1), ((0.0, 2.0), (1.0, -2.0)), f_star=0.0, x_star=()
        )


def test_a_results_directory_that_is_a_file(tmp_path: Path) -> None:
    path = tmp_path / "taken"
    path.write_text("not a directory")
    code, _, err = _run(["run", *FLAGS, "--steps", "5", "--out", str(path), "--quiet"])
    _one_line_error(code, err, f"run directory {path} is a file, not a directory")


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes anywhere")
def test_a_results_directory_that_is_not_writable(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    code, _, err = _run(["run", *FLAGS, "--steps", "5", "--out", str(locked), "--quiet"])
    _one_line_error(code, err, "is not writable")


def test_a_results_directory_that_cannot_be_created(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    out = tmp_path / "file" / "run"  # a file where a parent directory should be
    code, _, err = _run(["run", *FLAGS, "--steps", "5", "--out", str(out), "--quiet"])
    _one_line_error(code, err, f"cannot create run directory {out}")


def test_a_full_disk_is_one_line_and_leaves_no_temporary_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(_store.os, "fsync", full)  # what a full disk answers a flush with
    out = tmp_path / "run"
    code, _, err = _run(["run", *FLAGS, "--steps", "5", "--out", str(out), "--quiet"])
    _one_line_error(code, err, f"cannot write {out}/meta.json: No space left on device")
    assert not [p for p in out.rglob("*") if p.name.endswith(".tmp")]


def test_a_full_disk_while_writing_a_part(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = _store._write_atomic

    def full_for_parts(final: Path, data: bytes) -> None:
        if final.suffix == ".parquet":
            raise _store.StoreError(f"cannot write {final}: No space left on device")
        real(final, data)

    monkeypatch.setattr(_store, "_write_atomic", full_for_parts)
    code, _, err = _run(["run", *FLAGS, "--steps", "5", "--out", str(tmp_path), "--quiet"])
    _one_line_error(code, err, "No space left on device")
    assert not list((tmp_path / "claims").glob("*.json"))  # the claim went with the error


def test_resume_of_something_that_is_not_a_run(tmp_path: Path) -> None:
    code, _, err = _run(["run", "--resume", str(tmp_path), "--quiet"])
    _one_line_error(code, err, "not a run directory (no meta.json)")
    (tmp_path / "meta.json").write_text("{broken")
    code, _, err = _run(["run", "--resume", str(tmp_path), "--quiet"])
    _one_line_error(code, err, "corrupt meta.json")


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    argv = ["run", "--problems", "spher", "--optimizers", "sgd", "--quiet"]
    with pytest.raises(problems.UnknownNameError):
        cli(["--debug", *argv])
    with pytest.raises(problems.UnknownNameError):
        cli([*argv, "--debug"])


def test_an_internal_error_is_one_line_with_a_hint_and_exit_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bench import _runner

    def broken(*args: object, **kwargs: object) -> None:
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(_runner, "_drive", broken)
    code, _, err = _run(["run", *FLAGS, "--steps", "5", "--out", str(tmp_path), "--quiet"])
    assert code == 1 and "Traceback" not in err
    assert err.strip() == (
        "bench run: internal error: ZeroDivisionError: a bug (run again with --debug for the "
        "traceback)"
    )


UNSAFE = re.compile(
    r"\bimport pickle\b|\bpickle\.loads?\(|\bdill\b|\bcloudpickle\.loads?\(|read_pickle|"
    r"allow_pickle\s*=\s*True|\beval\(|torch\.load\((?![^)]*weights_only\s*=\s*True)"
)


def test_nothing_is_unpickled() -> None:
    """Results are Parquet and JSON; no pickle, no eval, no torch.load without weights_only."""
    assert UNSAFE.search("state = torch.load(path)") and UNSAFE.search("import pickle")
    assert not UNSAFE.search("torch.load(path, weights_only=True)")
    root = Path(__file__).resolve().parent.parent
    sources = [p for package in PACKAGES for p in sorted((root / package).rglob("*.py"))]
    assert len(sources) > 50
    found = [
        f"{path.relative_to(root)}:{number}: {line.strip()}"
        for path in sources
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if UNSAFE.search(line)
    ]
    assert found == []


PACKAGES = ("problems", "optimizers", "bench", "reports")


# Property tests: study files from valid and invalid pieces.

GOOD_PROBLEMS = ["sphere:dim=2", "booth", "rosenbrock:dim=3", "rastrigin:dim=2,instance=1"]
BAD_PROBLEMS = ["spher", "sphere:dim=0", "sphere:dim=-3", "booth:dim=4", "sphere:dimm=2", ""]
GOOD_OPTIMIZERS = ["sgd:lr=0.01", "adam", "momentum:lr=0.01,momentum=0.5", "restarts(sgd,n=2)"]
BAD_OPTIMIZERS = ["adam:lr=0", "sgd:lr=-1", "adam:beta1=1.5", "adma", "restarts(adam,n=0)"]


@st.composite
def study_specs(draw: st.DrawFn) -> tuple[dict[str, object], bool]:
    """A study file's data and whether every piece of it is valid (about half are)."""
    some = st.frozensets(st.sampled_from(PIECES), min_size=1, max_size=2)
    broken = draw(st.one_of(st.just(frozenset()), some))

    def pick(piece: str, good: list[object], bad: list[object]) -> object:
        return draw(st.sampled_from(bad if piece in broken else good))

    def specs(piece: str, good: list[str], bad: list[str]) -> list[str]:
        chosen = draw(st.lists(st.sampled_from(good), min_size=1, max_size=2, unique=True))
        return [draw(st.sampled_from(bad)), *chosen[1:]] if piece in broken else chosen

    data: dict[str, object] = {
        "name": "prop",
        "problems": specs("problem", GOOD_PROBLEMS, BAD_PROBLEMS),
        "optimizers": specs("optimizer", GOOD_OPTIMIZERS, BAD_OPTIMIZERS),
        "seeds": pick("seeds", [1, 2, [3, 5]], [0, -1, [], [1.5], True]),
        "steps": pick("steps", [1, 3], [0, -2, 2.5, "ten"]),
        "checkpoints": pick("checkpoints", [2, 4], [0, -1]),
        "dtype": pick("dtype", ["float32", "float64"], ["float16", "int"]),
    }
    if "targets" in broken or draw(st.booleans()):
        data["targets"] = pick("targets", [[0.1], [1e-3, 1.0]], [[0.0], [-1.0], ["x"]])
    if "start" in broken or draw(st.booleans()):
        data["start"] = pick("start", ["uniform", "default"], ["random", "best"])
    if "key" in broken:
        data[draw(st.sampled_from(["step", "seed", "optimiser", "device_"]))] = 1
    return data, not broken


PIECES = [
    "problem",
    "optimizer",
    "seeds",
    "steps",
    "checkpoints",
    "dtype",
    "targets",
    "start",
    "key",
]


def _toml(data: dict[str, object]) -> str:
    """A study file: JSON values are TOML values for these strings, numbers, lists, booleans."""
    return "".join(f"{key} = {json.dumps(value)}\n" for key, value in data.items())


PROPERTY = settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None
)


@PROPERTY
@given(study_specs())
def test_valid_studies_run_and_invalid_ones_exit_2_with_one_line(
    spec: tuple[dict[str, object], bool],
) -> None:
    data, valid = spec
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "study.toml"
        path.write_text(_toml(data))
        out = Path(folder) / "run"
        code, _, err = _run(["run", str(path), "--out", str(out), "--quiet"])
        assert "Traceback" not in err
        if valid:
            assert code in (0, 1), err  # 1: some runs failed (diverged runs do not count)
            study = bench.Study.from_toml(path)
            assert len(list((out / "parts").glob("*.parquet"))) == len(study.cells())
        else:
            assert code == 2, (data, err)
            assert len(err.strip().splitlines()) == 1, err
            assert err.startswith(f"bench run: error: {path}"), err  # names the file


@settings(PROPERTY, max_examples=20)
@given(st.text(max_size=200))
def test_any_text_as_a_study_file_never_raises(text: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "study.toml"
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        code, _, err = _run(["run", str(path), "--out", str(Path(folder) / "run"), "--quiet"])
        assert code == 2 and "Traceback" not in err
        assert len(err.strip().splitlines()) == 1, err
