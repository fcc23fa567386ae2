"""Where a study lives: a journal file in the run folder by default, or any Optuna RDB URL (PostgreSQL to scale out).

The journal needs no server and appends a few hundred bytes per trial event with an fsync, so a kill -9 loses
nothing that was told; several processes on one machine share it through a file lock. It has no heartbeats, so
dead workers are found by host + pid + process start time (see `recovery`). RDB storages get Optuna heartbeats.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import optuna

from ..errors import UserError

HEARTBEAT_S = 20
GRACE_S = 60
LOCK_GRACE_S = 5


def default_storage_url(run_dir: Path) -> str:
    """Return the journal URL used when no --storage is given: `journal:<run_dir>/study.journal`."""
    return f"journal:{run_dir / 'study.journal'}"


def open_storage(url: str, failed_trial_callback=None) -> optuna.storages.BaseStorage:
    """Return the Optuna storage for url: `journal:PATH`, a `*.journal` path, or an SQLAlchemy database URL."""
    if url.startswith("journal:") or url.endswith(".journal"):
        path = Path(url[len("journal:"):] if url.startswith("journal:") else url)
        if not path.parent.is_dir():
            raise UserError(f"--storage: folder {path.parent} does not exist for the journal file")
        from optuna.storages.journal import JournalFileBackend, JournalFileOpenLock, JournalStorage

        # The open(O_EXCL) lock also works on NFS-like shared folders where symlink locks can misbehave. A worker
        # killed while appending leaves the lock behind; holders keep it for milliseconds, so 5 s (not Optuna's
        # 30 s default) is a safe time to break it.
        lock = JournalFileOpenLock(str(path), grace_period=LOCK_GRACE_S)
        return JournalStorage(JournalFileBackend(str(path), lock_obj=lock))
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
