"""The romanised targets ar-arabizi, zh-pinyin and th-karaoke: hand-written sentences, exact outputs at rate 1.

Romanisation is a code_switching rule with weight 4 (a whole-text script choice), so the other families are shown
with and without it: the lexical chat forms and the spelling rules act on the script the romanisation writes.
"""

from __future__ import annotations

import re

import pytest
from noise_cases import only_for

from polyret.noise import noise_text
from polyret.noise.tables import language_table

ARABIC = re.compile(r"[\u0600-\u06ff]")
HAN = re.compile(r"[\u3400-\u9fff]")
THAI = re.compile(r"[\u0e00-\u0e7f]")


@pytest.mark.parametrize("language, dialect, families, text, expected", [
    # Arabizi: chat words, dialect sounds, bare hamza seats, then the chat alphabet with its digits
    ("ar", "arabizi", ("lexical",), "لماذا أنت هنا الآن؟", {"leh", "leish"}),
    ("ar", "arabizi", ("phonological",), "ثلج", {"تلج", "سلج", "ثلج"}),
    ("ar", "arabizi", ("orthographic",), "سألت أمي", {"سالت امي", "سألت امي", "سالت أمي", "سألت أمي"}),
    ("ar", "arabizi", ("code_switching",), "عمر", {"3mr"}),
    ("ar", "arabizi", ("code_switching",), "حلم", {"7lm", "hlm"}),
    ("ar", "arabizi", ("code_switching",), "طبع", {"6b3", "tb3"}),
    ("ar", "arabizi", ("code_switching",), "صبر", {"9br", "sbr"}),
    ("ar", "arabizi", ("code_switching",), "خبز", {"5bz", "khbz", "7'bz"}),
    ("ar", "arabizi", ("code_switching",), "سؤال؟", {"s2al?", "soal?", "s2el?", "soel?"}),
    # pinyin: joined words, toneless syllables, ASCII punctuation
    ("zh", "pinyin", ("code_switching",), "我们明天去银行，好吗？", {"women mingtian qu yinhang, hao ma?"}),
    ("zh", "pinyin", ("code_switching",), "他叫龘龘。", {"ta jiao 龘龘."}),
    ("zh", "pinyin", ("code_switching", "orthographic"), "绿色", {"lvse", "luse"}),
    ("zh", "pinyin", ("code_switching", "lexical"), "哈哈，我不知道。",
     {"hh, wo bzd.", "ha ha, wo bzd.", "hh, wo buzhi dao.", "ha ha, wo buzhi dao."}),
    ("zh", "pinyin", ("code_switching", "phonological"), "这是", {"zhe shi", "ze shi", "zhe si", "ze si"}),
    # karaoke: RTGS-like words with spaces, mai yamok repeats, loose spellings
    ("th", "karaoke", ("code_switching",), "วันนี้อากาศดีมาก", {"wanni akat di mak"}),
    ("th", "karaoke", ("code_switching",), "มากๆ", {"mak mak"}),
    ("th", "karaoke", ("code_switching", "orthographic"), "พี่ชายไปทำงาน",
     {"phichai pai thamngan", "pichai pai thamngan", "phichai pai tamngan", "pichai pai tamngan"}),
    ("th", "karaoke", ("code_switching", "phonological"), "รักปลา", {"rak pla", "lak pla", "rak pa", "lak pa"}),
    ("th", "karaoke", ("lexical",), "ขอบคุณครับ", {" khob khun krub", " khob khun krab", " khob khun kub",
                                                  " kob kun krub", " kob kun krab", " kob kun kub", " thx krub",
                                                  " thx krab", " thx kub"}),
])
def test_each_family_of_each_romanised_target(language: str, dialect: str, families: tuple[str, ...], text: str,
                                              expected: set[str]) -> None:
    only = only_for(language)
    outputs = {only(text, dialect, *families, seed=seed) for seed in range(16)}
    if language == "ar" and families == ("lexical",):
        outputs = {out.split()[0] for out in outputs}  # the first word: the question word's chat forms
    assert outputs <= expected, outputs - expected
    assert len(expected) == 1 or len(outputs) > 1 or families == ("lexical",), outputs  # alternatives are drawn


@pytest.mark.parametrize("language, dialect, script, text", [
    ("ar", "arabizi", ARABIC, "قررت الحكومة أمس أن المدارس مغلقة بسبب الثلج."),
    ("zh", "pinyin", HAN, "为什么他们在那里没有看见这个人？"),
    ("th", "karaoke", THAI, "ใครเป็นผู้ชนะการแข่งขันในปีนั้น"),
])
def test_romanisation_replaces_the_whole_script(language: str, dialect: str, script: re.Pattern[str],
                                                text: str) -> None:
    for seed in range(5):
        out = noise_text(text, language, dialect, 0.5, seed=seed).text
        assert not script.search(out), out
        assert out == out.strip() and "  " not in out, out


def test_arabizi_uses_the_chat_digits() -> None:
    out = {noise_text("عرف حامد أن الطبيب صادق", "ar", "arabizi", 1.0, seed=s).text for s in range(10)}
    joined = " ".join(out)
    for digit in "3726":
        assert digit in joined, (digit, out)


def test_generated_maps_are_lexicons_of_the_documented_size() -> None:
    rules = {rule.id: rule for rule in language_table("zh").rules}
    assert 2000 <= len(rules["pinyin_words"].map or {}) <= 2500
    assert 5000 <= len(rules["pinyin_chars"].map or {}) <= 6000
    assert all(len(key) == 1 for key in rules["pinyin_chars"].map or {})
    assert all(re.fullmatch(r" [a-zü]+", value) for value in (rules["pinyin_chars"].map or {}).values())
    thai = {rule.id: rule for rule in language_table("th").rules}["karaoke_words"].map or {}
    assert 2500 <= len(thai) <= 3000
    assert all(re.fullmatch(r"( [a-z]+)+", value) for value in thai.values())
