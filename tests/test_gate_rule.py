"""The gate's rule, baseline format and environment fingerprint, on constructed records (no models run)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from edgeq.errors import UserError
from edgeq.gate import Baseline, Better, CaseRecord, MetricRecord, MetricSpec, Status, Tolerance, judge_metric
from edgeq.gate import allowed_worsening, load_baseline
from edgeq.gate.environment import cpu_flags, data_hash, environment_differences


def rec(value, n=1, spread=0.0, better="higher", unit="%"):
    return MetricRecord(value=value, n=n, spread=spread, seeds=tuple(range(n)), better=better, unit=unit)


ACC = MetricSpec("accuracy", Better.HIGHER, "%", Tolerance(abs=0.5, rel=0.0, k_se=3.0))


def test_absolute_tolerance_decides_for_deterministic_runs():
    assert judge_metric("c", ACC, rec(98.0), rec(97.6)).status is Status.PASS
    row = judge_metric("c", ACC, rec(98.0), rec(97.4))
    assert row.status is Status.REGRESSION and row.allowed == pytest.approx(0.5)
    assert judge_metric("c", ACC, rec(98.0), rec(99.0)).status is Status.IMPROVED


def test_standard_error_allowance_from_recorded_spread():
    base, now = rec(90.0, n=5, spread=2.0), rec(87.0, n=5, spread=2.0)
    allowed = allowed_worsening(ACC, base, now)
    assert allowed == pytest.approx(3.0 * 2.0 * math.sqrt(1 / 5 + 1 / 5))  # 3.79 pp
    assert judge_metric("c", ACC, base, now).status is Status.PASS  # 3 pp worse, inside 3 SE
    assert judge_metric("c", ACC, base, rec(86.0, n=5, spread=2.0)).status is Status.REGRESSION


def test_relative_tolerance_and_lower_is_better():
    drop = MetricSpec("accuracy_drop_pp", Better.LOWER, "pp", Tolerance(abs=0.1, rel=0.5, k_se=0.0))
    assert judge_metric("c", drop, rec(2.0), rec(2.9)).status is Status.PASS  # allowed max(0.1, 1.0)
    assert judge_metric("c", drop, rec(2.0), rec(3.1)).status is Status.REGRESSION
    assert judge_metric("c", drop, rec(2.0), rec(0.5)).status is Status.IMPROVED


def test_deterministic_metrics_must_match_exactly_in_both_directions():
    size = MetricSpec("size_bytes", Better.EXACT, "B")
    assert judge_metric("c", size, rec(1000, better="exact"), rec(1000, better="exact")).status is Status.PASS
    assert judge_metric("c", size, rec(1000, better="exact"), rec(999, better="exact")).status is Status.MISMATCH
    assert Status.MISMATCH.exit_code == 1


def test_nan_is_never_a_pass():
    assert judge_metric("c", ACC, rec(98.0), rec(float("nan"))).status is Status.REGRESSION


def test_exit_code_of_each_status():
    assert [s.exit_code for s in (Status.PASS, Status.IMPROVED, Status.NEW)] == [0, 0, 0]
    assert [s.exit_code for s in (Status.MISSING, Status.NOT_COMPARABLE, Status.ERROR)] == [2, 2, 2]


def test_tolerance_rejects_negative_values():
    with pytest.raises(UserError, match="abs"):
        Tolerance(abs=-1.0)


def test_cpu_flags_parsed_from_cpuinfo():
    cpuinfo = "processor : 0\nflags : fpu sse avx2 fma avx512f avx512_vnni\nprocessor : 1\nflags : fpu avx2\n"
    assert cpu_flags(cpuinfo) == ["avx2", "avx512_vnni", "avx512f", "fma"]
    assert cpu_flags("Features : fp asimd asimddp i8mm\n") == ["asimddp", "i8mm"]


def test_environment_differences_name_what_changed():
    old = {"packages": {"onnxruntime": "1.20.0", "numpy": "2.0"}, "cpu_flags": ["avx2", "avx512_vnni"]}
    new = {"packages": {"onnxruntime": "1.21.0", "numpy": "2.0"}, "cpu_flags": ["avx2"]}
    assert environment_differences(old, new) == ["onnxruntime 1.20.0 -> 1.21.0", "CPU flags -avx512_vnni"]
    assert environment_differences(old, old) == []


def test_data_hash_follows_arrays_not_file_bytes(tmp_path):
    image = np.arange(12, dtype=np.float32).reshape(3, 4)
    labels = np.array([1, 2, 3])
    np.savez(tmp_path / "a.npz", image=image, labels=labels)
    np.savez_compressed(tmp_path / "b.npz", labels=labels, image=image)
    np.savez(tmp_path / "c.npz", image=image, labels=np.array([1, 2, 4]))
    assert data_hash(tmp_path / "a.npz") == data_hash(tmp_path / "b.npz")
    assert data_hash(tmp_path / "a.npz") != data_hash(tmp_path / "c.npz")


def test_baseline_json_is_canonical_and_round_trips(tmp_path):
    case = CaseRecord(command="evaluate", options={"weights": "int8"}, model="m.onnx", model_hash="sha256:1",
                      calib_hash=None, eval_hash="sha256:2", seeds=(0, 1),
                      metrics={"sqnr_db": rec(40.123456789012345, n=2, spread=0.25, unit="dB"),
                               "accuracy": rec(98.80000000000001, n=2, spread=0.1)})
    baseline = Baseline(environment={"packages": {"numpy": "2"}, "cpu_flags": ["avx2"]}, cases={"b": case, "a": case})
    text = baseline.to_json()
    raw = json.loads(text)
    assert raw["schema"] == "edgeq-gate-baseline" and raw["schema_version"] == 2
    assert list(raw["cases"]) == ["a", "b"] and list(raw["cases"]["a"]["metrics"]) == ["accuracy", "sqnr_db"]
    assert raw["cases"]["a"]["metrics"]["accuracy"]["value"] == 98.8  # float noise rounded away for diffs
    assert set(raw["cases"]["a"]["metrics"]["accuracy"]) == {"value", "n", "spread", "seeds", "better", "unit"}
    baseline.write(tmp_path / "b.json")
    again = load_baseline(tmp_path / "b.json")
    assert again.to_json() == text
    assert again.cases["a"].metrics["sqnr_db"].n == 2


def test_baseline_of_another_schema_version_is_refused(tmp_path):
    path = tmp_path / "b.json"
    path.write_text(json.dumps({"schema": "edgeq-gate-baseline", "schema_version": 99, "cases": {}}))
    with pytest.raises(UserError, match="schema_version 99"):
        load_baseline(path)
    with pytest.raises(UserError, match="does not exist"):
        load_baseline(tmp_path / "none.json")


def test_absolute_limits_fail_even_when_the_baseline_drifted_down():
    floor = MetricSpec("accuracy", Better.HIGHER, "%", Tolerance(abs=0.5, min=98.0))
    assert judge_metric("c", floor, rec(98.2), rec(98.1)).status is Status.PASS
    row = judge_metric("c", floor, rec(97.9), rec(97.9))  # unchanged, but a re-recorded baseline went below 98
    assert row.status is Status.REGRESSION and "below the absolute limit min 98" in row.reason
    ceiling = MetricSpec("accuracy_drop_pp", Better.LOWER, "pp", Tolerance(abs=0.5, max=1.0))
    assert judge_metric("c", ceiling, rec(0.9), rec(1.2)).status is Status.REGRESSION
