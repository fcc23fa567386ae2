"""The package installs with its three source roots and data files, in an editable install and in a wheel."""

import subprocess
import sys
import zipfile

import pytest

from conftest import REPO


def test_subpackages_import_under_edgeq():
    import edgeq.examples
    import edgeq.hw_models
    import edgeq.simulators

    assert edgeq.simulators.__file__.startswith(str(REPO / "simulators"))
    assert edgeq.hw_models.__file__.startswith(str(REPO / "hw_models"))
    assert edgeq.examples.example_path("digits_cnn.onnx").exists()


@pytest.mark.slow
def test_wheel_contains_subpackages_and_data(tmp_path):
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path), str(REPO)],
        check=True,
    )
    (wheel,) = tmp_path.glob("edgeq-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = {
        "edgeq/__init__.py",
        "edgeq/formats/__init__.py",
        "edgeq/cli/__init__.py",
        "edgeq/simulators/__init__.py",
        "edgeq/hw_models/__init__.py",
        "edgeq/examples/digits_cnn.onnx",
        "edgeq/examples/digits_mlp.onnx",
        "edgeq/examples/digits_calib.npz",
        "edgeq/examples/digits_eval.npz",
    }
    assert expected <= names, sorted(expected - names)
    # Every data file under the source roots must be in the wheel, not only the ones named above.
    for root, prefix in (("hw_models", "edgeq/hw_models"), ("simulators", "edgeq/simulators"), ("examples", "edgeq/examples")):
        for path in (REPO / root).rglob("*"):
            if path.suffix in {".yaml", ".toml", ".json", ".onnx", ".npz", ".csv"}:
                assert f"{prefix}/{path.relative_to(REPO / root).as_posix()}" in names, path


def test_cli_help_of_every_command_shows_an_example(capsys):
    from edgeq.cli import COMMANDS, main

    assert main(["--help"]) == 0
    assert "Examples:" in capsys.readouterr().out
    for name in COMMANDS:
        assert main([name, "--help"]) == 0, name
        text = capsys.readouterr().out
        assert "Example" in text and f"edgeq {name}" in text, name
