"""PostgreSQL integration: a throwaway server on 127.0.0.1 in a temp dir, two workers sharing one study."""

from __future__ import annotations

import collections
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import pytest

from edgeq.cli import main
from edgeq.sweep import collect, load_spec, open_study

from sweep_helpers import write_spec

HELPERS = os.path.join(os.path.dirname(__file__), "sweep_helpers.py")


def _pg_bin() -> Path | None:
    found = shutil.which("initdb")
    if found:
        return Path(os.path.realpath(found)).parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(candidates[-1]).parent if candidates else None


def _as_server_user(cmd: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: run it as the 'postgres' user when we are root."""
    if os.geteuid() != 0:
        return cmd
    return ["runuser", "-u", "postgres", "--", *cmd]


def _skip_reason() -> str | None:
    if _pg_bin() is None:
        return "no PostgreSQL server binaries (initdb, pg_ctl); .ci/run installs Debian's postgresql package"
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return "psycopg (v3) is not installed (pip install 'edgeq[postgres]')"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root and there is no 'postgres' user to run the server as"
        if shutil.which("runuser") is None:
            return "running as root and runuser is missing"
    return None


@pytest.fixture()
def postgres_url():
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    bin_dir = _pg_bin()
    folder = Path(tempfile.mkdtemp(prefix="edgeq-pg-"))
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres", "postgres")
    data, log = folder / "data", folder / "server.log"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    user = "postgres" if os.geteuid() == 0 else pwd.getpwuid(os.geteuid()).pw_name
    subprocess.run(_as_server_user([str(bin_dir / "initdb"), "-D", str(data), "-U", user, "--auth=trust",
                                    "-E", "UTF8", "--no-sync"]), check=True, capture_output=True)
    options = f"-c listen_addresses=127.0.0.1 -p {port} -c unix_socket_directories={folder} -c fsync=off"
    subprocess.run(_as_server_user([str(bin_dir / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(log), "-w",
                                    "-t", "60", "start"]), check=True, capture_output=True)
    try:
        yield f"postgresql://{user}@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(_as_server_user([str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]),
                       capture_output=True)
        shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.slow
def test_two_workers_share_a_postgres_study(tmp_path, postgres_url):
    path = write_spec(tmp_path, name="pg", evaluator=f"python:{HELPERS}:LoggingEvaluator",
                      evaluator_options={"sleep_s": 0.05, "log": str(tmp_path / "pg.log")},
                      space={"x": {"int": [0, 9]}, "y": {"int": [0, 2]}},
                      objectives=[{"f1": "min"}, {"f2": "min"}])
    assert main(["sweep", "run", str(path), "--storage", postgres_url, "--workers", "2", "--quiet",
                 "--no-report"]) == 0
    spec = load_spec(path)
    rows = collect(spec, open_study(spec, postgres_url)).rows
    done = [(r["x"], r["y"]) for r in rows if r["state"] == "COMPLETE"]
    assert len(done) == len(set(done)) == 30 and len(rows) == 30
    workers = collections.Counter(r["worker"] for r in rows)
    assert len(workers) == 2 and min(workers.values()) >= 3
    # A third worker joining the finished study finds nothing left to do and adds no trial.
    assert main(["sweep", "worker", str(path), "--storage", postgres_url, "--quiet"]) == 0
    assert len(collect(spec, open_study(spec, postgres_url)).rows) == 30
