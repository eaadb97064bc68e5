"""Kill and resume: SIGKILL with --workers, Ctrl-C, corrupt parts, two runs on one directory.

The serial SIGKILL is tests/test_harness.py::test_killed_process_resumes_with_nothing_lost.
Every test compares with one uninterrupted run of the same study (a module fixture).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import pytest

import bench
import reports
from bench import _claims, _runner
from bench._cli import main as cli

ROOT = Path(__file__).resolve().parent.parent
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}
KEY = ["problem", "optimizer", "seed", "step"]
COLUMNS = [*KEY, "loss", "best_loss", "evals", "status"]
DEADLINE_S = 60

STUDY = (
    'name = "resume"\nseeds = 2\nsteps = 300\ncheckpoints = 5\n'
    'problems = ["sphere:dim=2", "sphere:dim=3", "sphere:dim=4", "sphere:dim=5", '
    '"sphere:dim=6", "sphere:dim=7"]\noptimizers = ["sgd:lr=0.01", "adam:lr=0.01"]\n'
)
CELLS = 12


@pytest.fixture(scope="module")
def study_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("study") / "s.toml"
    path.write_text(STUDY)
    return path


@pytest.fixture(scope="module")
def reference(study_file: Path, tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    """The study run once, uninterrupted, in this process."""
    out = tmp_path_factory.mktemp("reference")
    bench.run_study(bench.Study.from_toml(study_file), out, quiet=True)
    return _rows(out)


def _rows(run_dir: Path) -> pd.DataFrame:
    frame = reports.load(run_dir)
    return frame[COLUMNS].sort_values(KEY).reset_index(drop=True)


def _parts(run_dir: Path) -> list[Path]:
    return sorted((run_dir / "parts").glob("*.parquet"))


def _wait_for_parts(run_dir: Path, n: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.time() + DEADLINE_S
    while len(_parts(run_dir)) < n and proc.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    assert proc.poll() is None, "the run ended before it could be interrupted"


def _bench_run(*args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "bench", "run", *args, "--quiet"],
        env=ENV,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,  # the test ends the whole group if anything is left
    )


def _end(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=DEADLINE_S)
    for stream in (proc.stdout, proc.stderr):
        if stream is not None:
            stream.close()


@pytest.mark.slow
def test_sigkill_with_workers_then_resume_equals_an_uninterrupted_run(
    study_file: Path, reference: pd.DataFrame, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    proc = _bench_run(str(study_file), "--out", str(out), "--workers", "2")
    try:
        _wait_for_parts(out, 3, proc)
        os.kill(proc.pid, signal.SIGKILL)  # the parent only: its workers die with it
        proc.wait(timeout=DEADLINE_S)
        import psutil

        deadline = time.time() + 10
        while time.time() < deadline and any(
            str(study_file) in " ".join(p.info["cmdline"] or [])
            for p in psutil.process_iter(["cmdline"])
        ):
            time.sleep(0.05)
    finally:
        _end(proc)
    survivors = {p.name: p.read_bytes() for p in _parts(out)}
    assert 3 <= len(survivors) < CELLS
    assert cli(["run", "--resume", str(out), "--quiet"]) == 0
    parts = {p.name: p.read_bytes() for p in _parts(out)}
    assert len(parts) == CELLS
    assert all(parts[name] == data for name, data in survivors.items())  # nothing redone
    assert not list((out / "claims").glob("*.json"))  # every claim released
    assert not list((out / "parts").glob(".*.tmp"))
    pd.testing.assert_frame_equal(_rows(out), reference)  # once each, row for row


@pytest.mark.slow
def test_ctrl_c_stops_at_a_cell_boundary_and_prints_the_resume_command(
    study_file: Path, reference: pd.DataFrame, tmp_path: Path
) -> None:
    """With --workers 2: the workers leave Ctrl-C to their parent, which lets the two cells
    running finish and starts no other."""
    out = tmp_path / "run"
    proc = _bench_run(str(study_file), "--out", str(out), "--workers", "2")
    try:
        _wait_for_parts(out, 2, proc)
        os.kill(proc.pid, signal.SIGINT)
        _, err = proc.communicate(timeout=DEADLINE_S)
    finally:
        _end(proc)
    assert proc.returncode == 130
    text = err.decode()
    assert "stopping after the cells in progress" in text
    assert f"resume with: bench run --resume {out} --workers 2" in text
    assert "Traceback" not in text
    finished = len(_parts(out))
    assert 2 <= finished <= 2 + 2 + 1  # those finished, those running (a third just ending)
    assert f"{finished} of {CELLS} cells finished" in text  # the cell in progress was finished
    assert cli(["run", "--resume", str(out), "--quiet"]) == 0
    pd.testing.assert_frame_equal(_rows(out), reference)


@pytest.mark.parametrize("presses", [1, 2])
def test_ctrl_c_in_a_serial_run(
    presses: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One press: the cell running is finished and kept, no other starts. Two: the cell
    running is dropped (no part, no claim), the finished ones kept."""
    real = _runner.run_cell
    started: list[str] = []

    def interrupted(cell: bench.Cell, progress: object = None) -> pd.DataFrame:
        started.append(cell.id)
        if len(started) == 2:
            for _ in range(presses):
                os.kill(os.getpid(), signal.SIGINT)  # handled between bytecodes, here
                time.sleep(0.01)
        return real(cell)

    monkeypatch.setattr(_runner, "run_cell", interrupted)
    study = bench.Study([f"sphere:dim={d}" for d in (2, 3, 4)], ["sgd:lr=0.1"], seeds=2, steps=5)
    with pytest.raises(_runner.StudyInterrupted) as stopped:
        bench.run_study(study, tmp_path, quiet=True)
    assert len(started) == 2  # the third cell never started
    kept = {p.stem for p in _parts(tmp_path)}
    assert kept == set(started[: 3 - presses])
    assert (stopped.value.finished, stopped.value.cells) == (3 - presses, 3)
    assert not list((tmp_path / "claims").glob("*.json"))


def test_a_corrupt_part_is_set_aside_and_its_cell_redone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    study = bench.Study(["sphere:dim=2", "booth"], ["sgd:lr=0.1"], seeds=2, steps=20)
    bench.run_study(study, tmp_path, quiet=True)
    first = _rows(tmp_path)
    truncated, garbage = _parts(tmp_path)
    truncated.write_bytes(truncated.read_bytes()[:100])  # a half-written part
    garbage.write_bytes(b"PAR1" + b"\0" * 64 + b"PAR1")  # the magic bytes, nothing readable
    summary = bench.run_study(study, tmp_path, quiet=True)
    assert summary.skipped == 0
    err = capsys.readouterr().err
    assert err.count("does not read back") == 2 and "its cell is redone" in err
    assert len(list((tmp_path / "corrupt").glob("*/*.parquet"))) == 2  # kept, for a look
    pd.testing.assert_frame_equal(_rows(tmp_path), first)


def test_two_runs_on_one_directory_compute_each_cell_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Two runs side by side (threads: each claim is its own open file, as in two processes)."""
    computed: list[str] = []
    real = _runner.run_cell

    def slow(cell: bench.Cell, progress: object = None) -> pd.DataFrame:
        computed.append(cell.id)
        time.sleep(0.05)  # long enough for the other run to find the claim
        return real(cell)

    monkeypatch.setattr(_runner, "run_cell", slow)
    monkeypatch.setattr(_runner, "POLL_S", 0.05)
    study = bench.Study(
        [f"sphere:dim={d}" for d in range(2, 6)], ["sgd:lr=0.1", "adam"], seeds=2, steps=20
    )
    study.validate()
    summaries: list[bench.RunSummary] = []
    runs = [
        threading.Thread(
            target=lambda: summaries.append(bench.run_study(study, tmp_path, quiet=True))
        )
        for _ in range(2)
    ]
    for run in runs:
        run.start()
    for run in runs:
        run.join(timeout=DEADLINE_S)
    assert len(summaries) == 2
    assert sorted(computed) == sorted(c.id for c in study.cells())  # each cell exactly once
    assert len(_parts(tmp_path)) == len(study.cells())
    assert not list((tmp_path / "claims").glob("*.json"))


@pytest.mark.slow
def test_a_second_process_waits_for_the_cells_the_first_one_holds(
    study_file: Path, reference: pd.DataFrame, tmp_path: Path
) -> None:
    """This test's process holds the claim of one cell, as a first `bench run` computing it
    would (a real lock, from another process); the `bench run` started behind it computes
    the other cells, says it is waiting for the held one, and finishes it once the claim is
    released. (Two `bench run` processes started together collide only if neither finishes
    every tiny cell before the other has imported torch: on a fast machine they did not.)"""
    out = tmp_path / "run"
    held_cell = bench.Study.from_toml(study_file).cells()[0]
    held = _claims.claim(out, held_cell.id)
    assert isinstance(held, _claims.Claim)
    second = _bench_run(str(study_file), "--out", str(out))
    try:
        deadline = time.monotonic() + DEADLINE_S
        while len(_parts(out)) < CELLS - 1 and second.poll() is None:
            assert time.monotonic() < deadline, "the other cells did not finish"
            time.sleep(0.1)
        time.sleep(2 * _runner.POLL_S)  # it is waiting for the held cell now
        assert second.poll() is None, "it did not wait for the held cell"
        assert not (out / "parts" / f"{held_cell.id}.parquet").exists()
        held.release()
        _, err = second.communicate(timeout=DEADLINE_S)
    finally:
        held.release()
        _end(second)
    messages = err.decode()
    assert second.returncode == 0, messages
    assert f"are being computed by pid {os.getpid()}" in messages, messages
    assert "Traceback" not in messages
    pd.testing.assert_frame_equal(_rows(out), reference)


def test_a_claim_of_a_dead_holder_is_taken_over_and_a_live_one_is_not(tmp_path: Path) -> None:
    stale = tmp_path / "claims" / "cell.json"
    stale.parent.mkdir()
    stale.write_text('{"pid": 999999999, "host": "here", "since": "yesterday"}')  # no lock
    mine = _claims.claim(tmp_path, "cell")
    assert isinstance(mine, _claims.Claim)
    other = _claims.claim(tmp_path, "cell")  # a second open file: a second process
    assert isinstance(other, _claims.Holder)
    assert other.pid == os.getpid() and "pid" in str(other)
    mine.release()
    again = _claims.claim(tmp_path, "cell")
    assert isinstance(again, _claims.Claim)
    again.release()
    assert not stale.exists()
