"""Batch strategies: distinct groups and positives, exact sizes, determinism and resume, rank agreement,
proportions, and clear failures for data a strategy cannot use. Synthetic groups only."""

from __future__ import annotations

from pathlib import Path
import json
import math
from collections import Counter

import pytest

from polyret.data.groups import Group
from polyret.errors import PolyretError
from polyret.sampling import STRATEGIES, Batch, make_sampler

# Translated QA: group i has language L when i < SIZES[L], so languages (and pairs) differ in size.
SIZES = {"en": 400, "de": 300, "es": 150, "ar": 60}


def translated() -> list[Group]:
    return [
        Group(
            id=f"tqa-{i}",
            source="tqa",
            queries={lang: f"question {i} in {lang}" for lang, n in SIZES.items() if i < n},
            passages={lang: f"passage {i} in {lang}" for lang, n in SIZES.items() if i < n},
        )
        for i in range(max(SIZES.values()))
    ]


def native(lang: str, n: int, distinct: int | None = None) -> list[Group]:
    """Native QA in one language; with `distinct`, passages repeat (several questions on one sentence)."""
    return [
        Group(
            id=f"native-{lang}-{i}",
            source=f"native-{lang}",
            queries={lang: f"{lang} question {i}"},
            passages={lang: f"shared passage {i % distinct}" if distinct else f"{lang} passage {i}"},
        )
        for i in range(n)
    ]


def parallel(n: int, langs: tuple[str, ...] = ("en", "de", "ja")) -> list[Group]:
    return [
        Group(id=f"par-{i}", source="par", queries={lang: f"parallel {i} in {lang}" for lang in langs})
        for i in range(n)
    ]


def mixed_data() -> list[Group]:
    return translated() + native("sw", 30) + parallel(80)


def within(count: int, n: int, p: float) -> bool:
    """Is `count` of `n` draws within 4 binomial standard errors of the expectation n * p?"""
    return abs(count - n * p) <= 4 * math.sqrt(n * p * (1 - p))


def assert_distinct(batch: Batch, size: int) -> None:
    assert len(batch) == size
    for column in (batch.group_ids, batch.positives):
        assert len(set(column)) == size, column
    assert len(batch.queries) == len(batch.query_langs) == len(batch.positive_langs) == size


@pytest.mark.parametrize(
    ("strategy", "per_example_pairs"),
    [(s, False) for s in STRATEGIES] + [("x_y", True), ("hybrid", True)],
)
def test_batches_have_exact_size_and_no_repeated_group_or_positive(strategy: str, per_example_pairs: bool) -> None:
    sampler = make_sampler(strategy, mixed_data(), 16, per_example_pairs=per_example_pairs, seed=3)
    for _ in range(300):
        assert_distinct(next(sampler), 16)


def test_repeated_passages_never_share_a_batch() -> None:
    # 100 questions on 12 sentences: a batch of 10 distinct groups would often repeat a positive.
    sampler = make_sampler("x_x_mono", native("fi", 100, distinct=12), 10)
    for _ in range(300):
        assert_distinct(next(sampler), 10)


def test_identical_positives_across_languages_never_share_a_mixed_batch() -> None:
    # fi and sv groups share the same 12 passage texts; x_x mixes the two languages inside a batch.
    groups = native("fi", 100, distinct=12) + native("sv", 40, distinct=12)
    sampler = make_sampler("x_x", groups, 10, tau=0.0)
    batches = [next(sampler) for _ in range(300)]
    for batch in batches:
        assert_distinct(batch, 10)
    assert any(len(set(b.query_langs)) == 2 for b in batches)


def test_translated_group_never_appears_twice_across_languages() -> None:
    # Every translated group feeds en-en and de-de: a mixed batch must not take it in both.
    groups = [g for g in translated() if int(g.id.split("-")[1]) < 20]
    sampler = make_sampler("x_x", groups, 16, tau=0.0)
    for _ in range(300):
        assert_distinct(next(sampler), 16)


def test_mixed_batches_that_cannot_avoid_repeats_are_redrawn_or_fail_clearly() -> None:
    # Group i has passage T(i) in fi and T(i+1) in sv: mixing the two languages blocks most combinations, while
    # a one-language batch always fits. Batches of 4 are redrawn until they fit; batches of 16 almost never fit.
    def cyclic(n: int) -> list[Group]:
        return [
            Group(
                id=f"cyclic-{i}",
                source="cyclic",
                queries={"fi": f"fi question {i}", "sv": f"sv question {i}"},
                passages={"fi": f"T{i}", "sv": f"T{(i + 1) % n}"},
            )
            for i in range(n)
        ]

    sampler = make_sampler("x_x", cyclic(4), 4, tau=0.0)
    for _ in range(100):
        assert_distinct(next(sampler), 4)
    with pytest.raises(PolyretError, match="x_x: could not draw 16 .*lower --batch-size"):
        next(make_sampler("x_x", cyclic(16), 16, tau=0.0))


def test_small_language_pairs_are_excluded_and_reported() -> None:
    sampler = make_sampler("x_x_mono", mixed_data(), 64)
    assert sampler.excluded[("ar", "ar")] == 60
    assert sampler.excluded[("sw", "sw")] == 30
    assert set(sampler.probabilities["mono"]) == {("en", "en"), ("de", "de"), ("es", "es")}
    seen = Counter(next(sampler).language_pair for _ in range(500))
    assert set(seen) == {("en", "en"), ("de", "de"), ("es", "es")}


def test_no_language_large_enough_fails_at_construction() -> None:
    with pytest.raises(PolyretError, match=r"x_x_mono.*--batch-size 500.*en-en 400"):
        make_sampler("x_x_mono", mixed_data(), 500)


def test_same_seed_same_batches_other_seed_other_batches() -> None:
    def ids(seed: int) -> list[list[str]]:
        sampler = make_sampler("hybrid", mixed_data(), 8, seed=seed)
        return [next(sampler).group_ids for _ in range(20)]

    assert ids(7) == ids(7)
    assert ids(7) != ids(8)
    sampler = make_sampler("hybrid", mixed_data(), 8, seed=7)
    assert sampler.batch_at(13) == make_sampler("hybrid", mixed_data(), 8, seed=7).batch_at(13)


@pytest.mark.parametrize("strategy", ["hybrid", "x_x"])
def test_resume_continues_with_the_batches_of_an_uninterrupted_run(strategy: str) -> None:
    sampler = make_sampler(strategy, mixed_data(), 8, seed=5)
    for _ in range(10):
        next(sampler)
    state = json.loads(json.dumps(sampler.state_dict()))
    uninterrupted = [next(sampler) for _ in range(5)]
    resumed = make_sampler(strategy, mixed_data(), 8, seed=5)
    resumed.load_state_dict(state)
    assert [next(resumed) for _ in range(5)] == uninterrupted
    assert uninterrupted[0].step == 10


def test_resume_refuses_a_state_from_other_options_or_data() -> None:
    state = make_sampler("hybrid", mixed_data(), 8, seed=5).state_dict()
    with pytest.raises(PolyretError, match="alpha"):
        make_sampler("hybrid", mixed_data(), 8, seed=5, alpha=0.3).load_state_dict(state)
    with pytest.raises(PolyretError, match="seed"):
        make_sampler("hybrid", mixed_data(), 8, seed=6).load_state_dict(state)
    with pytest.raises(PolyretError, match="groups"):
        make_sampler("hybrid", mixed_data()[:-1], 8, seed=5).load_state_dict(state)


@pytest.mark.parametrize(
    ("strategy", "per_example_pairs"), [("hybrid", False), ("hybrid", True), ("x_x", False)]
)
def test_ranks_agree_on_the_batch_setting_and_take_disjoint_shards(strategy: str, per_example_pairs: bool) -> None:
    data = mixed_data()
    ranks = [
        make_sampler(strategy, data, 16, world_size=2, rank=r, seed=11, per_example_pairs=per_example_pairs)
        for r in (0, 1)
    ]
    whole = make_sampler(strategy, data, 16, seed=11, per_example_pairs=per_example_pairs)
    for _ in range(200):
        a, b = next(ranks[0]), next(ranks[1])
        assert len(a) == len(b) == 8
        assert (a.step, a.kind, a.language_pair) == (b.step, b.kind, b.language_pair)
        if a.language_pair is not None:
            assert set(a.query_langs) | set(b.query_langs) == {a.language_pair[0]}
        assert not set(a.group_ids) & set(b.group_ids)
        assert not set(a.positives) & set(b.positives)
        # The global batch does not depend on the number of devices.
        assert a.group_ids + b.group_ids == whole.batch_at(a.step).group_ids


@pytest.mark.parametrize("alpha", [0.2, 0.5, 0.8])
def test_hybrid_share_of_mono_batches_is_alpha(alpha: float) -> None:
    sampler = make_sampler("hybrid", translated(), 2, alpha=alpha)
    n = 10_000
    mono = sum(next(sampler).kind == "mono" for _ in range(n))
    assert within(mono, n, alpha), (mono, n * alpha)


def expected(sizes: dict[tuple[str, str], int], tau: float) -> dict[tuple[str, str], float]:
    weights = {key: n**tau for key, n in sizes.items()}
    return {key: w / sum(weights.values()) for key, w in weights.items()}


@pytest.mark.parametrize("tau", [0.0, 0.5, 1.0])
def test_mono_language_frequencies_follow_n_to_the_tau(tau: float) -> None:
    sampler = make_sampler("x_x_mono", translated(), 2, tau=tau)
    want = expected({(lang, lang): n for lang, n in SIZES.items()}, tau)
    assert sampler.probabilities["mono"] == pytest.approx(want)
    n = 10_000
    seen = Counter(next(sampler).language_pair for _ in range(n))
    for key, p in want.items():
        assert within(seen[key], n, p), (key, seen[key], n * p)


@pytest.mark.parametrize("per_example_pairs", [False, True])
def test_cross_pair_frequencies_follow_n_to_the_tau(per_example_pairs: bool) -> None:
    tau = 0.5
    sampler = make_sampler("x_y", translated(), 2, tau=tau, per_example_pairs=per_example_pairs)
    sizes = {(a, b): min(SIZES[a], SIZES[b]) for a in SIZES for b in SIZES if a != b}
    want = expected(sizes, tau)
    n = 10_000
    seen: Counter[tuple[str, str]] = Counter()
    for _ in range(n):
        batch = next(sampler)
        seen.update({batch.language_pair} if batch.language_pair else zip(batch.query_langs, batch.positive_langs))
    draws = n * (2 if per_example_pairs else 1)
    for key, p in want.items():
        assert within(seen[key], draws, p), (key, seen[key], draws * p)


def test_per_example_language_frequencies_in_x_x() -> None:
    sampler = make_sampler("x_x", translated(), 2, tau=1.0)
    want = expected({(lang, lang): n for lang, n in SIZES.items()}, 1.0)
    n = 10_000
    seen = Counter(lang for _ in range(n) for lang in next(sampler).query_langs)
    for (lang, _), p in want.items():
        assert within(seen[lang], 2 * n, p), (lang, seen[lang], 2 * n * p)


@pytest.mark.parametrize("per_example_pairs", [False, True])
def test_batch_kinds_hold_the_right_language_pairs(per_example_pairs: bool) -> None:
    sampler = make_sampler("hybrid", mixed_data(), 8, per_example_pairs=per_example_pairs)
    kinds: Counter[str] = Counter()
    mixed_pairs = False
    for _ in range(400):
        batch = next(sampler)
        kinds[batch.kind] += 1
        pairs = list(zip(batch.query_langs, batch.positive_langs))
        if batch.kind == "mono":
            assert len(set(pairs)) == 1 and pairs[0][0] == pairs[0][1]
        else:
            assert all(q != p for q, p in pairs)
            assert len(set(pairs)) == 1 or per_example_pairs
            mixed_pairs |= len(set(pairs)) > 1
    assert kinds["mono"] and kinds["cross"]
    assert mixed_pairs == per_example_pairs


def test_mono_strategies_hold_same_language_pairs() -> None:
    def batches(strategy: str) -> list[Batch]:
        sampler = make_sampler(strategy, mixed_data(), 8)
        return [next(sampler) for _ in range(100)]

    for batch in batches("x_x_mono"):
        assert batch.kind == "mono" and len(set(batch.query_langs + batch.positive_langs)) == 1
    x_x = batches("x_x")
    assert all(q == p for b in x_x for q, p in zip(b.query_langs, b.positive_langs))
    assert any(len(set(b.query_langs)) > 1 for b in x_x)
    assert all(set(b.query_langs + b.positive_langs) == {"en"} for b in batches("en_en"))


@pytest.mark.parametrize(
    ("strategy", "groups", "message"),
    [
        ("x_x_mono", parallel(100), r"x_x_mono needs .*same language.*none"),
        ("x_x", parallel(100), r"x_x needs .*same language"),
        ("x_y", native("sw", 100), r"x_y needs .*another language.*none"),
        ("en_en", native("sw", 100), r"en_en needs English"),
        ("hybrid", native("sw", 100), r"hybrid needs .*another language"),
        ("hybrid", parallel(100), r"hybrid needs .*same language"),
    ],
)
def test_strategies_the_data_cannot_feed_fail_clearly(strategy: str, groups: list[Group], message: str) -> None:
    with pytest.raises(PolyretError, match=message):
        make_sampler(strategy, groups, 8)


def test_hybrid_at_alpha_one_needs_only_mono_pairs() -> None:
    assert next(make_sampler("hybrid", native("sw", 100), 8, alpha=1.0)).kind == "mono"


def test_languages_restrict_both_sides() -> None:
    sampler = make_sampler("x_y", mixed_data(), 8, languages=["en", "ja"], per_example_pairs=True)
    assert set(sampler.probabilities["cross"]) == {("en", "ja"), ("ja", "en")}
    with pytest.raises(PolyretError, match="--languages: .*xx"):
        make_sampler("x_y", mixed_data(), 8, languages=["en", "xx"])
    with pytest.raises(PolyretError, match="x_x_mono needs .*none within --languages"):
        make_sampler("x_x_mono", mixed_data(), 8, languages=["ja"])


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"alpha": 1.5}, "--alpha"),
        ({"tau": -0.1}, "--tau"),
        ({"tau": math.nan}, "--tau"),
        ({"batch_size": 1}, "--batch-size"),
        ({"batch_size": 9, "world_size": 2}, "--batch-size 9"),
        ({"world_size": 2, "rank": 2}, "rank 2"),
        ({"strategy": "x_z"}, "--strategy.*x_x_mono"),
        ({"strategy": "x_x", "per_example_pairs": True}, "--per-example-pairs"),
        ({"seed": -1}, "--seed"),
    ],
)
def test_bad_options_name_the_option(options: dict[str, object], message: str) -> None:
    arguments: dict[str, object] = {"strategy": "hybrid", "groups": mixed_data(), "batch_size": 8, **options}
    with pytest.raises(PolyretError, match=message):
        make_sampler(**arguments)  # type: ignore[arg-type]


def test_repeated_group_ids_are_refused() -> None:
    with pytest.raises(PolyretError, match="repeat id 'native-sw-0'"):
        make_sampler("x_x_mono", native("sw", 20) + native("sw", 20), 8)


def test_same_language_negatives_in_cross_batches_read_back_from_the_log(tiny_models: dict, data_dir: Path,
                                                                         tmp_path: Path) -> None:
    """Every example of a cross-lingual batch gets a negative in its query's language, from a group outside the
    batch; monolingual batches get none; the trainer's log says so."""
    import json

    from typer.testing import CliRunner

    from polyret.cli import app

    out = tmp_path / "run"
    done = CliRunner().invoke(app, ["train", "--model", str(tiny_models["bert"]), "--strategy", "hybrid", "--alpha",
                                    "0.5", "--steps", "6", "--batch-size", "4", "--data-dir", str(data_dir),
                                    "--sources", "xnli", "--languages", "de,en,es", "--output", str(out),
                                    "--no-check-leakage", "--same-language-negatives", "--grad-accum", "2"])
    assert done.exit_code == 0, done.output
    records = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    kinds = {r["kind"] for r in records}
    assert kinds == {"mono", "cross"}
    for r in records:
        if r["kind"] == "cross":
            assert r["negatives"] == r["same_language_negatives"] == 4
        else:
            assert r.get("same_language_negatives", 0) == 0


def test_same_language_negatives_never_come_from_the_batch(data_dir: Path) -> None:
    from polyret.data.training import load_training_groups
    from polyret.sampling import make_sampler

    groups = load_training_groups(data_dir, sources=["xnli"], languages=["de", "en", "es"]).groups
    sampler = make_sampler("x_y", groups, 8, seed=3, languages=["de", "en", "es"], same_language_negatives=True)
    plain = make_sampler("x_y", groups, 8, seed=3, languages=["de", "en", "es"])
    by_id = {g.id: g for g in groups}
    for step in range(20):
        b = sampler.batch_at(step)
        assert b.queries == plain.batch_at(step).queries  # the option adds negatives, never changes the batch
        batch_texts = {t for g in b.group_ids for t in (*by_id[g].queries.values(), *by_id[g].passages.values())}
        for negative, lang, query_lang in zip(b.negatives, b.negative_langs, b.query_langs):
            assert negative is not None and lang == query_lang and negative not in batch_texts
            assert any(by_id[g].passages.get(lang) == negative or by_id[g].queries.get(lang) == negative
                       for g in by_id)
