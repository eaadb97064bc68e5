"""Run a study: every cell, its part written as soon as it finishes, resumable.

Three ways to run the cells, one loop (`_drive`) around them:

- in this process (the default);
- ``workers=N``: N local processes, each with one torch thread and the parent's allocator
  setting (`prepare_worker`);
- ``scheduler="tcp://HOST:PORT"``: a Dask distributed cluster (`bench._dask`).

Faults (docs/RELIABILITY.md): a cell is claimed before it is computed (`bench._claims`), so
two runs on one directory never compute the same cell: the second one computes the others and
then waits for the claimed ones, taking over any whose holder dies. A part that does not read
back whole is moved to ``corrupt/`` and its cell redone. Ctrl-C stops at a cell boundary: the
first press lets the cells in progress finish (Dask: drops them), a second press stops at once;
finished parts are kept and `StudyInterrupted` says how to resume.

`run_study` leaves the calling process as it found it (no allocator setting, no thread
count; a SIGINT handler only while it runs). meta.json records the allocator
(``"allocator"``) and the torch threads (``"torch_threads"``: ``{"main": n}``, or one entry
per worker process, ``{"worker-<pid>": 1, ...}``, ``{"dask-<address>": 1, ...}``).
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

import pandas as pd
import torch

from bench import _allocator
from bench._cell import run_cell
from bench._claims import Claim, Holder, claim, sweep
from bench._environment import environment
from bench._plugins import load_plugins
from bench._store import (
    check_run_dir,
    finished_cells,
    load_meta,
    set_aside_corrupt,
    write_meta,
    write_part,
)
from bench._study import Cell, Study
from problems import SpecError

if TYPE_CHECKING:
    from distributed import Client

__all__ = [
    "WORKER_THREADS",
    "RunSummary",
    "StudyInterrupted",
    "check_workers",
    "default_run_dir",
    "prepare_worker",
    "run_study",
]

POLL_S = 0.5
"""How often a run waiting for cells claimed by another process looks again."""


@dataclass(frozen=True)
class RunSummary:
    run_dir: Path
    cells: int
    skipped: int
    failed_runs: int
    diverged_runs: int


class StudyInterrupted(KeyboardInterrupt):
    """Ctrl-C stopped the study; the finished cells are kept in `run_dir`."""

    def __init__(self, run_dir: Path, finished: int, cells: int) -> None:
        super().__init__(f"{finished} of {cells} cells finished")
        self.run_dir, self.finished, self.cells = run_dir, finished, cells


def default_run_dir(study: Study, root: Path = Path("runs")) -> Path:
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    return root / f"{study.name}-{stamp}"


Counts = tuple[int, int]
"""(failed runs, diverged runs) of a finished cell."""

Outcome = tuple[Cell, "Counts | Holder"]
"""A cell and what became of it: its counts, or the holder of the claim that stopped it."""


def counts(frame: pd.DataFrame) -> Counts:
    """Failed and diverged seeds of a cell's rows."""
    runs = frame[frame["record"] == "checkpoint"].drop_duplicates("seed")
    return int((runs["status"] == "failed").sum()), int((runs["status"] == "diverged").sum())


def _part_counts(run_dir: Path, cell_id: str) -> Counts:
    """Counts of a cell another process finished, read from its part."""
    path = Path(run_dir) / "parts" / f"{cell_id}.parquet"
    return counts(pd.read_parquet(path, columns=["record", "seed", "status"]))


def claim_cell(run_dir: Path, cell: Cell) -> Claim | Holder | Counts:
    """Claim `cell` for this process: a `Claim` to compute it under, the `Holder` of a live
    claim on it, or its counts when its part appeared meanwhile (another process finished it).

    Leftover temporary files of the cell (a writer killed mid-write) are removed under the
    claim: nobody else writes this cell now.
    """
    held = claim(run_dir, cell.id)
    if isinstance(held, Holder):
        return held
    parts = Path(run_dir) / "parts"
    if (parts / f"{cell.id}.parquet").exists():
        held.release()
        return _part_counts(run_dir, cell.id)
    for leftover in parts.glob(f".{cell.id}.parquet.*.tmp"):
        leftover.unlink(missing_ok=True)
    return held


def _compute(
    cell: Cell, run_dir: Path, progress: Callable[[int, int], None] | None = None
) -> Counts | Holder:
    """Claim, run and write one cell (in this process or a worker process)."""
    held = claim_cell(run_dir, cell)
    if not isinstance(held, Claim):
        return held
    with held:
        frame = run_cell(cell, progress)
        write_part(run_dir, cell.id, frame)
        return counts(frame)


def _supersede(run_dir: Path, keep: set[str], meta: dict[str, object], quiet: bool) -> None:
    stale = finished_cells(run_dir) - keep
    if not stale:
        return
    folder = run_dir / "superseded" / dt.datetime.now().strftime("%Y%m%d-%H%M%S-%f")
    folder.mkdir(parents=True)
    for cell_id in stale:
        os.replace(run_dir / "parts" / f"{cell_id}.parquet", folder / f"{cell_id}.parquet")
    write_meta(folder, meta)
    if not quiet:
        print(
            f"{run_dir}: the study changed; {len(stale)} old cells moved to {folder}",
            file=sys.stderr,
        )


WORKER_THREADS = 1
"""Torch threads per worker process (``--workers``, Dask): the cells run side by side."""

_prepared = False


def prepare_worker(
    keep_freed: bool, die_with_parent: bool = False, plugins: tuple[str, ...] = ()
) -> None:
    """Set up a worker process once, before its first cell: one torch thread, the parent's
    allocator setting, the study's plugins (imported again: a spawned process or a Dask
    worker has none of the parent's), and Ctrl-C left to the parent (which stops at a cell
    boundary).

    The one place where a worker prepares itself: ``--workers`` processes run it as their
    initializer (with `die_with_parent`: on Linux the kernel ends them when the run that
    started them dies, even of a SIGKILL, instead of leaving them waiting for work forever),
    Dask workers before their first cell (`bench._dask`).
    """
    global _prepared
    load_plugins(plugins)  # once per plugin and process; a later study may bring others
    if _prepared:
        return
    torch.set_num_threads(WORKER_THREADS)
    if keep_freed:
        _allocator.keep_freed_memory()
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    if die_with_parent and sys.platform.startswith("linux"):
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL(None).prctl(pr_set_pdeathsig, signal.SIGKILL)
    _prepared = True


def _worker(cell: Cell, run_dir: Path) -> tuple[Counts | Holder, str, int]:
    return _compute(cell, run_dir), f"worker-{os.getpid()}", torch.get_num_threads()


class _Stop:
    """Ctrl-C while a study runs: the first press asks to stop at the next cell boundary, a
    second one raises KeyboardInterrupt at once. Installed only in the main thread, and the
    previous handler is put back afterwards."""

    def __init__(self) -> None:
        self.asked = threading.Event()
        self._previous: object = None

    def __enter__(self) -> _Stop:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)  # type: ignore[arg-type]

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.asked.is_set():
            raise KeyboardInterrupt
        self.asked.set()
        print(
            "\nbench run: stopping after the cells in progress (Ctrl-C again to stop now)",
            file=sys.stderr,
        )


Execute = Callable[[list[Cell], _Stop], Iterable[Outcome]]
"""Runs cells (claiming each first) and yields each one's outcome as it ends."""


def _serial(run_dir: Path, quiet: bool) -> Execute:
    def execute(cells: list[Cell], stop: _Stop) -> Iterator[Outcome]:
        for cell in cells:
            if stop.asked.is_set():
                return
            yield cell, _compute(cell, run_dir, _cell_bar(cell, quiet))

    return execute


@dataclass
class _Processes:
    """``workers`` local processes; each claims the cells it runs. At most `workers` cells
    are handed to the pool at a time, so that a Ctrl-C waits for the cells running, not for
    a queue of them."""

    pool: ProcessPoolExecutor
    workers: int
    run_dir: Path
    threads: dict[str, int] = field(default_factory=dict)

    def __call__(self, cells: list[Cell], stop: _Stop) -> Iterator[Outcome]:
        waiting = iter(cells)
        running: dict[Future[tuple[Counts | Holder, str, int]], Cell] = {}

        def fill() -> None:
            while len(running) < self.workers and not stop.asked.is_set():
                cell = next(waiting, None)
                if cell is None:
                    return
                running[self.pool.submit(_worker, cell, self.run_dir)] = cell

        fill()
        while running:
            done, _ = wait(running, timeout=POLL_S, return_when=FIRST_COMPLETED)
            for future in done:
                cell = running.pop(future)
                outcome, worker, count = future.result()
                self.threads[worker] = count
                yield cell, outcome
            fill()


def _drive(
    todo: list[Cell], execute: Execute, run_dir: Path, stop: _Stop, bar: Callable[[Cell], None]
) -> tuple[Counts, int]:
    """Run `todo`, then wait for the cells another process holds, taking over any whose
    holder dies. Returns the summed counts and how many cells ended here."""
    failed = diverged = ended = 0
    pending, told = list(todo), False
    while pending and not stop.asked.is_set():
        busy: list[tuple[Cell, Holder]] = []
        for cell, outcome in execute(pending, stop):
            if isinstance(outcome, Holder):
                busy.append((cell, outcome))
                continue
            failed, diverged, ended = failed + outcome[0], diverged + outcome[1], ended + 1
            bar(cell)
        if not busy or stop.asked.is_set():
            break
        if not told:
            holders = sorted({str(h) for _, h in busy})
            print(
                f"bench run: {len(busy)} cells are being computed by {'; '.join(holders)}; "
                "computing the rest, then waiting for those (Ctrl-C stops; nothing finished "
                "is lost)",
                file=sys.stderr,
            )
            told = True
        stop.asked.wait(POLL_S)
        done = finished_cells(run_dir)
        pending = []
        for cell, _ in busy:
            if cell.id not in done:
                pending.append(cell)
                continue
            f, d = _part_counts(run_dir, cell.id)
            failed, diverged, ended = failed + f, diverged + d, ended + 1
            bar(cell)
    return (failed, diverged), ended


def run_study(
    study: Study,
    run_dir: Path,
    *,
    command: str = "",
    workers: int = 1,
    scheduler: str | None = None,
    quiet: bool = False,
) -> RunSummary:
    """Run every cell of `study` not yet finished in `run_dir`.

    A cell whose part exists and reads back whole is skipped (resume); one whose part does
    not is moved to ``corrupt/`` and redone. When the directory holds a different study (the
    spec changed), the parts of cells that are not in the new study are moved to
    ``superseded/<timestamp>/`` with their meta.json: nothing finished is lost, and old and
    new results are never mixed.

    Args:
        study: the study; validated here (names, values, memory: `bench._resources`).
        run_dir: the run directory (created).
        command: the command line, for meta.json.
        workers: cells in this many local processes.
        scheduler: a Dask scheduler address (``tcp://HOST:PORT``): the cells run on that
            cluster, and this process writes their parts (`bench._dask`).
        quiet: no progress bars.

    Raises:
        StudyInterrupted: Ctrl-C; the finished cells are kept.
        StoreError: the run directory cannot be written (named, with the reason).
    """
    run_dir = Path(run_dir)
    client = None
    if scheduler is not None:
        from bench._dask import connect, memory_limit

        client = connect(scheduler)
    try:
        # builds each problem and method once (the cells reuse them), after checking the
        # memory of every cell on this machine, or on the cluster's workers
        study.validate(memory=True if client is None else memory_limit(client))
        return _run(study, run_dir, command, workers, client, quiet)
    finally:
        if client is not None:
            client.close()


def _run(
    study: Study, run_dir: Path, command: str, workers: int, client: Client | None, quiet: bool
) -> RunSummary:
    check_run_dir(run_dir)
    previous = load_meta(run_dir)
    if previous and previous.get("study") != study.to_dict():
        _supersede(run_dir, {c.id for c in study.cells()}, previous, quiet)
        previous = {}
    for cell_id, reason in set_aside_corrupt(run_dir):
        print(
            f"bench run: {run_dir}/parts/{cell_id}.parquet does not read back ({reason}); "
            "moved to corrupt/, its cell is redone",
            file=sys.stderr,
        )
    done = finished_cells(run_dir)
    sweep(run_dir, done)
    cells = study.cells()
    todo = [c for c in cells if c.id not in done]
    meta = previous or {
        "name": study.name,
        "label": study.name,
        "study": study.to_dict(),
        "command": command,
        **environment(study.devices),
        "started": dt.datetime.now(dt.timezone.utc).isoformat(),
    }
    parallel = client is None and workers > 1 and len(todo) > 1
    meta["allocator"] = _allocator.setting()
    if plugins := [p.record() for p in load_plugins(study.plugins)]:  # what made the numbers
        meta["plugins"] = plugins
    threads: dict[str, int] = dict(meta.get("torch_threads") or {})  # type: ignore[call-overload]
    if not parallel and client is None:
        threads["main"] = torch.get_num_threads()
    write_meta(run_dir, {**meta, "torch_threads": threads})
    begin = time.perf_counter()
    bar = _bar(len(todo), quiet)
    try:
        with _Stop() as stop:
            if client is not None:
                from bench._dask import Cluster

                execute: Execute = Cluster(client, run_dir, threads)
                (failed, diverged), _ = _drive(todo, execute, run_dir, stop, bar)
            elif parallel:
                with ProcessPoolExecutor(
                    max_workers=workers,
                    initializer=prepare_worker,
                    initargs=(_allocator.setting() is not None, True, study.plugins),
                ) as pool:
                    processes = _Processes(pool, workers, run_dir, threads)
                    try:
                        (failed, diverged), _ = _drive(todo, processes, run_dir, stop, bar)
                    except KeyboardInterrupt:
                        _end_children()
                        raise
            else:
                (failed, diverged), _ = _drive(todo, _serial(run_dir, quiet), run_dir, stop, bar)
            if stop.asked.is_set():
                raise KeyboardInterrupt
    except KeyboardInterrupt:
        raise StudyInterrupted(run_dir, len(finished_cells(run_dir)), len(cells)) from None
    meta["torch_threads"] = threads
    meta["finished"] = dt.datetime.now(dt.timezone.utc).isoformat()
    meta["wall_s"] = float(meta.get("wall_s", 0.0)) + time.perf_counter() - begin  # type: ignore[arg-type]
    write_meta(run_dir, meta)
    return RunSummary(run_dir, len(cells), len(cells) - len(todo), failed, diverged)


def _end_children() -> None:
    """A second Ctrl-C: end this process's worker processes now (they ignore SIGINT)."""
    import psutil

    for child in psutil.Process().children():
        child.terminate()


def _bar(total: int, quiet: bool) -> Callable[[Cell], None]:
    if quiet or total == 0:
        return lambda cell: None
    from tqdm import tqdm

    progress = tqdm(total=total, unit="cell", disable=None, dynamic_ncols=True)

    def advance(cell: Cell) -> None:
        progress.set_postfix_str(f"{cell.problem} x {cell.optimizer}", refresh=False)
        progress.update(1)
        if progress.n >= total:
            progress.close()

    return advance


def _cell_bar(cell: Cell, quiet: bool) -> Callable[[int, int], None] | None:
    """A progress bar for one cell's steps, advanced at its checkpoints."""
    if quiet:
        return None
    from tqdm import tqdm

    bar = tqdm(
        total=0,
        unit="step",
        leave=False,
        disable=None,
        dynamic_ncols=True,
        desc=f"{cell.problem} x {cell.optimizer}"[:50],
    )

    def advance(step: int, steps: int) -> None:
        bar.total = steps
        bar.update(step - bar.n)
        if step >= steps:
            bar.close()

    return advance


def check_workers(workers: int) -> int:
    if workers < 1:
        msg = f"--workers must be >= 1, got {workers}"
        raise SpecError(msg)
    return min(workers, os.cpu_count() or 1)
