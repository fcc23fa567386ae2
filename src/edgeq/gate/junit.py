"""JUnit XML for CI dashboards (Jenkins, GitLab, GitHub test reporters): one testsuite per gate config and one
testcase per case x metric; regressions are <failure>, rows that could not be compared are <error>."""

from __future__ import annotations

import socket
import xml.etree.ElementTree as ET
from datetime import datetime, timezone

from .compare import GateOutcome, Status
from .report import format_record


def to_junit_xml(outcome: GateOutcome, suite_name: str, timestamp: datetime | None = None) -> str:
    """Return the JUnit XML document for a gate outcome."""
    failures = outcome.count(Status.REGRESSION, Status.MISMATCH)
    errors = outcome.count(Status.MISSING, Status.NOT_COMPARABLE, Status.ERROR)
    total_time = sum(outcome.wall_s.values())
    stamp = (timestamp or datetime.now(timezone.utc)).strftime("%Y-%m-%dT%H:%M:%S")
    counts = {"tests": str(len(outcome.rows)), "failures": str(failures), "errors": str(errors), "skipped": "0",
              "time": f"{total_time:.3f}"}
    root = ET.Element("testsuites", {"name": "edgeq gate", **counts})
    suite = ET.SubElement(root, "testsuite", {"name": suite_name, **counts, "timestamp": stamp,
                                              "hostname": socket.gethostname() or "localhost", "id": "0",
                                              "package": "edgeq.gate"})
    properties = ET.SubElement(suite, "properties")
    ET.SubElement(properties, "property", {"name": "verdict", "value": outcome.verdict})
    for index, change in enumerate(outcome.environment_changes):
        ET.SubElement(properties, "property", {"name": f"environment_change_{index}", "value": change})
    rows_per_case: dict[str, int] = {}
    for row in outcome.rows:
        rows_per_case[row.case] = rows_per_case.get(row.case, 0) + 1
    for row in outcome.rows:
        seconds = outcome.wall_s.get(row.case, 0.0) / rows_per_case[row.case]
        case = ET.SubElement(suite, "testcase", {"name": row.metric, "classname": row.case, "time": f"{seconds:.3f}"})
        detail = (f"baseline: {format_record(row.base)}\ncurrent: {format_record(row.current)}\n"
                  f"allowed worsening: {row.allowed}\nbetter: {row.better}\n{row.reason}")
        if row.status in (Status.REGRESSION, Status.MISMATCH):
            element = ET.SubElement(case, "failure", {"message": f"{row.status.value}: {row.reason}",
                                                      "type": row.status.value})
            element.text = detail
        elif row.status.exit_code == 2:
            element = ET.SubElement(case, "error", {"message": f"{row.status.value}: {row.reason}",
                                                    "type": row.status.value})
            element.text = detail
        else:
            out = ET.SubElement(case, "system-out")
            out.text = detail
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
