"""`polyret run`: the grid runs, finished cells are kept on a re-run, a failed cell does not lose the others."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from polyret.cli import app

runner = CliRunner()


def test_smoke_study_resumes_and_isolates_failures(tiny_models: dict[str, Path], data_dir: Path,
                                                   tmp_path: Path) -> None:
    out = tmp_path / "study"
    models = f"{tiny_models['bert']},{tmp_path / 'missing-model'}"
    args = ["run", "--data-dir", str(data_dir), "--profile", "smoke", "--output", str(out), "--models", models]
    first = runner.invoke(app, args)
    assert first.exit_code == 2 and "3 cell(s) failed" in " ".join(first.output.split())
    summary = json.loads((out / "results.json").read_text())
    status = {c["cell"]: c["status"] for c in summary["cells"]}
    assert sorted(status.values()) == ["done"] * 3 + ["failed"] * 3  # 2 models x 3 strategies; one model is missing
    done = next(c for c in summary["cells"] if c["status"] == "done")
    cells = {c["cell"].rsplit("__", 1)[1]: c for c in summary["cells"] if c["status"] == "done"}
    assert set(cells) == {"zero_shot", "zero_shot+center", "zero_shot+subspace"}
    for strategy, name in (("zero_shot+center", "center"), ("zero_shot+subspace", "subspace")):
        transform = json.loads((out / "cells" / cells[strategy]["cell"] / "results.json").read_text())["transform"]
        assert transform["name"] == name and transform["source"] == "tatoeba" and not transform["oracle"]
    assert cells["zero_shot+center"]["metrics"] != cells["zero_shot"]["metrics"]
    for row in cells.values():  # every headline lies inside its own bootstrap interval
        for metric, (low, high) in row["intervals"].items():
            assert low <= row["metrics"][metric] + 1e-9 and row["metrics"][metric] - 1e-9 <= high, metric
    versus = cells["zero_shot+center"]["versus_zero_shot"]["mul_map"]
    assert versus["difference"] == pytest.approx(
        cells["zero_shot+center"]["metrics"]["mul_map"] - cells["zero_shot"]["metrics"]["mul_map"], abs=1e-9)
    assert 0 < versus["p_value"] <= 1 and "versus_zero_shot" not in cells["zero_shot"]
    assert set(done["metrics"]) == {"mo_map", "cr_map", "mul_map", "r_at_1", "r_at_10", "rank_distance"}
    report = (out / "report.md").read_text()
    assert "smoke profile" in report and done["cell"] in report and "failed" in report
    assert "95% bootstrap interval" in report
    cell_results = out / "cells" / done["cell"] / "results.json"
    stamp = cell_results.stat().st_mtime_ns

    again = runner.invoke(app, args)
    assert "finished earlier, kept" in " ".join(again.output.split())
    assert cell_results.stat().st_mtime_ns == stamp  # the finished cell was not redone


def test_unknown_and_unimplemented_strategies_are_refused(data_dir: Path, tmp_path: Path) -> None:
    base = ["run", "--data-dir", str(data_dir), "--profile", "smoke", "--output", str(tmp_path / "s")]
    bad = runner.invoke(app, [*base, "--strategies", "zero_shot,nope"])
    assert bad.exit_code == 2 and "unknown strategy 'nope'" in bad.output
    profile = runner.invoke(app, ["run", "--profile", "huge", "--output", str(tmp_path / "s")])
    assert profile.exit_code == 2 and "unknown profile 'huge'" in profile.output
