"""`edgeq phyff train/eval`: output files, reproducibility, and one-line errors with exit code 2."""

import json

import numpy as np
import pytest
import torch
from phyff_helpers import one_torch_thread  # noqa: F401  (autouse fixture)

import edgeq.phyff.hardware as hardware
from edgeq.cli import main
from edgeq.errors import UserError
from edgeq.phyff.data import load_dataset
from edgeq.phyff.physical import CallableLayer
from edgeq.phyff.vowels import synthesize

TINY = ["--data", "synthetic:160:16:3", "--layers", "2", "--hidden", "16", "--epochs", "1", "--deploy-s", "100",
        "--online-steps", "1"]


def _one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("edgeq: error:"), err
    return err[0]


def test_train_writes_reproducible_results_and_eval_reads_them(tmp_path, capsys):
    outs = [tmp_path / "a", tmp_path / "b"]
    for out in outs:
        assert main(["phyff", "train", *TINY, "--out-dir", str(out)]) == 0
    for name in ("results.json", "curves.png", "weights.pt"):
        assert (outs[0] / name).read_bytes() == (outs[1] / name).read_bytes(), name
    results = json.loads((outs[0] / "results.json").read_text())
    assert set(results["methods"]) == {"ff", "bp", "hwa"}
    assert results["methods"]["ff"]["physical_passes"] > 0
    assert results["methods"]["bp"]["physical_passes"] == 0  # backprop trains on the twin, not the hardware
    assert len(results["drift"]["accuracy"]["ff"]) == len(results["drift"]["times_s"])
    timing = json.loads((outs[0] / "timing.json").read_text())
    assert set(timing["train_wall_s"]) == {"ff", "bp", "hwa"}
    capsys.readouterr()
    assert main(["phyff", "eval", str(outs[0]), "--json"]) == 0
    evaluated = json.loads(capsys.readouterr().out)
    assert set(evaluated["accuracy"]) == {"ff", "bp", "hwa", "ff_online"}
    assert all(0.0 <= a <= 1.0 for a in evaluated["accuracy"].values())


def test_unknown_data_name_is_one_line_and_exit_2(tmp_path, capsys):
    assert main(["phyff", "train", "--data", "mnist", "--out-dir", str(tmp_path / "r")]) == 2
    assert "unknown data set 'mnist'" in _one_error_line(capsys)
    assert not (tmp_path / "r" / "results.json").exists()


def test_unknown_physical_layer_is_one_line_and_exit_2(tmp_path, capsys):
    assert main(["phyff", "train", *TINY, "--physical", "laser", "--out-dir", str(tmp_path / "r")]) == 2
    assert "unknown physical layer 'laser'" in _one_error_line(capsys)


@pytest.mark.parametrize("bad, message", [
    (lambda a: np.full((a.shape[0], 16), np.nan, dtype=np.float32), "NaN"),
    (lambda a: np.zeros((a.shape[0], 5), dtype=np.float32), "returned shape"),
])
def test_bad_physical_output_is_one_line_and_exit_2(tmp_path, capsys, monkeypatch, bad, message):
    monkeypatch.setattr(hardware, "make_physical", lambda spec, i, o, seed: CallableLayer(bad, i, o))
    assert main(["phyff", "train", *TINY, "--out-dir", str(tmp_path / "r")]) == 2
    assert message in _one_error_line(capsys)
    assert not (tmp_path / "r" / "results.json").exists()  # nothing partial


def test_eval_of_a_missing_or_mismatched_run_is_one_line_and_exit_2(tmp_path, capsys):
    assert main(["phyff", "eval", str(tmp_path)]) == 2
    assert "results.json" in _one_error_line(capsys)
    out = tmp_path / "run"
    assert main(["phyff", "train", *TINY, "--no-drift", "--methods", "ff", "--out-dir", str(out)]) == 0
    results = json.loads((out / "results.json").read_text())
    results["config"]["net"]["hidden"] = 32  # weights no longer fit the architecture
    (out / "results.json").write_text(json.dumps(results))
    capsys.readouterr()
    assert main(["phyff", "eval", str(out)]) == 2
    assert "do not fit" in _one_error_line(capsys)


def test_shipped_vowels_are_what_the_script_regenerates():
    data = load_dataset("vowels")
    fresh = synthesize(seed=0)
    np.testing.assert_array_equal(data.x_train.numpy(), fresh["x_train"])
    np.testing.assert_array_equal(data.y_test.numpy(), fresh["y_test"])
    assert data.n_classes == 10 and data.n_features == 4


def test_datasets_and_their_errors():
    digits = load_dataset("digits")
    assert digits.x_train.shape == (1437, 64) and digits.x_test.shape == (360, 64)
    assert float(digits.x_train.max()) <= 1.0 and digits.x_train.dtype == torch.float32
    syn = load_dataset("synthetic:500:20:4")
    assert syn.x_train.shape == (400, 20) and syn.n_classes == 4
    for bad in ("synthetic:10:20:4", "synthetic:a:b:c", "digits:3"):
        with pytest.raises(UserError):
            load_dataset(bad)


def test_train_keeps_an_earlier_run_unless_forced(tmp_path, capsys):
    out = tmp_path / "run"
    args = ["phyff", "train", *TINY, "--no-drift", "--methods", "ff", "--out-dir", str(out), "-q"]
    assert main(args) == 0
    (out / "results.json").write_text("mine")
    assert main(args) == 2 and "--force" in _one_error_line(capsys)
    assert (out / "results.json").read_text() == "mine"
    assert main(args + ["--force"]) == 0 and json.loads((out / "results.json").read_text())["methods"]


def test_drift_phase_has_fair_online_backprop_baselines(tmp_path):
    """bp_online / hwa_online fine-tune on the same online batches FF gets; frozen bp / hwa stay as they were."""
    out = tmp_path / "run"
    assert main(["phyff", "train", *TINY, "--out-dir", str(out), "-q"]) == 0
    drift = json.loads((out / "results.json").read_text())["drift"]
    assert set(drift["accuracy"]) == {"ff", "bp", "hwa", "bp_online", "hwa_online", "bp_pat", "bp_recal",
                                       "bp_pat_recal"}
    assert all(len(acc) == len(drift["times_s"]) for acc in drift["accuracy"].values())
    # before any online batch the fine-tuned copies are the trained models
    assert drift["accuracy"]["bp_online"][0] == drift["accuracy"]["bp"][0]
    assert drift["accuracy"]["hwa_online"][0] == drift["accuracy"]["hwa"][0]
    assert drift["accuracy"]["bp_online"] != drift["accuracy"]["bp"]  # the online steps changed something
    # equal budgets: every online method gets the same batches; only FF and PAT run them through the hardware
    passes = drift["online_physical_passes"]
    assert passes["ff"] == 2 * passes["bp_pat"] == 2 * passes["bp_pat_recal"] > 0 and passes["bp_recal"] == 0
    assert drift["recalibration_passes"] > 0
