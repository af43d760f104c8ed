"""`polyret run`: the grid trains and evaluates every cell, keeps finished work on a re-run, isolates failures,
and writes a report whose numbers are the cells' own."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from polyret.errors import PolyretError
from typer.testing import CliRunner

from polyret.cli import app
from polyret.strategy import Strategy
from polyret.study.grid import Cell, cells_of, train_config
from polyret.study.profiles import PROFILES
from polyret.study.run import parse_extra_benchmarks

from builders import write_generic

runner = CliRunner()
STRATEGIES = ["zero_shot", "zero_shot+center", "zero_shot+subspace", "x_x_mono", "x_y", "hybrid", "hybrid+noise",
              "hybrid+noise+center"]


def test_smoke_study_trains_evaluates_resumes_and_isolates_failures(tiny_models: dict[str, Path], data_dir: Path,
                                                                    tmp_path: Path) -> None:
    out = tmp_path / "study"
    extra = write_generic(tmp_path / "extra", [{"id": "d1", "text": "Paris is the capital of France.", "lang": "en"},
                                               {"id": "d2", "text": "Berlin ist die Hauptstadt.", "lang": "de"}],
                          [{"id": "q1", "text": "capital of France?", "lang": "en"},
                           {"id": "q2", "text": "Hauptstadt Deutschlands?", "lang": "de"}],
                          ["q1 0 d1 1", "q2 0 d2 1"])
    models = f"{tiny_models['bert']},{tmp_path / 'missing-model'}"
    args = ["run", "--data-dir", str(data_dir), "--profile", "smoke", "--output", str(out), "--models", models,
            "--extra-benchmark", f"mini={extra}"]
    first = runner.invoke(app, args)
    assert first.exit_code == 2 and "8 cell(s) failed" in " ".join(first.output.split()), first.output
    summary = json.loads((out / "results.json").read_text())
    rows = {c["strategy"]: c for c in summary["cells"] if c["status"] == "done"}
    assert sorted(rows) == sorted(STRATEGIES)  # the missing model's 8 cells failed, the tiny model's 8 finished
    assert all(c["status"] == "failed" for c in summary["cells"] if "missing-model" in c["model"])

    # trained cells trained with the profile's budget, each its own model; hybrid+noise noised its queries
    budget = PROFILES["smoke"].train
    for strategy in ("x_x_mono", "x_y", "hybrid", "hybrid+noise"):
        training = rows[strategy]["training"]
        assert training["steps"] == budget.steps and training["batch_size"] == budget.batch_size
        saved = json.loads((Path(training["directory"]) / "polyret_model.json").read_text())
        assert saved  # a finished, loadable model directory
    assert rows["x_x_mono"]["training"]["cross_batches"] == 0 and rows["x_y"]["training"]["mono_batches"] == 0
    assert rows["hybrid+noise"]["training"]["noised_texts"] is not None
    assert rows["hybrid"]["training"]["noised_texts"] is None
    assert len({rows[s]["model_fingerprint"] for s in ("zero_shot", "x_x_mono", "x_y", "hybrid")}) == 4

    # transforms are labelled, non-oracle; intervals hold their headline; differences are the metric differences
    for strategy, name in (("zero_shot+center", "center"), ("zero_shot+subspace", "subspace")):
        info = rows[strategy]["transform_info"]
        assert info["name"] == name and info["source"] == "tatoeba" and not info["oracle"]
    for row in rows.values():
        for metric, (low, high) in row["intervals"].items():
            assert low - 1e-9 <= row["metrics"][metric] <= high + 1e-9, metric
    hybrid = rows["hybrid"]
    for baseline in ("zero_shot", "x_x_mono", "x_y", "zero_shot+center"):
        versus = hybrid["versus"][baseline]["mul_map"]
        assert versus["difference"] == pytest.approx(
            hybrid["metrics"]["mul_map"] - rows[baseline]["metrics"]["mul_map"], abs=1e-9)
        assert versus["ci"][0] <= versus["difference"] <= versus["ci"][1] and 0 < versus["p_value"] <= 1
    assert "versus" in rows["x_y"] and "x_y" not in rows["x_x_mono"]["versus"]  # each baseline pair once
    stacked = rows["hybrid+noise+center"]  # the transform on the trained model: compared with the model alone
    assert stacked["training"] == rows["hybrid+noise"]["training"]  # one training serves both cells
    assert stacked["versus"]["hybrid+noise"]["mul_map"]["difference"] == pytest.approx(
        stacked["metrics"]["mul_map"] - rows["hybrid+noise"]["metrics"]["mul_map"], abs=1e-9)
    assert rows["zero_shot"]["versus"] == {}

    # robustness: the noised evaluation noised queries and its change is noised minus clean
    noised = rows["zero_shot"]["noised"]
    assert noised["query_noise"]["noised"] > 0 and noised["query_noise"]["changed"] > 0
    assert noised["change"]["difference"] == pytest.approx(noised["mul_map"] - rows["zero_shot"]["metrics"]["mul_map"],
                                                           abs=1e-9)
    # the extra benchmark was evaluated for every cell, with per-language figures
    for row in rows.values():
        assert set(row["extra"]["mini"]["per_language_mul_map"]) == {"de", "en"}

    report = (out / "report.md").read_text()
    for needle in ("smoke profile", "## Answer", "Highest Mul mAP", "95% bootstrap interval", "Extra benchmark: mini",
                   "Robustness to dialectal query noise", "failed", f"{hybrid['metrics']['mul_map']:.3f}"):
        assert needle in report, needle
    assert (out / "study_mul_map.png").stat().st_size > 1000
    assert json.loads((out / "leakage.json").read_text())["overlapping_texts"] == 0

    done_cell = out / "cells" / rows["hybrid"]["cell"] / "results.json"
    model_file = Path(rows["hybrid"]["training"]["directory"]) / "model.safetensors"
    stamps = done_cell.stat().st_mtime_ns, model_file.stat().st_mtime_ns
    again = runner.invoke(app, args)
    assert "finished earlier, kept" in " ".join(again.output.split())
    assert (done_cell.stat().st_mtime_ns, model_file.stat().st_mtime_ns) == stamps  # nothing redone or retrained


def test_unknown_strategies_profiles_and_extra_specs_are_refused(data_dir: Path, tmp_path: Path) -> None:
    base = ["run", "--data-dir", str(data_dir), "--profile", "smoke", "--output", str(tmp_path / "s")]
    bad = runner.invoke(app, [*base, "--strategies", "zero_shot,nope"])
    assert bad.exit_code == 2 and "unknown strategy 'nope'" in bad.output
    assert "--strategies: unknown strategy" in " ".join(bad.output.split()) and "--set" not in bad.output
    profile = runner.invoke(app, ["run", "--profile", "huge", "--output", str(tmp_path / "s")])
    assert profile.exit_code == 2 and "unknown profile 'huge'" in profile.output
    extra = runner.invoke(app, [*base, "--extra-benchmark", "nodir"])
    assert extra.exit_code == 2 and "expected NAME=DIR" in extra.output
    missing = runner.invoke(app, [*base, "--extra-benchmark", f"x={tmp_path / 'absent'}"])
    assert missing.exit_code == 2 and "absent" in missing.output
    assert not (tmp_path / "s" / "cells").exists()  # refused before any work


def test_grid_shares_one_training_per_base_strategy_and_seed(tmp_path: Path) -> None:
    profile = PROFILES["smoke"].model_copy(update={"strategies": ["zero_shot", "hybrid", "hybrid+center",
                                                                  "hybrid+noise+subspace"], "seeds": [0, 1]})
    cells = cells_of(["embedded:me5-small"], profile)
    assert [c.slug for c in cells if not c.trains] == ["me5-small__zero_shot"]
    trained = [c for c in cells if c.trains]
    assert len(trained) == 6 and {c.seed for c in trained} == {0, 1}
    parse = Strategy.parse
    assert (Cell("embedded:me5-small", parse("hybrid+center"), 1).training_slug
            == Cell("embedded:me5-small", parse("hybrid"), 1).training_slug)
    noisy = train_config(Cell("m", parse("hybrid+noise"), 0), profile, tmp_path, tmp_path / "o", "cpu")
    plain = train_config(Cell("m", parse("hybrid"), 0), profile, tmp_path, tmp_path / "o", "cpu")
    assert noisy.noise is not None and plain.noise is None and noisy.sampler_strategy == "hybrid"
    # the same budget for every trained cell: only strategy and noise differ
    assert noisy.model_dump(exclude={"strategy", "noise"}) == plain.model_dump(exclude={"strategy", "noise"})


def test_extra_benchmark_specs() -> None:
    assert parse_extra_benchmarks(["a=/x", "b-2=rel/dir"]) == {"a": Path("/x"), "b-2": Path("rel/dir")}
    for bad, message in ((["=x"], "NAME=DIR"), (["a="], "NAME=DIR"), (["a b=x"], "letters, digits"),
                         (["a=x", "a=y"], "twice")):
        with pytest.raises(PolyretError, match=message):
            parse_extra_benchmarks(bad)


def test_a_study_killed_mid_training_resumes_from_the_checkpoint(tiny_models: dict[str, Path], data_dir: Path,
                                                                tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    out = tmp_path / "study"
    launcher = [sys.executable, str(Path(__file__).with_name("train_launcher.py")), "--kill-at-step", "4", "--"]
    args = [sys.executable, "-m", "polyret", "run", "--data-dir", str(data_dir), "--profile", "smoke", "--output",
            str(out), "--models", str(tiny_models["bert"]), "--strategies", "zero_shot,x_y"]
    killed = subprocess.run(launcher + args[3:], capture_output=True, text=True, timeout=300)
    assert killed.returncode == -9  # SIGKILL at the start of step 4 of the x_y training; step 2's checkpoint holds
    train_dir = out / "train" / Cell(str(tiny_models["bert"]), Strategy.parse("x_y"), 0).training_slug
    assert (train_dir / "checkpoints").is_dir() and not (train_dir / "polyret_model.json").exists()
    zero_shot = Cell(str(tiny_models["bert"]), Strategy.parse("zero_shot"))
    assert (out / "cells" / zero_shot.slug / "results.json").exists()
    resumed = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert "resuming" in resumed.stderr and "finished earlier, kept" in " ".join(resumed.stderr.split())
    steps = [json.loads(line)["step"] for line in (train_dir / "log.jsonl").read_text().splitlines()]
    assert steps == [1, 2, 3, 4]  # every step once: the killed step 3 was dropped and redone
    summary = json.loads((out / "results.json").read_text())
    assert {c["status"] for c in summary["cells"]} == {"done"}


def test_answer_counts_how_often_a_comparison_holds_across_seeds() -> None:
    from polyret.study.report import _across_seeds

    def row(seed: int, diff: float, p: float) -> dict:
        return {"strategy": "hybrid+noise", "seed": seed,
                "versus": {"x_y": {"mul_map": {"difference": diff, "p_value": p, "ci": [diff - 0.01, diff + 0.01]}}}}

    lines = _across_seeds([row(0, -0.010, 0.002), row(1, -0.004, 0.3), row(2, 0.02, 0.01)], [0, 1, 2])
    assert lines == ["Across 3 seeds, hybrid+noise minus x_y in Mul mAP is -0.010, -0.004, +0.020: reliably higher "
                     "in 1, reliably lower in 1, not distinguishable in 1."]
    assert _across_seeds([row(0, 0.1, 0.001)], [0]) == []  # one seed: nothing to count
