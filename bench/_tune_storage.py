"""Where a tuning study lives: an Optuna storage from a URL, with heartbeats.

URLs:

- ``sqlite:///runs/optuna.db``, ``postgresql://user@127.0.0.1:5432/db`` (any SQLAlchemy
  URL): Optuna's `optuna.storages.RDBStorage` with ``heartbeat_interval`` and
  ``heartbeat_stale_trial_callback=RetryHeartbeatStaleTrialCallback(...)`` (Optuna 4.9
  renamed ``failed_trial_callback`` / ``RetryFailedTrialCallback`` to these): a trial
  whose worker stops beating (killed with SIGKILL) is marked FAIL by the next worker that looks
  (`optuna.storages.fail_stale_trials`) and re-queued as a new WAITING trial with the same
  parameters.
- ``journal:runs/optuna.log`` (or a path ending in ``.log`` / ``.journal``):
  ``JournalStorage(JournalFileBackend(path))``, one append-only file that several processes
  share through its lock. Optuna's journal storage has no heartbeats, so `Heartbeat` writes
  its own (a ``optbench:heartbeat`` system attribute of each running trial) and
  `fail_stale` fails and re-queues stale trials with the same rule.

- ``memory``: Optuna's in-memory storage, for one process (benchmarks, quick looks): nothing
  is kept, nothing needs heartbeats.

All are plain Optuna storages: ``optuna.load_study(study_name=..., storage=...)`` and
optuna-dashboard read the first two (on disk or on a server).
"""

from __future__ import annotations

import threading
import time
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from problems import SpecError, StoreError

__all__ = [
    "DEFAULT_STORAGE",
    "HEARTBEAT_S",
    "MAX_RETRY",
    "Heartbeat",
    "Storage",
    "fail_stale",
    "open_storage",
]

DEFAULT_STORAGE = "sqlite:///runs/optuna.db"
"""Where `bench tune` keeps its studies unless ``--storage`` says otherwise."""

HEARTBEAT_S = 10.0
"""Seconds between a running trial's heartbeats; a trial is stale after twice as long."""

MAX_RETRY = 3
"""How often a trial failed by a lost worker is re-queued (`RetryHeartbeatStaleTrialCallback`)."""

HEARTBEAT_ATTR = "optbench:heartbeat"
RETRIED_ATTR = "optbench:retried_from"


@dataclass(frozen=True)
class Storage:
    """An opened storage: the Optuna object, its URL, its kind and the heartbeat period."""

    optuna: Any  # optuna.storages.BaseStorage
    url: str
    kind: str  # "rdb", "journal" or "memory"
    heartbeat_s: float

    @property
    def native_heartbeat(self) -> bool:
        """True where Optuna itself tracks heartbeats (RDB storages)."""
        return self.kind == "rdb"


def _journal_path(url: str) -> Path | None:
    if url.startswith("journal:"):
        return Path(url.removeprefix("journal:").removeprefix("//"))
    if "://" not in url and url.endswith((".log", ".journal")):
        return Path(url)
    return None


def open_storage(url: str | None, *, heartbeat_s: float = HEARTBEAT_S) -> Storage:
    """The Optuna storage of `url` (default `DEFAULT_STORAGE`), reachable or a `StoreError`.

    Raises:
        SpecError: a URL that names no storage (neither an SQLAlchemy URL nor a journal).
        StoreError: a storage that cannot be opened (the server is down, the file's folder
            cannot be made): one line with the URL and the reason.
    """
    import optuna

    url = url or DEFAULT_STORAGE
    if heartbeat_s <= 0:
        msg = f"--heartbeat must be > 0 seconds, got {heartbeat_s:g}"
        raise SpecError(msg)
    if url == "memory":
        return Storage(optuna.storages.InMemoryStorage(), url, "memory", heartbeat_s)
    path = _journal_path(url)
    try:
        if path is not None:
            from optuna.storages.journal import JournalFileBackend, JournalStorage

            path.parent.mkdir(parents=True, exist_ok=True)
            return Storage(
                JournalStorage(JournalFileBackend(str(path))), url, "journal", heartbeat_s
            )
        if "://" not in url:
            msg = (
                f"--storage {url!r}: not a storage URL; allowed: sqlite:///FILE, "
                "postgresql://USER@HOST:PORT/DB (any SQLAlchemy URL), journal:FILE"
            )
            raise SpecError(msg)
        if url.startswith("sqlite:///"):
            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        return Storage(_rdb(url, heartbeat_s), url, "rdb", heartbeat_s)
    except SpecError:
        raise
    except Exception as error:
        reason = f"{type(error).__name__}: {error}".splitlines()[0][:300]
        msg = f"cannot open storage {url!r}: {reason}"
        raise StoreError(msg) from None


SCHEMA_TRIES = 5
"""Attempts at opening an RDB storage: workers started together on a fresh database race to
create Optuna's tables, and the losers' CREATE fails once (a unique-constraint violation)."""


def _rdb(url: str, heartbeat_s: float) -> Any:
    import optuna
    import sqlalchemy.exc

    for attempt in range(SCHEMA_TRIES):
        try:
            with warnings.catch_warnings():  # heartbeat_interval is experimental in Optuna
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                return optuna.storages.RDBStorage(
                    _driver(url),
                    heartbeat_interval=max(1, round(heartbeat_s)),
                    grace_period=max(2, round(2 * heartbeat_s)),
                    heartbeat_stale_trial_callback=(
                        optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=MAX_RETRY)
                    ),
                    engine_kwargs=_engine_kwargs(url),
                )
        except (sqlalchemy.exc.IntegrityError, sqlalchemy.exc.ProgrammingError):
            if attempt == SCHEMA_TRIES - 1:
                raise
            time.sleep(0.5 * (attempt + 1))  # another worker is creating the tables
    raise AssertionError("unreachable")  # pragma: no cover


def _driver(url: str) -> str:
    """``postgresql://`` with the installed driver: SQLAlchemy 2.1 means psycopg 3 by it;
    where only psycopg2 is installed (the ``[postgres]`` extra) the URL names psycopg2."""
    scheme, sep, rest = url.partition("://")
    if scheme not in ("postgresql", "postgres"):
        return url
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return f"postgresql+psycopg2{sep}{rest}"
    return url


def _engine_kwargs(url: str) -> dict[str, Any]:
    """A short connection timeout for servers, so an unreachable URL fails in seconds."""
    if url.startswith("postgresql"):
        return {"connect_args": {"connect_timeout": 5}}
    if url.startswith("sqlite"):
        return {"connect_args": {"timeout": 60}}  # several workers write one file
    return {}


def beat(storage: Storage, trial_ids: Iterable[int]) -> None:
    """One heartbeat for each trial: Optuna's ``record_heartbeat`` on an RDB storage, the
    time in the ``optbench:heartbeat`` system attribute on a journal, nothing in memory."""
    if storage.kind == "memory":  # one process: nobody to tell it is alive
        return
    backend = storage.optuna
    for trial_id in trial_ids:
        try:
            if storage.native_heartbeat:
                backend.record_heartbeat(trial_id)
            else:
                backend.set_trial_system_attr(trial_id, HEARTBEAT_ATTR, time.time())
        except Exception:  # a finished trial (told meanwhile) needs no beat
            continue


class Heartbeat:
    """A thread that beats for the trials a worker is running, until `stop`.

    On an RDB storage it calls Optuna's ``record_heartbeat``; on a journal it writes the
    time into the trial's ``optbench:heartbeat`` system attribute.
    """

    def __init__(self, storage: Storage, trial_ids: Iterable[int]) -> None:
        self.storage = storage
        self.trial_ids = list(trial_ids)
        self._stop = threading.Event()
        self._beat()  # the first beat before any work
        self._thread = threading.Thread(target=self._run, daemon=True, name="optbench-heartbeat")
        self._thread.start()

    def _beat(self) -> None:
        beat(self.storage, self.trial_ids)

    def _run(self) -> None:
        while not self._stop.wait(self.storage.heartbeat_s):
            self._beat()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def fail_stale(study: Any, storage: Storage) -> int:
    """Fail the running trials whose worker stopped beating, and re-queue them.

    RDB storages: `optuna.storages.fail_stale_trials` (its `RetryFailedTrialCallback`
    re-queues them). Journals: a running trial whose last ``optbench:heartbeat`` is older
    than twice the period is set FAIL and its parameters enqueued again (at most
    `MAX_RETRY` times per original trial). Returns how many this call failed.
    """
    import optuna
    from optuna.trial import TrialState

    if storage.kind == "memory":
        return 0
    running = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
    if storage.native_heartbeat:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            optuna.storages.fail_stale_trials(study)
        still = {
            t._trial_id for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
        }
        return sum(1 for t in running if t._trial_id not in still)
    now, failed = time.time(), 0
    for trial in running:
        beat = trial.system_attrs.get(
            HEARTBEAT_ATTR, trial.datetime_start.timestamp() if trial.datetime_start else now
        )
        if now - float(beat) <= 2 * storage.heartbeat_s:
            continue
        try:
            if not storage.optuna.set_trial_state_values(trial._trial_id, state=TrialState.FAIL):
                continue
        except optuna.exceptions.UpdateFinishedTrialError:
            continue  # another worker failed it first
        failed += 1
        origin = trial.user_attrs.get(RETRIED_ATTR, trial.number)
        retries = sum(
            1 for t in study.get_trials(deepcopy=False) if t.user_attrs.get(RETRIED_ATTR) == origin
        )
        if retries < MAX_RETRY:
            study.enqueue_trial(
                trial.params, user_attrs={RETRIED_ATTR: origin}, skip_if_exists=False
            )
    return failed
