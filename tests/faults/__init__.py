"""Fault injection: bad input, kills, torn journals, full disks and read-only folders (issue 17)."""
