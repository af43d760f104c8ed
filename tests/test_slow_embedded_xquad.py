"""Long: the embedded model on the probe subset (docs/design.md section 3) reproduces the published probe figures."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from polyret.cli import app


@pytest.mark.slow
def test_probe_subset_figures(data_dir: Path, tmp_path: Path) -> None:
    """docs/design.md section 3: first 4 articles, 11 languages -> Mo/Cr/Mul 0.806/0.727/0.416, rank distance 141."""
    out = tmp_path / "probe"
    result = CliRunner().invoke(app, ["evaluate", "--data-dir", str(data_dir), "--articles", "4", "--output", str(out)])
    assert result.exit_code == 0, result.output
    metrics = json.loads((out / "results.json").read_text())["metrics"]
    assert metrics["mo_map"] == pytest.approx(0.806, abs=0.005)
    assert metrics["cr_map"] == pytest.approx(0.727, abs=0.005)
    assert metrics["mul_map"] == pytest.approx(0.416, abs=0.005)
    assert metrics["rank_distance"] == pytest.approx(141, abs=5)
