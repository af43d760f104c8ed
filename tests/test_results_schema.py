"""results.json is written and read through one versioned model: what a reader refuses, and that every committed
result still reads."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from polyret.errors import PolyretError
from polyret.report.schema import (EVALUATION_VERSION, STUDY_VERSION, read_evaluation, read_study, write_evaluation,
                                   write_study)

REPO = Path(__file__).resolve().parents[1]


def _evaluation() -> dict:
    return {"polyret_result_version": EVALUATION_VERSION, "created": "2026-12-07T00:00:00+00:00",
            "metrics": {"mul_map": 0.5}, "model": {"spec": "m"}, "options": {},
            "benchmark": {"name": "xquad-r", "n_queries": 2, "n_candidates": 3, "languages": ["en"],
                          "files_sha256": {"en.json": "ab"}}}


def test_an_evaluation_round_trips_and_a_broken_one_is_never_written(tmp_path: Path) -> None:
    path = tmp_path / "results.json"
    write_evaluation(path, _evaluation())
    assert read_evaluation(path) == _evaluation()
    broken = _evaluation()
    del broken["benchmark"]["n_queries"]
    with pytest.raises(PolyretError, match=r"other.json: field benchmark.n_queries: Field required"):
        write_evaluation(tmp_path / "other.json", broken)
    assert not (tmp_path / "other.json").exists()


def test_a_generic_benchmark_result_from_before_the_schema_reads(tmp_path: Path) -> None:
    """Before the schema, a generic benchmark's results.json recorded the languages asked for (null: all), not the
    languages evaluated; such files (a study's extra-benchmark cells) must still read, or a resumed study fails."""
    old = _evaluation()
    old["benchmark"]["languages"] = None
    (tmp_path / "results.json").write_text(json.dumps(old))
    assert read_evaluation(tmp_path / "results.json")["benchmark"]["languages"] is None


def test_a_newer_version_or_a_bad_strategy_is_refused_naming_the_file(tmp_path: Path) -> None:
    newer = {**_evaluation(), "polyret_result_version": EVALUATION_VERSION + 1}
    (tmp_path / "results.json").write_text(json.dumps(newer))
    with pytest.raises(PolyretError, match="written by a newer polyret"):
        read_evaluation(tmp_path / "results.json")
    study = {"polyret_study_version": STUDY_VERSION, "created": "now", "profile": {}, "models": ["m"],
             "cells": [{"cell": "c", "model": "m", "strategy": "hybrid+sideways", "base": "hybrid", "status": "done"}]}
    with pytest.raises(PolyretError, match=r"field cells.0.strategy: .*unknown strategy 'hybrid\+sideways'"):
        write_study(tmp_path / "study.json", study)
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(PolyretError, match="bad.json: not valid JSON"):
        read_study(tmp_path / "bad.json")


def test_every_committed_result_reads_through_the_schema() -> None:
    """The results under results/ are what the README cites: they must stay readable by this code."""
    files = sorted((REPO / "results").rglob("results.json"))
    studies = [p for p in files if "cells" in json.loads(p.read_text())]
    evaluations = [p for p in files if p not in studies]
    assert studies and evaluations
    for path in studies:
        read_study(path)
    for path in evaluations:
        read_evaluation(path)
