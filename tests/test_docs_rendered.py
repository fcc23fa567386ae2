"""Docs tables of the analog branch are rendered from committed results files, never typed: each table between
its markers equals what its benchmark script's `render` makes of the results file."""

import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TABLES = [  # (docs file, opening-marker suffix, end marker, script[:render function], results file)
    ("docs/crossbar.md", "crossbar_corpus.json -->\n", "<!-- end corpus table -->", "crossbar_corpus.py",
     "crossbar_corpus.json"),
    ("docs/ramp_adc.md", "`benchmarks/ramp_noise_cause.py --render` -->\n", "<!-- end ramp cause table -->",
     "ramp_noise_cause.py", "ramp_noise_cause.json"),
    ("docs/phyff.md", "phyff_fair.json -->\n", "<!-- end phyff fair table -->", "phyff_fair.py", "phyff_fair.json"),
    ("docs/phyff.md", "phyff_fair.json (training) -->\n", "<!-- end phyff training table -->",
     "phyff_fair.py:render_training", "phyff_fair.json"),
    ("docs/phyff.md", "bench_phyff.json -->\n", "<!-- end phyff bench table -->", "bench_phyff.py", "bench_phyff.json"),
]


@pytest.mark.parametrize("doc, start, end, script, results", TABLES, ids=[t[3] for t in TABLES])
def test_docs_table_is_the_render_of_the_committed_results(doc, start, end, script, results):
    path = ROOT / "benchmarks" / "results" / results
    if not path.exists():
        pytest.skip(f"{results} is not committed")
    script, _, function = script.partition(":")
    spec = importlib.util.spec_from_file_location(script[:-3], ROOT / "benchmarks" / script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    text = (ROOT / doc).read_text()
    table = text.split(start, 1)[1].split(end, 1)[0]
    assert table.strip() == getattr(module, function or "render")(json.loads(path.read_text())).strip()
