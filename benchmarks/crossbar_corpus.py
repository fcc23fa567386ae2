"""Real-model corpus on simulated crossbars: output SQNR vs FP32 under rram/pcm at 1 s, 1 d, 1 y, with and without
the periphery calibrated as chips do it (presets rram_cal, pcm_cal), written to a results file the docs render.

    .venv/bin/python benchmarks/crossbar_corpus.py [--models ppocr_cls_v2,oww_embedding] [--repeats 2]
    .venv/bin/python benchmarks/crossbar_corpus.py --render      # the markdown table of docs/crossbar.md

Models and data come from the corpus cache (~/.cache/edgeq/realmodels, filled by benchmarks/realmodels/fetch.py
on the corpus branch): each model's eval.npz (first --samples samples) is simulated, and calib.npz calibrates the
_cal presets. The classifier also reports top-1 agreement with FP32 (its task metric without labels). The last
line is JSON: per model the calibrated minus uncalibrated SQNR at each time (dB).
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).parent / "results" / "crossbar_corpus.json"
CACHE = Path(os.environ.get("EDGEQ_REALMODELS", "~/.cache/edgeq/realmodels")).expanduser()
MODELS = {  # corpus CNNs: name -> samples simulated (the big detectors at a few samples keep the run short)
    "ppocr_cls_v2": 8, "oww_embedding": 16, "nudenet_320n": 2, "ppocr_det_v4": 2, "ddddocr_det": 2}
PRESETS = ("ideal_adc8", "rram", "rram_cal", "pcm", "pcm_cal", "rram+per_group", "pcm+per_group")
"""ideal_adc8: ideal devices, same converters (the periphery's share); +per_group: grouped convs one small tile per
group instead of block-diagonal within a tile (only run on models with grouped convs)."""
GROUPED = ("ppocr_cls_v2", "ppocr_det_v4")
TIMES = (1.0, 86400.0, 365.25 * 86400.0)
CLASSIFIERS = ("ppocr_cls_v2",)


def run(models: list[str], repeats: int, seed: int, presets=PRESETS) -> dict:
    """Return the results dict for the models (those missing from the cache are listed as skipped)."""
    from edgeq.simulators import simulate
    from edgeq.simulators.api import per_sample, run_batched
    from edgeq.simulators.onnx_sim import fp32_outputs

    rows, skipped = [], []
    for name in models:
        model, data = CACHE / "models" / f"{name}.onnx", CACHE / "data" / name / "n16_seed0"
        if not model.is_file() or not (data / "eval.npz").is_file():
            skipped.append(name)
            continue
        n = MODELS.get(name, 4)
        with np.load(data / "eval.npz") as z:
            feeds = {k: z[k][:n] for k in z.files}
        with np.load(data / "calib.npz") as z:
            calib = {k: z[k][:8] for k in z.files}
        import onnx

        proto = onnx.load(str(model))
        ref = run_batched(lambda f: fp32_outputs(proto, f), feeds, per_sample(proto, feeds))[0]
        for preset in presets:
            if preset.endswith("+per_group") and name not in GROUPED:
                continue
            t0 = time.perf_counter()
            res = simulate(proto, _config(preset), feeds, None, TIMES, repeats, seed, reference=ref, calib=calib)
            row = {"model": name, "preset": preset, "samples": n, "repeats": repeats,
                   "sqnr_db": [s["sqnr_db_mean"] for s in res.summary()],
                   "sqnr_db_std": [s["sqnr_db_std"] for s in res.summary()],
                   "analog_nodes": len(res.nodes), "digital_nodes": len(res.digital_nodes),
                   "wall_s": round(time.perf_counter() - t0, 1)}
            if name in CLASSIFIERS:
                row["top1_agreement"] = _agreement(proto, preset, feeds, ref, repeats, seed, calib)
            rows.append(row)
            print(f"{name:<14} {preset:<9} " + " ".join(f"{v:6.1f}" for v in row["sqnr_db"]) + f"  ({row['wall_s']} s)",
                  flush=True)
    return {"times_s": list(TIMES), "presets": list(presets), "seed": seed, "rows": rows, "skipped": skipped}


def merge(old: dict, new: dict) -> dict:
    """Return old with new's rows replacing or adding (model, preset) pairs, ordered by model then PRESETS."""
    rows = {(r["model"], r["preset"]): r for r in old.get("rows", [])}
    rows.update({(r["model"], r["preset"]): r for r in new["rows"]})
    models = list(dict.fromkeys(r["model"] for r in [*old.get("rows", []), *new["rows"]]))
    ordered = [rows[(m, p)] for m in models for p in PRESETS if (m, p) in rows]
    return {**new, "presets": list(PRESETS), "rows": ordered}


def _config(preset: str):
    """Return the CrossbarConfig of a preset name, with "+per_group" meaning one small tile per conv group."""
    import dataclasses

    from edgeq.simulators import get_preset

    base, _, mapping = preset.partition("+")
    cfg = get_preset(base)
    if mapping:
        cfg = dataclasses.replace(cfg, name=preset, tile=dataclasses.replace(cfg.tile, group_mapping=mapping))
    return cfg


def _agreement(proto, preset, feeds, ref, repeats, seed, calib) -> list[float]:
    """Return top-1 agreement with FP32 at each time, mean over chips (the simulation is seeded: same chips)."""
    from edgeq.simulators.api import per_sample, run_batched
    from edgeq.simulators.onnx_sim import OnnxCrossbarModel

    sim, split = OnnxCrossbarModel(proto, _config(preset)), per_sample(proto, feeds)
    agree = np.zeros(len(TIMES))
    for r in range(repeats):
        sim.program(np.random.default_rng([seed, r]))
        if sim.config.calibration.active:
            cal_rng = np.random.default_rng([seed, r, 2])
            run_batched(lambda f: sim.calibrate(f, cal_rng) or [], calib, per_sample(proto, calib))
        for k, t in enumerate(TIMES):
            rng = np.random.default_rng([seed, r, k, 1])
            out = run_batched(lambda f: sim.run(f, t, rng), feeds, split)[0]
            agree[k] += np.mean(out.argmax(-1) == ref.argmax(-1)) / repeats
    return agree.tolist()


def render(results: dict) -> str:
    """Return the markdown table of the results (what docs/crossbar.md shows between its corpus markers)."""
    lines = ["| model | preset | 1 s | 1 d | 1 y | top-1 agreement 1 s / 1 d / 1 y |", "|---|---|---|---|---|---|"]
    for row in results["rows"]:
        sq = " | ".join(f"{m:.1f} +- {s:.1f}" for m, s in zip(row["sqnr_db"], row["sqnr_db_std"]))
        agree = " / ".join(f"{100 * a:.0f}%" for a in row["top1_agreement"]) if "top1_agreement" in row else "-"
        lines.append(f"| {row['model']} ({row['samples']} samples) | {row['preset']} | {sq} | {agree} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--presets", default=",".join(PRESETS), help="run these; rows of others are kept")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--render", action="store_true", help="print the docs table of the committed results")
    args = parser.parse_args()
    from edgeq.io import dumps_json, read_json_number, write_json

    if args.render:
        import json

        print(render(json.loads(RESULTS.read_text())))
        return
    results = run([m for m in args.models.split(",") if m], args.repeats, args.seed, args.presets.split(","))
    if RESULTS.exists():
        import json

        results = merge(json.loads(RESULTS.read_text()), results)
    write_json(RESULTS, results)
    gains = {}
    for row in results["rows"]:
        if row["preset"].endswith("_cal") and any(r["preset"] == row["preset"][:-4] for r in results["rows"]):
            base = next(r for r in results["rows"] if r["model"] == row["model"] and r["preset"] == row["preset"][:-4])
            gains[f"{row['model']}:{row['preset']}"] = [round(read_json_number(a) - read_json_number(b), 2)
                                                        for a, b in zip(row["sqnr_db"], base["sqnr_db"])]
    print(dumps_json({"calibrated_minus_plain_db": gains, "skipped": results["skipped"]}, indent=None))


if __name__ == "__main__":
    main()
