"""Regenerate examples/charlm_pydoc.npz: the standard library's documentation topics as a character corpus.

Text: `pydoc_data.topics` (ships with CPython), topics concatenated in sorted key order, every character outside
printable ASCII and newline replaced by '?'. Stored as uint8 codes so the split is fixed even though the text
changes between Python versions (the version used is stored too). Split by position: 90% train, 5% valid, 5% test.

    python examples/make_charlm_pydoc.py [--out examples/charlm_pydoc.npz]
"""

from __future__ import annotations

import argparse
import platform
import pydoc_data.topics
from pathlib import Path

import numpy as np

VOCAB = "\n" + "".join(chr(c) for c in range(32, 127))


def main() -> None:
    """Build the corpus and save the three splits."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(Path(__file__).with_name("charlm_pydoc.npz")))
    args = parser.parse_args()
    topics = pydoc_data.topics.topics
    text = "".join(topics[k] for k in sorted(topics))
    index = {ch: i for i, ch in enumerate(VOCAB)}
    codes = np.array([index.get(ch, index["?"]) for ch in text], dtype=np.uint8)
    n = codes.size
    a, b = int(0.9 * n), int(0.95 * n)
    np.savez_compressed(
        args.out, train=codes[:a], valid=codes[a:b], test=codes[b:], vocab=np.asarray(list(VOCAB)),
        python_version=np.asarray(platform.python_version()),
    )
    print(f"wrote {args.out}: {n} characters, {Path(args.out).stat().st_size} bytes")


if __name__ == "__main__":
    main()
