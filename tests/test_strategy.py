"""The typed strategy value and the batch-strategy registry, where users meet them: parsing, the grid, the
sampler and `polyret train`'s config."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from polyret.errors import PolyretError
from polyret.sampling import BATCH_STRATEGIES, BatchStrategy, make_sampler, register_batch_strategy
from polyret.strategy import Strategy, check_strategies
from polyret.study.grid import cells_of, train_config
from polyret.study.profiles import PROFILES, Profile
from polyret.train.config import TrainConfig
from polyret.data.groups import Group


def translated(n: int = 40, langs: tuple[str, ...] = ("de", "en", "es")) -> list[Group]:
    return [Group(id=f"t-{i}", source="t", queries={lang: f"q {i} {lang}" for lang in langs},
                  passages={lang: f"p {i} {lang}" for lang in langs}) for i in range(n)]


def test_parse_reads_every_part_and_writes_the_name_back() -> None:
    s = Strategy.parse("hybrid+noise+center")
    assert (s.batches, s.noise, s.transform, s.trains) == ("hybrid", True, "center", True)
    assert s.name == str(s) == "hybrid+noise+center"
    assert s.base == Strategy("hybrid", noise=True) and s.base.name == "hybrid+noise"
    z = Strategy.parse("zero_shot+subspace")
    assert (z.batches, z.noise, z.transform, z.trains) == ("zero_shot", False, "subspace", False)
    assert Strategy.parse("x_y") == Strategy("x_y")


@pytest.mark.parametrize("name", ["nope", "hybrid+center+noise", "zero_shot+noise", "x_y+noise+noise", "x_y+",
                                  "hybrid+center+center"])
def test_parse_refuses_what_is_not_a_strategy(name: str) -> None:
    with pytest.raises(PolyretError, match="unknown strategy"):
        Strategy.parse(name)


def test_the_grid_and_the_profile_hold_parsed_values() -> None:
    with pytest.raises(PolyretError, match="--strategies: unknown strategy 'x_z'"):
        check_strategies(["x_y", "x_z"])
    with pytest.raises(PolyretError, match="listed twice"):
        check_strategies(["x_y", "x_y"])
    with pytest.raises(ValidationError, match="unknown strategy"):
        Profile(name="smoke", strategies=["zero_shot", "hybird"])
    profile = PROFILES["smoke"].model_copy(update={"strategies": ["x_y+noise", "zero_shot"]})
    cells = cells_of(["m"], profile)
    assert [type(c.strategy) for c in cells] == [Strategy, Strategy]
    noisy = next(c for c in cells if c.trains)
    config = train_config(noisy, profile, Path("d"), Path("o"), "cpu")
    # noise is a part of the value, not of hybrid: x_y+noise trains x_y batches with the profile's noise
    assert config.sampler_strategy == "x_y" and config.noise is not None


def test_train_config_takes_training_strategies_only() -> None:
    assert TrainConfig(strategy="x_x_mono+noise").noise is not None
    for bad, why in (("zero_shot", "not a training strategy"), ("hybrid+center", "not a training strategy"),
                     ("mono", "unknown strategy 'mono'")):
        with pytest.raises(ValidationError, match=why):
            TrainConfig(strategy=bad)


def test_a_registered_batch_strategy_trains_and_is_a_study_strategy() -> None:
    """A user's strategy is one registry entry: the sampler draws by its spec (here 1 batch in 4 monolingual,
    whatever alpha says), the study grid and the train config accept its name."""
    name = "quarter_mono"
    spec = BatchStrategy(name, lambda alpha: 0.25, "one batch in four monolingual")
    try:
        register_batch_strategy(spec)
        groups = translated()
        sampler = make_sampler(name, groups, batch_size=4, alpha=0.9, seed=3)
        kinds = [sampler.batch_at(step).kind for step in range(2000)]
        share = kinds.count("mono") / len(kinds)
        assert 0.22 < share < 0.28  # binomial sd at n=2000 is 0.01
        assert Strategy.parse(f"{name}+noise").batches == name
        assert TrainConfig(strategy=name).sampler_strategy == name
        with pytest.raises(PolyretError, match="taken"):
            register_batch_strategy(spec)
        for reserved in ("noise", "center", "x-y", "a+b"):
            with pytest.raises(PolyretError, match="reserved or not a plain name"):
                register_batch_strategy(BatchStrategy(reserved, lambda alpha: 0.5, "bad name"))
        # a results file naming it reads in a process that never registered it: the grammar is checked, not the registry
        assert Strategy.parse(f"{name}+center", registered_only=False).transform == "center"
    finally:
        BATCH_STRATEGIES.pop(name, None)
    with pytest.raises(PolyretError, match="unknown strategy"):
        Strategy.parse(name)


def test_a_share_outside_0_1_is_refused_when_the_sampler_is_built() -> None:
    name = "overshoot"
    register_batch_strategy(BatchStrategy(name, lambda alpha: alpha * 2, "twice alpha"))
    try:
        make_sampler(name, translated(), batch_size=4, alpha=0.5)  # share 1.0: fine
        with pytest.raises(PolyretError, match="share of monolingual batches is 1.6 at alpha 0.8"):
            make_sampler(name, translated(), batch_size=4, alpha=0.8)
    finally:
        BATCH_STRATEGIES.pop(name, None)


def test_per_example_pairs_names_the_strategies_that_take_it() -> None:
    with pytest.raises(PolyretError, match="--per-example-pairs applies to x_y, hybrid batches"):
        make_sampler("x_x_mono", translated(), batch_size=4, per_example_pairs=True)
