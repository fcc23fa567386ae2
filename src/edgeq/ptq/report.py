"""The quantization report: a dataclass that renders as a terminal table (rich) and as JSON."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

from ..io import dumps_json, json_safe


@dataclass
class QuantReport:
    """What quantization did to the model, measured. Accuracy and SQNR are those of ORT with default options.

    sqnr_db, agreement and max_abs_error compare the first output with the FP32 model's (`outputs` has every
    float output); fidelity holds, per ORT mode, how that mode follows edgeq's reference simulation; tensors gives
    each quantized tensor's format, scale, SQNR against its FP32 value in the full quantized model (error
    accumulated up to there) and local SQNR (the noise its own quantizer injects); blame lists the worst local
    SQNRs; per_layer (with --sensitivity) is each op's output SQNR with only that op quantized; fallbacks lists
    what was left in float and why.
    """

    model: str
    weights: str
    acts: str
    granularity: str
    calib_method: str
    n_calib: int
    n_eval: int
    accuracy_fp32: float | None
    accuracy_quant: float | None
    accuracy_drop_pp: float | None
    sqnr_db: float
    agreement: float
    max_abs_error: float
    fidelity: dict[str, dict]
    fidelity_ok: bool
    per_layer: dict[str, float]
    tensors: dict[str, dict]
    formats: dict[str, str]
    exported_as: dict[str, str]
    float_ops: dict[str, int]
    size_bytes_fp32: int
    size_bytes_quant: int
    latency_ms_fp32: float
    latency_ms_quant: float
    outputs: dict[str, dict] = field(default_factory=dict)
    reference_sqnr_db: float | None = None
    blame: list[dict] = field(default_factory=list)
    fallbacks: list[str] = field(default_factory=list)
    runtime_ops: dict[str, int] = field(default_factory=dict)
    target_check: dict = field(default_factory=dict)
    config: dict = field(default_factory=dict)
    mixed_precision: dict | None = None
    cost: dict | None = None
    notes: list[str] = field(default_factory=list)
    timing: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict:
        """Return the report as a JSON-ready dict (non-finite floats become "inf"/"-inf"/null)."""
        return json_safe(asdict(self))

    def to_json(self) -> str:
        """Return the report as indented JSON with sorted keys."""
        return dumps_json(self.to_dict(), sort_keys=True)

    def render(self, console=None) -> None:
        """Print the report as tables on the terminal."""
        from rich.console import Console
        from rich.table import Table

        console = console or Console()
        title = f"edgeq quantize: {self.model}  weights {self.weights}, activations {self.acts}"
        summary = Table(title=title, show_header=True)
        summary.add_column("metric")
        summary.add_column("value", justify="right")
        if self.accuracy_fp32 is not None:
            summary.add_row("accuracy FP32", f"{100 * self.accuracy_fp32:.2f}%")
            summary.add_row("accuracy quantized (ORT default)", f"{100 * self.accuracy_quant:.2f}%")
            summary.add_row("accuracy drop", f"{self.accuracy_drop_pp:+.2f} pp")
        summary.add_row("top-1 agreement with FP32", f"{100 * self.agreement:.2f}%")
        summary.add_row("output SQNR vs FP32", _db(self.sqnr_db))
        for name, o in list(self.outputs.items())[1:]:
            summary.add_row(f"  output {name}", _db(o["sqnr_db"]))
        summary.add_row("max abs error", f"{self.max_abs_error:.4g}")
        summary.add_row("model size", f"{self.size_bytes_fp32:,} B -> {self.size_bytes_quant:,} B "
                        f"({self.size_bytes_fp32 / max(self.size_bytes_quant, 1):.2f}x)")
        summary.add_row("ORT latency (median)", f"{self.latency_ms_fp32:.3f} ms -> {self.latency_ms_quant:.3f} ms")
        summary.add_row("calibration", f"{self.calib_method}, {self.n_calib} samples; eval {self.n_eval} samples")
        float_ops = ", ".join(f"{k} x{v}" for k, v in sorted(self.float_ops.items())) or "none"
        summary.add_row("ops left in float", float_ops)
        if self.blame:
            worst = ", ".join(f"{b['tensor']} ({b['format']}, {_db(b['local_sqnr_db'])})" for b in self.blame[:3])
            summary.add_row("who to blame (lowest local SQNR)", worst)
        if self.runtime_ops:
            summary.add_row("ORT default runs", ", ".join(f"{k} x{v}" for k, v in self.runtime_ops.items()))
        if self.target_check:
            tc = self.target_check
            summary.add_row(f"target {tc['target']} rules", f"{len(tc['rules'])} checked: " + (
                "ok" if tc["ok"] else f"{len(tc['violations'])} violated: {tc['violations'][0]}"))
        if self.cost:
            summary.add_row("hardware cost (edgeq cost)", self.cost["line"].removeprefix("cost "))
        console.print(summary)

        fid = Table(title="runtime fidelity: does onnxruntime compute what edgeq simulated?")
        for col in ("mode", "top-1 agreement", "SQNR vs reference", "max abs diff", "verdict"):
            fid.add_column(col, justify="left" if col in ("mode", "verdict") else "right")
        for mode, f in self.fidelity.items():
            verdict = "[green]ok[/green]" if f["ok"] else f"[bold red]DIFFERS: {f.get('likely_cause', '')}[/bold red]"
            fid.add_row(mode, f"{100 * f['agreement']:.2f}%", _db(f["sqnr_db"]), f"{f['max_abs_error']:.3g}", verdict)
        console.print(fid)

        layers = Table(title="per tensor: SQNR vs FP32 in the quantized model; local = noise of its own quantizer; "
                       "op alone (--sensitivity) = output SQNR with only that op quantized")
        for col in ("tensor", "role", "format", "scales", "exported as", "SQNR", "local", "op alone"):
            layers.add_column(col, justify="right" if col in ("SQNR", "op alone") else "left", overflow="fold")
        for name, t in self.tensors.items():
            gran = "tensor" if t.get("axis") is None else (
                f"block:{t['block_size']}" if t.get("block_size") else f"axis {t['axis']}")
            sens = self.per_layer.get(t.get("node", ""), None)
            role = "act" if t["role"] == "activation" else t["role"]
            layers.add_row(name, role, t["format"], gran, self.exported_as.get(name, ""),
                           _db(t.get("sqnr_db")), _db(t.get("local_sqnr_db")), "" if sens is None or t["role"] != "weight" else _db(sens))
        console.print(layers)
        if self.mixed_precision:
            mp = self.mixed_precision
            console.print(f"mixed precision: target {mp['target']}; kept at higher precision: "
                          + (", ".join(f"{k} -> {v}" for k, v in mp["overrides"].items()) or "nothing needed")
                          + f" ({mp['reason']})")
        for fallback in self.fallbacks:
            console.print(f"left in float: {fallback}")
        for note in self.notes:
            console.print(f"note: {note}")


def _db(value) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if math.isnan(value):
        return "nan"
    return ("inf" if value > 0 else "-inf") if math.isinf(value) else f"{value:.2f} dB"


def plot_png(report: QuantReport) -> bytes:
    """Return a PNG bar chart of each quantized tensor's SQNR vs FP32 (who to blame), with the logit SQNR line."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [n for n, t in report.tensors.items() if t["role"] != "bias"]
    values = [report.tensors[n]["sqnr_db"] for n in names]
    values = [min(v, 99.0) if isinstance(v, (int, float)) else 99.0 for v in values]
    colors = ["tab:blue" if report.tensors[n]["role"] == "activation" else "tab:orange" for n in names]
    fig, ax = plt.subplots(figsize=(max(6.0, 0.45 * len(names) + 2), 4.0), dpi=120)
    ax.bar(range(len(names)), values, color=colors)
    ax.axhline(report.sqnr_db, color="k", ls="--", lw=1, label=f"logits {report.sqnr_db:.1f} dB")
    ax.set_xticks(range(len(names)), names, rotation=60, ha="right", fontsize=7)
    ax.set_ylabel("SQNR vs FP32 (dB)")
    ax.set_title(f"{report.model}: weights {report.weights}, activations {report.acts} (blue: activations)")
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})
    plt.close(fig)
    return buf.getvalue()
