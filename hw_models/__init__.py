"""Hardware cost models with cited sources (importable as `edgeq.hw_models`)."""
