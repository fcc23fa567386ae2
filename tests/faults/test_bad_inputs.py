"""Every subcommand against bad input: the exit code, one error line and no traceback on stderr, no file changed.

Cases that still fail in another engineer's area are strict xfails naming the owner: when fixed they XPASS, which
fails the run, so the mark is removed with the fix.
"""

from __future__ import annotations

import pytest

from faults.fault_matrix import CASES, read_only_supported, run_case


def _param(case):
    marks = [pytest.mark.xfail(strict=True, reason=case.owner)] if case.owner else []
    return pytest.param(case, id=case.id, marks=marks)


@pytest.mark.parametrize("case", [_param(c) for c in CASES])
def test_bad_input_is_one_line_and_changes_nothing(case, work):
    if case.read_only and not read_only_supported(work):
        pytest.skip("this file system cannot make a path read-only for root (chattr +i)")
    result = run_case(case, work)
    assert result.held, f"{case.id}: {result.why()}\nstderr: {result.stderr[-2000:]}"
