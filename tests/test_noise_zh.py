"""Chinese rule table: each dialect target's families on hand-written sentences, exact outputs at rate 1."""

from __future__ import annotations

import json

import pytest
from conftest import find_data_dir

from polyret.noise import noise_text
from polyret.noise.tables import dialect_table

DATA = find_data_dir()
DIALECTS = ("yue", "wuu", "tw")


def only(text: str, dialect: str, *families: str, seed: int = 3) -> str:
    return noise_text(text, "zh", dialect, 1.0, seed=seed, families=frozenset(families)).text


@pytest.mark.parametrize("dialect, family, text, expected", [
    ("yue", "lexical", "他们不知道。", "佢哋唔知。"),
    ("yue", "lexical", "你在哪里？", "你喺邊度？"),
    ("yue", "lexical", "这是他的目的。", "呢個係佢嘅目的。"),
    ("yue", "morphosyntactic", "他比我高。", "他高過我。"),
    ("yue", "morphosyntactic", "你吃了吗？", "你吃咗未？"),
    ("yue", "orthographic", "这个问题很难。", "這個問題很難。"),
    ("yue", "orthographic", "她的头发很干净。", "她的頭髮很乾淨。"),
    ("wuu", "lexical", "我们不知道。", "阿拉勿晓得。"),
    ("wuu", "lexical", "他在哪里？", "伊垃海阿里搭？"),
    ("wuu", "morphosyntactic", "你去吗？", "你去𠲎？"),
    ("wuu", "morphosyntactic", "他把书忘掉了。", "他拿书忘脱了。"),
    ("wuu", "code_switching", "我要水泥。", "我要水门汀。"),
    ("tw", "lexical", "我的软件和网络", "我的軟體和網路"),
    ("tw", "morphosyntactic", "你吃了吗？", "你有吃嗎？"),
    ("tw", "orthographic", "这个问题很难。", "這個問題很難。"),
])
def test_each_family_of_each_dialect(dialect: str, family: str, text: str, expected: str) -> None:
    assert only(text, dialect, family) == expected


@pytest.mark.parametrize("dialect, family, text, noised", [
    # these rules have weight < 1, so even at rate 1 a site fires only on some seeds: over forty seeds the output
    # is either the text or exactly one of the given forms
    ("yue", "phonological", "佢嘅書", {"佢既書"}),
    ("yue", "code_switching", "我坐出租车。", {"我坐的士。"}),
    ("wuu", "phonological", "不要去。", {"覅去。"}),
    ("wuu", "orthographic", "侬去𠲎？", {"侬去伐？", "侬去哇？"}),
    ("tw", "phonological", "不要这样。", {"表这样。", "不要醬。", "表醬。"}),
    ("tw", "code_switching", "不好意思。", {"歹勢。"}),
])
def test_families_with_light_weights(dialect: str, family: str, text: str, noised: set[str]) -> None:
    outputs = {only(text, dialect, family, seed=seed) for seed in range(40)}
    assert text in outputs and outputs - {text}
    assert outputs - {text} <= noised


def test_rules_chain_in_table_order() -> None:
    # Cantonese words first, then aspect, then the whole text goes to traditional script
    assert only("我们在吃饭了。", "yue", "lexical", "morphosyntactic", "orthographic") in (
        "我哋食緊飯喇。", "我哋食緊飯啦。")
    assert only("你们说什么？", "wuu", "lexical") in ("㑚讲啥？", "㑚讲啥个？")


def test_every_dialect_has_three_families_and_typos_are_a_control() -> None:
    for dialect in DIALECTS:
        families = dialect_table("zh", dialect).families
        assert len(set(families) - {"typo"}) >= 3, (dialect, families)
        assert "typo" not in families
    typos = dialect_table("zh", "typos")
    assert typos.families == ("typo",)
    assert [rule.id for rule in typos.rules] == ["zh.pinyin_homophones"]


def test_pinyin_homophone_typos() -> None:
    # weight 0.3: each site is swapped for a same-syllable character on about a third of the seeds
    text = "我在做作业。"
    swaps = {"在": "再", "做": "作", "作": "做"}
    outputs = {only(text, "typos", "typo", seed=seed) for seed in range(40)}
    assert text in outputs and len(outputs) >= 4
    for out in outputs:
        assert len(out) == len(text)
        assert all(a == b or swaps.get(a) == b for a, b in zip(text, out)), out
    result = noise_text("他的书在桌子上。", "zh", "typos", 1.0, seed=2)
    assert {firing.family for firing in result.fired} <= {"typo"}


def test_deterministic_and_rate_zero_is_identity() -> None:
    text = "为什么他们在那里没有看见这个人？"
    for dialect in (*DIALECTS, "typos"):
        assert noise_text(text, "zh", dialect, 0.5, seed=1) == noise_text(text, "zh", dialect, 0.5, seed=1)
        assert noise_text(text, "zh", dialect, 0.0, seed=1).text == text
        assert noise_text(text, "zh", dialect, 0.0, seed=1).fired == ()


@pytest.mark.skipif(DATA is None, reason="shared data not found")
def test_most_questions_change_toward_cantonese() -> None:
    assert DATA is not None
    data = json.loads((DATA / "xquad-r" / "zh.json").read_text(encoding="utf-8"))
    questions = [qa["question"] for art in data["data"] for par in art["paragraphs"] for qa in par["qas"]]
    noised = [noise_text(q, "zh", "yue", 0.5, seed=i) for i, q in enumerate(questions)]
    assert sum(r.text != q for r, q in zip(noised, questions)) / len(questions) >= 0.6
    # not only the script: Cantonese words reach a good share of the questions too
    lexical = sum(any(f.family == "lexical" for f in r.fired) for r in noised)
    assert lexical / len(questions) >= 0.5


@pytest.mark.skipif(DATA is None or not (DATA / "dev" / "tatoeba").is_dir(), reason="dev/tatoeba not found")
def test_noise_moves_standard_chinese_toward_real_dialect_text() -> None:
    from polyret.noise.realism import realism

    assert DATA is not None
    records = {record.dialect: record for record in realism(DATA, languages=["zh"])}
    assert set(records) == {"zh-yue", "zh-wuu"}
    for record in records.values():
        assert record.noised_similarity > record.clean_similarity + 0.01, record
