"""Package discovery for the three source roots (src/edgeq, simulators, hw_models, examples); metadata is in pyproject."""

from setuptools import find_packages, setup


def _packages(root: str, prefix: str) -> list[str]:
    return [prefix] + [f"{prefix}.{name}" for name in find_packages(root)]


setup(
    packages=_packages("src/edgeq", "edgeq")
    + _packages("simulators", "edgeq.simulators")
    + _packages("hw_models", "edgeq.hw_models")
    + _packages("examples", "edgeq.examples"),
)
