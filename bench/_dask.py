"""Run a study's cells on a Dask distributed cluster: ``bench run --scheduler tcp://HOST:PORT``.

Who writes the parts: this process, the client. A worker runs a cell and returns the bytes
of its Parquet part (`bench._store.part_bytes`) with its counts; the client writes the part
atomically into the run directory and releases the cell's claim. So workers need no shared
file system and no access to the run directory, and the claims (`bench._claims`) live where
the run directory is.

What crosses to a worker: one JSON string per cell (the study as `Study.to_dict`, the cell's
problem, optimizer and device specs, its id); what comes back: bytes and plain numbers. No
tensor and no study object is pickled; the task function is pickled by reference (its module
and name), so workers need optbench installed (the same version: a worker checks that the
cell id it computes equals the client's). Each worker prepares itself once
(`bench._runner.prepare_worker`: one torch thread, the allocator setting, the plugins) and keeps the
studies it built, so a problem is built once per worker process.

When a worker dies in the middle of a cell, the scheduler runs the cell again on another
worker (Dask's ``distributed.scheduler.allowed-failures``, 3 by default); a cell whose
workers keep dying is recorded as failed with the reason and the study goes on.
"""

from __future__ import annotations

import json
import re
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench._cell import failed_table, run_cell
from bench._claims import Claim, Holder
from bench._resources import MemoryLimit
from bench._runner import POLL_S, Counts, Outcome, claim_cell, counts, prepare_worker
from bench._store import part_bytes, write_part_bytes
from bench._study import Cell, Study
from problems import SpecError

if TYPE_CHECKING:
    from distributed import Client, Future

    from bench._runner import _Stop

__all__ = ["Cluster", "cluster_memory", "connect", "memory_limit", "run_on_worker"]

CONNECT_S = 10
"""Seconds to reach the scheduler and to see its first worker."""

ADDRESS = re.compile(r"^(tcp|tls|inproc|ucx)://[^\s/:]+(:\d+)?$")


def connect(address: str) -> Client:
    """A client of the scheduler at `address`, with at least one worker.

    Raises:
        SpecError: distributed is not installed, the address is malformed, the scheduler
            cannot be reached or has no worker (one line each).
    """
    if not ADDRESS.match(address):
        msg = f"--scheduler {address!r}: expected an address such as tcp://10.0.0.5:8786"
        raise SpecError(msg)
    try:
        from distributed import Client
    except ImportError:
        msg = "--scheduler needs Dask distributed: pip install 'optbench[dask]'"
        raise SpecError(msg) from None
    try:
        client = Client(address, timeout=f"{CONNECT_S}s", set_as_default=False)
    except (OSError, TimeoutError) as error:
        msg = f"--scheduler {address}: cannot connect ({str(error).splitlines()[0][:200]})"
        raise SpecError(msg) from None
    try:
        client.wait_for_workers(1, timeout=CONNECT_S)
    except (OSError, TimeoutError):
        client.close()
        msg = f"--scheduler {address}: no worker joined within {CONNECT_S} s"
        raise SpecError(msg) from None
    return client


def memory_limit(client: Client) -> MemoryLimit | bool:
    """The smallest memory limit among the cluster's workers, for `Study.validate`; False
    (no check) when the workers have none."""
    workers = client.scheduler_info().get("workers", {})
    limits = [int(w.get("memory_limit") or 0) for w in workers.values()]
    limits = [limit for limit in limits if limit > 0]
    return MemoryLimit(min(limits), " on the smallest Dask worker") if limits else False


def cluster_memory(address: str) -> MemoryLimit | bool:
    """`memory_limit` of the cluster at `address` (connects, asks, closes)."""
    client = connect(address)
    try:
        return memory_limit(client)
    finally:
        client.close()


_studies: dict[str, Study] = {}
_lock = threading.Lock()


def run_on_worker(payload: str) -> tuple[bytes, int, int, str, int]:
    """A worker's task: one cell from its JSON payload, back as part bytes and counts."""
    import torch
    from distributed import get_worker

    data = json.loads(payload)
    with _lock:
        study = _studies.get(data["study_json"])
        if study is None:
            study = Study.from_dict(json.loads(data["study_json"]), source="client")
            _studies[data["study_json"]] = study
    # the study's plugins (paths as the client resolved them: a shared path or an installed
    # module) register their names before the cell's specs are built
    prepare_worker(bool(data["keep_freed"]), plugins=study.plugins)
    cell = Cell(data["problem"], data["optimizer"], data["device"], study)
    if cell.id != data["cell_id"]:
        msg = (
            f"cell id {cell.id} on this worker, {data['cell_id']} on the client: "
            "install the same optbench on the client and the workers"
        )
        raise SpecError(msg)
    frame = run_cell(cell)
    failed, diverged = counts(frame)
    return (
        part_bytes(frame),
        failed,
        diverged,
        f"dask-{get_worker().address}",
        torch.get_num_threads(),
    )


def _payload(cell: Cell, keep_freed: bool) -> str:
    return json.dumps(
        {
            "study_json": json.dumps(cell.study.to_dict(), sort_keys=True),
            "problem": cell.problem,
            "optimizer": cell.optimizer,
            "device": cell.device,
            "cell_id": cell.id,
            "keep_freed": keep_freed,
        }
    )


@dataclass
class Cluster:
    """Runs cells on a Dask cluster (an `Execute` of `bench._runner`): the client claims each
    cell, submits it, writes its part when it comes back and releases the claim."""

    client: Client
    run_dir: Path
    threads: dict[str, int] = field(default_factory=dict)

    def __call__(self, cells: list[Cell], stop: _Stop) -> Iterator[Outcome]:
        from bench import _allocator

        keep_freed = _allocator.setting() is not None
        claims: dict[str, Claim] = {}
        futures: dict[Future, Cell] = {}
        try:
            for cell in cells:
                held = claim_cell(self.run_dir, cell)
                if not isinstance(held, Claim):
                    yield cell, held
                    continue
                claims[cell.id] = held
                future = self.client.submit(
                    run_on_worker, _payload(cell, keep_freed), key=f"cell-{cell.id}", pure=False
                )
                futures[future] = cell
            pending = set(futures)
            while pending and not stop.asked.is_set():
                for future in [f for f in pending if f.done()]:
                    pending.discard(future)
                    cell = futures[future]
                    yield cell, self._finish(future, cell)
                    claims.pop(cell.id).release()
                if pending:
                    stop.asked.wait(POLL_S / 5)
            if pending:
                self.client.cancel(list(pending))
        finally:
            for held in claims.values():
                held.release()

    def _finish(self, future: Future, cell: Cell) -> Counts | Holder:
        """Write a finished cell's part; a cell the cluster gave up on becomes failed rows."""
        if future.status == "error":
            error: Any = future.exception()
            if isinstance(error, SpecError):
                raise error
            reason = f"{type(error).__name__} on the Dask cluster: {error}".splitlines()[0]
            frame = failed_table(cell, reason[:500], str(error))
            print(f"bench run: {cell.problem} x {cell.optimizer}: {reason}", file=sys.stderr)
            write_part_bytes(self.run_dir, cell.id, part_bytes(frame))
            return counts(frame)
        data, failed, diverged, worker, threads = future.result()
        write_part_bytes(self.run_dir, cell.id, data)
        self.threads[worker] = threads
        return failed, diverged
