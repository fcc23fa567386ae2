"""Post-training quantization: `quantize(model, config, calib=..., eval=...) -> QuantResult`.

Layering: formats -> graph -> ptq. The pipeline only conducts: config (what), calibration (ranges), planner (the
per-tensor plan), mixed (precision search), graph.qdq (writing), reference (edgeq's own simulation), runtime
(onnxruntime checks), measure and report (what was lost).
"""

from .config import CalibMethod, QuantConfig, as_config
from .pipeline import QuantResult, quantize

__all__ = ["CalibMethod", "QuantConfig", "QuantResult", "as_config", "quantize"]
