"""Figures of a run: test accuracy vs epoch and vs digital MACs, and accuracy vs hardware time under drift.

Wall time is left out on purpose, so a seed gives the same PNG bytes (wall times are in timing.json).
"""

from __future__ import annotations

import io

import matplotlib
import matplotlib.ticker

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

COLORS = {"ff": "tab:green", "bp": "tab:red", "hwa": "tab:blue",
          "bp_pat": "tab:purple", "bp_recal": "tab:orange", "bp_pat_recal": "tab:brown"}


def curves_png(results: dict) -> bytes:
    """Return a PNG with the training curves of every method and, if run, the drift curves."""
    has_drift = "drift" in results
    fig, axes = plt.subplots(1, 3 if has_drift else 2, figsize=(18 if has_drift else 10, 4), dpi=110)
    title = f"{results['config']['data']} on {results['config']['physical']}, {results['config']['layers']} layers"
    for method, res in results["methods"].items():
        epochs = [p["epoch"] for p in res["curve"]]
        acc = [100 * p["test_accuracy"] for p in res["curve"]]
        macs = [p["digital_macs"] for p in res["curve"]]
        axes[0].plot(epochs, acc, "o-", color=COLORS[method], label=res["label"], ms=3)
        axes[1].plot(macs, acc, "o-", color=COLORS[method], label=res["label"], ms=3)
    axes[0].set(xlabel="epoch", ylabel="test accuracy on hardware (%)", title=title)
    axes[1].set(xlabel="digital MACs spent on training", ylabel="test accuracy on hardware (%)",
                title="accuracy vs digital compute", xscale="log")
    axes[1].xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    if has_drift:
        drift = results["drift"]
        hours = [t / 3600 for t in drift["times_s"]]
        lowest = min(min(acc) for acc in drift["accuracy"].values())
        for method, acc in drift["accuracy"].items():
            base, _, variant = method.partition("_")
            online = method == "ff" or bool(variant)
            label = drift.get("labels", {}).get(method) or (
                results["methods"][base]["label"] + (" (online)" if online else " (frozen)"))
            style = {"recal": "^-.", "pat": "v:", "pat_recal": "d:"}.get(variant, "o-" if online else "s--")
            axes[2].plot(hours, [100 * a for a in acc], style, color=COLORS.get(method, COLORS[base]), label=label,
                         ms=3)
        if drift.get("fault_at_s") is not None:
            axes[2].axvline(drift["fault_at_s"] / 3600, color="gray", ls="--", lw=1)
            axes[2].text(drift["fault_at_s"] / 3600, max(0.0, 100 * lowest - 8) + 1,
                         f" +{100 * drift['fault_rate']:.0f}% faults", color="gray")
        axes[2].set(xlabel="hardware time in deployment (h)", ylabel="test accuracy (%)",
                    title="drift and faults in deployment", ylim=(max(0.0, 100 * lowest - 8), 100))
    for ax in axes:
        ax.grid(alpha=0.3)
        if ax is axes[-1] and has_drift:  # up to 8 curves: the legend goes beside the panel
            ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
        else:
            ax.legend(fontsize=8)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})
    plt.close(fig)
    return buf.getvalue()
