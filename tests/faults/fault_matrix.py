"""The bad-input matrix over every subcommand, shared by tests/faults and benchmarks/bench_faults.py.

Each case builds a work folder (copies of the shipped digits models and data, a sweep spec, a gate config, ...),
runs one `edgeq` command line in it, and checks what edgeq promises for bad input: the expected exit code, one
error line on stderr and no traceback, and not one file changed, added or removed in the folder.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import pickle
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import yaml

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"
TRIVIAL = {"evaluator": "trivial", "space": {"x": {"int": [0, 3]}}, "objectives": [{"f1": "min"}, {"f2": "min"}]}
CASE_TIMEOUT_S = 20
GATE_CASE = {"name": "mlp", "command": "evaluate", "model": "m.onnx", "eval": "e.npz"}


@dataclass(frozen=True)
class Case:
    """One bad input: the command line (run in the work folder), what it must exit with, and who owns the fix."""

    id: str
    argv: tuple[str, ...]
    code: int = 2
    setup: Callable[[Path], None] | None = None
    owner: str | None = None  # "owned by <area>: <what>" for cases that fail today in another engineer's area
    fsize: int | None = None  # run in a subprocess with RLIMIT_FSIZE (bytes): a full disk
    read_only: tuple[str, ...] = ()  # paths made read-only (immutable as root) for the run


@dataclass
class Result:
    """What one case did."""

    case: Case
    code: int | None
    stderr: str
    changed: list[str] = field(default_factory=list)
    crashed: str | None = None  # an exception that escaped `main`

    @property
    def traceback(self) -> bool:
        """Return True when a traceback reached the user (or an exception escaped main)."""
        return self.crashed is not None or "Traceback (most recent call last)" in self.stderr

    @property
    def one_line(self) -> bool:
        """Return True when stderr carries exactly one error line (edgeq's or click's usage error)."""
        errors = [ln for ln in self.stderr.splitlines() if ln.startswith(("edgeq: error", "edgeq: internal", "edgeq: check failed", "Error:"))]
        return len(errors) == 1

    @property
    def held(self) -> bool:
        """Return True when every promise held: exit code, one line, no traceback, nothing changed."""
        return self.code == self.case.code and self.one_line and not self.traceback and not self.changed

    def why(self) -> str:
        """Return what broke, in a few words ('' when the case held)."""
        parts = []
        if self.code != self.case.code:
            parts.append(f"exit {self.code} (want {self.case.code})")
        if self.traceback:
            parts.append("traceback")
        elif not self.one_line:
            parts.append("not one error line")
        if self.changed:
            parts.append(f"changed {', '.join(self.changed[:3])}")
        return "; ".join(parts)


def make_work(folder: Path) -> Path:
    """Fill folder with the files every case may use and return it."""
    folder.mkdir(parents=True, exist_ok=True)
    for src, dst in (("digits_mlp.onnx", "m.onnx"), ("digits_cnn.onnx", "cnn.onnx"), ("digits_calib.npz", "c.npz"),
                     ("digits_eval.npz", "e.npz")):
        shutil.copyfile(EXAMPLES / src, folder / dst)
    (folder / "garbage.onnx").write_text("not a model\n")
    (folder / "existing.onnx").write_bytes(b"keep me")
    _yaml(folder / "t.yaml", {"name": "t", **TRIVIAL})
    _yaml(folder / "gate.yaml", {"version": _gate_version(), "baseline": "gate.baseline.json", "cases": [GATE_CASE]})
    _write_baseline(folder / "gate.baseline.json", {})  # valid and empty: a run gets as far as writing its outputs
    (folder / "model.py").write_text("import torch\n\ndef build():\n    return torch.nn.Sequential(torch.nn.Flatten(), "
                                     "torch.nn.Linear(64, 10))\n")
    return folder


def _gate_version() -> int:
    """Return the gate config version this edgeq writes (so the matrix also runs on older code)."""
    from edgeq.gate.config import CONFIG_VERSION

    return CONFIG_VERSION


def hash_tree(folder: Path) -> dict[str, str]:
    """Return relative path -> sha256 of every file under folder (links as their target text)."""
    out = {}
    for path in sorted(folder.rglob("*")):
        rel = str(path.relative_to(folder))
        if path.is_symlink():
            out[rel] = "link:" + os.readlink(path)
        elif path.is_file():
            out[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def run_case(case: Case, folder: Path) -> Result:
    """Set the case up in `folder` (a fresh work folder), run it, and return what happened."""
    if case.setup is not None:
        cwd = os.getcwd()
        os.chdir(folder)  # older edgeq put sweep runs under the current directory
        try:
            case.setup(folder)
        finally:
            os.chdir(cwd)
    locked = [folder / p for p in case.read_only]
    for path in locked:
        set_read_only(path, True)
    before = hash_tree(folder)
    try:
        if case.fsize is not None:
            code, stderr, crashed = _run_subprocess(case, folder)
        else:
            code, stderr, crashed = _run_in_process(case, folder)
    finally:
        for path in locked:
            set_read_only(path, False)
    after = hash_tree(folder)
    changed = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
    return Result(case, code, stderr, changed, crashed)


def _run_in_process(case: Case, folder: Path) -> tuple[int | None, str, str | None]:
    from edgeq.cli import main

    out, err = io.StringIO(), io.StringIO()
    cwd = os.getcwd()
    os.chdir(folder)
    previous = signal.signal(signal.SIGALRM, _too_long)
    signal.alarm(CASE_TIMEOUT_S)  # bad input must be refused quickly; a case that runs on has not held
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code, crashed = main(list(case.argv)), None
    except CaseTimeout as exc:  # not a traceback the user sees, but not a refusal either
        code, crashed = None, None
        err.write(f"\n[matrix: {exc}]\n")
    except BaseException as exc:  # noqa: BLE001  (anything escaping main is what this matrix looks for)
        code, crashed = None, f"{type(exc).__name__}: {exc}"
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
        os.chdir(cwd)
    return code, err.getvalue(), crashed


class CaseTimeout(BaseException):
    """A case ran past CASE_TIMEOUT_S (raised from SIGALRM, so not caught as an ordinary Exception)."""


def _too_long(signum, frame):
    raise CaseTimeout(f"still running after {CASE_TIMEOUT_S} s")


def _run_subprocess(case: Case, folder: Path) -> tuple[int | None, str, str | None]:
    import resource

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (case.fsize, case.fsize))

    proc = subprocess.run([sys.executable, "-m", "edgeq", *case.argv], cwd=folder, capture_output=True, text=True,
                          preexec_fn=limit, timeout=CASE_TIMEOUT_S * 5, env=dict(os.environ, OMP_NUM_THREADS="1"))
    return proc.returncode, proc.stderr, None


def set_read_only(path: Path, on: bool) -> None:
    """Make path (file or folder) read-only, or writable again. Root ignores file modes, so as root the path is
    made immutable (chattr +i), which binds root too."""
    if os.geteuid() == 0:
        subprocess.run(["chattr", "+i" if on else "-i", str(path)], check=True, capture_output=True)
        return
    mode = path.stat().st_mode
    path.chmod(mode & ~0o222 if on else mode | 0o200)


def read_only_supported(folder: Path) -> bool:
    """Return True when set_read_only works on this file system (chattr needs ext4/xfs/btrfs/tmpfs as root)."""
    probe = folder / ".ro-probe"
    probe.write_text("x")
    try:
        set_read_only(probe, True)
        set_read_only(probe, False)
        return True
    except (subprocess.CalledProcessError, FileNotFoundError, OSError):
        return False
    finally:
        probe.unlink(missing_ok=True)


# --- setups -------------------------------------------------------------------------------------------------------

def _yaml(path: Path, body: dict) -> None:
    path.write_text(yaml.safe_dump(body, sort_keys=False))


def _spec(name: str, **fields) -> Callable[[Path], None]:
    return lambda w: _yaml(w / f"{name}.yaml", {"name": name, **TRIVIAL, **fields})


def _npz(name: str, **arrays) -> Callable[[Path], None]:
    return lambda w: np.savez(w / name, **{k: v() if callable(v) else v for k, v in arrays.items()})


def _images(n: int = 64, value: float | None = None) -> np.ndarray:
    x = np.load(EXAMPLES / "digits_eval.npz")["image"][:n].copy()
    if value is not None:
        x[0, 0, 0, 0] = value
    return x


def _sweep_started(w: Path) -> None:
    """A sweep study created and queued (no worker run), to make read-only afterwards."""
    from edgeq.sweep import load_spec, prepare, storage_url_for

    spec = load_spec(w / "t.yaml")
    prepare(spec, storage_url_for(spec, None), resume=False)


def _sweep_folder_only(w: Path) -> None:
    _sweep_started(w)
    (w / "runs" / "t" / "report").mkdir()


def _write_baseline(path: Path, cases: dict) -> None:
    from edgeq.gate.baseline import SCHEMA_VERSION

    path.write_text(json.dumps({"schema": "edgeq-gate-baseline", "schema_version": SCHEMA_VERSION,
                                "environment": {}, "cases": cases}))


def _nan_baseline(w: Path) -> None:
    metric = {"better": "higher", "n": 1, "seeds": [0], "spread": 0, "unit": "fraction", "value": None}
    case = {"calib_hash": None, "command": "evaluate", "eval_hash": None, "metrics": {"accuracy": metric},
            "model": "m.onnx", "model_hash": None, "options": {}, "seeds": [0]}
    _write_baseline(w / "gate.baseline.json", {"mlp": case})


def _nan_gate(w: Path) -> None:
    case = {"name": "nan", "command": "python", "options": {"function": "faults.fault_matrix:nan_metric"}}
    _yaml(w / "nan.yaml", {"version": _gate_version(), "baseline": "nan.baseline.json", "metrics": {"score": {"better": "higher"}},
                           "cases": [case]})


def nan_metric(**_) -> dict:
    """A gate `python` function whose metric is NaN (it must never become a baseline)."""
    return {"score": float("nan")}


def _gate_on(field_: str, value: str) -> Callable[[Path], None]:
    return lambda w: _yaml(w / "g2.yaml", {"version": _gate_version(), field_: value, "cases": [GATE_CASE]})


def _symlink(name: str, target: str) -> Callable[[Path], None]:
    return lambda w: (w / name).symlink_to(target)


def _dynamic_hw_model(w: Path) -> None:
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    weight = numpy_helper.from_array(np.ones((4, 1, 3, 3), np.float32), "w")
    graph = helper.make_graph([helper.make_node("Conv", ["x", "w"], ["y"], name="conv")], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 1, "H", "W"])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], [weight])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), w / "dyn.onnx")


def _pickle_run(w: Path) -> None:
    (w / "run").mkdir()
    (w / "run" / "results.json").write_text("{}")
    (w / "run" / "weights.pt").write_bytes(pickle.dumps(os.getcwd))  # a callable: a code payload, not weights


def _plan_without_default(w: Path) -> None:
    (w / "plan.json").write_text('{"layers": {"fc1": {"weight": "int4", "act": "int8"}}}')


def _earlier_run(name: str) -> Callable[[Path], None]:
    def setup(w: Path) -> None:
        (w / name).mkdir()
        (w / name / "results.json").write_text('{"earlier": true}\n')
    return setup


Q = ("quantize", "m.onnx", "--calib", "c.npz", "--quiet")
SIM = ("simulate", "m.onnx", "--hw", "rram", "--eval", "e.npz", "--repeats", "1", "--drift", "1s")
PHY = ("phyff", "train", "--data", "synthetic:64:8:3", "--epochs", "1", "--no-drift")
SIM_OWNER = "owned by simulate (simulators/, cli/simulate_cmd.py)"
PHY_OWNER = "owned by phyff (edgeq/phyff/, cli/phyff_cmd.py)"
COST_OWNER = "owned by cost (hw_models/, cli/cost_cmd.py)"
RAMP_OWNER = "owned by ramp-adc (simulators/ramp_*, cli/ramp_adc_cmd.py)"
PTQ_OWNER = "owned by PTQ (edgeq/ptq/)"

CASES: tuple[Case, ...] = (
    # formats
    Case("formats-unknown", ("formats", "--fmt", "nosuch")),
    Case("formats-bad-generic", ("formats", "--fmt", "e0m0")),
    # cost
    Case("cost-missing-model", ("cost", "missing.onnx")),
    Case("cost-garbage-model", ("cost", "garbage.onnx")),
    Case("cost-adc-bits-0", ("cost", "--tile", "sar8", "--adc-bits", "0")),
    Case("cost-tech-3nm", ("cost", "m.onnx", "--tech", "3nm")),
    Case("cost-plan-missing", ("cost", "m.onnx", "--plan", "missing.json")),
    Case("cost-plan-no-default", ("cost", "m.onnx", "--plan", "plan.json"), setup=_plan_without_default),
    Case("cost-unknown-fmt", ("cost", "m.onnx", "--fmt", "nosuch")),
    Case("cost-out-is-input", ("cost", "m.onnx", "--out", "m.onnx")),
    Case("cost-batch-0", ("cost", "m.onnx", "--batch", "0")),
    # quantize: output paths (this branch) and inputs
    Case("quantize-missing-model", ("quantize", "missing.onnx", "--calib", "c.npz")),
    Case("quantize-out-is-model", (*Q, "-o", "m.onnx", "--force")),
    Case("quantize-report-is-out", (*Q, "-o", "q.onnx", "--report", "q.onnx")),
    Case("quantize-out-is-calib", (*Q, "-o", "c.npz", "--force")),
    Case("quantize-report-is-eval", (*Q, "--eval", "e.npz", "--report", "e.npz", "--force")),
    Case("quantize-plot-is-model", (*Q, "--plot", "m.onnx", "--force")),
    Case("quantize-out-dotdot", (*Q, "-o", "sub/../c.npz", "--force"), setup=lambda w: (w / "sub").mkdir()),
    Case("quantize-out-symlink", (*Q, "-o", "link.npz", "--force"), setup=_symlink("link.npz", "c.npz")),
    Case("quantize-out-exists", (*Q, "-o", "existing.onnx")),
    Case("quantize-out-folder-missing", (*Q, "-o", "nofolder/q.onnx")),
    Case("quantize-unknown-fmt", (*Q, "--fmt", "nosuch")),
    Case("quantize-block-0", (*Q, "--granularity", "block:0")),
    Case("quantize-bad-calib-method", (*Q, "--calib-method", "bogus")),
    Case("quantize-calib-missing", ("quantize", "m.onnx", "--calib", "missing.npz", "--quiet")),
    Case("quantize-calib-garbage", ("quantize", "m.onnx", "--calib", "garbage.onnx", "--quiet")),
    Case("quantize-calib-wrong-name", ("quantize", "m.onnx", "--calib", "wrong.npz", "--quiet"),
         setup=_npz("wrong.npz", pixels=_images)),
    Case("quantize-labels-2d", (*Q, "--eval", "l2d.npz"), setup=_npz("l2d.npz", image=_images,
                                                                      labels=np.zeros((64, 2), np.int64))),
    Case("quantize-labels-float", (*Q, "--eval", "lf.npz"), setup=_npz("lf.npz", image=_images,
                                                                        labels=np.full(64, 0.5, np.float32))),
    Case("quantize-labels-out-of-range", (*Q, "--eval", "lr.npz"), setup=_npz("lr.npz", image=_images,
                                                                               labels=np.full(64, 99, np.int64))),
    Case("quantize-calib-3e38", ("quantize", "m.onnx", "--calib", "big.npz", "--quiet"),
         setup=_npz("big.npz", image=lambda: _images(value=3e38))),
    Case("quantize-dynamic-hw-random", ("quantize", "dyn.onnx", "--calib-random", "--quiet"),
         setup=_dynamic_hw_model),
    Case("quantize-min-sqnr-1000", (*Q, "--eval", "e.npz", "--min-sqnr", "1000"), code=1),
    Case("quantize-full-disk", (*Q, "-o", "q.onnx", "--report", "q.json"), fsize=20_000),
    # simulate
    Case("simulate-missing-model", ("simulate", "missing.onnx", "--hw", "rram", "--eval", "e.npz")),
    Case("simulate-unknown-preset", ("simulate", "m.onnx", "--hw", "nosuch", "--eval", "e.npz")),
    Case("simulate-wire-ohm-nan", (*SIM, "--wire-ohm", "nan")),
    Case("simulate-drift-1e300y", ("simulate", "m.onnx", "--hw", "rram", "--eval", "e.npz", "--repeats", "1",
                                   "--drift", "1e300y")),
    Case("simulate-out-is-file", (*SIM, "--out", "existing.onnx")),
    Case("simulate-out-earlier-run", (*SIM, "--out", "simrun"), setup=_earlier_run("simrun")),
    Case("simulate-labels-wrong-key", (*SIM, "--labels", "wrongkey")),
    Case("simulate-nan-eval", ("simulate", "m.onnx", "--hw", "rram", "--eval", "nan.npz", "--repeats", "1",
                               "--drift", "1s"),
         setup=_npz("nan.npz", image=lambda: _images(value=float("nan")), labels=np.zeros(64, np.int64))),
    Case("simulate-repeats-0", ("simulate", "m.onnx", "--hw", "rram", "--eval", "e.npz", "--repeats", "0")),
    # phyff
    Case("phyff-layers-0", (*PHY, "--layers", "0")),
    Case("phyff-unknown-data", ("phyff", "train", "--data", "nosuch")),
    Case("phyff-epochs-negative", ("phyff", "train", "--epochs", "-1")),
    Case("phyff-lr-nan", (*PHY, "--lr", "nan")),
    Case("phyff-unknown-method", (*PHY, "--methods", "nosuch")),
    Case("phyff-out-earlier-run", (*PHY, "--out", "phyrun"), setup=_earlier_run("phyrun")),
    Case("phyff-eval-missing", ("phyff", "eval", "missing_run")),
    Case("phyff-eval-pickle", ("phyff", "eval", "run"), setup=_pickle_run,
         owner=f"{PHY_OWNER}: a pickle payload in weights.pt is an internal error, not exit 2"),
    # ramp-adc
    Case("ramp-unknown-function", ("ramp-adc", "-f", "nosuch")),
    Case("ramp-bits-0", ("ramp-adc", "-b", "0")),
    Case("ramp-bits-99", ("ramp-adc", "-b", "99")),
    Case("ramp-x-range-huge", ("ramp-adc", "-f", "tanh", "-b", "4", "--x-range", "-1e308", "1e308")),
    Case("ramp-x-range-reversed", ("ramp-adc", "-b", "4", "--x-range", "1", "0")),
    Case("ramp-unknown-preset", ("ramp-adc", "-b", "4", "--preset", "nosuch")),
    Case("ramp-chips-0", ("ramp-adc", "-b", "4", "--preset", "chip", "--chips", "0")),
    # sweep
    Case("sweep-missing-spec", ("sweep", "run", "missing.yaml")),
    Case("sweep-bad-yaml", ("sweep", "run", "bad.yaml"), setup=lambda w: (w / "bad.yaml").write_text("a: [1,\n")),
    Case("sweep-unknown-key", ("sweep", "run", "u.yaml"), setup=_spec("u", budgett=3)),
    Case("sweep-option-typo", ("sweep", "run", "o.yaml"), setup=_spec("o", evaluator_options={"work_mss": 1})),
    Case("sweep-huge-grid", ("sweep", "run", "h.yaml"), setup=_spec("h", space={"x": {"int": [0, 100_000_000]}})),
    Case("sweep-unknown-evaluator", ("sweep", "run", "e.yaml"), setup=_spec("e", evaluator="python:nope.py:X")),
    Case("sweep-workers-0", ("sweep", "run", "t.yaml", "--workers", "0")),
    Case("sweep-status-no-run", ("sweep", "status", "t.yaml")),
    Case("sweep-report-no-run", ("sweep", "report", "t.yaml")),
    Case("sweep-report-color-by", ("sweep", "report", "t.yaml", "--color-by", "nosuch"), setup=_sweep_started),
    Case("sweep-run-dir-is-file", ("sweep", "run", "t.yaml", "--run-dir", "existing.onnx")),
    Case("sweep-resume-read-only-journal", ("sweep", "run", "t.yaml", "--resume", "--quiet"), setup=_sweep_started,
         read_only=("runs/t/study.journal",)),
    Case("sweep-report-read-only-folder", ("sweep", "report", "t.yaml"), setup=_sweep_folder_only,
         read_only=("runs/t/report",)),
    # gate
    Case("gate-missing-config", ("gate", "run", "missing.yaml")),
    Case("gate-bad-yaml", ("gate", "run", "bad.yaml"), setup=lambda w: (w / "bad.yaml").write_text("cases: [\n")),
    Case("gate-nan-baseline", ("gate", "run", "gate.yaml"), setup=_nan_baseline),
    Case("gate-update-records-nan", ("gate", "update", "nan.yaml"), setup=_nan_gate),
    Case("gate-junit-is-config", ("gate", "run", "gate.yaml", "--junit", "gate.yaml")),
    Case("gate-junit-is-model", ("gate", "run", "gate.yaml", "--junit", "m.onnx")),
    Case("gate-baseline-is-model", ("gate", "update", "g2.yaml"), setup=_gate_on("baseline", "m.onnx")),
    Case("gate-show-missing", ("gate", "show", "missing.json")),
    # qat
    Case("qat-lr-negative", ("qat", "model.py:build", "--data", "e.npz", "--lr", "-1")),
    Case("qat-batch-size-0", ("qat", "model.py:build", "--data", "e.npz", "--batch-size", "0")),
    Case("qat-onnx-without-out", ("qat", "model.py:build", "--data", "e.npz", "--onnx")),
    Case("qat-missing-file", ("qat", "missing.py:build", "--data", "e.npz")),
    Case("qat-missing-factory", ("qat", "model.py:nope", "--data", "e.npz", "--epochs", "0")),
    Case("qat-data-without-labels", ("qat", "model.py:build", "--data", "c.npz", "--epochs", "0")),
)
