"""Write the study's markdown report, its plots (PNG) and the raw figures (JSON)."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import numpy as np

from ..io import atomic_write_bytes, atomic_write_text
from .claims import Claim, summary_counts
from .theory import THEORY_FORMATS, distributions, exact_sqnr_db


def uniform_at_edge() -> dict[str, float]:
    """Return the exact SQNR of each theory format for uniform data with the clip at the data's edge."""
    uniform = distributions()["uniform"]
    return {f: exact_sqnr_db(uniform, f, uniform.support) for f in THEORY_FORMATS}


def _plot(path: Path, draw) -> str:
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=(7, 4), dpi=110)
    draw(fig)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})  # no version stamp: same bytes on rerun
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())
    return path.name


def _theory_plot(rows, convergence):
    def draw(fig):
        ax = fig.add_subplot(1, 2, 1)
        dists = sorted({r.distribution for r in rows}, key=[r.distribution for r in rows].index)
        width = 0.8 / len(THEORY_FORMATS)
        for i, fmt in enumerate(THEORY_FORMATS):
            vals = [next(r.exact_db for r in rows if r.distribution == d and r.fmt == fmt) for d in dists]
            ax.bar(np.arange(len(dists)) + i * width, vals, width, label=fmt.replace("fp8_", ""))
        ax.set_xticks(np.arange(len(dists)) + 0.4 - width / 2, dists, fontsize=7)
        ax.set_ylabel("exact SQNR at best clip (dB)")
        ax.legend(fontsize=6)
        ax2 = fig.add_subplot(1, 2, 2)
        for fmt, points in convergence.items():
            n, v = zip(*points)
            line = ax2.semilogx(n, v, marker="o", label=f"{fmt} sampled")[0]
            exact = next(r.exact_db for r in rows if r.distribution == "student_t3" and r.fmt == fmt)
            ax2.axhline(exact, color=line.get_color(), ls=":", lw=1)
        ax2.set_xlabel("samples (Student-t(3)); dotted: exact")
        ax2.set_ylabel("median sampled SQNR (dB)")
        ax2.legend(fontsize=6)

    return draw


def _outlier_plot(outl):
    def draw(fig):
        ax = fig.add_subplot(1, 1, 1)
        ks = sorted(outl["by_k"], key=float)
        for name in next(iter(outl["by_k"].values())):
            if name == "fp32_sqnr_db":
                continue
            ax.semilogx([float(k) for k in ks], [outl["by_k"][k][name]["sqnr_db"] for k in ks], marker="o", label=name)
        ax.set_xlabel("outlier channel scale k")
        ax.set_ylabel("logit SQNR vs FP32 (dB)")
        ax.legend(fontsize=7)

    return draw


def _cost_plot(cnn, costs):
    def draw(fig):
        ax = fig.add_subplot(1, 1, 1)
        for key, c in costs.items():
            fmt = key.split("/")[0]
            ax.scatter(c["gates"], cnn["ptq"][f"{fmt}/channel"]["sqnr_db"], label=key)
        ax.set_xlabel("gates per MAC (edgeq.hw_models.mac_cost)")
        ax.set_ylabel("digits CNN PTQ logit SQNR (dB)")
        ax.legend(fontsize=7)

    return draw


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def write_report(out_dir: Path, results: dict, claims: list[Claim], command: str) -> Path:
    """Write report.md, results.json and the PNG plots into out_dir; return the report's path."""
    out_dir = Path(out_dir)
    rows = results["theory_rows"]
    ok, total = summary_counts(claims)
    md = ["# FP8 vs INT8: edgeq's reproduction of van Baalen et al. (arXiv 2303.17951)\n",
          f"Command: `{command}` (seed {results['config']['seed']}; the same seed writes the same files). "
          f"**{ok} of {total} claims reproduced.** Every figure below was computed by this run.\n",
          "## Claims\n",
          _table(["section", "claim", "measured here", "reproduced"],
                 [[c.section, c.claim, c.measured, "yes" if c.reproduced else "**no**"] for c in claims]),
          "\n## 1. Theory: expected SQNR at each format's best clipping range\n",
          "Exact: the density integrated over every rounding cell of the format's grid (Gauss-Legendre per cell, "
          "checked against scipy quad). A free scale absorbs the exponent bias, so the best clip *is* the best bias; "
          "the equivalent bias is listed. Sampled: median over seeds of the best clip searched on the samples "
          f"({results['config']['theory_samples']} draws each) with edgeq's `fake_quant`.\n",
          _table(["distribution", "format", "best clip (x std)", "equiv. bias", "exact dB", "sampled dB",
                  "sampled - exact"],
                 [[r.distribution, r.fmt, f"{r.best_clip:.3g}", "-" if np.isnan(r.equivalent_bias) else
                   f"{r.equivalent_bias:.2f}", f"{r.exact_db:.2f}", f"{r.sampled_db:.2f}",
                   f"{r.sampled_db - r.exact_db:+.2f}"] for r in rows]),
          "\nUniform data with the clip at the data's edge instead of the searched optimum (what a coarse search "
          "finds): " + ", ".join(f"{f} {v:.2f} dB" for f, v in uniform_at_edge().items())
          + ". The exact optimum of E4M3/E5M2 sits elsewhere because a minifloat's error depends on where the data "
          "edge falls within a binade.\n",
          "\nStudent-t(3) has an infinite fourth moment: a finite sample almost never holds the rare huge values "
          "that dominate the expected error, so the sampled SQNR overstates the exact one and falls towards it "
          "only slowly as the sample grows (right plot). For the other laws the largest |sampled - exact| is "
          + f"{max(abs(r.sampled_db - r.exact_db) for r in rows if r.distribution != 'student_t3'):.2f} dB "
          "(a search on one finite sample overfits its clip upwards a little).\n",
          f"![theory]({_plot(out_dir / 'theory.png', _theory_plot(rows, results['convergence']))})\n"]
    if results.get("cnn"):
        cnn = results["cnn"]
        md += ["## 2. Digits CNN (examples/digits_cnn.onnx, torch twin): PTQ, QAT, FP8-trained -> INT8\n",
               f"FP32 eval accuracy {100 * cnn['fp32_acc']:.1f}% (500 images: one image = 0.2 pp). Weights per "
               "tensor or per output channel, activations per tensor (symmetric), BN not folded.\n",
               _table(["format/granularity", "accuracy", "logit SQNR dB"],
                      [[k, f"{100 * v['acc']:.1f}%", f"{v['sqnr_db']:.1f}"] for k, v in cnn["ptq"].items()]),
               "\nPer-layer output SQNR (dB, per-channel; error accumulated from the input):\n",
               _table(["format"] + list(next(iter(cnn["layer_sqnr"].values()))),
                      [[f] + [f"{v:.1f}" for v in d.values()] for f, d in cnn["layer_sqnr"].items()]),
               f"\nQAT ({results['config']['cnn_qat_epochs']} epochs, AdamW 1e-3, from the FP32 weights; an FP32 "
               f"fine-tune with the same schedule reaches {100 * cnn['fp32_finetuned_acc']:.1f}%):\n",
               _table(["format", "PTQ accuracy", "QAT accuracy", "exported ONNX vs QAT model (worst ORT mode)"],
                      [[f, f"{100 * v['ptq_acc']:.1f}%", f"{100 * v['qat_acc']:.1f}%",
                        f"{v['onnx_fidelity_sqnr_db']:.1f} dB, top-1 agreement {100 * v['onnx_agreement']:.1f}%"
                        + ("" if v["onnx_ok"] else " **(fidelity check failed)**")]
                       for f, v in cnn["qat"].items()]),
               ""]
    if results.get("transformer"):
        tr = results["transformer"]
        md += ["## 3. Character transformer on Python's own documentation (pydoc_data)\n",
               f"2 pre-LN blocks, width 64, context {results['config']['char_context']}, vocabulary {tr['vocab']}; "
               f"FP32 {tr['fp32_bpc']:.3f} bits/char on held-out text (FP32 fine-tuned like QAT: "
               f"{tr['fp32_finetuned_bpc']:.3f}). Attention's activation-activation matmuls stay float.\n",
               "Activation outliers (max|x| / std of each Linear's input): " + ", ".join(
                   f"{k} {v:.1f}" for k, v in tr["outliers"].items()) + "\n",
               _table(["format", "PTQ per-tensor bpc", "PTQ per-channel bpc", "QAT bpc"],
                      [[f, f"{tr['ptq'][f + '/tensor']['bpc']:.3f}", f"{tr['ptq'][f + '/channel']['bpc']:.3f}",
                        f"{tr['qat'][f]['qat_bpc']:.3f}"] for f in tr["qat"]]), ""]
    if results.get("outliers"):
        outl = results["outliers"]
        ks = sorted(outl["by_k"], key=float)
        names = [n for n in outl["by_k"][ks[0]] if n != "fp32_sqnr_db"]
        md += ["## 4. Injected outlier channel (digits MLP, hidden channel "
               f"{outl['channel']} x k, fc2 weights / k; FP32 output unchanged)\n",
               _table(["k"] + names, [[k] + [f"{100 * outl['by_k'][k][n]['acc']:.1f}% / "
                                             f"{outl['by_k'][k][n]['sqnr_db']:.1f} dB" for n in names] for k in ks]),
               f"\n![outliers]({_plot(out_dir / 'outliers.png', _outlier_plot(outl))})\n"]
    if results.get("mac_costs"):
        costs = results["mac_costs"]
        md += ["## 5. Hardware cost beside accuracy (edgeq.hw_models.mac_cost, gate counts per MAC)\n",
               _table(["format/accumulator", "gates", "energy pJ", "area um^2", "CNN PTQ SQNR dB",
                       "CNN QAT accuracy"],
                      [[k, f"{v['gates']:.0f}", f"{v['energy_pj']:.3f}", f"{v['area_um2']:.0f}",
                        f"{results['cnn']['ptq'][k.split('/')[0] + '/channel']['sqnr_db']:.1f}" if results.get("cnn")
                        else "-", f"{100 * results['cnn']['qat'][k.split('/')[0]]['qat_acc']:.1f}%"
                        if results.get("cnn") else "-"] for k, v in costs.items()]), ""]
        if results.get("cnn"):
            md.append(f"![cost]({_plot(out_dir / 'accuracy_vs_cost.png', _cost_plot(results['cnn'], costs))})\n")
    path = out_dir / "report.md"
    serialisable = dict(results, theory_rows=[asdict(r) for r in rows], claims=[asdict(c) for c in claims])
    atomic_write_text(out_dir / "results.json", json.dumps(serialisable, indent=1, default=float) + "\n")
    atomic_write_text(path, "\n".join(md))
    return path
