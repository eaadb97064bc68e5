"""Per-cell claims: two processes on one run directory never compute the same cell.

A process that is about to compute a cell claims it: it creates (or opens)
``claims/<cell_id>.json`` and takes an exclusive, non-blocking ``flock`` on it, then writes
who holds it (pid, host, start time) for the message another process prints. The lock, not
the file's text, is the claim: the kernel releases it when its holder exits, however it
exits (a SIGKILL included), so a dead holder's claim is free to take over at once and a live
one's never is. No pid is guessed at, and there is no race between "is it stale?" and
"take it".

When the holder finishes it removes the file while still holding the lock. A process that
had opened the file just before that and then gets the lock holds a removed file: `claim`
checks that the path still names the file it locked and tries again when it does not.

Claims are for processes that share a file system with the run directory: the
``--workers`` processes hold their own, and with ``--scheduler`` the client holds them for
the cells it sends to the cluster (it also writes their parts). ``flock`` works on local
file systems and on NFS (Linux emulates it with POSIX locks there).
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
import socket
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Claim", "Holder", "claim", "sweep"]


@dataclass(frozen=True)
class Holder:
    """Who holds a claim another process asked for: its pid, host and start time (text)."""

    pid: int | None
    host: str
    since: str

    def __str__(self) -> str:
        who = f"pid {self.pid}" if self.pid is not None else "another process"
        return f"{who} on {self.host or 'an unknown host'} (since {self.since or '?'})"


class Claim:
    """A held claim: release it once the cell's part is written (or the cell is abandoned)."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self._fd: int | None = fd

    def release(self) -> None:
        """Remove the claim file and drop the lock (idempotent)."""
        if self._fd is None:
            return
        try:
            self.path.unlink(missing_ok=True)
        finally:
            os.close(self._fd)  # closing the last descriptor drops the flock
            self._fd = None

    def __enter__(self) -> Claim:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def _folder(run_dir: Path) -> Path:
    return Path(run_dir) / "claims"


def claim(run_dir: Path, cell_id: str) -> Claim | Holder:
    """Claim `cell_id` in `run_dir`: a `Claim` when this process now holds it, else the
    `Holder` of the live claim that stops it.

    Example:
        >>> import tempfile
        >>> run = Path(tempfile.mkdtemp())
        >>> mine = claim(run, "cell")
        >>> isinstance(mine, Claim), (run / "claims" / "cell.json").exists()
        (True, True)
        >>> mine.release(); (run / "claims" / "cell.json").exists()
        False
    """
    folder = _folder(run_dir)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{cell_id}.json"
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return _holder(path)
        try:
            same = os.stat(path).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if not same:  # its holder finished and removed it between our open and our lock
            os.close(fd)
            continue
        _write_holder(fd)
        return Claim(path, fd)


def _write_holder(fd: int) -> None:
    text = json.dumps(
        {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "since": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        }
    ).encode()
    os.ftruncate(fd, 0)
    os.pwrite(fd, text, 0)


def _holder(path: Path) -> Holder:
    """What a held claim file says about its holder (it may still be writing it)."""
    try:
        data = json.loads(path.read_text() or "{}")
    except (OSError, ValueError):
        data = {}
    pid = data.get("pid")
    return Holder(
        pid if isinstance(pid, int) else None, str(data.get("host", "")), str(data.get("since", ""))
    )


def sweep(run_dir: Path, finished: set[str]) -> None:
    """Remove the claim files of finished cells that no one holds (a holder killed between
    writing the part and releasing the claim leaves one)."""
    folder = _folder(run_dir)
    if not folder.is_dir():
        return
    for path in folder.glob("*.json"):
        if path.stem in finished and isinstance(held := claim(run_dir, path.stem), Claim):
            held.release()
