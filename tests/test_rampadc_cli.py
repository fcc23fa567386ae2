"""`edgeq ramp-adc`: JSON summary numbers are consistent; bad input exits 2 with one line."""

from __future__ import annotations

import json

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
