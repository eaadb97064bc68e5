"""Several `bench tune` processes on one study: a journal file, a real PostgreSQL server, and a
worker killed with SIGKILL.

The PostgreSQL server is Debian's (``/usr/lib/postgresql/<version>/bin``; ``.ci/run``
installs it): the fixture runs ``initdb`` and ``postgres`` as the ``postgres`` user (they
refuse root) in a temporary data directory, listening on 127.0.0.1 on a free port, and stops
it after the module's tests, even when one fails. Without the binaries the PostgreSQL test
is skipped, except under ``CI=true``, where it fails.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import optuna
import pytest

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 120  # seconds any one worker process may take
pytestmark = pytest.mark.slow


def _command(storage: str, out: Path, *, trials: int, steps: int, batch: int = 2) -> list[str]:
    return [
        sys.executable, "-m", "bench", "tune", "--problem", "sphere:dim=2", "--optimizer", "sgd",
        "--trials", str(trials), "--batch", str(batch), "--seeds", "2", "--steps", str(steps),
        "--pruner", "none", "--storage", storage, "--study-name", "w", "--heartbeat", "1",
        "--out", str(out), "--quiet",
    ]  # fmt: skip


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}


def _two_workers(storage: str, tmp_path: Path, trials: int) -> optuna.Study:
    """Start two workers at once on one study; both must finish; return the study."""
    procs = [
        subprocess.Popen(
            _command(storage, tmp_path / f"out{i}", trials=trials, steps=100),
            env=_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for i in range(2)
    ]
    try:
        for proc in procs:
            out, _ = proc.communicate(timeout=TIMEOUT)
            assert proc.returncode == 0, out
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    from bench._tune_storage import open_storage

    return optuna.load_study(study_name="w", storage=open_storage(storage).optuna)


def _exactly(study: optuna.Study, trials: int) -> None:
    """N finished (complete or pruned) trials, none repeated; any other trial is a surplus
    one told FAIL."""
    states = optuna.trial.TrialState
    finished = [t for t in study.trials if t.state in (states.COMPLETE, states.PRUNED)]
    assert len(finished) == trials, [(t.number, t.state.name) for t in study.trials]
    others = [t for t in study.trials if t not in finished]
    assert all(t.state == states.FAIL and t.user_attrs.get("optbench:surplus") for t in others)
    assert len({t.params["lr"] for t in finished}) == trials  # no trial ran twice


def test_two_workers_on_one_journal_file(tmp_path: Path) -> None:
    study = _two_workers(f"journal:{tmp_path / 'study.log'}", tmp_path, trials=6)
    _exactly(study, 6)


def _pg_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"))
    return Path(found[-1]).parent if found else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    """A PostgreSQL server on 127.0.0.1 for this module's tests, stopped afterwards."""
    bin_dir = _pg_bin()
    if bin_dir is None or shutil.which("runuser") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("PostgreSQL binaries missing in CI (.ci/run installs postgresql)")
        pytest.skip(
            "no PostgreSQL binaries (/usr/lib/postgresql/*/bin): apt-get install postgresql"
        )
    data = Path(tempfile.mkdtemp(prefix="optbench-pg-"))
    as_pg = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    if as_pg:
        shutil.chown(data, "postgres", "postgres")
    port = _free_port()
    server = False
    try:
        subprocess.run(
            [*as_pg, str(bin_dir / "initdb"), "-D", str(data / "db"), "-U", "postgres",
             "--auth=trust", "-E", "UTF8"],
            check=True, capture_output=True, timeout=TIMEOUT,
        )  # fmt: skip
        options = f"-h 127.0.0.1 -p {port} -k {data} -c fsync=off"
        started = subprocess.run(
            [*as_pg, str(bin_dir / "pg_ctl"), "-D", str(data / "db"), "-o", options,
             "-l", str(data / "log"), "-w", "-t", "60", "start"],
            capture_output=True, text=True, timeout=TIMEOUT,
        )  # fmt: skip
        assert started.returncode == 0, started.stdout + started.stderr
        server = True
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        if server:
            subprocess.run(
                [*as_pg, str(bin_dir / "pg_ctl"), "-D", str(data / "db"), "-m", "immediate",
                 "-w", "-t", "30", "stop"],
                capture_output=True, timeout=TIMEOUT,
            )  # fmt: skip
        shutil.rmtree(data, ignore_errors=True)


def _readme_block(marker: str) -> str:
    """The ```sh block after `marker` in README.md."""
    text = (ROOT / "README.md").read_text()
    after = text[text.index(marker) :]
    start = after.index("```sh\n") + len("```sh\n")
    return after[start : after.index("```", start)]


def test_readme_workers_on_one_postgresql_database(tmp_path: Path, postgres_url: str) -> None:
    """README's "several workers on one PostgreSQL database" block, as written (only the
    server's URL is the fixture's): two workers, exactly 6 finished trials between them."""
    block = _readme_block("<!-- readme-postgres:")
    lines = block.splitlines()
    assert lines[0].startswith("DB=postgresql://")
    script = "\n".join([f"DB={postgres_url}", *lines[1:]])
    env = {**_env(), "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    done = subprocess.run(
        ["bash", "-euc", script], cwd=tmp_path, env=env, capture_output=True, text=True,
        timeout=2 * TIMEOUT,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert lines.count("1 pair tuned -> runs/tune-pg/tuned.toml") == 2, done.stdout + done.stderr
    assert lines[-1].startswith("6 trials; best"), done.stdout
    from bench._tune_storage import open_storage

    study = optuna.load_study(
        study_name="rosenbrock-adam", storage=open_storage(postgres_url).optuna
    )
    _exactly(study, 6)
    assert (tmp_path / "runs" / "tune-pg" / "tuned.toml").exists()


def test_a_killed_worker_leaves_its_trial_failed_and_the_study_resumes(tmp_path: Path) -> None:
    """SIGKILL a worker mid-trial (SQLite, 1 s heartbeats): running the same command again
    fails the silent trial, retries it and completes the study. The kill comes once the
    trial has reported a checkpoint, so it is computing (a fast machine otherwise killed it
    between its ask and its first heartbeat, a window `_ask`'s own beat now closes)."""
    storage = f"sqlite:///{tmp_path / 'optuna.db'}"
    command = _command(storage, tmp_path / "out", trials=2, steps=20000, batch=1)
    worker = subprocess.Popen(
        command, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + TIMEOUT
        running: list[optuna.trial.FrozenTrial] = []
        while not running:
            assert time.monotonic() < deadline, "the worker never started a trial"
            assert worker.poll() is None, "the worker finished before it could be killed"
            time.sleep(0.05)
            with contextlib.suppress(Exception):  # the study may not exist yet
                study = optuna.load_study(study_name="w", storage=storage)
                running = [
                    t
                    for t in study.get_trials(states=(optuna.trial.TrialState.RUNNING,))
                    if t.intermediate_values
                ]
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=30)
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
    killed = running[0].number
    again = subprocess.run(command, env=_env(), capture_output=True, text=True, timeout=TIMEOUT)
    assert again.returncode == 0, again.stderr
    study = optuna.load_study(study_name="w", storage=storage)
    states = {t.number: t.state for t in study.trials}
    assert states[killed] == optuna.trial.TrialState.FAIL
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert len(complete) == 2
    retried = [t for t in complete if t.system_attrs.get("failed_trial") == killed]
    assert len(retried) == 1
    assert retried[0].params == running[0].params
