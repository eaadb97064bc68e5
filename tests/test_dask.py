"""A real Dask cluster on loopback: one ``dask scheduler`` and two ``dask worker`` processes.

A study run through it equals a serial run row for row; a worker killed in the middle of a
cell has its cell retried on the other worker, and the study still ends with every cell once.
"""

from __future__ import annotations

import os
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

import bench
import reports
from bench._cli import main as cli

pytest.importorskip("distributed")

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}
KEY = ["problem", "optimizer", "seed", "step"]
COLUMNS = [*KEY, "loss", "best_loss", "evals", "status", "gap"]
START_S = 60


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start(*args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "dask", *args],
        env=ENV,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=START_S)


@dataclass
class Cluster:
    address: str
    workers: dict[str, subprocess.Popen[bytes]]


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    """A scheduler and two single-threaded workers on 127.0.0.1, stopped afterwards."""
    from distributed import Client

    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    procs = [_start("scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard")]
    workers = {}
    try:
        for name in ("w0", "w1"):
            workers[name] = _start(
                "worker", address, "--nthreads", "1", "--no-nanny", "--host", "127.0.0.1",
                "--no-dashboard", "--name", name, "--death-timeout", "30",
            )  # fmt: skip
            procs.append(workers[name])
        deadline = time.time() + START_S
        while True:
            try:
                with Client(address, timeout="2s") as client:
                    client.wait_for_workers(2, timeout=START_S)
                break
            except OSError:
                if time.time() > deadline:
                    raise
                time.sleep(0.2)
        yield Cluster(address, workers)
    finally:
        for proc in reversed(procs):
            _stop(proc)


STUDY = {
    "name": "dask",
    "problems": ["sphere:dim=3", "rosenbrock:dim=4", "booth"],
    "optimizers": ["sgd:lr=0.001", "adam:lr=0.01"],
    "seeds": 2,
    "steps": 600,
    "checkpoints": 6,
}


@pytest.fixture(scope="module")
def serial(tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    out = tmp_path_factory.mktemp("serial")
    bench.run_study(bench.Study.from_dict(STUDY), out, quiet=True)
    return _rows(out)


def _rows(run_dir: Path) -> pd.DataFrame:
    return reports.load(run_dir)[COLUMNS].sort_values(KEY).reset_index(drop=True)


def test_a_study_on_two_dask_workers_equals_a_serial_run(
    cluster: Cluster, serial: pd.DataFrame, tmp_path: Path
) -> None:
    summary = bench.run_study(
        bench.Study.from_dict(STUDY), tmp_path, scheduler=cluster.address, quiet=True
    )
    assert summary.cells == 6 and summary.failed_runs == 0
    pd.testing.assert_frame_equal(_rows(tmp_path), serial)
    threads = reports.load_meta(tmp_path)["torch_threads"]
    assert len(threads) == 2, threads  # both workers ran cells, one torch thread each
    assert all(k.startswith("dask-tcp://127.0.0.1:") for k in threads)
    assert set(threads.values()) == {1}
    assert not list((tmp_path / "claims").glob("*.json"))


def test_bad_scheduler_addresses_are_one_line_errors(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bench import _dask

    monkeypatch.setattr(_dask, "CONNECT_S", 1)
    argv = ["run", "--problems", "booth", "--optimizers", "sgd", "--steps", "2"]
    argv += ["--out", str(tmp_path), "--quiet"]
    assert cli([*argv, "--scheduler", "localhost:8786"]) == 2
    assert "expected an address such as tcp://" in capsys.readouterr().err
    assert cli([*argv, "--scheduler", f"tcp://127.0.0.1:{_free_port()}"]) == 2
    err = capsys.readouterr().err
    assert "cannot connect" in err and len(err.strip().splitlines()) == 1


def test_a_study_too_big_for_the_workers_is_refused_before_it_is_sent(
    cluster: Cluster, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["run", "--problems", "sphere:dim=100000000", "--optimizers", "adam"]
    argv += ["--seeds", "1000", "--steps", "2", "--scheduler", cluster.address]
    assert cli([*argv, "--out", str(tmp_path), "--quiet"]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert "needs about 4.4 TiB of memory" in line and "on the smallest Dask worker" in line


def test_the_readme_dask_block_runs_as_written(
    cluster: Cluster, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """README's block, with this cluster's address for SCHEDULER_HOST:8786 and a temporary
    run directory for runs/cluster."""
    text = (ROOT / "README.md").read_text()
    section = text[text.index("## Several machines: a Dask cluster") :]
    block = section[section.index("```sh\n") + 6 : section.index("```\n", section.index("```sh"))]
    lines = [line.split("  #")[0].strip() for line in block.splitlines()]
    assert "--nthreads 1" in lines[1]  # single-threaded workers, as the fixture starts them
    commands = [
        shlex.split(
            line.replace("tcp://SCHEDULER_HOST:8786", cluster.address).replace(
                "runs/cluster", str(tmp_path / "cluster")
            )
        )
        for line in lines
        if line.startswith("bench ")
    ]
    assert [c[1] for c in commands] == ["run", "show"]
    assert cli([*commands[0][1:], "--quiet"]) == 0
    assert cli(commands[1][1:]) == 0
    assert "rastrigin:dim=5" in capsys.readouterr().out
    assert len(list((tmp_path / "cluster" / "parts").glob("*.parquet"))) == 4


def test_a_worker_killed_mid_cell_has_its_cell_retried_elsewhere(
    cluster: Cluster, serial: pd.DataFrame, tmp_path: Path
) -> None:
    from distributed import Client

    study = bench.Study.from_dict(STUDY)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            bench.run_study(study, tmp_path, scheduler=cluster.address, quiet=True)
        except BaseException as error:  # reported by the assertion below
            errors.append(error)

    thread = threading.Thread(target=run)
    thread.start()
    killed = None
    with Client(cluster.address, timeout="10s") as client:
        deadline = time.time() + START_S
        while killed is None and time.time() < deadline and thread.is_alive():
            info = client.scheduler_info()["workers"]
            for address, keys in client.processing().items():
                name = info.get(address, {}).get("name")
                if keys and name == "w0" and len(list(tmp_path.glob("parts/*.parquet"))) >= 1:
                    os.kill(cluster.workers["w0"].pid, signal.SIGKILL)  # in the middle of a cell
                    killed = keys[0]
            time.sleep(0.02)
    thread.join(timeout=START_S)
    assert not thread.is_alive() and not errors, errors
    assert killed is not None, "w0 never ran a cell"
    pd.testing.assert_frame_equal(_rows(tmp_path), serial)  # every cell once, none lost
    assert cluster.workers["w0"].wait(timeout=START_S) == -signal.SIGKILL
