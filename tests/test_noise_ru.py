"""Russian rule table: each dialect target's families on hand-written sentences, exact outputs at rate 1."""

from __future__ import annotations

import re

import pytest
from noise_cases import only_for

from polyret.noise import noise_text

CYRILLIC = re.compile(r"[\u0400-\u04ff]")
only = only_for("ru")


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
    outs = {only("Это называется так.", "colloquial", "phonological", seed=s) for s in range(20)}
    assert outs == {"Это называеца так.", "Это называется так."}


def test_translit_romanises_the_whole_text() -> None:
    text = "Сколько человек живёт в городе, который называется Москва?"
    for seed in range(5):
        out = noise_text(text, "ru", "translit", 0.5, seed=seed).text
        assert not CYRILLIC.search(out), out
