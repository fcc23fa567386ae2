"""Real-model corpus on simulated crossbars: output SQNR vs FP32 under rram/pcm at 1 s, 1 d, 1 y, with and without
the periphery calibrated as chips do it (presets rram_cal, pcm_cal), written to a results file the docs render.

    .venv/bin/python benchmarks/crossbar_corpus.py [--models ppocr_cls_v2,oww_embedding] [--repeats 2]
    .venv/bin/python benchmarks/crossbar_corpus.py --render      # the markdown table of docs/crossbar.md

Models and data come from the corpus cache (~/.cache/edgeq/realmodels, filled by benchmarks/realmodels/fetch.py
on the corpus branch): each model's eval.npz (first --samples samples) is simulated, and calib.npz calibrates the
_cal presets. Each model also gets a task metric against FP32 (the corpus has no labels): top-1 agreement, embedding
cosine, text-mask IoU, agreement of the top detection anchors, or greedy CTC string match. The last line is JSON:
per model the calibrated minus uncalibrated SQNR at each time (dB).
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
    "ppocr_cls_v2": 8, "oww_embedding": 16, "nudenet_320n": 2, "ppocr_det_v4": 2, "ddddocr_det": 2,
    "ppocr_rec_v4": 4, "ddddocr_ocr": 4}
STEPS = ("+dac", "+dac+adc", "+dac+adc+affine")
"""Calibration one step at a time (cumulative), before the full _cal preset adds drift compensation from one-hot
mean |W| reads: +dac per-layer DAC input ranges, +adc per-column ADC ranges, +affine per-column affine correction."""
PRESETS = ("ideal_adc8", "ideal_adc8+dac+adc", "rram", *(f"rram{s}" for s in STEPS), "rram_cal", "pcm",
           *(f"pcm{s}" for s in STEPS), "pcm_cal", "rram+per_group", "pcm+per_group", "rram_cal+per_group",
           "pcm_cal+per_group")
"""ideal_adc8: ideal devices, same converters (the periphery's share; +dac+adc with the converters calibrated);
+per_group: grouped convs one small tile per group instead of block-diagonal within a tile (only run on models
with grouped convs)."""
GROUPED = ("ppocr_cls_v2", "ppocr_det_v4")
ABLATED = ("ppocr_cls_v2", "oww_embedding")
"""The step-by-step calibration rows run on these two small models only (the run time of the rest)."""
TIMES = (1.0, 86400.0, 365.25 * 86400.0)


def _tasks() -> dict:
    """Return model -> (what its task metric is, metric(fp32_output, simulated_output)): the part of the output
    the application keeps, compared with FP32 (the corpus has no labels)."""
    from functools import partial

    from edgeq import metrics

    def class_scores(out):  # YOLOv8 head (N, 4 + classes, anchors): the best class score per anchor
        return np.max(np.asarray(out)[:, 4:, :], axis=1)

    return {
        "ppocr_cls_v2": ("top-1 agreement", metrics.top1_agreement),
        "oww_embedding": ("embedding cosine", metrics.cosine_similarity),
        "ppocr_det_v4": ("text-mask IoU (p > 0.3)", partial(metrics.mask_iou, threshold=0.3)),
        # the corpus images have no nudity: FP32 finds no anchor over 0.25, so this scores false detections
        "nudenet_320n": ("detections IoU (score > 0.25)", lambda a, b: metrics.mask_iou(
            class_scores(a), class_scores(b), 0.25)),
        "ddddocr_det": ("detections IoU (score > 0.5)", lambda a, b: metrics.mask_iou(
            np.asarray(a)[..., 4], np.asarray(b)[..., 4], 0.5)),
        "ppocr_rec_v4": ("CTC string match", metrics.ctc_exact_match),
        "ddddocr_ocr": ("CTC string match", lambda a, b: metrics.ctc_exact_match(
            np.swapaxes(a, 0, 1), np.swapaxes(b, 0, 1))),  # time-major (T, N, C)
    }


def run(models: list[str], repeats: int, seed: int, presets=PRESETS, on_model=None) -> dict:
    """Return the results dict for the models (those missing from the cache are listed as skipped); on_model(dict)
    is called with the results so far after each model (the caller saves them)."""
    from edgeq.simulators import simulate
    from edgeq.simulators.api import eval_runs, fp32_reference

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
        runs = eval_runs(proto, feeds)
        ref = fp32_reference(proto, runs)
        task_name, task = _tasks().get(name, (None, None))
        for preset in presets:
            if preset.endswith("+per_group") and name not in GROUPED:
                continue
            if preset.startswith(("rram+", "pcm+")) and preset.endswith(STEPS) and name not in ABLATED:
                continue
            t0 = time.perf_counter()
            res = simulate(proto, _config(preset), runs, None, TIMES, repeats, seed, reference=ref, calib=calib,
                           task_metric=task)
            row = {"model": name, "preset": preset, "samples": n, "repeats": repeats,
                   "sqnr_db": [s["sqnr_db_mean"] for s in res.summary()],
                   "sqnr_db_std": [s["sqnr_db_std"] for s in res.summary()],
                   "analog_nodes": len(res.nodes), "digital_nodes": len(res.digital_nodes),
                   "wall_s": round(time.perf_counter() - t0, 1)}
            if task is not None:
                row.update(task=task_name, task_mean=[s["task_mean"] for s in res.summary()])
            rows.append(row)
            task_text = " ".join(f"{v:5.2f}" for v in row.get("task_mean", []))
            print(f"{name:<14} {preset:<20} " + " ".join(f"{v:6.1f}" for v in row["sqnr_db"]) + f"  {task_text}"
                  f"  ({row['wall_s']} s)", flush=True)
        if on_model is not None:
            on_model({"times_s": list(TIMES), "presets": list(presets), "seed": seed, "rows": rows, "skipped": skipped})
    return {"times_s": list(TIMES), "presets": list(presets), "seed": seed, "rows": rows, "skipped": skipped}


def merge(old: dict, new: dict) -> dict:
    """Return old with new's rows replacing or adding (model, preset) pairs, ordered by model then PRESETS."""
    rows = {(r["model"], r["preset"]): r for r in old.get("rows", [])}
    rows.update({(r["model"], r["preset"]): r for r in new["rows"]})
    models = list(dict.fromkeys(r["model"] for r in [*old.get("rows", []), *new["rows"]]))
    ordered = [rows[(m, p)] for m in models for p in PRESETS if (m, p) in rows]
    return {**new, "presets": list(PRESETS), "rows": ordered}


def _config(preset: str):
    """Return the CrossbarConfig of a preset name with options: "+per_group" one small tile per conv group,
    "+dac" / "+adc" / "+affine" one calibration step each."""
    import dataclasses

    from edgeq.simulators import get_preset

    base, *options = preset.split("+")
    cfg = dataclasses.replace(get_preset(base), name=preset)
    steps = {"dac": "input_ranges", "adc": "adc_ranges", "affine": "affine"}
    for option in options:
        if option == "per_group":
            cfg = dataclasses.replace(cfg, tile=dataclasses.replace(cfg.tile, group_mapping="per_group"))
        else:
            cfg = dataclasses.replace(cfg, calibration=dataclasses.replace(cfg.calibration, **{steps[option]: True}))
    return cfg


def render(results: dict) -> str:
    """Return the markdown table of the results (what docs/crossbar.md shows between its corpus markers)."""
    lines = ["| model | preset | SQNR dB 1 s | 1 d | 1 y | task metric vs FP32 | 1 s / 1 d / 1 y |",
             "|---|---|---|---|---|---|---|"]
    for row in results["rows"]:
        sq = " | ".join(f"{m:.1f} +- {s:.1f}" for m, s in zip(row["sqnr_db"], row["sqnr_db_std"]))
        task = " / ".join(f"{v:.2f}" for v in row["task_mean"]) if "task_mean" in row else "-"
        lines.append(f"| {row['model']} ({row['samples']} samples) | {row['preset']} | {sq} | {row.get('task', '-')} "
                     f"| {task} |")
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
    import json

    old = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}

    def save(new: dict) -> dict:  # after every model, so an interrupted run keeps what it measured
        merged = merge(old, new)
        write_json(RESULTS, merged)
        return merged

    results = save(run([m for m in args.models.split(",") if m], args.repeats, args.seed, args.presets.split(","),
                       on_model=save))
    gains = {}
    for row in results["rows"]:
        if row["preset"].endswith("_cal") and any(r["preset"] == row["preset"][:-4] for r in results["rows"]):
            base = next(r for r in results["rows"] if r["model"] == row["model"] and r["preset"] == row["preset"][:-4])
            gains[f"{row['model']}:{row['preset']}"] = [round(read_json_number(a) - read_json_number(b), 2)
                                                        for a, b in zip(row["sqnr_db"], base["sqnr_db"])]
    print(dumps_json({"calibrated_minus_plain_db": gains, "skipped": results["skipped"]}, indent=None))


if __name__ == "__main__":
    main()
