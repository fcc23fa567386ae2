"""`edgeq sweep`: run, extend, inspect and report hardware design-space sweeps."""

from __future__ import annotations

import contextlib
import warnings

import click

EXAMPLES = """\b
Examples:
  edgeq sweep run examples/sweep_digits.yaml --workers 2
  edgeq sweep run examples/sweep_digits.yaml --resume        after a crash or Ctrl-C
  edgeq sweep status examples/sweep_digits.yaml
  edgeq sweep report examples/sweep_digits.yaml --color-by target
  edgeq sweep worker SPEC --storage postgresql://edgeq@dbhost/sweeps   on each extra machine

Run folder: --run-dir if given, else run_dir: in the spec (relative to the spec file), else runs/<name>
next to the spec file. It does not depend on the current directory, so status and report work from anywhere.

Trust: an evaluator `python:FILE.py:Class` or `python:module:Class` in the spec is code that the sweep imports
and runs with your permissions (like pytest's conftest.py). Run only specs you trust.
"""

_storage = click.option("--storage", default=None, metavar="URL",
                        help="journal:PATH or a database URL (postgresql://user:pw@host/db). "
                             "Default: a journal file in the run folder.")
_run_dir = click.option("--run-dir", default=None, type=click.Path(file_okay=False),
                        help="Folder for the journal, cache and report (default: run_dir: in the spec, relative "
                             "to the spec file, else runs/<name> next to the spec file).")


@contextlib.contextmanager
def _warnings_as_lines():
    """Print edgeq's warnings (a repaired journal, ...) as one `edgeq: warning:` line each, as they happen."""
    previous = warnings.showwarning

    def show(message, category, filename, lineno, file=None, line=None):
        click.echo(f"edgeq: warning: {message}", err=True)

    warnings.showwarning = show
    try:
        yield
    finally:
        warnings.showwarning = previous


@click.group(epilog=EXAMPLES)
def command() -> None:
    """Sweep formats, per-layer precision, analog settings and more into an accuracy-vs-cost Pareto front."""


@command.command(epilog=EXAMPLES)
@click.argument("spec", type=click.Path(dir_okay=False))
@_storage
@click.option("--workers", default=1, show_default=True, help="Worker processes on this machine.")
@click.option("--resume", is_flag=True, help="Continue an existing study: dead workers' trials are re-queued.")
@_run_dir
@click.option("--no-report", is_flag=True, help="Do not write the report when the sweep ends.")
@click.option("--quiet", is_flag=True, help="No progress bar and no summary; errors still go to stderr.")
def run(spec, storage, workers, resume, run_dir, no_report, quiet) -> int:
    """Run a sweep until its budget is spent, then write the report."""
    from ..errors import UserError
    from ..io import check_distinct_paths
    from ..sweep import collect, load_spec, open_study, pareto_markdown, run_sweep, write_report
    from ..sweep.report import spec_inputs

    sweep = load_spec(spec, run_dir)
    if workers < 1:
        raise UserError(f"--workers must be >= 1, got {workers}")
    if storage is None:
        check_distinct_paths({"the journal": sweep.run_dir / "study.journal"}, spec_inputs(sweep))
    try:
        with _warnings_as_lines():
            summary = run_sweep(sweep, storage, workers=workers, resume=resume, progress=not quiet)
    except KeyboardInterrupt:
        click.echo("edgeq: interrupted; trials in flight were re-queued: "
                   f"`edgeq sweep run {spec} --resume` finishes the sweep", err=True)
        return 130
    if quiet:
        echo = lambda *args, **kwargs: None  # noqa: E731  (errors below still print)
    else:
        echo = click.echo
    if summary.recovered:
        echo(f"re-queued {len(summary.recovered)} trial(s) left by dead or interrupted workers: "
             f"{', '.join(map(str, summary.recovered))}")
    results = collect(sweep, open_study(sweep, summary.storage_url))
    repeats = f", {summary.duplicates} repeated proposals answered from finished points" if summary.duplicates else ""
    echo(f"{sweep.name}: {summary.completed} completed, {summary.failed} failed{repeats} in "
         f"{summary.seconds:.1f} s ({results.counts['PARETO']} on the Pareto front)")
    if results.front:
        echo(pareto_markdown(sweep, results, limit=20), nl=False)
    if not no_report:
        files = write_report(sweep, results, sweep.run_dir / "report")
        echo(f"report: {files.folder / 'report.html'}")
    bad = [c for c in summary.worker_exit_codes if c != 0]
    if bad:
        click.echo(f"edgeq: error: {len(bad)} worker(s) exited with an error (codes {bad})", err=True)
        return 1
    if summary.completed == 0 and summary.failed:
        first = next(r["error"] for r in results.rows if r["error"])
        click.echo(f"edgeq: error: every trial failed; first error: {first}", err=True)
        return 1
    return 0


@command.command(epilog=EXAMPLES)
@click.argument("spec", type=click.Path(dir_okay=False))
@_storage
@_run_dir
@click.option("--index", type=int, default=None, help="Worker number (varies the sampler seed; default from pid).")
@click.option("--max-trials", type=int, default=None, help="Stop after this many trials from this worker.")
@click.option("--deadline", type=float, default=None, hidden=True)
@click.option("--quiet", is_flag=True, help="No summary when done; errors still go to stderr.")
def worker(spec, storage, run_dir, index, max_trials, deadline, quiet) -> int:
    """Join a sweep as one worker (start one per core on as many machines as you have)."""
    from ..sweep import load_spec, prepare, run_worker, storage_url_for

    sweep = load_spec(spec, run_dir)
    url = storage_url_for(sweep, storage)
    if storage is None:
        prepare(sweep, url, resume=True)
    try:
        with _warnings_as_lines():
            stats = run_worker(sweep, url, index=index, deadline=deadline, max_trials=max_trials)
    except KeyboardInterrupt:
        return 130
    if not quiet:
        click.echo(f"worker: {stats.completed} completed ({stats.cached} from cache), {stats.failed} failed, "
                   f"{stats.duplicates} repeated proposals in {stats.seconds:.1f} s")
        for line in stats.errors[-3:]:
            click.echo(f"  {line}")
    return 0


@command.command(epilog=EXAMPLES)
@click.argument("spec", type=click.Path(dir_okay=False))
@_storage
@_run_dir
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def status(spec, storage, run_dir, as_json) -> int:
    """Show trial counts, live workers, failures and the current Pareto front."""
    from ..io import dumps_json
    from ..sweep import collect, load_spec, open_study, pareto_markdown
    from ..sweep.engine import total_points

    sweep = load_spec(spec, run_dir)
    study = open_study(sweep, storage)
    results = collect(sweep, study)
    total = total_points(sweep, study)
    workers = sorted({r["worker"] for r in results.rows if r["state"] == "RUNNING" and r["worker"]})
    if as_json:
        click.echo(dumps_json({"sweep": sweep.name, "counts": results.counts, "total": total,
                               "running_on": workers, "pareto": [r["trial"] for r in results.front]}, indent=None))
        return 0
    c = results.counts
    click.echo(f"{sweep.name}: {c['COMPLETE'] - c['DUPLICATE']} completed, {c['FAIL']} failed "
               f"({c['FAIL_RETRIED']} re-queued), {c['RUNNING']} running, {c['WAITING']} queued"
               + (f", of {total}" if total else "")
               + (f"; {c['DUPLICATE']} repeated proposals" if c["DUPLICATE"] else ""))
    if workers:
        click.echo(f"running on: {', '.join(workers)}")
    errors = [r for r in results.rows if r["error"] and not r["retried"]][-5:]
    for r in errors:
        click.echo(f"  trial {r['trial']} failed: {r['error']}")
    if results.front:
        click.echo(pareto_markdown(sweep, results, limit=20), nl=False)
    return 0


@command.command(epilog=EXAMPLES)
@click.argument("spec", type=click.Path(dir_okay=False))
@_storage
@_run_dir
@click.option("--out-dir", "--out", "out", default=None, type=click.Path(file_okay=False),
              help="Folder for the report (default: <run folder>/report).")
@click.option("--color-by", default=None, help="Parameter that colours the scatter plots.")
def report(spec, storage, run_dir, out, color_by) -> int:
    """Write the Pareto table, trials JSON/CSV, PNG plots and a self-contained HTML page."""
    from pathlib import Path

    from ..errors import UserError
    from ..sweep import collect, load_spec, open_study, write_report

    sweep = load_spec(spec, run_dir)
    if color_by and color_by not in {p.name for p in sweep.space}:
        raise UserError(f"--color-by: {color_by!r} is not a parameter; choose from "
                        f"{', '.join(p.name for p in sweep.space)}")
    results = collect(sweep, open_study(sweep, storage))
    files = write_report(sweep, results, Path(out) if out else sweep.run_dir / "report", color_by)
    for f in files.files:
        click.echo(str(f))
    return 0
