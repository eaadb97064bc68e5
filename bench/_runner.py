"""Run a study: every cell, its part written as soon as it finishes, resumable.

`run_study` leaves the calling process as it found it (no allocator setting, no thread
count); ``--workers`` processes start with one torch thread each and the parent's allocator
setting (`_init_worker`). meta.json records both: ``"allocator"`` and ``"torch_threads"``
(``{"main": n}``, or one entry per worker process, ``{"worker-<pid>": 1, ...}``).
"""

from __future__ import annotations

import datetime as dt
import os
import sys
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

import torch

from bench import _allocator
from bench._cell import run_cell
from bench._environment import environment
from bench._plugins import load_plugins
from bench._store import finished_cells, load_meta, write_meta, write_part
from bench._study import Cell, Study
from problems import SpecError

__all__ = ["RunSummary", "default_run_dir", "run_study"]


@dataclass(frozen=True)
class RunSummary:
    run_dir: Path
    cells: int
    skipped: int
    failed_runs: int
    diverged_runs: int


def default_run_dir(study: Study, root: Path = Path("runs")) -> Path:
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    return root / f"{study.name}-{stamp}"


def _finish_cell(
    cell: Cell, run_dir: Path, progress: Callable[[int, int], None] | None = None
) -> tuple[int, int]:
    frame = run_cell(cell, progress)
    write_part(run_dir, cell.id, frame)
    runs = frame[frame["record"] == "checkpoint"].drop_duplicates("seed")
    return int((runs["status"] == "failed").sum()), int((runs["status"] == "diverged").sum())


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
"""Torch threads per ``--workers`` process: the cells themselves run side by side."""


def _init_worker(keep_freed: bool, plugins: tuple[str, ...] = ()) -> None:
    """Set up a worker process once: its thread count, the parent's allocator setting, and
    the study's plugins (imported again: a spawned process has none of the parent's)."""
    torch.set_num_threads(WORKER_THREADS)
    if keep_freed:
        _allocator.keep_freed_memory()
    load_plugins(plugins)


def _worker(cell: Cell, run_dir: Path) -> tuple[int, int, str, int]:
    failed, diverged = _finish_cell(cell, run_dir)
    return failed, diverged, f"worker-{os.getpid()}", torch.get_num_threads()


def run_study(
    study: Study,
    run_dir: Path,
    *,
    command: str = "",
    workers: int = 1,
    quiet: bool = False,
    on_cell: Callable[[Cell, int, int], None] | None = None,
) -> RunSummary:
    """Run every cell of `study` not yet finished in `run_dir`.

    A cell whose part exists is skipped (resume). When the directory holds a different study
    (the spec changed), the parts of cells that are not in the new study are moved to
    ``superseded/<timestamp>/`` with their meta.json: nothing finished is lost, and old and
    new results are never mixed.
    """
    study.validate()  # builds each problem and method once; the cells reuse them
    run_dir = Path(run_dir)
    previous = load_meta(run_dir)
    if previous and previous.get("study") != study.to_dict():
        _supersede(run_dir, {c.id for c in study.cells()}, previous, quiet)
        previous = {}
    done = finished_cells(run_dir)
    todo = [c for c in study.cells() if c.id not in done]
    meta = previous or {
        "name": study.name,
        "label": study.name,
        "study": study.to_dict(),
        "command": command,
        **environment(study.devices),
        "started": dt.datetime.now(dt.timezone.utc).isoformat(),
    }
    parallel = workers > 1 and len(todo) > 1
    meta["allocator"] = _allocator.setting()
    if plugins := [p.record() for p in load_plugins(study.plugins)]:  # what made the numbers
        meta["plugins"] = plugins
    threads: dict[str, int] = dict(meta.get("torch_threads") or {})  # type: ignore[call-overload]
    if not parallel:
        threads["main"] = torch.get_num_threads()
    meta["torch_threads"] = threads
    write_meta(run_dir, meta)
    begin = time.perf_counter()
    failed = diverged = 0
    bar = _bar(len(todo), quiet)
    if parallel:
        with ProcessPoolExecutor(
            max_workers=workers,
            initializer=_init_worker,
            initargs=(_allocator.setting() is not None, study.plugins),
        ) as pool:
            futures = {pool.submit(_worker, cell, run_dir): cell for cell in todo}
            for future in as_completed(futures):
                f, d, worker, count = future.result()
                failed, diverged = failed + f, diverged + d
                threads[worker] = count
                bar(futures[future])
    else:
        for cell in todo:
            f, d = _finish_cell(cell, run_dir, _cell_bar(cell, quiet))
            failed, diverged = failed + f, diverged + d
            bar(cell)
    meta["finished"] = dt.datetime.now(dt.timezone.utc).isoformat()
    meta["wall_s"] = float(meta.get("wall_s", 0.0)) + time.perf_counter() - begin  # type: ignore[arg-type]
    write_meta(run_dir, meta)
    return RunSummary(run_dir, len(study.cells()), len(study.cells()) - len(todo), failed, diverged)


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
