"""Properties every rule table shares, checked for each language and dialect target.

The per-language files (test_noise_<lang>.py) hold what is particular to a table: hand-written examples of each
family, rule order, realism against real dialect text, and any threshold stronger than the ones here.
"""

from __future__ import annotations

import pytest
from noise_cases import changed_share, xquad_questions

from polyret.noise import NoiseResult, available, dialect_table, language_table, noise_text
from polyret.noise.tables import TYPO_DIALECT

# the XQuAD-R languages and their dialect targets, the default (first) one first
DIALECTS = {
    "ar": ("egy", "lev", "glf", "mag", "arabizi"),
    "de": ("gsw", "swg", "nds", "aus"),
    "el": ("cyp", "greeklish"),
    "en": ("sco", "sus", "net"),
    "es": ("latam", "rio", "and"),
    "hi": ("bho", "awa", "hinglish"),
    "ru": ("colloquial", "translit"),
    "th": ("isan", "net", "karaoke"),
    "tr": ("colloquial", "karadeniz"),
    "vi": ("south", "teen"),
    "zh": ("yue", "wuu", "tw", "pinyin"),
}

# hand-written sentences (never dataset text): a question per language, and for some a second, typo-prone sentence
SENTENCES = {
    "ar": ("لماذا لم تعد الطريق آمنة بعد الحرب؟", "قررت الحكومة أمس إصدار قانون جديد للمدارس."),
    "de": ("Warum war die Straße nach dem Krieg nicht mehr sicher?",
           "Die Regierung beschloss gestern ein neues Gesetz."),
    "el": ("Πόσοι άνθρωποι ζουν σήμερα στην Κύπρο και τι γλώσσα μιλούν;",),
    "en": ("What is the name of the small church where they were married?",),
    "es": ("¿Cuántos jugadores tenía el equipo que ganó la final de la copa en la ciudad?",),
    "hi": ("युद्ध के बाद सड़क सुरक्षित क्यों नहीं रही?", "सरकार ने कलम और कमल पर नया कानून बनाया।"),
    "ru": ("Сколько тысяч человек сейчас живёт в этом городе и что они говорят?",),
    "th": ("ใครคือผู้ชนะการแข่งขันในปีนั้นและได้รับรางวัลอะไร", "ผู้เล่นคนใดทำคะแนนได้มากที่สุดในฤดูกาลนี้"),
    "tr": ("Takımın en çok gol atan oyuncusu kimdir ve nerede doğmuştur?",),
    "vi": ("Ai là người đã giành chiến thắng trong trận đấu cuối cùng vào năm 2015?", "Người Việt viết tiếng Việt"),
    "zh": ("为什么他们在那里没有看见这个人？",),
}

# typo controls without a keyboard rule: Chinese is typed through pinyin, so its control swaps homophones
# (test_noise_zh.py checks those)
NO_KEYBOARD = {"zh"}

LANGUAGES = list(available())
TARGETS = [pytest.param(language, dialect, id=f"{language}-{dialect}")
           for language, dialects in available().items() for dialect in dialects]


def test_tables_cover_exactly_the_xquad_r_languages() -> None:
    assert available() == {language: (*dialects, TYPO_DIALECT) for language, dialects in DIALECTS.items()}
    assert set(SENTENCES) == set(DIALECTS)


@pytest.mark.parametrize("language, dialect", TARGETS)
def test_dialects_have_three_families_and_typos_are_a_control(language: str, dialect: str) -> None:
    families = dialect_table(language, dialect).families
    if dialect == TYPO_DIALECT:
        assert families == ("typo",)
        return
    assert len(set(families) - {"typo"}) >= 3, families
    # a dialect gets typo rules only from a rule that names it; "*" typo rules belong to the control alone
    named = any(rule.family == "typo" and rule.dialects != "*" and dialect in rule.dialects
                for rule in language_table(language).rules)
    assert ("typo" in families) == named, families


@pytest.mark.parametrize("language, dialect", TARGETS)
def test_deterministic_and_rate_zero_is_identity(language: str, dialect: str) -> None:
    for text in SENTENCES[language]:
        for seed in (1, 3, 7):
            assert noise_text(text, language, dialect, 0.5, seed) == noise_text(text, language, dialect, 0.5, seed)
            assert noise_text(text, language, dialect, 0.0, seed) == NoiseResult(text, ())


@pytest.mark.parametrize("language", LANGUAGES)
def test_keyboard_typos_keep_the_first_letter_and_change_length_by_one_at_most(language: str) -> None:
    keyboard = {rule.id for rule in dialect_table(language, TYPO_DIALECT).rules if rule.kind == "typo"}
    assert bool(keyboard) == (language not in NO_KEYBOARD), keyboard
    for text in SENTENCES[language]:
        results = [noise_text(text, language, TYPO_DIALECT, 1.0, seed=seed) for seed in range(8)]
        assert any(result.text != text for result in results), text
        slips = [firing for result in results for firing in result.fired if firing.rule in keyboard]
        assert slips or not keyboard, text
        for firing in slips:
            assert firing.after[0] == firing.before[0], firing
            assert abs(len(firing.after) - len(firing.before)) <= 1, firing


@pytest.mark.parametrize("language", LANGUAGES)
def test_default_dialect_changes_most_questions(language: str) -> None:
    default = available()[language][0]
    share = changed_share(language, default, xquad_questions(language))
    assert share >= 0.6, (default, share)


def _rule_strings(language: str) -> set[str]:
    out: set[str] = set()
    for rule in language_table(language).rules:
        values: list[str] = []
        for key, value in (rule.map or {}).items():
            values.append(key)
            values.extend([value] if isinstance(value, str) else value)
        if rule.replace is not None:
            values.extend([rule.replace] if isinstance(rule.replace, str) else rule.replace)
        out.update(v.strip() for v in values if v.strip())
    return out


def test_tables_hold_no_dataset_sentences() -> None:
    """No rule string of two or more words is a whole XQuAD-R question (tables hold word and
    spelling correspondences and word lists, never dataset text; one-word strings can coincide with a one-word
    line, e.g. a greeting, and are not checked)."""
    sentences: set[str] = set()
    for language in LANGUAGES:
        sentences.update(q.strip() for q in xquad_questions(language))
    strings = {s for language in LANGUAGES for s in _rule_strings(language) if len(s.split()) >= 2}
    assert len(strings) > 300
    assert not strings & sentences, sorted(strings & sentences)[:10]
