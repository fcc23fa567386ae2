"""The FP8-vs-INT8 study end to end in --quick mode, and its claim checker on hand-made figures."""

import json

import pytest

from edgeq.study.claims import outlier_claims
from edgeq.study.run import main


def _outlier_row(sqnr: dict[str, float], w8a16_acc: float) -> dict:
    row = {f: {"acc": 0.9, "sqnr_db": v} for f, v in sqnr.items()}
    row["int8 W8A16 on fc2"] = {"acc": w8a16_acc, "sqnr_db": 30.0}
    return row


def test_outlier_claims_follow_the_figures():
    healthy = {"int8": 40.0, "fp8_e2m5": 40.0, "fp8_e3m4": 36.0, "fp8_e4m3": 30.0, "fp8_e5m2": 25.0}
    broken = {"int8": 1.0, "fp8_e2m5": 5.0, "fp8_e3m4": 20.0, "fp8_e4m3": 30.0, "fp8_e5m2": 25.0}
    figures = {"fp32_acc": 0.98, "by_k": {"1.0": _outlier_row(healthy, 0.98), "256.0": _outlier_row(broken, 0.98)}}
    assert [c.reproduced for c in outlier_claims(figures)] == [True, True, True]
    figures["by_k"]["256.0"] = _outlier_row(healthy, 0.90)
    assert [c.reproduced for c in outlier_claims(figures)] == [False, False, False]


@pytest.mark.slow
def test_quick_study_writes_report_plots_and_claims(tmp_path):
    assert main(["--out", str(tmp_path), "--quick", "--no-progress"]) == 0
    report = (tmp_path / "report.md").read_text()
    results = json.loads((tmp_path / "results.json").read_text())
    for png in ("theory.png", "outliers.png", "accuracy_vs_cost.png"):
        assert (tmp_path / png).stat().st_size > 1000 and png in report
    claims = results["claims"]
    assert len(claims) >= 30 and all(c["claim"] in report for c in claims)
    # Figures the quick run must get right whatever the sizes: exact theory, and INT8 collapsing on the outlier.
    rows = {(r["distribution"], r["fmt"]): r for r in results["theory_rows"]}
    assert abs(rows[("uniform", "int8")]["exact_db"] - 48.13) < 0.01
    assert rows[("gaussian", "fp8_e2m5")]["exact_db"] > rows[("gaussian", "int8")]["exact_db"]
    last = results["outliers"]["by_k"][max(results["outliers"]["by_k"], key=float)]
    assert last["int8"]["sqnr_db"] < last["fp8_e4m3"]["sqnr_db"] - 10
    # Re-rendering from results.json gives the same report, byte for byte.
    again = tmp_path / "again"
    assert main(["--out", str(again), "--from-results", str(tmp_path / "results.json"), "--quick"]) == 0
    assert (again / "report.md").read_text() == report.replace(str(tmp_path), str(again))
