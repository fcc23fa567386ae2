"""Analog in-memory-computing simulators (importable as `edgeq.simulators`)."""
