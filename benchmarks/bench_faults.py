"""Fault-injection figures: run the bad-input matrix of tests/faults over every subcommand and count the cases
that held (exit code, one error line, no traceback, nothing changed), lost files (an input or output changed,
appeared or vanished), or showed a traceback.

    .venv/bin/python benchmarks/bench_faults.py            # table, then the last-line JSON
    PYTHONPATH=/path/to/other/src .venv/bin/python benchmarks/bench_faults.py   # the same matrix on other code

Prints `{"cases": N, "held": N, "lost": N, "tracebacks": N}` as its last line.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from faults.fault_matrix import CASES, make_work, read_only_supported, run_case  # noqa: E402


def main() -> int:
    """Run every case in a fresh work folder, print one row per case and the totals as JSON."""
    import edgeq

    print(f"edgeq from {Path(edgeq.__file__).parent}", file=sys.stderr)
    rows, totals = [], {"cases": 0, "held": 0, "lost": 0, "tracebacks": 0}
    with tempfile.TemporaryDirectory() as tmp:
        for i, case in enumerate(CASES):
            work = make_work(Path(tmp) / f"w{i}")
            if case.read_only and not read_only_supported(work):
                continue
            start = time.perf_counter()
            try:
                result = run_case(case, work)
            except Exception as err:  # a setup that the code under test cannot even start from
                print(f"{case.id}: setup failed: {type(err).__name__}: {err}", file=sys.stderr)
                continue
            totals["cases"] += 1
            totals["held"] += result.held
            totals["lost"] += bool(result.changed)
            totals["tracebacks"] += result.traceback
            rows.append((case.id, result.code, "held" if result.held else result.why(), time.perf_counter() - start,
                         case.owner or ""))
    width = max(len(r[0]) for r in rows)
    print(f"{'case':<{width}}  exit  {'s':>5}  result")
    for case_id, code, verdict, seconds, owner in rows:
        print(f"{case_id:<{width}}  {code!s:>4}  {seconds:5.1f}  {verdict}" + (f"  [{owner}]" if owner else ""))
    print(json.dumps(totals))
    return 0


if __name__ == "__main__":
    sys.exit(main())
