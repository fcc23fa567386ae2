"""`edgeq quantize` and `edgeq simulate` reports carry the hardware cost of what they measured (issue 6)."""

import json

import pytest

from conftest import EXAMPLES
from edgeq.cli import main


@pytest.mark.slow
def test_quantize_report_prices_int8_and_fp8(tmp_path):
    costs = {}
    for fmt in ("int8", "fp8_e4m3"):
        report = tmp_path / f"{fmt}.json"
        args = ["quantize", str(EXAMPLES / "digits_cnn.onnx"), "--fmt", fmt, "--calib", str(EXAMPLES / "digits_calib.npz")]
        assert main(args + ["-o", str(tmp_path / f"{fmt}.onnx"), "--report", str(report)]) == 0
        costs[fmt] = json.loads(report.read_text())["cost"]
    assert costs["int8"]["vs_int8"] == pytest.approx(1.0)
    assert costs["int8"]["vs_fp32"] < 0.5
    # an FP8 MAC with an FP32 accumulator costs more than an INT8 one (van Baalen et al.)
    assert costs["fp8_e4m3"]["energy_uj"] > costs["int8"]["energy_uj"]


@pytest.mark.slow
def test_simulate_results_price_the_analog_tiles(tmp_path):
    args = ["simulate", str(EXAMPLES / "digits_mlp.onnx"), "--preset", "rram", "--eval", str(EXAMPLES / "digits_eval.npz")]
    assert main(args + ["--drift", "1s", "--repeats", "1", "--out-dir", str(tmp_path)]) == 0
    cost = json.loads((tmp_path / "results.json").read_text())["cost"]
    assert cost["target"] == "analog" and cost["energy_uj"] > 0 and cost["tops_per_w"] > 0
