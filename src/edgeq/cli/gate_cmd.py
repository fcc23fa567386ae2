"""`edgeq gate`: run the regression gate, update its baseline, show the baseline."""

from __future__ import annotations

import click

EXAMPLES = """\b
Examples:
  edgeq gate run examples/edgeq_self_gate.yaml
  edgeq gate run gate.yaml --junit gate.xml --json-file gate.json --markdown gate.md
  edgeq gate run gate.yaml --json              print the result as JSON (nothing else on stdout)
  edgeq gate update gate.yaml                 re-record the baseline and show the diff
  edgeq gate update gate.yaml --case cnn-int8 --dry-run
  edgeq gate show gate.yaml
\b
Exit codes: 0 pass, 1 regression, 2 config/baseline missing or not comparable.

Trust: a case with `command: python` imports and calls the function its config names, with your permissions
(like pytest's conftest.py). Run only gate configs you trust.
"""


@click.group(epilog=EXAMPLES)
def command() -> None:
    """CI regression gate: fail the build when accuracy, SQNR or cost regress against a committed baseline."""


def _console(stderr: bool = False):
    from rich.console import Console

    console = Console(highlight=False, stderr=stderr)
    # CI logs are not terminals; rich would wrap the table at 80 columns there.
    return console if console.is_terminal else Console(highlight=False, width=140, stderr=stderr)


def _progress(console):
    def report(name: str, index: int, total: int) -> None:
        console.print(f"[dim][{index + 1}/{total}] {name}[/dim]")

    return report


@command.command("run", epilog=EXAMPLES)
@click.argument("config", type=click.Path(dir_okay=False))
@click.option("--case", "cases", multiple=True, help="Only this case (repeatable).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON instead of the table.")
@click.option("--json-file", "json_path", type=click.Path(dir_okay=False), help="Also write the result as JSON here.")
@click.option("--junit", "junit_path", type=click.Path(dir_okay=False), help="Write JUnit XML here.")
@click.option("--markdown", "markdown_path", type=click.Path(dir_okay=False), help="Write a markdown summary here.")
@click.option("--strict-env", is_flag=True, help="Exit 2 when library versions or CPU flags differ from the baseline.")
@click.option("--only-failing", is_flag=True, help="Show only the rows that fail the run in the terminal table.")
def run_command(config: str, cases: tuple[str, ...], as_json: bool, json_path: str | None, junit_path: str | None,
                markdown_path: str | None, strict_env: bool, only_failing: bool) -> int:
    """Run the cases of CONFIG and compare them with its baseline (exit 0 pass, 1 regression, 2 not comparable)."""
    from ..gate import load_config, run_gate
    from ..gate.publish import publish
    from ..gate.report import render_table, to_json
    from ..io import check_distinct_paths

    outputs = {"--json-file": json_path, "--junit": junit_path, "--markdown": markdown_path}
    check_distinct_paths(outputs, _inputs(load_config(config)))
    console = _console(stderr=as_json)  # with --json, stdout carries the JSON alone
    outcome = run_gate(config, only=cases, strict_environment=strict_env, on_case=_progress(console))
    if as_json:
        click.echo(to_json(outcome), nl=False)
    else:
        render_table(outcome, console, only_failing=only_failing)
    for line in publish(outcome, config, json_path, junit_path, markdown_path):
        click.echo(line, err=as_json)  # GitHub annotations; on stderr with --json, so stdout stays one JSON
    return outcome.exit_code


def _inputs(config) -> dict:
    """Return every file a gate config reads (the config, its baseline, each case's model and data)."""
    inputs = {"the config": config.path, "the baseline": config.baseline_path}
    for case in config.cases:
        for key in ("model", "calib", "eval"):
            if getattr(case, key) is not None:
                inputs[f"case {case.name!r} {key}"] = getattr(case, key)
    return inputs


@command.command("update", epilog=EXAMPLES)
@click.argument("config", type=click.Path(dir_okay=False))
@click.option("--case", "cases", multiple=True, help="Only re-record this case (repeatable); others are kept.")
@click.option("--dry-run", is_flag=True, help="Show the diff without writing the baseline.")
def update_command(config: str, cases: tuple[str, ...], dry_run: bool) -> int:
    """Re-measure the cases of CONFIG, rewrite its baseline deliberately, and show what changed."""
    from ..gate import load_config, update_baseline
    from ..gate.publish import render_update
    from ..io import check_distinct_paths

    loaded = load_config(config)
    inputs = _inputs(loaded)
    baseline = inputs.pop("the baseline")
    check_distinct_paths({"the baseline": baseline}, inputs)
    console = _console()
    render_update(update_baseline(config, only=cases, dry_run=dry_run, on_case=_progress(console)), console)
    return 0


@command.command("show", epilog=EXAMPLES)
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print the baseline JSON as stored.")
def show_command(path: str, as_json: bool) -> int:
    """Print the baseline of a gate config (PATH is the config .yaml or the baseline .json)."""
    from ..gate import load_baseline, resolve_baseline_path
    from ..gate.publish import render_baseline

    baseline_path = resolve_baseline_path(path)
    baseline = load_baseline(baseline_path)
    if as_json:
        click.echo(baseline.to_json(), nl=False)
    else:
        render_baseline(baseline, baseline_path, _console())
    return 0
