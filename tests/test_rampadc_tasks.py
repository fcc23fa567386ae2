"""Shipped RNN task data: sizes, voice-disjoint KWS split, fixed LM split; the experiments script end to end."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from edgeq.examples import example_path
from edgeq.examples.rnn_tasks import load_charlm, load_kws

REPO = Path(__file__).resolve().parents[1]


def test_kws_dataset_is_small_balanced_and_voice_disjoint() -> None:
    assert example_path("kws_espeak.npz").stat().st_size < 1_000_000
    data = load_kws()
    assert len(data.classes) == 12 and {"silence", "unknown"} <= set(data.classes)
    assert data.x_train.shape[1:] == data.x_test.shape[1:] == (25, 12)
    assert np.all(np.bincount(data.y_train, minlength=12) == np.bincount(data.y_train, minlength=12)[0])
    with np.load(example_path("kws_espeak.npz")) as raw:
        assert not set(raw["train_voices"].tolist()) & set(raw["test_voices"].tolist())
    assert abs(float(data.x_train.mean())) < 0.1 and 0.5 < float(data.x_train.std()) < 1.5


def test_charlm_split_is_fixed_and_in_vocab() -> None:
    assert example_path("charlm_pydoc.npz").stat().st_size < 1_000_000
    lm = load_charlm()
    sizes = [lm[k].size for k in ("train", "valid", "test")]
    assert sizes[0] > 17 * sizes[2] and sizes[1] > 0
    assert max(int(lm[k].max()) for k in ("train", "valid", "test")) < len(lm["vocab"])


@pytest.mark.slow
def test_experiments_script_writes_table_plot_and_json(tmp_path: Path) -> None:
    out = tmp_path / "exp"
    subprocess.run([sys.executable, str(REPO / "benchmarks" / "ramp_lstm_experiments.py"), "--quick", "--out", str(out)],
                   check=True, capture_output=True, timeout=300)
    res = json.loads((out / "results.json").read_text())
    rows = {r["row"] for r in res["kws"]}
    assert {"FP (digital)", "NL-ADC 5b", "linear ADC + LUT 5b", "HWA NL-ADC 5b + noise"} <= rows
    assert (out / "results.png").read_bytes()[:4] == b"\x89PNG"
    assert "| NL-ADC 3b |" in (out / "results.md").read_text()
