"""Run a model on a folder of per-feed .npz files in one onnxruntime session and save every output.

Runs in its own process so a crash in onnxruntime on an odd quantized graph is recorded, not fatal.
Run: python evaluate.py MODEL.onnx FEEDS_DIR OUT.npz [--opt default|basic|disable]
OUT.npz holds arrays named f{feed}_o{output}.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort

LEVELS = {
    "default": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,  # what a user's InferenceSession gets
    "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
    "disable": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
}


def main(argv: list[str] | None = None) -> int:
    """Evaluate the model on every feed; exit 0 when all ran."""
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("feeds")
    ap.add_argument("out")
    ap.add_argument("--opt", default="default", choices=sorted(LEVELS))
    args = ap.parse_args(argv)
    opts = ort.SessionOptions()
    opts.graph_optimization_level = LEVELS[args.opt]
    opts.intra_op_num_threads = 2
    sess = ort.InferenceSession(args.model, opts, providers=["CPUExecutionProvider"])
    names = {i.name for i in sess.get_inputs()}
    arrays = {}
    for i, path in enumerate(sorted(Path(args.feeds).glob("feed_*.npz"))):
        with np.load(path) as z:
            feed = {k: z[k] for k in z.files if k in names}
        for j, out in enumerate(sess.run(None, feed)):
            arrays[f"f{i}_o{j}"] = out
    np.savez(args.out, **arrays)
    return 0


def load_outputs(path: Path) -> list[list[np.ndarray]]:
    """Return the outputs saved by main() as a list (per feed) of lists (per output)."""
    with np.load(path) as z:
        keys = z.files
        feeds = 1 + max(int(k.split("_")[0][1:]) for k in keys)
        outs = 1 + max(int(k.split("_")[1][1:]) for k in keys)
        return [[z[f"f{i}_o{j}"] for j in range(outs)] for i in range(feeds)]


if __name__ == "__main__":
    sys.exit(main())
