"""The whitepaper's claims, each checked against the figures this run measured: (claim, measured, verdict)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .theory import TheoryRow

# Sampled figures quoted in issue 9 (measured there by sampling with each format's best clip), checked below.
ISSUE_SAMPLED_DB: dict[str, dict[str, float]] = {
    "uniform": {"int8": 48.1, "fp8_e2m5": 44.5, "fp8_e3m4": 38.5, "fp8_e4m3": 32.1, "fp8_e5m2": 26.3},
    "gaussian": {"fp8_e2m5": 42.6, "int8": 40.3, "fp8_e3m4": 37.6, "fp8_e4m3": 31.6, "fp8_e5m2": 25.6},
    "student_t3": {"fp8_e3m4": 33.0, "fp8_e4m3": 31.6, "fp8_e5m2": 25.6, "fp8_e2m5": 24.2, "int8": 20.1},
}
THEORY_TOLERANCE_DB = 0.5
ACC_TOLERANCE_PP = 0.3
BPC_TOLERANCE = 0.05


@dataclass(frozen=True)
class Claim:
    """One checked claim: what was claimed, what this run measured, and whether it reproduced."""

    section: str
    claim: str
    measured: str
    reproduced: bool


def _order(values: dict[str, float]) -> list[str]:
    return sorted(values, key=lambda k: -values[k])


def theory_claims(rows: list[TheoryRow]) -> list[Claim]:
    """Return one claim per quoted figure (sampled within 0.5 dB) and one per quoted ordering (exact and sampled)."""
    out = []
    by = {(r.distribution, r.fmt): r for r in rows}
    for dist, figures in ISSUE_SAMPLED_DB.items():
        for fmt, quoted in figures.items():
            r = by.get((dist, fmt))
            if r is None:
                continue
            diff = r.sampled_db - quoted
            out.append(Claim("theory", f"{dist} {fmt}: {quoted:.1f} dB (sampled)",
                             f"sampled {r.sampled_db:.2f} dB ({diff:+.2f}), exact {r.exact_db:.2f} dB",
                             abs(diff) <= THEORY_TOLERANCE_DB))
        if all((dist, f) in by for f in figures):
            quoted_order = list(figures)
            sampled = _order({f: by[(dist, f)].sampled_db for f in figures})
            exact = _order({f: by[(dist, f)].exact_db for f in figures})
            out.append(Claim("theory", f"{dist} order {' > '.join(quoted_order)}",
                             f"sampled {' > '.join(sampled)}; exact {' > '.join(exact)}", sampled == quoted_order))
    return out


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def cnn_claims(cnn: dict) -> list[Claim]:
    """Return the digits CNN claims: PTQ format preference, QAT recovery, FP8-trained -> INT8."""
    out = []
    ptq = {k.split("/")[0]: v["sqnr_db"] for k, v in cnn["ptq"].items() if k.endswith("/channel")}
    eight = {k: ptq[k] for k in ("int8", "fp8_e2m5", "fp8_e3m4", "fp8_e4m3", "fp8_e5m2")}
    best = _order(eight)[0]
    out.append(Claim("PTQ", "CNNs prefer INT8 or FP8 with 2-3 exponent bits (E2M5/E3M4)",
                     "logit SQNR per-channel: " + ", ".join(f"{k} {v:.1f} dB" for k, v in
                                                          sorted(eight.items(), key=lambda kv: -kv[1])),
                     best in ("int8", "fp8_e2m5", "fp8_e3m4")))
    fp32 = cnn["fp32_acc"]
    for fmt, row in cnn["qat"].items():
        gap = 100 * (row["qat_acc"] - fp32)
        out.append(Claim("QAT", f"digits CNN {fmt} QAT within {ACC_TOLERANCE_PP} pp of FP32 ({_pct(fp32)})",
                         f"{_pct(row['qat_acc'])} ({gap:+.1f} pp; PTQ {_pct(row['ptq_acc'])})",
                         gap >= -ACC_TOLERANCE_PP))
    fidelity = {f: r["onnx_fidelity_sqnr_db"] for f, r in cnn["qat"].items()}
    out.append(Claim("export", "QAT models export to ONNX (QDQ / fake-quant) and onnxruntime reproduces them",
                     "worst-mode SQNR vs the QAT forward: " + ", ".join(f"{f} {v:.0f} dB" for f, v in fidelity.items()),
                     all(r["onnx_ok"] for r in cnn["qat"].values())))
    conv = cnn["conversion"]
    gap = 100 * (conv["fp8_trained_to_int8_acc"] - conv["fp8_qat_acc"])
    out.append(Claim("conversion", "an FP8(E4M3)-trained network converts to INT8 and keeps its accuracy",
                     f"E4M3 QAT {_pct(conv['fp8_qat_acc'])} -> INT8 {_pct(conv['fp8_trained_to_int8_acc'])} "
                     f"(SQNR {conv['fp8_trained_to_int8_sqnr_db']:.1f} dB); FP32 -> INT8 "
                     f"{_pct(conv['fp32_to_int8_acc'])} (SQNR {conv['fp32_to_int8_sqnr_db']:.1f} dB)",
                     gap >= -ACC_TOLERANCE_PP))
    return out


def transformer_claims(tr: dict) -> list[Claim]:
    """Return the char-transformer claims: outliers appear, format preference in PTQ, QAT recovery."""
    out = []
    ratio = max(tr["outliers"].values())
    worst = max(tr["outliers"], key=tr["outliers"].get)
    out.append(Claim("PTQ", "transformers develop activation outliers (max|x| >= 20 std)",
                     f"largest max|x|/std {ratio:.1f} at {worst}", ratio >= 20))
    ptq = {k.split("/")[0]: v["bpc"] for k, v in tr["ptq"].items() if k.endswith("/tensor")}
    best = min(ptq, key=ptq.get)
    out.append(Claim("PTQ", "transformers (with outliers) prefer E4M3/E5M2 in PTQ",
                     "bits/char per-tensor: " + ", ".join(f"{k} {v:.3f}" for k, v in sorted(ptq.items(),
                                                                                         key=lambda kv: kv[1]))
                     + f" (FP32 {tr['fp32_bpc']:.3f})", best in ("fp8_e4m3", "fp8_e5m2")))
    # The FP32 reference trained for the same extra steps as QAT: a small model is still learning, so comparing
    # QAT with the shorter-trained FP32 model would credit quantization with the extra training.
    ref = tr["fp32_finetuned_bpc"]
    for fmt, row in tr["qat"].items():
        gap = row["qat_bpc"] - ref
        out.append(Claim("QAT", f"char transformer {fmt} QAT within {BPC_TOLERANCE} bits/char of FP32 trained as "
                         f"long ({ref:.3f})", f"{row['qat_bpc']:.3f} ({gap:+.3f}; PTQ {row['ptq_bpc']:.3f})",
                         gap <= BPC_TOLERANCE))
    return out


def outlier_claims(outl: dict) -> list[Claim]:
    """Return the injected-outlier claims: INT8 degrades fastest with k, E4M3/E5M2 hold, W8A16 rescues INT8."""
    out = []
    ks = sorted(outl["by_k"], key=float)
    first, last = outl["by_k"][ks[0]], outl["by_k"][ks[-1]]
    drop = {f: first[f]["sqnr_db"] - last[f]["sqnr_db"]
            for f in ("int8", "fp8_e2m5", "fp8_e3m4", "fp8_e4m3", "fp8_e5m2")}
    out.append(Claim("PTQ", f"with an outlier channel (k = {ks[-1]}) formats with more exponent bits win",
                     "logit SQNR at k=" + ks[-1] + ": " + ", ".join(
                         f"{f} {last[f]['sqnr_db']:.1f} dB" for f in sorted(drop, key=lambda f: -last[f]["sqnr_db"])),
                     _order({f: last[f]["sqnr_db"] for f in drop})[0] in ("fp8_e4m3", "fp8_e5m2")))
    out.append(Claim("PTQ", "INT8 loses the most SQNR as the outlier grows (ordering by exponent bits)",
                     "SQNR lost from k=" + ks[0] + " to k=" + ks[-1] + ": " + ", ".join(
                         f"{f} {d:.1f} dB" for f, d in drop.items()),
                     drop["int8"] > max(v for f, v in drop.items() if f != "int8")
                     and drop["fp8_e4m3"] <= drop["fp8_e3m4"] <= drop["fp8_e2m5"]))
    w8a16 = last["int8 W8A16 on fc2"]
    out.append(Claim("PTQ", "W8A16 on the outlier layer fixes INT8",
                     f"k={ks[-1]}: INT8 {_pct(last['int8']['acc'])} / {last['int8']['sqnr_db']:.1f} dB -> W8A16 on fc2 "
                     f"{_pct(w8a16['acc'])} / {w8a16['sqnr_db']:.1f} dB (FP32 {_pct(outl['fp32_acc'])})",
                     100 * (w8a16["acc"] - outl["fp32_acc"]) >= -ACC_TOLERANCE_PP))
    return out


def hardware_claims(costs: dict | None) -> list[Claim]:
    """Return the cost claim: an FP8 MAC costs 50-180% more than an INT8 MAC (gate counts from edgeq.hw_models),
    measured as the paper does, against INT8 with its 27-bit Kulisch accumulator (Fig. 3: 719 gates)."""
    if not costs:
        return []
    base = costs["int8/kulisch"]["gates"]
    extra = {k: 100 * (v["gates"] / base - 1) for k, v in costs.items() if k.startswith("fp8_e4m3")}
    # the paper's +53% (FP16 accumulator) .. +183% (FP32), rounded to 50-180% in its text; within 10 points
    ok = all(43 <= e <= 193 for e in extra.values())
    return [Claim("hardware", "FP8 MACs are 50-180% less efficient than INT8 (E4M3 with FP16 / FP32 accumulator)",
                  ", ".join(f"{k} {e:+.0f}% gates vs int8 with a Kulisch accumulator ({base:.0f} gates; paper 719)"
                            for k, e in extra.items()), ok)]


def all_claims(results: dict) -> list[Claim]:
    """Return every claim whose experiment ran."""
    claims = theory_claims(results["theory_rows"])
    for key, fn in (("cnn", cnn_claims), ("transformer", transformer_claims), ("outliers", outlier_claims),
                    ("mac_costs", hardware_claims)):
        if results.get(key) is not None:
            claims += fn(results[key])
    return claims


def summary_counts(claims: list[Claim]) -> tuple[int, int]:
    """Return (reproduced, total)."""
    return int(np.sum([c.reproduced for c in claims])), len(claims)
