"""Docs tables of the analog branch are rendered from committed results files, never typed: each table between
its markers equals what its benchmark script's `render` makes of the results file."""

import importlib.util
import json
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TABLES = [  # (docs file, opening-marker suffix, end marker, script, results file[, (render function, *args)])
    ("docs/crossbar.md", "crossbar_corpus.json -->\n", "<!-- end corpus table -->", "crossbar_corpus.py",
     "crossbar_corpus.json"),
    ("docs/crossbar.md", "bench_crossbar_layer.json -->\n", "<!-- end crossbar layer table -->", "bench_crossbar.py",
     "bench_crossbar_layer.json", ("render_layer",)),
    ("docs/crossbar.md", "bench_crossbar_model.json -->\n", "<!-- end crossbar model table -->", "bench_crossbar.py",
     "bench_crossbar_model.json", ("render_model",)),
    *(("docs/crossbar.md", f"--render {part}` from benchmarks/results/bench_aihwkit.json -->\n",
       f"<!-- end aihwkit {label} -->", "bench_aihwkit.py", "bench_aihwkit.json", ("render", part))
      for part, label in (("speed", "speed table"), ("accuracy", "accuracy tables"), ("checks", "checks"))),
    ("docs/ramp_adc.md", "`benchmarks/bench_ramp_adc.py --render` from benchmarks/results/bench_ramp_adc.json -->\n",
     "<!-- end ramp speed table -->", "bench_ramp_adc.py", "bench_ramp_adc.json"),
    ("docs/ramp_adc.md", "`benchmarks/ramp_noise_cause.py --render` -->\n", "<!-- end ramp cause table -->",
     "ramp_noise_cause.py", "ramp_noise_cause.json"),
    ("docs/ramp_adc.md", "`benchmarks/ramp_fix.py --render` -->\n", "<!-- end ramp fix table -->", "ramp_fix.py",
     "ramp_fix.json"),
    ("docs/ramp_adc.md", "`benchmarks/ramp_fix_kws.py --render` -->\n", "<!-- end ramp fix kws table -->",
     "ramp_fix_kws.py", "ramp_fix_kws.json"),
    ("docs/ramp_adc.md", "`benchmarks/ramp_fix_kws.py --task lm --render` -->\n", "<!-- end ramp fix lm table -->",
     "ramp_fix_kws.py", "ramp_fix_lm.json", ("render_lm",)),
    ("docs/phyff.md", "phyff_fair.json -->\n", "<!-- end phyff fair table -->", "phyff_fair.py", "phyff_fair.json"),
    ("docs/phyff.md", "phyff_fair.json (training) -->\n", "<!-- end phyff training table -->",
     "phyff_fair.py", "phyff_fair.json", ("render_training",)),
    ("docs/phyff.md", "bench_phyff.json -->\n", "<!-- end phyff bench table -->", "bench_phyff.py", "bench_phyff.json"),
]


@pytest.mark.parametrize("doc, start, end, script, results, render", [(*t, ("render",))[:6] for t in TABLES],
                         ids=[t[4] + "".join(f":{a}" for a in (*t, ("render",))[5][1:]) for t in TABLES])
def test_docs_table_is_the_render_of_the_committed_results(doc, start, end, script, results, render):
    path = ROOT / "benchmarks" / "results" / results
    if not path.exists():
        pytest.skip(f"{results} is not committed")
    spec = importlib.util.spec_from_file_location(script[:-3], ROOT / "benchmarks" / script)
    module = importlib.util.module_from_spec(spec)
    threads = {k: v for k, v in os.environ.items() if k.endswith("_NUM_THREADS")}
    spec.loader.exec_module(module)
    # importing a benchmark for its renderer must not change this process's thread counts (a script that set
    # NUMBA_NUM_THREADS at import once made Numba refuse every later compile in the test run)
    assert {k: v for k, v in os.environ.items() if k.endswith("_NUM_THREADS")} == threads
    text = (ROOT / doc).read_text()
    table = text.split(start, 1)[1].split(end, 1)[0]
    function, *args = render
    assert table.strip() == getattr(module, function)(json.loads(path.read_text()), *args).strip()
