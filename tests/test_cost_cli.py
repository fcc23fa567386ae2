"""`edgeq cost` end to end: MAC, Fig. 3, model tables/JSON/plot, and one-line errors with exit code 2."""

import json

import pytest

from edgeq.examples import example_path

from edgeq.cli import main

CNN = str(example_path("digits_cnn.onnx"))


def test_mac_json(capsys):
    assert main(["cost", "--mac", "fp8_e4m3", "--acc", "fp16", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["acc_fmt"] == "fp16" and 1000 <= out["gates"] <= 1221  # Fig. 3: 1110 within 10%


def test_fig3_table(capsys):
    assert main(["cost", "--fig3"]) == 0
    out = capsys.readouterr().out
    assert "INT8, 27-bit Kulisch" in out and "719" in out


def test_model_compare_writes_json_and_plot(tmp_path, capsys):
    out, png = tmp_path / "cost.json", tmp_path / "cost.png"
    rc = main(["cost", CNN, "--fmt", "int8", "--fmt", "fp8_e4m3", "--tech", "7nm", "-o", str(out),
               "--plot", str(png)])
    assert rc == 0
    text = capsys.readouterr().out
    assert "comparison" in text and "TOPS/W" in text
    data = json.loads(out.read_text())
    assert data["fp8_e4m3"]["totals"]["energy_pj"] > data["int8"]["totals"]["energy_pj"]
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_analog_json(capsys):
    assert main(["cost", CNN, "--target", "analog", "--preset", "nl-ramp5", "--tech", "16nm", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["target"] == "analog" and data["totals"]["tops_per_w"] > 0
    assert any(layer["tiles"] > 0 for layer in data["layers"])


def test_errors_are_one_line_exit_2(capsys):
    assert main(["cost", "/no/such.onnx"]) == 2
    assert main(["cost", "--mac", "fp9"]) == 2
    assert main(["cost", CNN, "--tech", "3nm"]) == 2
    assert main(["cost"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 4 and all(line.startswith("edgeq: error:") for line in err)


def test_tile_summary_and_overrides(capsys):
    assert main(["cost", "--tile", "nl-ramp5", "--tech", "16nm", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["tile"]["adc_kind"] == "memristor_ramp" and 15 < data["tops_per_w"] < 96  # Yang: 31.0 / 47.9
    assert main(["cost", "--tile", "sar8", "--adc-bits", "6", "--rows", "256", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert (data["tile"]["adc_bits"], data["tile"]["rows"]) == (6, 256)
    assert main(["cost", CNN, "--target", "analog", "--preset", "sar8", "--adc-bits", "6", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["hw"]["adc_bits"] == 6


@pytest.mark.parametrize("args, message", [
    (["--tile", "sar8", "--adc-bits", "0"], "adc_bits must be 1..16"),
    (["{mlp}", "--plan", "{plan}"], "no 'default' format"),
    (["{mlp}", "--tech", "3nm"], "7-180 nm"),
])
def test_bad_values_are_one_line_exit_2(args, message, tmp_path, capsys):
    from edgeq.cli import main
    from edgeq.examples import example_path

    plan = tmp_path / "plan.json"
    plan.write_text('{"layers": {"fc1": "int8"}}')
    args = [a.format(mlp=example_path("digits_mlp.onnx"), plan=plan) for a in args]
    assert main(["cost", *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err


def test_default_node_is_the_one_of_every_report(capsys):
    """One technology node default everywhere (the quantize report's 7 nm), stated in the output."""
    from edgeq.cli import cost_cmd, main
    from edgeq.hw_models import DEFAULT_TECH, network_cost
    from edgeq.examples import example_path

    assert cost_cmd.DEFAULT_TECH == DEFAULT_TECH == "7nm"
    assert network_cost(example_path("digits_mlp.onnx")).tech_nm == 7.0
    assert main(["cost", str(example_path("digits_mlp.onnx"))]) == 0
    assert "at 7 nm" in capsys.readouterr().out
