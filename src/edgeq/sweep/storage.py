"""Where a study lives: a journal file in the run folder by default, or any Optuna RDB URL (PostgreSQL to scale out).

The journal needs no server and appends a few hundred bytes per trial event with an fsync, so a kill -9 loses
nothing that was told; several processes on one machine share it through a file lock. It has no heartbeats, so
dead workers are found by host + pid + process start time (see `recovery`). RDB storages get Optuna heartbeats.
"""

from __future__ import annotations

import atexit
import json
import os
import threading
import warnings
from pathlib import Path

import optuna
from optuna.trial import TrialState

from ..errors import UserError

HEARTBEAT_S = 20
GRACE_S = 60


def default_storage_url(run_dir: Path) -> str:
    """Return the journal URL used when no --storage is given: `journal:<run_dir>/study.journal`."""
    return f"journal:{run_dir / 'study.journal'}"


def journal_path(url: str) -> Path | None:
    """Return the journal file of a `journal:PATH` or `*.journal` URL, or None for a database URL."""
    if url.startswith("journal:") or url.endswith(".journal"):
        return Path(url[len("journal:"):] if url.startswith("journal:") else url)
    return None


def open_storage(url: str, failed_trial_callback=None, write: bool = True) -> optuna.storages.BaseStorage:
    """Return the Optuna storage for url: `journal:PATH`, a `*.journal` path, or an SQLAlchemy database URL.

    With `write`, a journal must be writable (UserError otherwise) and a torn last line, left by a kill during an
    append, is cut off (its bytes kept in a backup file) before anything is appended after it.
    """
    path = journal_path(url)
    if path is not None:
        if not path.parent.is_dir():
            raise UserError(f"--storage: folder {path.parent} does not exist for the journal file")
        from optuna.storages.journal import JournalStorage

        lock = _flock_lock(f"{path}.lock", write)
        if write:
            _check_writable_journal(path)
            repair_torn_tail(path, lock)
        try:
            return JournalStorage(_journal_backend()(str(path), lock_obj=lock))
        except ValueError as err:  # a damaged line inside the journal (not a torn tail, which is skipped)
            raise UserError(f"journal {path} has a damaged line ({err}); restore it from a backup, or start a new "
                            "sweep (change name: or --run-dir); finished points come back from the cache") from None
    if "://" not in url:
        raise UserError(f"--storage: {url!r} is neither journal:PATH nor a database URL like "
                        "postgresql://user@host/db or sqlite:///sweep.db")
    scheme = url.split("://", 1)[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # heartbeat is flagged experimental
        try:
            return optuna.storages.RDBStorage(
                url, heartbeat_interval=None if scheme.startswith("sqlite") else HEARTBEAT_S,
                grace_period=None if scheme.startswith("sqlite") else GRACE_S,
                failed_trial_callback=failed_trial_callback, engine_kwargs=_engine_kwargs(scheme),
            )
        except ImportError as err:
            raise UserError(f"--storage: the driver for {scheme} is not installed ({err}); "
                            "for PostgreSQL: pip install 'edgeq[postgres]'") from None
        except Exception as err:  # sqlalchemy raises many types for unreachable servers / bad URLs
            first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise UserError(f"--storage: cannot open {_redact(url)} ({first})") from None


def _check_writable_journal(path: Path) -> None:
    for target in (path, Path(f"{path}.lock")):
        if target.exists() and not os.access(target, os.W_OK):
            raise UserError(f"journal {target} is read-only; make it writable, or use --run-dir to start elsewhere")
    if not os.access(path.parent, os.W_OK) and not (path.exists() and Path(f"{path}.lock").exists()):
        raise UserError(f"run folder {path.parent} is not writable; make it writable, or use --run-dir")


def repair_torn_tail(path: Path, lock) -> Path | None:
    """Cut a torn last line off the journal (under its lock, so no append is in flight); return the backup file
    holding the cut bytes, or None when the journal ends cleanly.

    Optuna skips a torn last line when reading, but a later append would glue a new record onto it, making a
    damaged line in the middle that breaks every later read. Cutting it loses nothing that was told: an append
    is torn only when its writer died before the write returned.
    """
    if not path.exists():
        return None
    lock.acquire()
    try:
        with open(path, "rb+") as fh:
            size = fh.seek(0, os.SEEK_END)
            if size == 0:
                return None
            keep = _clean_length(fh, size)
            if keep == size:
                return None
            fh.seek(keep)
            cut = fh.read()
            backup = path.with_name(f"{path.name}.torn-{keep}")
            from ..io import atomic_write_bytes

            atomic_write_bytes(backup, cut)
            fh.truncate(keep)
            fh.flush()
            os.fsync(fh.fileno())
        warnings.warn(f"journal {path}: cut a torn last record ({len(cut)} bytes, kept in {backup.name}) left by "
                      "a process killed while writing", UserWarning, stacklevel=2)
        return backup
    finally:
        lock.release()


def _clean_length(fh, size: int) -> int:
    """Return the length of the journal up to the end of its last complete line that parses as JSON."""
    block = 1 << 16
    while True:
        start = max(0, size - block)
        fh.seek(start)
        tail = fh.read(size - start)
        end = tail.rfind(b"\n") + 1  # just after the last newline; 0 when the block has none
        prev = tail.rfind(b"\n", 0, max(end - 1, 0)) + 1
        if start > 0 and (end == 0 or prev == 0):
            block *= 4  # the last line is longer than the block: read more
            continue
        if end == 0:
            return 0  # not one complete line: the first append was torn
        try:
            json.loads(tail[prev:end])
            return start + end
        except ValueError:
            return start + prev  # a newline-terminated line that is not a record is torn too


def _flock_lock(path: str, write: bool = True):
    """Return a journal lock held with flock(2) on a lock file that is never deleted.

    Optuna's file locks create and delete a file per write (two metadata operations that queue behind every fsync
    on ext4) and, when their holder is killed, stay behind until a grace period passes. An flock is released by
    the kernel the moment its holder dies, and costs two system calls. Meant for one machine's file system; for
    many machines use a database.
    """
    import fcntl

    from optuna.storages.journal._file import BaseJournalFileLock

    class FlockLock(BaseJournalFileLock):
        def __init__(self) -> None:
            try:
                self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError:
                if write:
                    raise UserError(f"cannot create the journal lock {path}; make the run folder writable, or use "
                                    "--run-dir") from None
                # Reading a read-only run folder: flock works on a read-only descriptor, and without a lock file
                # nobody can be writing.
                self._fd = os.open(path, os.O_RDONLY) if os.path.exists(path) else None

        def acquire(self) -> bool:
            if self._fd is not None:
                fcntl.flock(self._fd, fcntl.LOCK_EX)
            return True

        def release(self) -> None:
            if self._fd is not None:
                fcntl.flock(self._fd, fcntl.LOCK_UN)

    return FlockLock()


def _journal_backend() -> type:
    """Return a JournalFileBackend that makes finished trials durable off the critical path.

    Optuna fsyncs every operation (7-8 per trial, 1-6 ms each here). A killed process loses nothing the kernel
    has accepted, so kill -9 safety needs no fsync at all. For power cuts, a background thread fsyncs the journal
    whenever a trial has finished (at most one fsync in flight, the rest coalesced) and once more at exit; the
    worker never waits for the disk.
    """
    from optuna.storages.journal import JournalFileBackend
    from optuna.storages.journal._file import get_lock_file
    from optuna.storages.journal._storage import JournalOperation

    finished = {TrialState.COMPLETE.value, TrialState.FAIL.value, TrialState.PRUNED.value}

    class DurableOnFinishBackend(JournalFileBackend):
        def __init__(self, file_path: str, lock_obj=None) -> None:
            super().__init__(file_path, lock_obj)
            self._syncer = _BackgroundFsync(file_path)

        def append_logs(self, logs: list[dict]) -> None:
            data = "".join(json.dumps(log, separators=(",", ":")) + "\n" for log in logs).encode("utf-8")
            with get_lock_file(self._lock):
                with open(self._file_path, "ab") as fh:
                    fh.write(data)
            if any(log.get("op_code") == JournalOperation.SET_TRIAL_STATE_VALUES and log.get("state") in finished
                   for log in logs):
                self._syncer.request()

    return DurableOnFinishBackend


class _BackgroundFsync:
    """fsync a file from a daemon thread on request (requests coalesce), and once more when the process exits."""

    def __init__(self, path: str) -> None:
        self._path = path
        self._wanted = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="edgeq-journal-fsync")
        self._thread.start()
        atexit.register(self._sync)

    def request(self) -> None:
        self._wanted.set()

    def _run(self) -> None:
        while True:
            self._wanted.wait()
            self._wanted.clear()
            self._sync()

    def _sync(self) -> None:
        try:
            fd = os.open(self._path, os.O_RDONLY)
        except OSError:
            return
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def has_heartbeat(storage: optuna.storages.BaseStorage) -> bool:
    """Return True if the storage records heartbeats (RDB with an interval)."""
    from optuna.storages._heartbeat import is_heartbeat_enabled

    return is_heartbeat_enabled(storage)


def fail_stale_trials(study: optuna.Study) -> None:
    """Fail (and, through the storage's callback, re-queue) trials whose heartbeat stopped (RDB storages)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # flagged experimental since Optuna 2.9, stable in practice
        optuna.storages.fail_stale_trials(study)


def _engine_kwargs(scheme: str) -> dict:
    if scheme.startswith("sqlite"):
        return {"connect_args": {"timeout": 60}}
    return {"pool_pre_ping": True}


def _redact(url: str) -> str:
    """Return url with any password replaced by ***."""
    head, sep, tail = url.partition("://")
    if "@" in tail and ":" in tail.split("@", 1)[0]:
        user = tail.split("@", 1)[0].split(":", 1)[0]
        return f"{head}{sep}{user}:***@{tail.split('@', 1)[1]}"
    return url
