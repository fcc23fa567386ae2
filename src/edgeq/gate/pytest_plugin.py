"""pytest plugin for teams that gate inside their test suite.

Enable it with `-p edgeq.gate.pytest_plugin` on the command line or `pytest_plugins = ["edgeq.gate.pytest_plugin"]`
in the root conftest.py. Then:

    def test_quantized_model_holds_accuracy(edgeq_gate):
        edgeq_gate("gate/models.yaml")                      # fails the test, with the markdown table, on regression

`pytest --edgeq-gate-update` re-records the baselines instead of checking them (review the diff and commit).
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import pytest

from .api import run_gate, update_baseline
from .compare import GateOutcome
from .report import summary_line, to_markdown


def pytest_addoption(parser) -> None:
    """Add --edgeq-gate-update."""
    group = parser.getgroup("edgeq-gate")
    group.addoption("--edgeq-gate-update", action="store_true", default=False,
                    help="re-record edgeq gate baselines instead of checking them")


@pytest.fixture
def edgeq_gate(request) -> Callable[..., GateOutcome | None]:
    """Return check(config, cases=(), strict_environment=False): runs the gate and fails the test unless it passes.

    Exit 1 (regression) fails the test; exit 2 (missing baseline, metric or case, changed eval data) fails it too,
    with the reason, because a gate that cannot compare must never pass. Returns the outcome when it passes.
    """
    updating = request.config.getoption("edgeq_gate_update", default=False)

    def check(config: str | Path, cases: tuple[str, ...] = (), strict_environment: bool = False):
        if updating:
            update = update_baseline(config, only=tuple(cases))
            request.node.add_report_section("call", "edgeq gate", f"re-recorded {update.config.baseline_path}: "
                                            f"{len(update.changed)} metric(s) changed")
            return None
        outcome = run_gate(config, only=tuple(cases), strict_environment=strict_environment)
        if outcome.exit_code:
            pytest.fail(f"{summary_line(outcome)}\n\n{to_markdown(outcome)}", pytrace=False)
        return outcome

    return check
