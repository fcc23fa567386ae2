"""Every ```python snippet in the README and docs/ runs (issue 14): a snippet that drifts from the API fails here.

Snippets run in a scratch folder holding a copy of examples/ (and `model.onnx`, `gate.yaml` where a snippet names
them), with the placeholders a snippet leaves to the reader (`W`, `x`, `float_model`, ...) defined by a small
preamble per document. Names a snippet defines are its own.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]

COMMON = """
import numpy as np
rng = np.random.default_rng(0)
"""
# The placeholders each document's snippets leave to the reader.
PREAMBLE = {
    "crossbar.md": """
import torch
W = rng.standard_normal((64, 32)).astype(np.float32) * 0.1
x = rng.standard_normal((8, 64)).astype(np.float32)
float_model = torch.nn.Sequential(torch.nn.Linear(64, 32), torch.nn.ReLU(), torch.nn.Linear(32, 10))
""",
    "qat.md": """
import torch
torch.manual_seed(0)
model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 32), torch.nn.ReLU(), torch.nn.Linear(32, 10))
x_train = torch.rand(512, 1, 8, 8)
x_eval = torch.rand(32, 1, 8, 8)
loader = []
""",
    "ramp_adc.md": """
import torch
torch.manual_seed(0)
column_outputs = rng.standard_normal((4, 512)).astype(np.float32)
trained_nn_lstm = torch.nn.LSTM(8, 16)
x = torch.randn(5, 2, 8)
""",
}


def snippets() -> list:
    """Return (doc name, index, code) for every ```python block."""
    out = []
    for doc in DOCS:
        for k, code in enumerate(re.findall(r"```python\n(.*?)```", doc.read_text(), re.S)):
            out.append(pytest.param(doc.name, code, id=f"{doc.name}:{k}"))
    return out


@pytest.fixture
def scratch(tmp_path, monkeypatch):
    shutil.copytree(REPO / "examples", tmp_path / "examples", ignore=shutil.ignore_patterns("runs", "__pycache__"))
    shutil.copy(REPO / "examples" / "digits_cnn.onnx", tmp_path / "model.onnx")
    shutil.copy(REPO / "examples" / "edgeq_self_gate.yaml", tmp_path / "examples" / "gate.yaml")
    shutil.copy(REPO / "examples" / "edgeq_self_gate.baseline.json", tmp_path / "examples" / "gate.baseline.json")
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.slow
@pytest.mark.parametrize("doc,code", snippets())
def test_snippet_runs(doc, code, scratch):
    if doc == "gate.md":
        code = code.replace('"gate.yaml"', '"examples/gate.yaml"')
    namespace: dict = {"__name__": f"snippet_{doc}"}
    exec(compile(COMMON + PREAMBLE.get(doc, ""), f"<preamble {doc}>", "exec"), namespace)
    exec(compile(code, f"<snippet {doc}>", "exec"), namespace)


def test_every_document_with_snippets_is_collected():
    assert len(snippets()) >= 12
