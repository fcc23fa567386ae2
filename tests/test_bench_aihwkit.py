"""benchmarks/bench_aihwkit.py is optional: without aihwkit it exits 0 with a last-line JSON saying why."""

import importlib.util
import json
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_aihwkit.py"


def test_bench_aihwkit_skips_with_its_reason_when_aihwkit_is_absent(capsys):
    if importlib.util.find_spec("aihwkit") is not None:
        pytest.skip("aihwkit is installed here: the benchmark would run")
    spec = importlib.util.spec_from_file_location("bench_aihwkit", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.main([]) == 0
    last = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert last["bench"] == "aihwkit" and last["skipped"] is True
    assert "aihwkit is not installed" in last["reason"]
