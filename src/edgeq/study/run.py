"""Run the whole FP8-vs-INT8 study and write its report (`python -m edgeq.study --out DIR [--quick]`)."""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict
from pathlib import Path

import torch

from ..errors import UserError
from .claims import all_claims, summary_counts
from .experiments import StudyConfig, mac_costs, run_cnn, run_outliers, run_transformer
from .report import write_report
from .theory import THEORY_FORMATS, TheoryRow, distributions, sampled_convergence, theory_table


def run_study(cfg: StudyConfig, progress: bool = True) -> dict:
    """Return every measured figure of the study (theory, CNN, transformer, outliers, MAC costs)."""
    from tqdm import tqdm

    steps = tqdm(total=6, desc="study", unit="part", disable=not progress)
    steps.set_postfix_str("theory")
    rows = theory_table(cfg.theory_samples, cfg.seed, cfg.theory_seeds)
    t3 = distributions()["student_t3"]
    convergence = {f: sampled_convergence(t3, f, cfg.convergence_sizes, cfg.theory_seeds, cfg.seed)
                   for f in ("int8", "fp8_e3m4", "fp8_e4m3")}
    steps.update(1)
    steps.set_postfix_str("outlier MLP")
    outliers = run_outliers(cfg)
    steps.update(1)
    steps.set_postfix_str("digits CNN")
    cnn = run_cnn(cfg, progress)
    steps.update(1)
    steps.set_postfix_str("char transformer")
    transformer = run_transformer(cfg, progress)
    steps.update(1)
    costs = mac_costs(THEORY_FORMATS)
    steps.update(2)
    steps.close()
    return {"config": asdict(cfg), "theory_rows": rows, "convergence": convergence, "outliers": outliers,
            "cnn": cnn, "transformer": transformer, "mac_costs": costs}


def load_results(path: Path) -> dict:
    """Return the figures of an earlier run's results.json, theory rows rebuilt as TheoryRow records."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError) as err:
        raise UserError(f"cannot read {path} as a study results.json ({err})") from None
    data["theory_rows"] = [TheoryRow(**row) for row in data["theory_rows"]]
    data.pop("claims", None)
    return data


def main(argv: list[str] | None = None) -> int:
    """Run the study from the command line; return 0 (the report says which claims reproduced)."""
    parser = argparse.ArgumentParser(prog="python -m edgeq.study", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="folder for report.md, results.json and plots")
    parser.add_argument("--quick", action="store_true", help="CI sizes (< 3 minutes)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-progress", action="store_true")
    parser.add_argument("--from-results", type=Path, default=None,
                        help="re-write the report from a results.json of an earlier run (no experiments)")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)  # one thread: fixed reduction order (same bytes on rerun), no spin on shared cores
    cfg = StudyConfig.quick() if args.quick else StudyConfig.full()
    cfg = StudyConfig(**{**asdict(cfg), "seed": args.seed})
    start = time.perf_counter()
    try:
        args.out.mkdir(parents=True, exist_ok=True)
        results = load_results(args.from_results) if args.from_results else run_study(cfg, not args.no_progress)
        claims = all_claims(results)
        if not args.from_results:
            results["mode"] = "quick" if args.quick else "full"
        quick = results.get("mode") == "quick"
        command = "python -m edgeq.study --out " + str(args.out) + (" --quick" if quick else "")
        path = write_report(args.out, results, claims, command)
    except UserError as err:
        print(f"edgeq study: error: {err}")
        return 2
    ok, total = summary_counts(claims)
    print(f"{path}: {ok} of {total} claims reproduced ({time.perf_counter() - start:.0f} s)")
    return 0
