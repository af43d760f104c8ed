"""Study designs: every trained cell of a controlled study draws from one identical group set (groups that feed
both batch kinds), practical cells from all groups; en_en trains in both; the report shows per-cell composition
measured from the logs, the dialect benchmark per variety and seen/unseen splits."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from polyret.cli import app
from polyret.data.training import load_training_groups
from polyret.sampling import design_groups, make_sampler
from polyret.strategy import Strategy
from polyret.study.grid import cells_of
from polyret.study.profiles import PROFILES

runner = CliRunner()


def test_controlled_groups_feed_both_kinds_and_are_the_same_for_every_strategy(data_dir: Path) -> None:
    groups = design_groups(load_training_groups(data_dir).groups, "controlled")
    assert {g.source for g in groups} == {"xnli", "ntrex"}
    hashes = {make_sampler(s, groups, 16, per_example_pairs=s == "hybrid").describe()["groups_sha256"]
              for s in ("x_x_mono", "x_y", "hybrid", "x_x", "en_en")}
    assert len(hashes) == 1
    practical = design_groups(load_training_groups(data_dir).groups, "practical")
    for chosen in (groups, practical):  # en_en has an en-en pool in both designs (TyDi QA en; XNLI / NTREX en)
        batch = make_sampler("en_en", chosen, 16).batch_at(0)
        assert set(batch.query_langs) == set(batch.positive_langs) == {"en"}


def test_grid_has_every_trained_strategy_in_each_design() -> None:
    profile = PROFILES["smoke"].model_copy(update={"designs": ["practical", "controlled"],
                                                   "strategies": ["zero_shot", "x_y", "hybrid"]})
    cells = cells_of(["m"], profile)
    assert [(c.strategy.name, c.design) for c in cells] == [("zero_shot", None), ("x_y", "practical"),
                                                       ("hybrid", "practical"), ("x_y", "controlled"),
                                                       ("hybrid", "controlled")]
    assert "controlled" not in cells[1].slug + cells[1].training_slug  # practical cells keep their old names
    assert "__controlled__" in cells[3].training_slug and cells[3].training_slug != cells[1].training_slug


@pytest.mark.slow  # about 3 minutes: 8 tiny trainings and 9 evaluations; the fast test above checks the sampler
def test_controlled_study_cells_draw_from_identical_group_sets(tiny_models: dict[str, Path], data_dir: Path,
                                                               tmp_path: Path) -> None:
    out = tmp_path / "study"
    args = ["run", "--data-dir", str(data_dir), "--profile", "smoke", "--output", str(out),
            "--models", str(tiny_models["bert"]), "--strategies", "zero_shot,x_x_mono,x_y,hybrid,en_en",
            "--designs", "practical,controlled", "--holdout-languages", "de", "--steps", "3",
            "--dialect-sentences", "4"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "results.json").read_text())
    trained = [c for c in summary["cells"] if c["seed"] is not None]
    assert len(trained) == 8 and all(c["status"] == "done" for c in summary["cells"])
    by_design: dict[str, set[str]] = {}
    for cell in trained:
        info = json.loads((Path(cell["training"]["directory"]) / "sampler.json").read_text())
        assert info["design"] == cell["design"] == cell["training"]["sampler"]["design"]
        by_design.setdefault(cell["design"], set()).add(info["groups_sha256"])
        assert "de" not in info["languages"]
        drawn = set(cell["training"]["sources"])
        assert sum(cell["training"]["language_pairs"].values()) == 3 * 8  # steps x batch
        assert not any("de" in pair.split("-") for pair in cell["training"]["language_pairs"])
        if cell["design"] == "controlled":
            assert drawn <= {"xnli", "ntrex"}
        if cell["strategy"] == "en_en":
            assert set(cell["training"]["language_pairs"]) == {"en-en"}
    assert len(by_design["controlled"]) == 1 and len(by_design["practical"]) == 1
    assert by_design["controlled"] != by_design["practical"]
    # baselines are compared within a design
    hybrid_c = next(c for c in trained if c["strategy"] == "hybrid" and c["design"] == "controlled")
    x_y_c = next(c for c in trained if c["strategy"] == "x_y" and c["design"] == "controlled")
    assert abs(hybrid_c["versus"]["x_y"]["mul_map"]["difference"]
               - (hybrid_c["metrics"]["mul_map"] - x_y_c["metrics"]["mul_map"])) < 1e-9
    assert set(hybrid_c["seen_unseen"]) == {"seen", "unseen"} and hybrid_c["seen_unseen"]["unseen"]["languages"] == ["de"]
    varieties = hybrid_c["extra"]["ntrex-dialects"]["varieties"]
    assert set(varieties) >= {"gsw-BE", "es-MX", "zh-TW"} and varieties["gsw-BE"]["n_queries"] == 4
    report = (out / "report.md").read_text()
    for needle in ("## Data composition", "## Dialect benchmark", "## Seen and unseen query languages",
                   "hybrid [controlled] (seed 0)", "gsw-BE (vs de)"):
        assert needle in report, needle


def test_set_overrides_profile_options_by_name() -> None:
    from polyret.cli.study import _with_settings
    from polyret.errors import PolyretError
    from polyret.study.profiles import PROFILES

    standard = PROFILES["standard"]
    changed = _with_settings(standard, ["train.loss=margin", "train.distill_weight=0.5", "mlqa_r=false",
                                        "noise_eval=[]", "train.same_language_negatives=true"])
    assert (changed.train.loss, changed.train.distill_weight, changed.mlqa_r, changed.noise_eval,
            changed.train.same_language_negatives) == ("margin", 0.5, False, [], True)
    assert changed.train.steps == standard.train.steps and standard.train.loss == "infonce"  # nothing else moves
    with pytest.raises(PolyretError, match="no option 'train.los'"):
        _with_settings(standard, ["train.los=margin"])
    with pytest.raises(PolyretError, match="option 'train.loss'"):
        _with_settings(standard, ["train.loss=triplet"])
    with pytest.raises(PolyretError, match="expected KEY=VALUE"):
        _with_settings(standard, ["train.loss"])


def test_the_recipe_reaches_every_trained_cell(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from polyret.cli.study import _with_settings
    from polyret.study.grid import cells_of, train_config
    from polyret.study.profiles import PROFILES

    profile = _with_settings(PROFILES["standard"], ["train.loss=margin", "train.same_language_negatives=true"])
    configs = [train_config(c, profile, tmp_path, tmp_path / c.slug, "cpu") for c in cells_of(["m"], profile)
               if c.trains]
    assert configs and all(c.loss == "margin" and c.same_language_negatives for c in configs)


def test_study_clock_counts_cells_and_estimates_the_rest() -> None:
    from polyret.study.grid import Cell
    from polyret.study.run import StudyClock

    cells = [Cell("m", Strategy.parse(name), seed)
             for name, seed in (("zero_shot", None), ("x_y", 0), ("hybrid", 0), ("x_x_mono", 0))]
    clock = StudyClock(len(cells))
    clock.plan(cells)
    first = clock.tick(cells[0], 30.0)
    assert "1/4 cells done" in first and "left" in first
    second = clock.tick(cells[1], 300.0)  # one trained cell measured: the two left are estimated at 300 s each
    assert "2/4 cells done" in second and "about 10 min 00 s left" in second
    clock.tick(cells[2], 300.0)
    assert "left" not in clock.tick(cells[3], 300.0)  # finished: no estimate


def test_profiles_that_answer_the_question_train_with_the_recipe(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from polyret.study.grid import cells_of, train_config
    from polyret.study.profiles import PROFILES, RECIPE

    for name in ("quick", "standard", "full"):
        configs = [train_config(c, PROFILES[name], tmp_path, tmp_path / c.slug, "cpu")
                   for c in cells_of(["m"], PROFILES[name]) if c.trains]
        assert configs and all((c.distill_weight, c.mixed_precision) == (RECIPE["distill_weight"],
                                                                         RECIPE["mixed_precision"]) for c in configs)
    assert PROFILES["quick"].designs == ["controlled"]  # the research question's design, in the 15-minute budget
