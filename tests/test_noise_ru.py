"""Russian rule table: each dialect target's families on hand-written sentences, exact outputs at rate 1."""

from __future__ import annotations

import re

import pytest

from polyret.noise import noise_text
from polyret.noise.tables import dialect_table

CYRILLIC = re.compile(r"[\u0400-\u04ff]")


def only(text: str, dialect: str, *families: str) -> str:
    return noise_text(text, "ru", dialect, 1.0, seed=3, families=frozenset(families)).text


@pytest.mark.parametrize("dialect, family, text, expected", [
    ("colloquial", "lexical", "Ладно, это очень нормально.", "Лан, это оч норм."),
    ("colloquial", "phonological", "Он сейчас говорит только с тобой. Кто-нибудь знает?",
     "Он щас грит тока с тобой. Кто-нить знает?"),
    ("colloquial", "morphosyntactic", "Мама, у тебя есть ручка?", "Мам, у тебя ручка?"),
    ("colloquial", "morphosyntactic", "Ты где был, Таня?", "Ты где был, Тань?"),
    ("colloquial", "morphosyntactic", "Почему он ушёл?", "Почему же он ушёл?"),
    ("colloquial", "orthographic", "Ёжик и Вася гуляли.", "ежик и вася гуляли."),
    ("colloquial", "code_switching", "Извини, мне пора. Пока!", "Сорри, мне пора. Бай!"),
    ("translit", "lexical", "Ладно, это очень нормально.", "Лан, это оч норм."),
    ("translit", "phonological", "Он сейчас говорит только с тобой.", "Он щас грит тока с тобой."),
    ("translit", "morphosyntactic", "Мама, у тебя есть ручка?", "Мам, у тебя ручка?"),
    ("translit", "orthographic", "Что ты ищешь?", "Что ты иwешь?"),
    ("translit", "code_switching", "Привет, как дела?", "Privet, kak dela?"),
])
def test_each_family_of_each_dialect(dialect: str, family: str, text: str, expected: str) -> None:
    assert only(text, dialect, family) == expected


def test_alternatives_are_drawn_from_the_listed_forms() -> None:
    assert only("Что это?", "colloquial", "phonological") in {"Чё это?", "Што это?", "Че это?"}
    assert re.fullmatch(r"(Zh|J)ena (zh|j)d[eë]t\.|(Zh|J)ena (zh|j)d(yo|e)t\.",
                        only("Жена ждёт.", "translit", "code_switching"))


def test_tsa_spelling_of_reflexive_endings() -> None:
    outs = {noise_text("Это называется так.", "ru", "colloquial", 1.0, seed=s,
                       families=frozenset({"phonological"})).text for s in range(20)}
    assert outs == {"Это называеца так.", "Это называется так."}


def test_translit_romanises_the_whole_text() -> None:
    text = "Сколько человек живёт в городе, который называется Москва?"
    for seed in range(5):
        out = noise_text(text, "ru", "translit", 0.5, seed=seed).text
        assert not CYRILLIC.search(out), out


def test_every_dialect_has_three_families_and_typos_are_a_control() -> None:
    for dialect in ("colloquial", "translit"):
        families = dialect_table("ru", dialect).families
        assert len(set(families) - {"typo"}) >= 3, (dialect, families)
        assert "typo" not in families
    assert dialect_table("ru", "typos").families == ("typo",)


def test_deterministic_and_rate_zero_is_identity() -> None:
    text = "Сколько тысяч человек сейчас живёт в этом городе и что они говорят?"
    for dialect in ("colloquial", "translit", "typos"):
        assert noise_text(text, "ru", dialect, 0.5, seed=1) == noise_text(text, "ru", dialect, 0.5, seed=1)
        assert noise_text(text, "ru", dialect, 0.0, seed=1).text == text
        assert noise_text(text, "ru", dialect, 0.0, seed=1).fired == ()
