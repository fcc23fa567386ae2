"""io's write guarantees: umask, exclusive creation, stale temp clean-up, groups of files, distinct paths."""

from __future__ import annotations

import os
import stat
import time

import pytest

from edgeq.errors import UserError
from edgeq.io import atomic_write_bytes, check_distinct_paths, clean_stale_temps, write_files


def test_output_follows_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        atomic_write_bytes(tmp_path / "a.bin", b"x")
        os.umask(0o077)
        atomic_write_bytes(tmp_path / "b.bin", b"x")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "a.bin").stat().st_mode) == 0o644
    assert stat.S_IMODE((tmp_path / "b.bin").stat().st_mode) == 0o600


def test_exclusive_never_replaces(tmp_path):
    target = tmp_path / "m.onnx"
    atomic_write_bytes(target, b"first", exclusive=True)
    with pytest.raises(UserError, match="exists"):
        atomic_write_bytes(target, b"second", exclusive=True)
    assert target.read_bytes() == b"first"
    assert [p.name for p in tmp_path.iterdir()] == ["m.onnx"]  # no temp file left behind


def test_stale_temps_are_removed_but_young_ones_kept(tmp_path):
    target = tmp_path / "m.onnx"
    old, young, foreign = tmp_path / ".m.onnx.abc123.tmp", tmp_path / ".m.onnx.def456.tmp", tmp_path / ".x.tmp"
    for p in (old, young, foreign):
        p.write_bytes(b"partial")
    past = time.time() - 3600
    os.utime(old, (past, past))
    os.utime(foreign, (past, past))
    assert clean_stale_temps(target) == [old]
    atomic_write_bytes(target, b"ok")
    assert not old.exists() and young.exists() and foreign.exists()


def test_a_group_is_all_or_nothing(tmp_path):
    model, report = tmp_path / "m.onnx", tmp_path / "missing" / "m.json"
    with pytest.raises(UserError, match="does not exist"):
        write_files([(model, b"model"), (report, "{}")])
    assert list(tmp_path.iterdir()) == []


def test_a_group_puts_back_what_it_replaced(tmp_path):
    model, report = tmp_path / "m.onnx", tmp_path / "m.json"
    model.write_bytes(b"old model")
    report.mkdir()  # renaming the report onto a folder fails after the model was renamed
    with pytest.raises(OSError):
        write_files([(model, b"new model"), (report, b"new report")])
    assert model.read_bytes() == b"old model"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.json", "m.onnx"]


@pytest.mark.parametrize("spelling", ["same", "dotdot", "symlink", "hardlink"])
def test_an_output_equal_to_an_input_is_refused(tmp_path, spelling):
    (tmp_path / "sub").mkdir()
    calib = tmp_path / "calib.npz"
    calib.write_bytes(b"data")
    output = {"same": calib, "dotdot": tmp_path / "sub" / ".." / "calib.npz",
              "symlink": tmp_path / "link.npz", "hardlink": tmp_path / "hard.npz"}[spelling]
    if spelling == "symlink":
        output.symlink_to(calib)
    if spelling == "hardlink":
        os.link(calib, output)
    with pytest.raises(UserError, match="same file as the input --calib"):
        check_distinct_paths({"-o": output}, {"--calib": calib})


def test_two_outputs_on_one_path_are_refused(tmp_path):
    with pytest.raises(UserError, match="--report .* same file as the output -o"):
        check_distinct_paths({"-o": tmp_path / "m.onnx", "--report": tmp_path / "m.onnx"}, {})
    check_distinct_paths({"-o": tmp_path / "m.onnx", "--report": tmp_path / "m.json", "--plot": None}, {})


def test_two_concurrent_quantize_runs_to_one_path_one_wins_the_other_says_so(tmp_path):
    """Both pass the up-front check; the output is created exclusively, so the slower run fails in one line."""
    import shutil
    import subprocess
    import sys

    from faults.fault_matrix import EXAMPLES

    for name in ("digits_mlp.onnx", "digits_calib.npz"):
        shutil.copyfile(EXAMPLES / name, tmp_path / name)
    cmd = [sys.executable, "-m", "edgeq", "quantize", "digits_mlp.onnx", "--calib", "digits_calib.npz",
           "-o", "same.onnx", "--quiet"]
    procs = [subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    results = [(p.wait(timeout=120), p.stderr.read()) for p in procs]
    assert sorted(code for code, _ in results) == [0, 2]
    loser = next(err for code, err in results if code == 2)
    assert "same.onnx exists" in loser and "Traceback" not in loser
    assert len([ln for ln in loser.splitlines() if ln.startswith("edgeq: error")]) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["digits_calib.npz", "digits_mlp.onnx", "same.onnx"]
