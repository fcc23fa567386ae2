"""Human-readable views of cost results: table rows for the terminal, a one-line summary other commands can print,
and a per-layer energy plot (PNG)."""

from __future__ import annotations

from pathlib import Path

from edgeq.io import atomic_write_bytes

from .analog import MacroConfig, macro_throughput_tops, macro_tops_per_w, tile_area_um2, tile_read
from .mac import MacCost, fig3_table
from .network import NetworkCost, network_cost
from .scaling import DEFAULT_TECH


def mac_rows(cost: MacCost) -> list[tuple[str, str]]:
    """Return (block, gates) rows of a MAC, biggest first, then the totals."""
    rows = [(name, f"{gates:.0f}") for name, gates in sorted(cost.blocks, key=lambda b: -b[1])]
    rows.append(("total gates", f"{cost.gates:.0f}"))
    return rows


def fig3_rows() -> list[tuple[str, str, str, str]]:
    """Return (MAC, ours, paper, error %) rows reproducing van Baalen et al. Fig. 3."""
    return [(r["mac"], f"{r['ours_gates']:.0f}", f"{r['paper_gates']:.0f}", f"{100 * r['error']:+.1f}%")
            for r in fig3_table()]


def layer_rows(cost: NetworkCost) -> list[tuple[str, ...]]:
    """Return one row per layer with MACs (matrix layers only): name, op, precision, MACs, energy, latency, area."""
    rows = []
    for layer in cost.layers:
        if not layer.macs:
            continue
        rows.append((layer.name, layer.op, layer.precision, f"{layer.macs:,}", f"{layer.total_pj / 1e3:.3f}",
                     f"{layer.latency_ns:.0f}", f"{layer.area_um2 / 1e6:.4f}" if layer.area_um2 else "shared",
                     ", ".join(f"{k} {v / layer.total_pj:.0%}" for k, v in layer.energy_pj.items() if v > 0)))
    other = sum(layer.total_pj for layer in cost.layers if not layer.macs)
    if other:
        rows.append(("(other ops)", "-", "-", "0", f"{other / 1e3:.3f}",
                     f"{sum(la.latency_ns for la in cost.layers if not la.macs):.0f}", "-", "elementwise"))
    return rows


def tile_summary(cfg: MacroConfig) -> dict:
    """Return one tile's read energy by part (pJ), cycles, TOPS/W, peak TOPS and area by part (um^2)."""
    read = tile_read(cfg)
    return {"tile": cfg.__dict__, "read_energy_pj": read.total_pj, "read_energy_breakdown_pj": dict(read.energy_pj),
            "read_cycles": read.cycles, "tops_per_w": macro_tops_per_w(cfg), "peak_tops": macro_throughput_tops(cfg),
            "area_um2": sum(tile_area_um2(cfg).values()), "area_breakdown_um2": tile_area_um2(cfg)}


def cost_summary(model_or_path, plan, target: str = "digital", tech: str = DEFAULT_TECH, hw=None,
                 feeds: dict | None = None) -> dict:
    """Return energy per inference (uJ), TOPS/W and the ratios to FP32 and INT8 digital, plus a one-line summary."""
    cost = network_cost(model_or_path, plan, target=target, tech=tech, hw=hw, feeds=feeds)
    fp32 = network_cost(model_or_path, "fp32", target="digital", tech=tech, feeds=feeds)
    int8 = network_cost(model_or_path, "int8", target="digital", tech=tech, feeds=feeds)
    summary = {
        "target": target,
        "tech": tech,
        "energy_uj": cost.energy_uj,
        "tops_per_w": cost.tops_per_w,
        "vs_fp32": cost.energy_pj / fp32.energy_pj,
        "vs_int8": cost.energy_pj / int8.energy_pj,
        "notes": list(cost.notes),
    }
    summary["line"] = (
        f"cost ({target}, {tech}): {summary['energy_uj']:.4g} uJ/inference, {summary['tops_per_w']:.3g} TOPS/W; "
        f"{summary['vs_fp32']:.3g}x FP32, {summary['vs_int8']:.3g}x INT8"
    )
    return summary


def summary_line(model_or_path, plan, target: str = "digital", tech: str = DEFAULT_TECH, hw=None) -> str:
    """Return one line for other commands' reports: energy per inference and its ratio to FP32 and INT8."""
    return cost_summary(model_or_path, plan, target=target, tech=tech, hw=hw)["line"]


def plot_layers(costs: dict[str, NetworkCost], path: str | Path) -> None:
    """Write a PNG: per-layer energy (stacked by part) for each labelled NetworkCost, side by side."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = list(costs)
    layers = [layer.name for layer in next(iter(costs.values())).layers if layer.macs]
    parts = sorted({k for c in costs.values() for la in c.layers for k in la.energy_pj})
    fig, axes = plt.subplots(1, len(labels), figsize=(4.5 * len(labels), 4), sharey=True, squeeze=False)
    for ax, label in zip(axes[0], labels):
        by_name = {la.name: la for la in costs[label].layers}
        bottom = [0.0] * len(layers)
        for part in parts:
            vals = [by_name[n].energy_pj.get(part, 0.0) / 1e3 if n in by_name else 0.0 for n in layers]
            if any(vals):
                ax.bar(layers, vals, bottom=bottom, label=part)
                bottom = [b + v for b, v in zip(bottom, vals)]
        ax.set_title(f"{label}: {costs[label].energy_uj:.3g} uJ")
        ax.tick_params(axis="x", rotation=45)
        ax.set_xlabel("layer")
    axes[0][0].set_ylabel("energy per inference (nJ)")
    axes[0][-1].legend(fontsize=8)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())
