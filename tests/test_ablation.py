"""The noise ablation table reads the studies' own paired differences and the training logs' noise tallies."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from polyret.cli import app
from polyret.errors import PolyretError
from polyret.study.ablation import ablation_rows, render_ablation


def _cmp(difference: float, low: float, high: float, p: float) -> dict:
    return {"difference": difference, "ci": [low, high], "p_value": p}


def _study(root: Path, families: list[str] | None, dialects: list[str], tallies: list[tuple[int, int]],
           design: str = "controlled") -> Path:
    cell = f"m__{design}__hybrid+noise__s0"
    summary = {
        "polyret_study_version": 1, "created": "2026-12-07T00:00:00+00:00", "models": ["m"],
        "profile": {"train": {"noise": {"families": families, "dialects": dialects}}},
        "code_version": {"polyret": "0.1.0", "git_commit": "abcdef1234567", "git_dirty": False},
        "cells": [
            {"cell": f"m__{design}__hybrid__s0", "model": "m", "strategy": "hybrid", "base": "hybrid", "design": design, "seed": 0,
             "status": "done", "versus": {}},
            {"cell": cell, "model": "m", "strategy": "hybrid+noise", "base": "hybrid+noise", "design": design, "seed": 0, "status": "done",
             "versus": {"hybrid": {"mul_map": _cmp(-0.004, -0.006, -0.002, 0.0004)}},
             "noise_change_versus": {"hybrid": _cmp(0.01, 0.002, 0.018, 0.02)},
             "extra": {"ntrex-dialects": {"noise_versus_hybrid": {
                 "gsw-BE": {"n_queries": 100, **_cmp(0.024, 0.006, 0.041, 0.01)}}}}},
        ],
    }
    root.mkdir(parents=True)
    (root / "results.json").write_text(json.dumps(summary))
    log = root / "train" / cell / "log.jsonl"
    log.parent.mkdir(parents=True)
    log.write_text("".join(json.dumps({"step": i, "noise": {"texts": t, "noised": t, "changed": c}}) + "\n"
                           for i, (t, c) in enumerate(tallies)))
    return root


def test_rows_carry_the_studies_differences_and_the_changed_share(tmp_path: Path) -> None:
    lexical = _study(tmp_path / "lex", ["lexical"], ["all-*"], [(16, 1), (16, 3)])
    everything = _study(tmp_path / "all", None, ["all-*"], [(10, 5)])
    rows = ablation_rows({"lexical": lexical, "all": everything})
    assert [r["arm"] for r in rows] == ["lexical", "all"]
    assert rows[0]["changed_share"] == pytest.approx(4 / 32)  # summed over the log, not averaged per step
    assert rows[1]["changed_share"] == pytest.approx(0.5)
    assert rows[0]["clean"]["difference"] == -0.004
    text = render_ablation(rows)
    assert "| lexical (seed 0) | lexical; all-* | 12.5% | -0.004 [-0.006, -0.002], p < 0.001 | " \
           "+0.010 [+0.002, +0.018], p = 0.020 | +0.024 [+0.006, +0.041], p = 0.010 |" in text
    assert "| all (seed 0) | all families; all-* | 50.0% |" in text
    assert "gsw-BE" in text and "es-MX" not in text  # only varieties some arm measured
    assert "commit abcdef1234" in text


def test_missing_or_wrong_design_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(PolyretError, match="no .*results.json; run the study first"):
        ablation_rows({"x": tmp_path / "nowhere"})
    practical = _study(tmp_path / "p", None, ["all-*"], [(1, 1)], design="practical")
    with pytest.raises(PolyretError, match="no finished hybrid\\+noise cell of the controlled design"):
        ablation_rows({"p": practical})
    assert ablation_rows({"p": practical}, design="practical")[0]["changed_share"] == 1.0


def test_cli_writes_the_table_and_rejects_bad_arms(tmp_path: Path) -> None:
    study = _study(tmp_path / "s", ["phonological"], ["all-*"], [(4, 1)])
    out = tmp_path / "ablation.md"
    result = CliRunner().invoke(app, ["ablation", f"phon={study}", "--output", str(out)])
    assert result.exit_code == 0, result.output
    assert "| phon (seed 0) | phonological; all-* | 25.0% |" in out.read_text()
    assert "![forest plot of the ablation](ablation.png)" in out.read_text()
    assert (tmp_path / "ablation.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    bad = CliRunner().invoke(app, ["ablation", str(study)])
    assert bad.exit_code != 0 and "ARM=STUDY_DIR" in bad.output
