"""`edgeq ramp-adc`: JSON summary numbers are consistent; bad input exits 2 with one line."""

from __future__ import annotations

import json

import pytest

from click.testing import CliRunner

from edgeq.cli import cli, main


def test_ramp_adc_json_summary() -> None:
    res = CliRunner().invoke(cli, ["ramp-adc", "-f", "tanh", "-b", "3", "-b", "5", "--json"], standalone_mode=False)
    assert res.exit_code == 0, res.output
    rows = json.loads(res.output)
    assert [r["ramp_steps"] for r in rows] == [7, 31]
    for r in rows:
        # half a level of tanh's [-1, 1] range bounds the ideal error; the NL-ADC beats a linear ADC + LUT
        assert r["ideal_max_abs_error"] <= 1.0 / (2 ** r["bits"] - 1) + 1e-9
        assert r["ideal_rms_error"] < r["linear_lut_rms_error"]
        assert r["codes_differing_from_ideal"] == 0.0


def test_ramp_adc_noisy_preset_differs_from_ideal() -> None:
    res = CliRunner().invoke(cli, ["ramp-adc", "-b", "8", "--preset", "noisy", "--chips", "3", "--json"],
                             standalone_mode=False)
    row = json.loads(res.output)[0]
    assert row["chips"] == 3 and row["codes_differing_from_ideal"] > 0.01


def test_ramp_adc_bad_function_is_a_user_error(capsys) -> None:
    assert main(["ramp-adc", "-f", "gelu"]) == 2
    err = capsys.readouterr().err
    assert "unknown ramp function" in err and err.count("\n") == 1


@pytest.mark.parametrize("args, message", [
    (["--x-range", "-1e308", "1e308"], "--x-range"),
    (["--x-range", "1", "1"], "--x-range"),
    (["--x-range", "nan", "1"], "--x-range"),
])
def test_bad_x_range_is_one_line_exit_2(args, message, capsys):
    from edgeq.cli import main

    assert main(["ramp-adc", "-f", "tanh", "-b", "3", *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err


def test_output_file_matches_printed_json(tmp_path, capsys):
    import json

    from edgeq.cli import main

    out = tmp_path / "r.json"
    assert main(["ramp-adc", "-f", "tanh", "-b", "3", "--json", "-o", str(out)]) == 0
    assert json.loads(capsys.readouterr().out) == json.loads(out.read_text())
    assert main(["ramp-adc", "-f", "tanh", "-b", "3", "-o", str(out)]) == 2
