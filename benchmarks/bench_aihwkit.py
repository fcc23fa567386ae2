"""IBM aihwkit side by side with edgeq's crossbar simulator: accuracy and output SQNR vs drift on the same models,
and one layer's speed against torch nn.Linear (issue 18 section 3). Optional: without aihwkit it says why and skips.

    /work/aihwkit-venv/bin/python benchmarks/bench_aihwkit.py [--repeats 20] [--parts accuracy,checks,speed]
    .venv/bin/python benchmarks/bench_aihwkit.py --render [accuracy|checks|speed]   # the tables of docs/crossbar.md

aihwkit 1.2.0 has wheels for Python 3.12 only; on 3.11 build it from its sdist against the pinned CPU torch (needs
libopenblas-dev; docs/crossbar.md gives the commands). It is never a dependency of edgeq.

Accuracy part: the digits MLP and CNN (examples/, 500 labelled images) and the corpus CNN oww_embedding (16 samples of
the real-model corpus, ~/.cache/edgeq/realmodels; no labels, so output SQNR vs FP32 only) at 1 s, 1 h, 1 d, 1 y
after programming, mean +- std over `--repeats` chips. Both simulators run the same ONNX graph through edgeq's
`OnnxCrossbarModel`: the same nodes go on tiles as the same (in, out) matrices (convolutions as im2col rows, which
is also how aihwkit's AnalogConv2d computes on CPU), and only the tile differs: edgeq's `ProgrammedArray`, or one
aihwkit `AnalogLinear` per matrix (programmed once per chip, `drift_analog_weights(t)` per time). Settings:
  defaults   each simulator's own PCM defaults: edgeq preset "pcm"; aihwkit InferenceRPUConfig() (PCMLikeNoiseModel,
             GlobalDriftCompensation, 7-bit DAC, 9-bit ADC, output noise 0.06, no weight remapping, 512x512 tiles).
  matched    the same periphery in both: 8-bit DAC and ADC (bound 12), no output noise, no per-MVM read noise, no
             bound management, per-column weight scaling to g_max, 512x512 tiles, and the same drift compensation:
             "noisy" = aihwkit GlobalDriftCompensation vs edgeq "mean_abs_noisy";
             "exact" = aihwkit GlobalDriftCompensationWithExactReference vs edgeq "mean_abs".
Checks part (what the docs' explanations rest on): the digits MLP, matched noisy, over 100 chips; which of aihwkit's
defaults cost the digits CNN its SQNR (output noise, no weight remapping); both drift compensations of both
simulators on one 512x512 layer (factor applied, least-squares best factor, weight SQNR).
Speed part: one 512x512 layer, batch 1024, one thread, median times over nn.Linear's, measured round-robin: edgeq
ideal_adc8 and pcm (read noise off / on), aihwkit defaults and with PCM read noise (w_noise_type PCM_READ).

Results go to benchmarks/results/bench_aihwkit.json; the last stdout line is JSON (with "skipped" and the reason
when aihwkit is absent). A full run takes about 10 minutes on one thread.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import time
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).parent / "results" / "bench_aihwkit.json"
EXAMPLES = Path(__file__).parents[1] / "examples"
CACHE = Path(os.environ.get("EDGEQ_REALMODELS", "~/.cache/edgeq/realmodels")).expanduser()
TIMES = {"1 s": 1.0, "1 h": 3600.0, "1 d": 86400.0, "1 y": 365.25 * 86400.0}
SETTINGS = ("defaults", "matched noisy", "matched exact")
CORPUS_MODEL, CORPUS_SAMPLES = "oww_embedding", 16


# ------------------------------------------------------------------------------------------------------ settings


def edgeq_config(setting: str):
    """Return edgeq's CrossbarConfig for a setting (module docstring)."""
    from edgeq.simulators import PCM_DEVICE, ReadNoise, TileConfig, get_preset

    cfg = get_preset("pcm")
    if setting == "defaults":
        return cfg
    return dataclasses.replace(
        cfg, name=f"pcm {setting}", device=dataclasses.replace(PCM_DEVICE, read=ReadNoise()),
        tile=TileConfig(rows=512, cols=512, weight_scale="column"),
        drift_compensation="mean_abs_noisy" if setting == "matched noisy" else "mean_abs")


def aihwkit_config(setting: str, read_noise: bool = False, out_noise: float | None = None, remap: bool = False):
    """Return aihwkit's InferenceRPUConfig for a setting (module docstring); the keywords change the defaults
    (PCM read noise on, another output noise, per-column weight remapping) for the checks."""
    from aihwkit.inference import PCMLikeNoiseModel
    from aihwkit.inference.compensation.drift import (GlobalDriftCompensation,
                                                      GlobalDriftCompensationWithExactReference)
    from aihwkit.simulator.configs import BoundManagementType, InferenceRPUConfig, WeightNoiseType

    rpu = InferenceRPUConfig()
    rpu.noise_model = PCMLikeNoiseModel(g_max=25.0)
    if read_noise:
        rpu.forward.w_noise_type = WeightNoiseType.PCM_READ
        rpu.forward.w_noise = 0.0175
    if out_noise is not None:
        rpu.forward.out_noise = out_noise
    if remap:
        rpu.mapping.weight_scaling_omega = 1.0
        rpu.mapping.weight_scaling_columnwise = True
    if setting == "defaults":
        return rpu
    rpu.forward.inp_res = 1 / (2**8 - 2)  # step 2 / 254 = 1 / 127 on [-1, 1]: edgeq's 8-bit DAC
    rpu.forward.out_res = 1 / (2**8 - 2)  # step 24 / 254 = 12 / 127: edgeq's 8-bit ADC with full scale 12
    rpu.forward.out_bound = 12.0
    rpu.forward.out_noise = 0.0
    rpu.forward.bound_management = BoundManagementType.NONE
    rpu.mapping.weight_scaling_omega = 1.0
    rpu.mapping.weight_scaling_columnwise = True
    rpu.mapping.max_input_size = rpu.mapping.max_output_size = 512
    rpu.drift_compensation = (GlobalDriftCompensation() if setting == "matched noisy"
                              else GlobalDriftCompensationWithExactReference())
    return rpu


# ------------------------------------------------------------------------------------------------ aihwkit tiles


class AihwkitArray:
    """One weight matrix (in, out) on an aihwkit AnalogLinear, with the `matmul` of edgeq's ProgrammedArray."""

    def __init__(self, weights: np.ndarray, rpu_config) -> None:
        import torch
        from aihwkit.nn import AnalogLinear

        self.layer = AnalogLinear(weights.shape[0], weights.shape[1], bias=False, rpu_config=rpu_config)
        self.layer.set_weights(torch.from_numpy(np.ascontiguousarray(weights.T, dtype=np.float32)))
        self.layer.eval()
        self.layer.program_analog_weights()  # one chip: programming noise and drift exponents drawn once
        self._t: float | None = None

    def matmul(self, x, t_seconds: float, rng=None) -> np.ndarray:
        import torch
        from edgeq.simulators.patches import Patches

        if isinstance(x, Patches):  # a convolution's input, which edgeq's own tiles gather without unrolling
            x = x.dense()
        if t_seconds != self._t:  # drifts from the programmed weights; one draw of accumulated noise per time
            self.layer.drift_analog_weights(t_seconds)
            self._t = t_seconds
        with torch.no_grad():
            return self.layer(torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))).numpy()


def aihwkit_model(proto, setting: str, **options):
    """Return an OnnxCrossbarModel whose tiles are aihwkit layers (float nodes and im2col stay edgeq's)."""
    from edgeq.simulators import TileConfig, get_preset
    from edgeq.simulators.onnx_sim import OnnxCrossbarModel

    class AihwkitCrossbarModel(OnnxCrossbarModel):
        def program(self, rng: np.random.Generator) -> None:
            import torch

            torch.manual_seed(int(rng.integers(0, 2**31)))
            self._arrays = {name: [AihwkitArray(b.matrix, aihwkit_config(setting, **options)) for b in m.blocks]
                            for name, m in self.maps.items()}

    layout = dataclasses.replace(get_preset("ideal"), tile=TileConfig(rows=512, cols=512))
    return AihwkitCrossbarModel(proto, layout)


# --------------------------------------------------------------------------------------------------- accuracy


def load_models() -> list[dict]:
    """Return the models with their feeds, labels (or None) and FP32 reference output; the corpus one if cached."""
    import onnx
    from edgeq.simulators.api import eval_runs
    from edgeq.simulators.onnx_sim import fp32_outputs

    models = []
    with np.load(EXAMPLES / "digits_eval.npz") as z:
        digits = {k: z[k] for k in z.files}
    for name in ("digits_mlp", "digits_cnn"):
        models.append({"name": name, "path": EXAMPLES / f"{name}.onnx", "data": {"image": digits["image"]},
                       "labels": digits["labels"]})
    corpus = CACHE / "models" / f"{CORPUS_MODEL}.onnx"
    data = CACHE / "data" / CORPUS_MODEL / "n16_seed0" / "eval.npz"
    if corpus.is_file() and data.is_file():
        with np.load(data) as z:
            models.append({"name": CORPUS_MODEL, "path": corpus,
                           "data": {k: z[k][:CORPUS_SAMPLES] for k in z.files}, "labels": None})
    for m in models:
        m["proto"] = onnx.load(str(m["path"]))
        (m["feeds"], _), = eval_runs(m["proto"], m["data"])  # each of these models takes the data in one run
        m["reference"] = fp32_outputs(m["proto"], m["feeds"])[0]
    return models


def run_chips(sim, model: dict, repeats: int, seed: int) -> tuple[np.ndarray, np.ndarray | None]:
    """Return (repeats, times) SQNR (dB) and accuracy (or None) of a crossbar model: each repeat a fresh chip."""
    from edgeq.metrics import sqnr_db, top1_accuracy

    sqnr = np.zeros((repeats, len(TIMES)))
    acc = None if model["labels"] is None else np.zeros((repeats, len(TIMES)))
    for r in range(repeats):
        sim.program(np.random.default_rng([seed, r]))
        for k, t in enumerate(TIMES.values()):
            out = sim.run(model["feeds"], t, np.random.default_rng([seed, r, k, 1]))[0]
            sqnr[r, k] = sqnr_db(model["reference"], out)
            if acc is not None:
                acc[r, k] = top1_accuracy(out, model["labels"])
    return sqnr, acc


def accuracy_part(repeats: int, seed: int) -> list[dict]:
    """Return one row per (model, setting, simulator) with mean and std over chips at each time."""
    from edgeq.metrics import top1_accuracy
    from edgeq.simulators.onnx_sim import OnnxCrossbarModel

    rows = []
    for model in load_models():
        fp32_acc = None if model["labels"] is None else top1_accuracy(model["reference"], model["labels"])
        for setting in SETTINGS:
            for simulator in ("edgeq", "aihwkit"):
                t0 = time.perf_counter()
                sim = (OnnxCrossbarModel(model["proto"], edgeq_config(setting)) if simulator == "edgeq"
                       else aihwkit_model(model["proto"], setting))
                sqnr, acc = run_chips(sim, model, repeats, seed)
                row = {"model": model["name"], "setting": setting, "simulator": simulator, "repeats": repeats,
                       "samples": len(next(iter(model["feeds"].values()))), "fp32_accuracy": fp32_acc,
                       "analog_nodes": len(sim.maps), "sqnr_db": sqnr.mean(0).tolist(),
                       "sqnr_db_std": sqnr.std(0).tolist(), "wall_s": round(time.perf_counter() - t0, 1)}
                if acc is not None:
                    row.update(accuracy=acc.mean(0).tolist(), accuracy_std=acc.std(0).tolist())
                rows.append(row)
                print(f"{model['name']:<14} {setting:<14} {simulator:<8} SQNR "
                      + " ".join(f"{v:6.2f}" for v in row["sqnr_db"])
                      + ("" if acc is None else "  acc " + " ".join(f"{100 * v:6.2f}" for v in row["accuracy"]))
                      + f"  ({row['wall_s']} s)", flush=True)
    return rows


# ----------------------------------------------------------------------------------------------------- checks


def _mean_se(values: np.ndarray) -> tuple[list[float], list[float]]:
    """Return the mean over axis 0 and its standard error."""
    return values.mean(0).tolist(), (values.std(0) / np.sqrt(len(values))).tolist()


def checks_part(seed: int, chips: int = 100) -> dict:
    """Return the checks behind the docs' explanations: (1) the digits MLP, matched noisy, over many chips; (2) which
    of aihwkit's defaults cost the digits CNN its SQNR; (3) both drift compensations on one 512x512 layer."""
    from edgeq.simulators import program
    from edgeq.simulators.onnx_sim import OnnxCrossbarModel

    import torch

    models = load_models()
    mlp, cnn = models[0], models[1]
    many = {}
    for simulator in ("edgeq", "aihwkit"):
        sim = (OnnxCrossbarModel(mlp["proto"], edgeq_config("matched noisy")) if simulator == "edgeq"
               else aihwkit_model(mlp["proto"], "matched noisy"))
        sqnr, acc = run_chips(sim, mlp, chips, seed + 1)
        (sm, sse), (am, ase) = _mean_se(sqnr), _mean_se(acc)
        many[simulator] = {"sqnr_db": sm, "sqnr_db_se": sse, "accuracy": am, "accuracy_se": ase}
        print(f"digits_mlp matched noisy, {chips} chips, {simulator}: SQNR " + " ".join(f"{v:.2f}" for v in sm),
              flush=True)
    ablation = []
    for out_noise, remap in ((None, False), (0.0, False), (None, True), (0.0, True)):
        sqnr, acc = run_chips(aihwkit_model(cnn["proto"], "defaults", out_noise=out_noise, remap=remap), cnn, 10, seed)
        ablation.append({"out_noise": 0.06 if out_noise is None else out_noise, "columnwise_remap": remap,
                         "sqnr_db": sqnr.mean(0).tolist(), "accuracy": acc.mean(0).tolist()})
        print(f"digits_cnn aihwkit defaults, out_noise {ablation[-1]['out_noise']}, remap {remap}: SQNR "
              + " ".join(f"{v:.1f}" for v in ablation[-1]["sqnr_db"]), flush=True)
    rng = np.random.default_rng(seed)
    w = (rng.standard_normal((512, 512)) / np.sqrt(512)).astype(np.float32)
    w_max = np.abs(w).max(0)
    target = w / w_max
    layer: dict = {}
    for r in range(10):
        torch.manual_seed(1000 + r)
        for setting in ("matched noisy", "matched exact"):
            aihw = AihwkitArray(w, aihwkit_config(setting))
            tile = next(aihw.layer.analog_tiles())
            arr = program(w, edgeq_config(setting), np.random.default_rng([seed, 1000 + r]))
            for t in TIMES.values():
                aihw.layer.drift_analog_weights(t)
                st = arr.state_at(t)
                for simulator, wt, alpha in (("aihwkit", tile.tile.get_weights().numpy().T, float(tile.alpha)),
                                             ("edgeq", st.weights, float(np.mean(st.col_scale[0] / w_max)))):
                    best = float((wt * target).sum() / (wt * wt).sum())  # least-squares scale onto the targets
                    err = lambda a, wt=wt: 10 * np.log10((target**2).sum() / ((a * wt - target) ** 2).sum())
                    layer.setdefault(f"{simulator} {setting}", []).append(
                        [alpha, best, err(alpha), err(best), float(np.abs(wt).mean())])
    fields = ("alpha", "best_scale", "weight_sqnr_db", "weight_sqnr_best_db", "mean_abs_w")
    layer_out = {"target_mean_abs_w": float(np.abs(target).mean()), "chips": 10}
    for key, v in layer.items():
        arr_v = np.array(v).reshape(10, len(TIMES), len(fields)).mean(0)
        layer_out[key] = {f: arr_v[:, i].tolist() for i, f in enumerate(fields)}
        print(f"512x512 layer {key}: alpha " + " ".join(f"{a:.4f}" for a in layer_out[key]["alpha"])
              + " weight SQNR " + " ".join(f"{a:.2f}" for a in layer_out[key]["weight_sqnr_db"]), flush=True)
    return {"mlp_many_chips": {"chips": chips, **many}, "cnn_aihwkit_defaults_ablation": ablation,
            "layer_512_compensation": layer_out}


# ------------------------------------------------------------------------------------------------------ speed


def _median_times(funcs: dict, repeats: int) -> dict[str, float]:
    """Return the median seconds of each function, timed round-robin so machine load hits all alike."""
    for f in funcs.values():
        f()
    times: dict[str, list[float]] = {k: [] for k in funcs}
    for _ in range(repeats):
        for k, f in funcs.items():
            t0 = time.perf_counter()
            f()
            times[k].append(time.perf_counter() - t0)
    return {k: float(np.median(v)) for k, v in times.items()}


def speed_part(batch: int, repeats: int, runs: int) -> dict:
    """Return median seconds and ratios over nn.Linear of one 512x512 layer read one day after programming, per
    run (each run times every variant round-robin) and their median over runs."""
    import torch
    from edgeq.simulators import get_preset, program

    rng = np.random.default_rng(0)
    w = (rng.standard_normal((512, 512)) / np.sqrt(512)).astype(np.float32)
    x = rng.uniform(-1, 1, (batch, 512)).astype(np.float32)
    xt = torch.from_numpy(x)
    linear = torch.nn.Linear(512, 512, bias=False)
    with torch.no_grad():
        linear.weight.copy_(torch.from_numpy(w.T.copy()))
    torch.manual_seed(0)
    aihw = {"aihwkit_default": AihwkitArray(w, aihwkit_config("defaults")),
            "aihwkit_pcm_read_noise": AihwkitArray(w, aihwkit_config("defaults", read_noise=True))}
    edgeq = {"edgeq_ideal_adc8": program(w, get_preset("ideal_adc8"), rng),
             "edgeq_pcm": program(w, get_preset("pcm"), rng)}
    read_rng = np.random.default_rng(1)
    funcs = {"nn_linear": lambda: linear(xt)}
    funcs.update({k: (lambda a=a: a.matmul(x, 86400.0, read_rng)) for k, a in {**edgeq, **aihw}.items()})
    per_run = []
    for _ in range(runs):
        with torch.no_grad():
            med = _median_times(funcs, repeats)
        per_run.append({"seconds": med, "vs_linear": {k: v / med["nn_linear"] for k, v in med.items()},
                        "load": round(os.getloadavg()[0], 1)})
        print("speed run: " + " ".join(f"{k} {v:.2f}" for k, v in per_run[-1]["vs_linear"].items()), flush=True)
    keys = list(funcs)
    return {"batch": batch, "repeats": repeats, "runs": runs, "loads": [r["load"] for r in per_run],
            "seconds": {k: round(float(np.median([r["seconds"][k] for r in per_run])), 5) for k in keys},
            "vs_linear": {k: round(float(np.median([r["vs_linear"][k] for r in per_run])), 2) for k in keys[1:]},
            "vs_linear_range": {k: [round(min(r["vs_linear"][k] for r in per_run), 2),
                                    round(max(r["vs_linear"][k] for r in per_run), 2)] for k in keys[1:]}}


# ----------------------------------------------------------------------------------------------------- render


def _pm(mean: float, std: float, scale: float = 1.0, digits: int = 1) -> str:
    return f"{scale * mean:.{digits}f} +- {scale * std:.{digits}f}"


def render(results: dict, part: str = "all") -> str:
    """Return the markdown tables of the results (what docs/crossbar.md shows between its aihwkit markers):
    part "accuracy", "checks", "speed" or "all"."""
    heads = " | ".join(results["times"])
    rule = "|---|---|---|" + "---|" * len(results["times"])
    out: list[str] = []
    if part in ("accuracy", "all") and "accuracy" in results:
        out += [f"| model | setting | simulator | accuracy % {heads} |", rule]
        for row in results["accuracy"]:
            if "accuracy" in row:
                cells = " | ".join(_pm(m, s, 100.0, 2) for m, s in zip(row["accuracy"], row["accuracy_std"]))
                out.append(f"| {row['model']} (FP32 {100 * row['fp32_accuracy']:.1f}%) | {row['setting']} | "
                           f"{row['simulator']} | {cells} |")
        out += ["", f"| model | setting | simulator | SQNR dB {heads} |", rule]
        for row in results["accuracy"]:
            cells = " | ".join(_pm(m, s) for m, s in zip(row["sqnr_db"], row["sqnr_db_std"]))
            out.append(f"| {row['model']} ({row['samples']} samples) | {row['setting']} | {row['simulator']} | "
                       f"{cells} |")
    if part in ("checks", "all") and "checks" in results:
        ch = results["checks"]
        many = ch["mlp_many_chips"]
        out += ["", f"| digits_mlp, matched noisy, {many['chips']} chips (mean +- s.e.) | {heads} |",
                "|---|" + "---|" * len(results["times"])]
        for simulator in ("edgeq", "aihwkit"):
            m = many[simulator]
            out.append(f"| {simulator} SQNR dB | " + " | ".join(_pm(a, b, 1.0, 2) for a, b in
                                                                 zip(m["sqnr_db"], m["sqnr_db_se"])) + " |")
            out.append(f"| {simulator} accuracy % | " + " | ".join(_pm(a, b, 100.0, 2) for a, b in
                                                                   zip(m["accuracy"], m["accuracy_se"])) + " |")
        out += ["", f"| digits_cnn, aihwkit defaults but (10 chips) | SQNR dB {heads} |",
                "|---|" + "---|" * len(results["times"])]
        for row in ch["cnn_aihwkit_defaults_ablation"]:
            label = f"output noise {row['out_noise']:g}, " + ("per-column weight remapping" if row["columnwise_remap"]
                                                             else "no weight remapping (default)")
            out.append(f"| {label} | " + " | ".join(f"{v:.1f}" for v in row["sqnr_db"]) + " |")
        lay = ch["layer_512_compensation"]
        out += ["", f"| one 512x512 layer, matched, {lay['chips']} chips | compensation factor {heads} | "
                f"weight SQNR dB {heads} |", "|---|" + "---|" * (2 * len(results["times"]))]
        for key in ("edgeq matched noisy", "aihwkit matched noisy", "edgeq matched exact", "aihwkit matched exact"):
            v = lay[key]
            out.append(f"| {key} | " + " | ".join(f"{a:.3f}" for a in v["alpha"]) + " | "
                       + " | ".join(f"{a:.2f}" for a in v["weight_sqnr_db"]) + " |")
        v = lay["aihwkit matched noisy"]
        out.append("| least-squares best factor (aihwkit weights) | " + " | ".join(f"{a:.3f}" for a in v["best_scale"])
                   + " | " + " | ".join(f"{a:.2f}" for a in v["weight_sqnr_best_db"]) + " |")
    if part in ("speed", "all") and "speed" in results:
        sp = results["speed"]
        out += ["", f"| 512x512 layer, batch 1024, 1 thread ({sp.get('runs', 1)} runs, load "
                f"{min(sp.get('loads', [0])):.1f}-{max(sp.get('loads', [0])):.1f}) | read noise | ms per MVM | "
                "x nn.Linear (median, range over runs) |",
                "|---|---|---|---|", f"| torch nn.Linear | - | {1e3 * sp['seconds']['nn_linear']:.2f} | 1 |"]
        labels = {"edgeq_ideal_adc8": ("edgeq ideal_adc8 (256x256 tiles)", "off"),
                  "edgeq_pcm": ("edgeq pcm (256x256 tiles)", "on (1/f, per device)"),
                  "aihwkit_default": ("aihwkit InferenceRPUConfig defaults", "off"),
                  "aihwkit_pcm_read_noise": ("aihwkit defaults + PCM_READ w_noise 0.0175", "on")}
        for key, (label, noise) in labels.items():
            lo, hi = sp.get("vs_linear_range", {}).get(key, [sp["vs_linear"][key]] * 2)
            out.append(f"| {label} | {noise} | {1e3 * sp['seconds'][key]:.2f} | {sp['vs_linear'][key]:.2f} "
                       f"({lo:.2f}-{hi:.2f}) |")
    return "\n".join(out).strip()


def summary(results: dict) -> dict:
    """Return the key deltas (aihwkit minus edgeq, per model and setting) and speed ratios for the last line."""
    by = {(r["model"], r["setting"], r["simulator"]): r for r in results.get("accuracy", [])}
    deltas = {}
    for (model, setting, simulator), row in by.items():
        other = by.get((model, setting, "edgeq"))
        if simulator != "aihwkit" or other is None:
            continue
        key = f"{model}:{setting}"
        deltas[key] = {"sqnr_db": [round(a - b, 2) for a, b in zip(row["sqnr_db"], other["sqnr_db"])]}
        if "accuracy" in row:
            deltas[key]["accuracy_pp"] = [round(100 * (a - b), 2) for a, b in zip(row["accuracy"], other["accuracy"])]
    out = {"bench": "aihwkit", "skipped": False, "aihwkit_minus_edgeq": deltas}
    if "speed" in results:
        out["vs_linear"] = results["speed"]["vs_linear"]
    return out


def _cpu_model() -> str:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.machine()
    names = [line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith("model name")]
    return names[0] if names else platform.machine()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20, help="chips per (model, setting, simulator)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--speed-repeats", type=int, default=21)
    parser.add_argument("--batch", type=int, default=1024)
    parser.add_argument("--speed-runs", type=int, default=3, help="speed runs; the table gives median and range")
    parser.add_argument("--parts", default="accuracy,checks,speed", help="run these; other parts' results are kept")
    parser.add_argument("--render", nargs="?", const="all", choices=("all", "accuracy", "checks", "speed"),
                        help="print the docs tables of the committed results (all, or one part)")
    args = parser.parse_args(argv)
    if args.render:
        print(render(json.loads(RESULTS.read_text()), args.render))
        return 0
    try:
        import aihwkit
    except ImportError as err:
        print(json.dumps({"bench": "aihwkit", "skipped": True,
                          "reason": f"aihwkit is not installed ({err}); it has wheels for Python 3.12 only, build it "
                                    "from its sdist on 3.11 (see the module docstring)"}))
        return 0
    import numba
    import torch
    from edgeq.io import write_json
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(args.threads)
    numba.set_num_threads(min(args.threads, numba.config.NUMBA_NUM_THREADS))
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    results.update({"times": list(TIMES), "times_s": list(TIMES.values()), "threads": args.threads,
                    "machine": f"{_cpu_model()}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f} at start",
                    "versions": {"aihwkit": aihwkit.__version__, "torch": torch.__version__,
                                 "python": platform.python_version()}})
    parts = args.parts.split(",")
    with threadpool_limits(args.threads):
        if "accuracy" in parts:
            results["accuracy"] = accuracy_part(args.repeats, args.seed)
        if "checks" in parts:
            results["checks"] = checks_part(args.seed)
        if "speed" in parts:
            results["speed"] = speed_part(args.batch, args.speed_repeats, args.speed_runs)
    results["load_after"] = round(os.getloadavg()[0], 1)
    write_json(RESULTS, results)
    print(json.dumps(summary(results)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
