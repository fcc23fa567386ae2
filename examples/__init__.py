"""The shipped example models and data (installed as `edgeq.examples`, so they travel inside the wheel)."""

from pathlib import Path

EXAMPLES_DIR = Path(__file__).resolve().parent


def example_path(name: str) -> Path:
    """Return the path of a shipped example file, e.g. `example_path("digits_cnn.onnx")`."""
    path = EXAMPLES_DIR / name
    if not path.exists():
        available = sorted(p.name for p in EXAMPLES_DIR.iterdir() if p.suffix in (".onnx", ".npz"))
        raise FileNotFoundError(f"no example {name!r}; available: {', '.join(available)}")
    return path
