"""Package discovery for the source roots (src/edgeq, simulators, hw_models, examples); metadata is in pyproject.

Namespace discovery makes data-only folders (e.g. hw_models/data) packages too, so their files ship in the wheel.
"""

from setuptools import find_namespace_packages, setup


def _packages(root: str, prefix: str) -> list[str]:
    found = find_namespace_packages(root, exclude=["*__pycache__*", "*.egg-info*"])
    return [prefix] + [f"{prefix}.{name}" for name in found]


setup(
    packages=_packages("src/edgeq", "edgeq")
    + _packages("simulators", "edgeq.simulators")
    + _packages("hw_models", "edgeq.hw_models")
    + _packages("examples", "edgeq.examples"),
)
