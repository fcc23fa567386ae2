"""Ramp NL-ADC LSTMs on keyword spotting and a character LM: FP vs NL-ADC 3/4/5/8 bits (ideal and noisy) vs a
linear ADC + digital activation at the same bits, and after hardware-aware training (HWA). Writes results.json,
results.md (tables) and results.png to --out.

    .venv/bin/python benchmarks/ramp_lstm_experiments.py --out runs/ramp_lstm [--quick]

Every number comes from the seeds below; one thread by default (the machine is shared).
"""

from __future__ import annotations

import argparse
import copy
import json
import time
from dataclasses import replace
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numba
import numpy as np
import torch
from edgeq.examples.rnn_tasks import CharLSTM, KwsLSTM, load_charlm, load_kws
from edgeq.simulators.analog_rnn import AnalogLSTM, AnalogRNNConfig
from edgeq.simulators.ramp_adc import get_preset
from tqdm import tqdm

from edgeq.io import atomic_write_bytes, atomic_write_text

BITS = (3, 4, 5, 8)
CROSSBAR = "rram"  # gate MVMs of the noisy rows: the crossbar simulator's RRAM tiles (Wan et al. 2022 statistics)
NOISE_SEEDS = (0, 1, 2)
HWA_LR = 3e-4  # fine-tuning from the FP weights: a fresh Adam at the training rate undoes more than it learns


def noisy_config(kind: str, bits: int, ramp_preset: str = "chip") -> AnalogRNNConfig:
    """Return the device-noise config: RRAM gate tiles, and the ramp preset (default 'chip': RRAM ramp devices)."""
    return AnalogRNNConfig.uniform(kind, bits, adc=get_preset(ramp_preset, bits=bits), crossbar=CROSSBAR)


def configs(ramp_preset: str = "chip") -> list[tuple[str, str, int | None, bool, AnalogRNNConfig]]:
    """Return (row name, kind, bits, noisy, config) for every evaluated hardware variant."""
    rows = [("FP (digital)", "fp", None, False, AnalogRNNConfig())]
    for kind, label in (("ramp", "NL-ADC"), ("linear", "linear ADC + LUT")):
        for bits in BITS:
            rows.append((f"{label} {bits}b", kind, bits, False, AnalogRNNConfig.uniform(kind, bits)))
            rows.append((f"{label} {bits}b + noise", kind, bits, True, noisy_config(kind, bits, ramp_preset)))
    return rows


def analog_copy(model: torch.nn.Module, cfg: AnalogRNNConfig, seed: int) -> torch.nn.Module:
    """Return a copy of model whose LSTM runs on analog tiles with config cfg (chip instance `seed`)."""
    clone = copy.deepcopy(model)
    clone.rnn = AnalogLSTM.from_torch(model.rnn, replace(cfg, seed=seed))
    return clone


# ---------------------------------------------------------------- keyword spotting
def train_kws(data, epochs: int, seed: int) -> KwsLSTM:
    """Return a KWS LSTM trained in floating point."""
    torch.manual_seed(seed)
    model = KwsLSTM()
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    x, y = torch.from_numpy(data.x_train), torch.from_numpy(data.y_train)
    gen = torch.Generator().manual_seed(seed)
    for _ in tqdm(range(epochs), desc="KWS FP training", leave=False):
        for idx in torch.randperm(len(x), generator=gen).split(64):
            loss = torch.nn.functional.cross_entropy(model(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    return model


def kws_accuracy(model: torch.nn.Module, data) -> float:
    """Return test accuracy (%)."""
    with torch.no_grad():
        logits = model(torch.from_numpy(data.x_test))
    return 100.0 * float((logits.argmax(1).numpy() == data.y_test).mean())


def hwa_kws(model: KwsLSTM, data, cfg: AnalogRNNConfig, epochs: int, seed: int) -> torch.nn.Module:
    """Return a copy fine-tuned with the analog LSTM in the loop (quantised, noisy forward; STE backward)."""
    torch.manual_seed(seed)
    hw = analog_copy(model, cfg, seed)
    opt = torch.optim.Adam(hw.parameters(), lr=HWA_LR)
    x, y = torch.from_numpy(data.x_train), torch.from_numpy(data.y_train)
    gen = torch.Generator().manual_seed(seed)
    step = 0
    for _ in tqdm(range(epochs), desc="KWS HWA training", leave=False):
        for idx in torch.randperm(len(x), generator=gen).split(64):
            hw.rnn.reprogram(1000 + step)  # a new chip instance per batch: learn the error distribution
            step += 1
            loss = torch.nn.functional.cross_entropy(hw(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    return hw


# ---------------------------------------------------------------- character LM
def lm_batches(codes: np.ndarray, batch: int, seq: int, rng: np.random.Generator):
    """Yield (inputs, targets) [batch, seq] windows at random offsets."""
    while True:
        starts = rng.integers(0, codes.size - seq - 1, batch)
        win = np.stack([codes[s : s + seq + 1] for s in starts]).astype(np.int64)
        yield torch.from_numpy(win[:, :-1]), torch.from_numpy(win[:, 1:])


def train_lm(
    model: torch.nn.Module, params, train: np.ndarray, steps: int, seed: int, lr: float, desc: str, seq: int = 64
) -> None:
    """Train model in place for `steps` Adam steps of truncated BPTT on random windows (new chip per step if HWA)."""
    torch.manual_seed(seed)
    opt = torch.optim.Adam(params, lr=lr)
    batches = lm_batches(train, 32, seq, np.random.default_rng(seed))
    for step in tqdm(range(steps), desc=desc, leave=False):
        if isinstance(model.rnn, AnalogLSTM):
            model.rnn.reprogram(1000 + step)
        inp, tgt = next(batches)
        logits, _ = model(inp)
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), tgt.reshape(-1))
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()


def bits_per_char(model: torch.nn.Module, codes: np.ndarray, streams: int = 128) -> float:
    """Return bits per character on codes, read as `streams` parallel contiguous streams."""
    n = (codes.size - 1) // streams
    x = torch.from_numpy(codes[: streams * n].reshape(streams, n).astype(np.int64))
    y = torch.from_numpy(codes[1 : streams * n + 1].reshape(streams, n).astype(np.int64))
    with torch.no_grad():
        logits, _ = model(x)
        nll = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
    return float(nll) / np.log(2.0)


def hwa_lm(model: CharLSTM, train: np.ndarray, cfg: AnalogRNNConfig, steps: int, seed: int) -> torch.nn.Module:
    """Return a copy fine-tuned with the analog LSTM in the loop."""
    hw = analog_copy(model, cfg, seed)
    # windows of 32: every step of the analog LSTM is a tile read, so HWA steps cost far more than FP ones
    train_lm(hw, list(hw.parameters()), train, steps, seed, HWA_LR, "LM HWA training", seq=32)
    return hw


# ---------------------------------------------------------------- evaluation, cost, report
def evaluate(metric, model: torch.nn.Module, hwa: dict[int, torch.nn.Module], ramp_preset: str = "chip") -> list[dict]:
    """Return one result row per hardware variant: metric mean (and std over chip instances when noisy)."""
    rows = []
    for name, kind, bits, noisy, cfg in tqdm(configs(ramp_preset), desc="evaluating", leave=False):
        seeds = NOISE_SEEDS if noisy else (0,)
        vals = [metric(model if kind == "fp" else analog_copy(model, cfg, s)) for s in seeds]
        rows.append({"row": name, "kind": kind, "bits": bits, "noisy": noisy, "mean": float(np.mean(vals)),
                     "std": float(np.std(vals)), "n": len(vals)})
    for bits, hw in hwa.items():
        for noisy in (False, True):
            cfg = noisy_config("ramp", bits, ramp_preset) if noisy else AnalogRNNConfig.uniform("ramp", bits)
            seeds = [100 + s for s in NOISE_SEEDS] if noisy else (0,)  # chip instances unseen in training
            vals = [metric(analog_copy(hw, cfg, s)) for s in seeds]
            rows.append({"row": f"HWA NL-ADC {bits}b" + (" + noise" if noisy else ""), "kind": "hwa", "bits": bits,
                         "noisy": noisy, "mean": float(np.mean(vals)), "std": float(np.std(vals)), "n": len(vals)})
    return rows


def step_cost(hidden: int) -> list[dict]:
    """Return energy (pJ) and latency (cycles at 1 GHz) of the 5H activations of one LSTM step per readout scheme."""
    from edgeq.hw_models.analog import activation_readout_cost

    out = []
    for bits in BITS:
        for scheme in ("nl_ramp", "ramp_lut", "sar_lut"):
            c = activation_readout_cost(bits, scheme)
            out.append({"bits": bits, "scheme": scheme, "energy_pj_per_step": 5 * hidden * c.total_pj,
                        "cycles_per_step": c.cycles})
    return out


def markdown(kws: list[dict], lm: list[dict], cost: list[dict], meta: dict) -> str:
    """Return the results as markdown tables."""
    lines = ["# Ramp NL-ADC LSTMs: measured results", "", f"Settings: `{json.dumps(meta)}`", "",
             "| variant | KWS accuracy (%) | LM bits/char |", "|---|---|---|"]
    lm_by = {r["row"]: r for r in lm}
    for r in kws:
        m = lm_by.get(r["row"])
        fmt = lambda d, p: f"{d['mean']:.{p}f}" + (f" ± {d['std']:.{p}f}" if d["n"] > 1 else "")
        lines.append(f"| {r['row']} | {fmt(r, 1)} | {fmt(m, 3) if m else '-'} |")
    lines += ["", ("Noisy rows: mean ± std over chip instances (programming draws) "
              f"{list(NOISE_SEEDS)}; noise = gate MVMs on the crossbar simulator's '{CROSSBAR}' tiles (programming and "
              "read noise, 8-bit DAC; the column ADC is the ramp / linear ADC) + ramp preset 'chip' (RRAM ramp "
              "memristors with programming and read noise, 5 calibration devices, comparator offset and noise). "
              "A linear ADC has no ramp memristors: only its comparator errors apply. HWA: fine-tuned with the noisy "
              "NL-ADC LSTM in the loop, a new chip instance per batch; evaluated on chips not seen in training."), "",
              "## Activation readout cost per LSTM step (5 x hidden activations, `edgeq.hw_models`)", "",
              "| bits | scheme | energy (pJ/step) | latency (cycles) |", "|---|---|---|---|"]
    for c in cost:
        lines.append(f"| {c['bits']} | {c['scheme']} | {c['energy_pj_per_step']:.1f} | {c['cycles_per_step']} |")
    return "\n".join(lines) + "\n"


def plot(kws: list[dict], lm: list[dict], path: Path) -> None:
    """Write a two-panel PNG: KWS accuracy and LM bits/char vs ADC bits per variant."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for ax, rows, ylabel in ((axes[0], kws, "KWS test accuracy (%)"), (axes[1], lm, "LM test bits/char")):
        fp = next(r["mean"] for r in rows if r["kind"] == "fp")
        ax.axhline(fp, color="k", ls="--", label="FP")
        for kind, noisy, style in (("ramp", False, "o-"), ("ramp", True, "o:"), ("linear", False, "s-"),
                                   ("linear", True, "s:"), ("hwa", True, "^-")):
            sel = [r for r in rows if r["kind"] == kind and r["noisy"] == noisy]
            if sel:
                label = {"ramp": "NL-ADC", "linear": "linear ADC + LUT", "hwa": "HWA NL-ADC"}[kind]
                ax.errorbar([r["bits"] for r in sel], [r["mean"] for r in sel], [r["std"] for r in sel], fmt=style,
                            capsize=3, label=label + (" + noise" if noisy else ""))
        ax.set_xlabel("ADC bits")
        ax.set_ylabel(ylabel)
        ax.set_xticks(BITS)
        ax.grid(alpha=0.3)
    axes[1].set_yscale("log")
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, metadata={"Software": None})
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())


def main() -> None:
    """Run both tasks and write the report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="runs/ramp_lstm")
    parser.add_argument("--quick", action="store_true", help="tiny training budget (smoke run)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--ramp-preset", default="chip", help="ramp-ADC preset of the noisy rows (e.g. chip_verified)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    numba.set_num_threads(args.threads)  # the crossbar kernels are parallel; extra threads only add launch overhead
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    meta = {"kws_epochs": 2 if args.quick else 40, "kws_hwa_epochs": 1 if args.quick else 3,
            "lm_steps": 20 if args.quick else 3000, "lm_hwa_steps": 5 if args.quick else 100, "seed": args.seed,
            "hwa_bits": [3, 5], "ramp_preset": args.ramp_preset}
    t0 = time.perf_counter()
    kws_data = load_kws()
    if args.quick:  # a smoke run: a slice of each split
        kws_data = replace(kws_data, x_train=kws_data.x_train[::8], y_train=kws_data.y_train[::8],
                           x_test=kws_data.x_test[::6], y_test=kws_data.y_test[::6])
    kws_model = train_kws(kws_data, meta["kws_epochs"], args.seed)
    kws_hwa = {b: hwa_kws(kws_model, kws_data, noisy_config("ramp", b, args.ramp_preset), meta["kws_hwa_epochs"],
                          args.seed)
               for b in meta["hwa_bits"]}
    kws_rows = evaluate(lambda m: kws_accuracy(m, kws_data), kws_model, kws_hwa, args.ramp_preset)
    print(f"KWS done in {time.perf_counter() - t0:.0f} s; FP {kws_rows[0]['mean']:.1f}%")
    lm_data = load_charlm()
    torch.manual_seed(args.seed)
    lm_model = CharLSTM(len(lm_data["vocab"]))
    train_lm(lm_model, list(lm_model.parameters()), lm_data["train"], meta["lm_steps"], args.seed, 3e-3, "LM FP training")
    lm_hwa = {b: hwa_lm(lm_model, lm_data["train"], noisy_config("ramp", b, args.ramp_preset), meta["lm_hwa_steps"],
                        args.seed)
              for b in meta["hwa_bits"]}
    test = lm_data["test"] if not args.quick else lm_data["test"][:2000]
    lm_rows = evaluate(lambda m: bits_per_char(m, test), lm_model, lm_hwa, args.ramp_preset)
    print(f"LM done in {time.perf_counter() - t0:.0f} s; FP {lm_rows[0]['mean']:.3f} bits/char")
    cost = step_cost(kws_model.rnn.hidden_size)
    atomic_write_text(out / "results.json", json.dumps({"meta": meta, "kws": kws_rows, "lm": lm_rows, "cost": cost},
                                                       indent=1))
    text = markdown(kws_rows, lm_rows, cost, meta)
    atomic_write_text(out / "results.md", text)
    plot(kws_rows, lm_rows, out / "results.png")
    print(text)
    print(f"total {time.perf_counter() - t0:.0f} s (not written to the files, so a seed gives the same files)")


if __name__ == "__main__":
    main()
