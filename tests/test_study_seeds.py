"""`polyret run` with two seeds: the pooled (seeds x questions) numbers are the cells' own, end to end."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from polyret.cli import app

runner = CliRunner()


@pytest.mark.slow  # about a minute: trains 4 tiny models; tests/test_stats_seeds.py checks the same promise fast
def test_a_two_seed_study_reports_seed_means_with_two_level_intervals(tiny_models: dict[str, Path],
                                                                      data_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "study"
    result = runner.invoke(app, ["run", "--data-dir", str(data_dir), "--profile", "smoke", "--output", str(out),
                                 "--models", str(tiny_models["bert"]), "--strategies", "zero_shot,x_x_mono,hybrid",
                                 "--seeds", "0,1"])
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "results.json").read_text())
    cells = {(c["strategy"], c["seed"]): c for c in summary["cells"]}
    pooled = {e["strategy"]: e for e in summary["across_seeds"]}
    assert sorted(pooled) == ["hybrid", "x_x_mono"]  # zero_shot has no seeds to pool
    for strategy, entry in pooled.items():
        assert entry["seeds"] == [0, 1]
        for metric in ("mo_map", "mul_map", "rank_distance"):
            # balanced languages: the seed mean of query means is the mean of the cells' headline numbers
            mean = np.mean([cells[(strategy, s)]["metrics"][metric] for s in (0, 1)])
            assert entry["metrics"][metric] == pytest.approx(mean, abs=1e-9)
            low, high = entry["intervals"][metric]
            assert low - 1e-9 <= mean <= high + 1e-9
    vs = pooled["hybrid"]["versus"]
    assert set(vs) == {"zero_shot", "x_x_mono"}  # each pair of baselines once, as per seed
    mul = vs["x_x_mono"]["mul_map"]
    assert mul["difference"] == pytest.approx(pooled["hybrid"]["metrics"]["mul_map"]
                                              - pooled["x_x_mono"]["metrics"]["mul_map"], abs=1e-9)
    assert mul["per_seed"] == [cells[("hybrid", s)]["versus"]["x_x_mono"]["mul_map"]["difference"] for s in (0, 1)]
    assert mul["ci"][0] <= mul["difference"] <= mul["ci"][1] and 0 < mul["p_value"] <= 1
    zero = vs["zero_shot"]["mul_map"]  # the one-"seed" side: seed mean minus the zero-shot cell
    assert zero["difference"] == pytest.approx(pooled["hybrid"]["metrics"]["mul_map"]
                                               - cells[("zero_shot", None)]["metrics"]["mul_map"], abs=1e-9)

    report = (out / "report.md").read_text()
    assert "## Across seeds" in report and "Seed by seed" in report and "smoke profile" in report
    answer = report.split("## Answer", 1)[1].split("## Main table", 1)[0]
    assert "two-level bootstrap" in answer
    claims = re.findall(r"reliably (?:better|worse)", answer)
    held = [c for e in pooled.values() for b in e["versus"].values() for c in b.values() if c["holds_across_seeds"]]
    assert not claims or held  # "reliably" only where some comparison holds across seeds
