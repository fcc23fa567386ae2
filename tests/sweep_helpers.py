"""Helpers for the sweep tests: spec writing, a misbehaving evaluator plug-in, journal inspection."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"


def write_spec(folder: Path, **fields) -> Path:
    """Write a YAML spec into folder and return its path."""
    path = folder / f"{fields.get('name', 'spec')}.yaml"
    fields.setdefault("run_dir", f"runs/{fields.get('name', 'spec')}")
    path.write_text(yaml.safe_dump(fields, sort_keys=False))
    return path


def worker_cmd(spec: Path, *extra: str) -> list[str]:
    """Return the command line of one `edgeq sweep worker` process."""
    return [sys.executable, "-m", "edgeq", "sweep", "worker", str(spec), "--quiet", *extra]


def start_worker(spec: Path, *extra: str) -> subprocess.Popen:
    """Start a worker process."""
    return subprocess.Popen(worker_cmd(spec, *extra), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=dict(os.environ, OMP_NUM_THREADS="1"))


def wait_for(predicate, timeout: float, what: str) -> None:
    """Poll predicate every 50 ms until it holds; fail the test after timeout seconds."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def evaluation_log(path: Path) -> list[dict]:
    """Return the configs the LoggingEvaluator evaluated, in order."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


class LoggingEvaluator:
    """Closed-form objectives that also append each evaluated config to a log file, and misbehave on request.

    Options: log (file), sleep_s (per trial). Config `x` values trigger failures: x == crash_at -> the process
    dies (os._exit), x == nan_at -> NaN objective, x == hang_at -> sleeps forever, x == raise_at -> ValueError.
    """

    metrics = ("f1", "f2")

    def __init__(self, task) -> None:
        self.options = task.options

    def evaluate(self, config):
        x = config["x"]
        y = config.get("y", 0)
        if x == self.options.get("crash_at"):
            os._exit(3)
        if x == self.options.get("hang_at"):
            time.sleep(3600)
        if x == self.options.get("raise_at"):
            raise ValueError(f"cannot evaluate x={x}")
        time.sleep(float(self.options.get("sleep_s", 0.0)))
        if "log" in self.options:
            with open(self.options["log"], "a") as fh:
                fh.write(json.dumps(config, sort_keys=True) + "\n")
                fh.flush()
                os.fsync(fh.fileno())
        f2 = float("nan") if x == self.options.get("nan_at") else (10 - x) ** 2 + y
        return {"f1": float(x + y), "f2": float(f2)}
