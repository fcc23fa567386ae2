"""Cited data tables of edgeq.hw_models (a package only so the YAML files ship in the wheel)."""
