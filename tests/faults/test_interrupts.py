"""kill -9 and Ctrl-C at random points of quantize and of sweeps (1 and 2 workers; the whole process group, as a
terminal sends it, or the runner alone): no completed result is lost, nothing is counted twice, and a rerun
(`--resume` for sweeps) finishes the set."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import onnx
import pytest

from edgeq.sweep import collect, load_spec, open_study

from sweep_helpers import evaluation_log, wait_for, write_spec

HELPERS = str(Path(__file__).resolve().parents[1] / "sweep_helpers.py")
XS, YS = 6, 2  # a 12-point grid


def _edgeq(*args: str, cwd: Path) -> subprocess.Popen:
    """Start `edgeq ARGS` in its own process group (so a signal to the group reaches it and its children only)."""
    return subprocess.Popen([sys.executable, "-m", "edgeq", *args], cwd=cwd, start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=dict(os.environ, OMP_NUM_THREADS="1"))


def _interrupt(proc: subprocess.Popen, sig: int, target: str) -> None:
    if target == "group":
        os.killpg(proc.pid, sig)
    else:
        proc.send_signal(sig)
    proc.communicate(timeout=60)
    # A runner killed alone leaves its workers running on (orphans); let them finish before the resume.
    wait_for(lambda: not _group_alive(proc.pid), 90, "the rest of the process group to exit")


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def _grid_spec(folder: Path, name: str) -> Path:
    return write_spec(folder, name=name, evaluator=f"python:{HELPERS}:LoggingEvaluator",
                      evaluator_options={"log": str(folder / f"{name}.log"), "sleep_s": 0.08},
                      space={"x": {"int": [0, XS - 1]}, "y": {"int": [0, YS - 1]}},
                      objectives=[{"f1": "min"}, {"f2": "min"}], trial_timeout=20)


def _complete(spec) -> dict[tuple, tuple]:
    rows = collect(spec, open_study(spec, None)).rows
    return {(r["x"], r["y"]): (r["metric:f1"], r["metric:f2"], r["trial"]) for r in rows
            if r["state"] == "COMPLETE" and r["duplicate_of"] is None}


SWEEP_SCENARIOS = [
    pytest.param(2, signal.SIGINT, "group", 3, id="ctrl-c-group-2-workers"),
    pytest.param(1, signal.SIGKILL, "group", 5, id="kill9-group-1-worker"),
    pytest.param(1, signal.SIGINT, "group", 7, id="ctrl-c-group-1-worker", marks=pytest.mark.slow),
    pytest.param(2, signal.SIGKILL, "group", 11, id="kill9-group-2-workers", marks=pytest.mark.slow),
    pytest.param(2, signal.SIGINT, "runner", 13, id="ctrl-c-runner-2-workers", marks=pytest.mark.slow),
    pytest.param(2, signal.SIGKILL, "runner", 17, id="kill9-runner-2-workers", marks=pytest.mark.slow),
    pytest.param(1, signal.SIGKILL, "runner", 19, id="kill9-runner-1-worker", marks=pytest.mark.slow),
]


@pytest.mark.parametrize("workers, sig, target, seed", SWEEP_SCENARIOS)
def test_an_interrupted_sweep_loses_nothing_and_resume_finishes_it(tmp_path, workers, sig, target, seed):
    rng = np.random.default_rng(seed)
    path = _grid_spec(tmp_path, "grid")
    spec = load_spec(path)
    proc = _edgeq("sweep", "run", str(path), "--workers", str(workers), "--quiet", "--no-report", cwd=tmp_path)
    after = int(rng.integers(1, 8))  # a random point of the sweep: after 1-7 evaluations, plus a random delay
    wait_for(lambda: len(evaluation_log(tmp_path / "grid.log")) >= after or proc.poll() is not None, 90,
             f"{after} evaluations")
    time.sleep(float(rng.uniform(0, 0.08)))
    _interrupt(proc, sig, target)
    before = _complete(spec)
    resumed = _edgeq("sweep", "run", str(path), "--workers", str(workers), "--resume", "--quiet", "--no-report",
                     cwd=tmp_path)
    out, err = resumed.communicate(timeout=180)
    assert resumed.returncode == 0, err
    rows = collect(spec, open_study(spec, None)).rows
    done = _complete(spec)
    assert sorted(done) == [(x, y) for x in range(XS) for y in range(YS)]  # the set is finished
    assert all(v[:2] == (float(x + y), float((10 - x) ** 2 + y)) for (x, y), v in done.items())
    assert all(done[p] == v for p, v in before.items())  # nothing completed before the interrupt was lost
    complete = [r for r in rows if r["state"] == "COMPLETE" and r["duplicate_of"] is None]
    assert len(complete) == XS * YS  # and nothing is counted twice
    assert not [r for r in rows if r["state"] in ("RUNNING", "WAITING")]


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT], ids=["kill9", "ctrl-c"])
def test_an_interrupted_quantize_writes_both_files_or_neither(work, sig):
    rng = np.random.default_rng(sig)
    args = ("quantize", "m.onnx", "--calib", "c.npz", "--eval", "e.npz", "-o", "q.onnx", "--report", "q.json",
            "--quiet")
    originals = set(os.listdir(work))
    for _ in range(2):
        proc = _edgeq(*args, "--force", cwd=work)
        time.sleep(float(rng.uniform(0.3, 3.0)))
        _interrupt(proc, sig, "group")
        new = set(os.listdir(work)) - originals
        finals = new & {"q.onnx", "q.json"}
        assert finals in (set(), {"q.onnx", "q.json"}), f"a half-written pair: {sorted(new)}"
        if finals:
            onnx.checker.check_model(onnx.load(work / "q.onnx"))
            json.loads((work / "q.json").read_text())
        temps = new - finals
        assert all(t.startswith((".q.onnx.", ".q.json.")) and t.endswith(".tmp") for t in temps), sorted(temps)
        for t in temps:  # age them: the next run cleans temp files a killed run left over a minute ago
            os.utime(work / t, (time.time() - 120, time.time() - 120))
    finished = _edgeq(*args, "--force", cwd=work)
    _, err = finished.communicate(timeout=120)
    assert finished.returncode == 0, err
    assert set(os.listdir(work)) - originals == {"q.onnx", "q.json"}  # both written, no temp file left
    onnx.checker.check_model(onnx.load(work / "q.onnx"))
