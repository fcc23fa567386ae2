"""Run one command with a timeout and record its exit status, wall time, peak RSS and last stderr line as JSON.

A fresh process per command, so getrusage(RUSAGE_CHILDREN) holds exactly that command's peak RSS (its
process tree's largest waited-for member). Needs only the standard library, so any venv's python can run it.
Run: python measure.py RESULT.json TIMEOUT_S -- CMD ARGS...
"""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
import time


def main(argv: list[str]) -> int:
    """Run argv[3:] (after "--"), write the measurement to argv[0]; return 0."""
    out, timeout, cmd = argv[0], float(argv[1]), argv[3:]
    t0 = time.monotonic()
    # A new session so a timeout kills the whole tree (ORT and numba may spawn helpers).
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
        rc = proc.returncode
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        stdout, stderr = proc.communicate()
        rc = "timeout"
    wall = time.monotonic() - t0
    lines = [ln for ln in stderr.decode(errors="replace").splitlines() if ln.strip()]
    # Skip onnxruntime/pip warning chatter to find the line that says what failed.
    useful = [ln for ln in lines if "[W:onnxruntime" not in ln and not ln.startswith("WARNING")] or lines
    rec = {
        "rc": rc,
        "wall_s": round(wall, 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1),  # KiB on Linux
        "stderr_last": useful[-1][-400:] if useful else "",
        "stdout_tail": stdout.decode(errors="replace")[-4000:],
    }
    with open(out, "w") as f:
        json.dump(rec, f)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
