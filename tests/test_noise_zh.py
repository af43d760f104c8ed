"""Chinese rule table: each dialect target's families on hand-written sentences, exact outputs at rate 1."""

from __future__ import annotations

import pytest
from noise_cases import only_for, realism_records, xquad_questions

from polyret.noise import dialect_table, noise_text

only = only_for("zh")


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


def test_pinyin_homophone_typos() -> None:
    assert [rule.id for rule in dialect_table("zh", "typos").rules] == ["zh.pinyin_homophones"]
    # weight 0.3: each site is swapped for a same-syllable character on about a third of the seeds
    text = "我在做作业。"
    swaps = {"在": "再", "做": "作", "作": "做"}
    outputs = {only(text, "typos", "typo", seed=seed) for seed in range(40)}
    assert text in outputs and len(outputs) >= 4
    for out in outputs:
        assert len(out) == len(text)
        assert all(a == b or swaps.get(a) == b for a, b in zip(text, out)), out


def test_cantonese_words_reach_half_the_questions() -> None:
    # test_noise_tables.py checks that most questions change; here: not only the script, Cantonese words too
    questions = xquad_questions("zh")
    noised = [noise_text(q, "zh", "yue", 0.5, seed=i) for i, q in enumerate(questions)]
    lexical = sum(any(f.family == "lexical" for f in r.fired) for r in noised)
    assert lexical / len(questions) >= 0.5


def test_noise_moves_standard_chinese_toward_real_dialect_text() -> None:
    records = realism_records("zh")
    assert set(records) == {"zh-yue", "zh-wuu"}
    for record in records.values():
        assert record.noised_similarity > record.clean_similarity + 0.01, record
