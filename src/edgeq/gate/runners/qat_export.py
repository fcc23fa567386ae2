"""`qat-export`: gate an ONNX model exported after quantization-aware training (by `edgeq qat` or any QAT tool)
against its float reference: both run in onnxruntime on the eval data, and the exported model's accuracy, drop,
agreement, SQNR and size are gated. Training itself stays out of CI; the exported file is the artefact that ships.
"""

from __future__ import annotations

from pathlib import Path

from ...data import load_data
from ...errors import UserError
from ...graph.load import load_model
from ...metrics import sqnr_db, top1_accuracy, top1_agreement
from ..config import CaseSpec
from ._inputs import ort_session, require


def run_qat_export(case: CaseSpec, seed: int) -> dict[str, float]:
    """Return the exported model's accuracy/agreement (fractions), SQNR (dB) against `options.reference`, and its size."""
    unknown = sorted(set(case.options) - {"reference"})
    if unknown:
        raise UserError(f"case {case.name!r}: qat-export has no option(s) {', '.join(unknown)}; it takes reference")
    exported = require(case.model, "model", case.name, "qat-export")
    reference = case.option_path("reference")
    if reference is None:
        raise UserError(f"case {case.name!r}: qat-export needs `options: {{reference: float_model.onnx}}`")
    eval_path = require(case.eval, "eval", case.name, "qat-export")
    exported_bytes = Path(exported).read_bytes()
    quant_session = ort_session(exported_bytes)
    feeds, labels = load_data(eval_path, load_model(exported_bytes, check=False), "eval")
    out_q = quant_session.run(None, feeds)[0]
    out_f = ort_session(Path(reference).read_bytes()).run(None, feeds)[0]
    metrics = {"agreement": top1_agreement(out_f, out_q), "sqnr_db": float(sqnr_db(out_f, out_q)),
               "size_bytes": float(len(exported_bytes))}
    if labels is not None:
        metrics["accuracy_fp32"] = top1_accuracy(out_f, labels)
        metrics["accuracy_quant"] = top1_accuracy(out_q, labels)
        metrics["accuracy_drop_pp"] = 100.0 * (metrics["accuracy_fp32"] - metrics["accuracy_quant"])
    return metrics
