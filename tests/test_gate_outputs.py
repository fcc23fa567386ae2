"""Gate outputs: JUnit XML valid against the JUnit schema, markdown that shows the regression, GitHub Actions
step summary and annotations, and the pytest plugin.

The JUnit schema is checked with xmlschema (a dev dependency): pure Python, small, maintained, and XSD 1.0/1.1
complete, where lxml would add a compiled libxml2 wheel for one test.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import xmlschema

from edgeq.gate import run_gate, update_baseline
from edgeq.gate.junit import to_junit_xml
from edgeq.gate.publish import publish
from edgeq.gate.report import to_markdown
from gate_helpers import write_config

SCHEMA = Path(__file__).parent / "data" / "gate_junit.xsd"


def _config(folder, mean):
    return write_config(
        folder,
        [{"name": "noisy", "command": "python", "seeds": [0, 1],
          "options": {"function": "gate_helpers:noisy_metric", "mean": mean, "sigma": 0.1, "samples": 3}},
         {"name": "steady", "command": "python", "seeds": [0],
          "options": {"function": "gate_helpers:noisy_metric", "mean": 50.0, "sigma": 0.0, "samples": 1}}],
        metrics={"score": {"better": "higher", "unit": "pp"}},
    )


@pytest.fixture
def regressed(tmp_path):
    """A real gate outcome in which case 'noisy' regressed on 'score' (mean 90 -> 85)."""
    update_baseline(_config(tmp_path, 90.0))
    config = _config(tmp_path, 85.0)
    return config, run_gate(config)


def test_junit_validates_against_schema_with_one_testcase_per_case_and_metric(regressed):
    _, outcome = regressed
    xml = to_junit_xml(outcome, suite_name="gate")
    schema = xmlschema.XMLSchema(SCHEMA)
    schema.validate(xml)
    root = ET.fromstring(xml)
    cases = root.findall("./testsuite/testcase")
    assert sorted((c.get("classname"), c.get("name")) for c in cases) == [
        ("noisy", "score"), ("noisy", "size_bytes"), ("steady", "score"), ("steady", "size_bytes")]
    failing = [c for c in cases if c.find("failure") is not None]
    assert [(c.get("classname"), c.get("name")) for c in failing] == [("noisy", "score")]
    assert root.find("testsuite").get("failures") == "1" and root.find("testsuite").get("tests") == "4"
    # the schema is strict enough to catch a broken report
    broken = xml.replace('<testcase name="score" classname="noisy"', '<testcase classname="noisy"', 1)
    assert not schema.is_valid(broken)


def test_junit_reports_not_comparable_rows_as_errors(tmp_path):
    update_baseline(_config(tmp_path, 90.0))
    config = write_config(tmp_path, [{"name": "steady", "command": "python", "seeds": [0],
                                      "options": {"function": "gate_helpers:noisy_metric", "samples": 1}}],
                          metrics={"score": {"better": "higher"}})
    outcome = run_gate(config)
    xml = to_junit_xml(outcome, suite_name="gate")
    xmlschema.XMLSchema(SCHEMA).validate(xml)
    errors = ET.fromstring(xml).findall("./testsuite/testcase/error")
    assert outcome.exit_code == 2 and len(errors) == 2  # the two metrics of the case dropped from the config


def test_markdown_renders_the_regression(regressed):
    _, outcome = regressed
    markdown = to_markdown(outcome)
    assert markdown.startswith("## edgeq gate: REGRESSED")
    assert "### What failed" in markdown
    assert "- ❌ **noisy** / `score`: regression: worse by" in markdown
    table_rows = [line for line in markdown.splitlines() if line.startswith("| noisy | `score`")]
    assert len(table_rows) == 1 and "❌ regression" in table_rows[0] and "n=6" in table_rows[0]


def test_github_actions_summary_and_annotations(regressed, tmp_path):
    config, outcome = regressed
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n")
    annotations = publish(outcome, config, json_path=tmp_path / "r.json", junit_path=tmp_path / "r.xml",
                          environ={"GITHUB_STEP_SUMMARY": str(summary), "GITHUB_ACTIONS": "true"})
    text = summary.read_text()
    assert text.startswith("earlier step\n") and "## edgeq gate: REGRESSED" in text  # appended, not replaced
    assert len(annotations) == 1 and annotations[0].startswith("::error file=")
    assert "title=edgeq gate regression%3A noisy / score::noisy / score: worse by" in annotations[0]
    assert publish(outcome, config, environ={}) == []  # no annotations outside GitHub Actions


def test_pytest_plugin_fails_a_test_on_regression(regressed, tmp_path):
    config, _ = regressed
    test_file = tmp_path / "test_model_gate.py"
    test_file.write_text(textwrap.dedent(f"""
        def test_gate(edgeq_gate):
            edgeq_gate({str(config)!r})
    """))
    tests_dir = Path(__file__).parent
    env_cmd = [sys.executable, "-m", "pytest", "-q", "-p", "edgeq.gate.pytest_plugin", "-p", "no:cacheprovider",
               "--rootdir", str(tmp_path), str(test_file)]
    result = subprocess.run(env_cmd, capture_output=True, text=True, cwd=tmp_path,
                            env={"PYTHONPATH": str(tests_dir), "PATH": ""})
    assert result.returncode == 1, result.stdout + result.stderr
    assert "edgeq gate REGRESSED" in result.stdout and "noisy" in result.stdout
    baseline = tmp_path / "gate.baseline.json"
    before = baseline.read_text()
    result = subprocess.run(env_cmd + ["--edgeq-gate-update"], capture_output=True, text=True, cwd=tmp_path,
                            env={"PYTHONPATH": str(tests_dir), "PATH": ""})
    assert result.returncode == 0 and baseline.read_text() != before, result.stdout + result.stderr
    result = subprocess.run(env_cmd, capture_output=True, text=True, cwd=tmp_path,
                            env={"PYTHONPATH": str(tests_dir), "PATH": ""})
    assert result.returncode == 0, result.stdout + result.stderr  # the re-recorded baseline now passes
