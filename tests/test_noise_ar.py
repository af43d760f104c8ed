"""Arabic rule table: each dialect target's families on hand-written sentences, exact outputs at rate 1."""

from __future__ import annotations

import json

import pytest
from conftest import find_data_dir

from polyret.noise import noise_text
from polyret.noise.tables import dialect_table

DATA = find_data_dir()
DIALECTS = ("egy", "lev", "glf", "mag")


def only(text: str, dialect: str, *families: str, seed: int = 3) -> str:
    return noise_text(text, "ar", dialect, 1.0, seed=seed, families=frozenset(families)).text


@pytest.mark.parametrize("dialect, family, text, expected", [
    ("egy", "lexical", "لماذا هذا الكتاب هنا الآن؟", "ليه ده الكتاب هنا دلوقتي؟"),
    ("egy", "lexical", "من الذي كتب الرسالة؟", "مين اللي كتب الرسالة؟"),
    ("egy", "lexical", "ما اسم المدينة؟", "ايه اسم المدينة؟"),
    ("egy", "morphosyntactic", "هل تحب القهوة؟ لا يعرف.", "بتحب القهوة؟ ميعرفش."),
    ("egy", "morphosyntactic", "هذا الكتاب جميل", "الكتاب ده جميل"),
    ("egy", "morphosyntactic", "لم يكتب الرسالة", "مكتبش الرسالة"),
    ("egy", "phonological", "رجع إلى البيت على الفور", "رجع للبيت عالفور"),
    ("egy", "orthographic", "ذَهَبَ الوَلَدُ", "ذهب الولد"),
    ("egy", "code_switching", "الشرطة في الحافلة", "البوليس في الاتوبيس"),
    ("lev", "lexical", "أين تريد أن تذهب؟", "وين بدك تروح؟"),
    ("lev", "morphosyntactic", "سوف يذهب إلى هذا البيت", "رح يذهب إلى هالبيت"),
    ("lev", "phonological", "رجع إلى البيت على الفور", "رجع للبيت عالفور"),
    ("lev", "orthographic", "ذَهَبَ الوَلَدُ", "ذهب الولد"),
    ("lev", "code_switching", "الحاسوب والهاتف", "الكمبيوتر والهاتف"),
    ("glf", "lexical", "الطقس حار جدا هنا الآن", "الطقس حار وايد هني الحين"),
    ("glf", "morphosyntactic", "لا يعرف هذه السيارة", "ما يعرف هالسيارة"),
    ("glf", "phonological", "كان الكلب في المسجد", "چان الچلب في المسيد"),
    ("glf", "orthographic", "ذَهَبَ الوَلَدُ", "ذهب الولد"),
    ("glf", "code_switching", "هذه سيارة جديدة", "هذه موتر جديدة"),
    ("mag", "lexical", "لماذا تتكلم كثيرا؟", "علاش تهدر بزّاف؟"),
    ("mag", "morphosyntactic", "لا أعرف. سوف يكتب.", "ما نعرفش. راح يكتب."),
    ("mag", "phonological", "الناس في الكتاب", "نّاس في لكتاب"),
    ("mag", "phonological", "عنده كتاب", "عندو كتاب"),
    ("mag", "orthographic", "أَينَ أحمد", "اين احمد"),
    ("mag", "code_switching", "السيارة في المطبخ", "الطوموبيل في الكوزينة"),
])
def test_each_family_of_each_dialect(dialect: str, family: str, text: str, expected: str) -> None:
    assert only(text, dialect, family) == expected


def test_alternatives_are_drawn_from_the_listed_forms() -> None:
    # interdentals become stops or (in learned words) sibilants; qaf is kept or becomes a glottal stop
    assert only("ثوب", "egy", "phonological") in {"توب", "سوب"}
    assert only("قال", "egy", "phonological") in {"قال", "أال"}
    assert only("قال", "mag", "phonological") in {"قال", "ڨال"}
    assert only("سوف يكتب", "egy", "morphosyntactic") in {"هيكتب", "حيكتب"}  # the future prefix ha- or ḥa-
    outputs = {only("هذا", "lev", "lexical", seed=seed) for seed in range(40)}
    assert outputs == {"هاد", "هيدا"}
    # Arabizi is a low-weight option: some seeds romanise, most keep Arabic script
    arabizi = {only("مش عايز", "egy", "code_switching", seed=seed) for seed in range(60)}
    assert "مش عايز" in arabizi and arabizi <= {"مش عايز", "msh عايز", "مش 3ayez", "msh 3ayez"} and len(arabizi) > 1


def test_rules_chain_in_table_order() -> None:
    # the 1sg n- rule runs before negation and the future, the lexicon after the morphosyntax, spelling last
    assert only("لا أفهم لماذا.", "mag", "morphosyntactic", "lexical") == "ما نفهمش علاش."
    assert only("لا أعرف أين الكتاب.", "egy", "morphosyntactic", "lexical") == "مأعرفش فين الكتاب."
    assert only("لا أعرف أين الكتاب.", "egy", "morphosyntactic", "lexical", "orthographic") == "ماعرفش فين الكتاب."


def test_every_dialect_has_three_families_and_typos_are_a_control() -> None:
    for dialect in DIALECTS:
        families = dialect_table("ar", dialect).families
        assert len(set(families) - {"typo"}) >= 3, (dialect, families)
        assert "typo" not in families
    assert dialect_table("ar", "typos").families == ("typo",)


def test_keyboard_typos_keep_the_first_letter_and_only_touch_words() -> None:
    text = "قررت الحكومة أمس إصدار قانون جديد للمدارس."
    results = [noise_text(text, "ar", "typos", 1.0, seed=seed) for seed in range(8)]
    assert sum(result.text != text for result in results) >= 4  # weight 0.3 per word, seven words
    for result in results:
        assert {firing.family for firing in result.fired} <= {"typo"}
        for firing in result.fired:
            assert firing.after[0] == firing.before[0]
            assert abs(len(firing.after) - len(firing.before)) <= 1


def test_deterministic_and_rate_zero_is_identity() -> None:
    text = "لماذا لم تعد الطريق آمنة بعد الحرب؟"
    for dialect in (*DIALECTS, "typos"):
        assert noise_text(text, "ar", dialect, 0.5, seed=1) == noise_text(text, "ar", dialect, 0.5, seed=1)
        assert noise_text(text, "ar", dialect, 0.0, seed=1).text == text
        assert noise_text(text, "ar", dialect, 0.0, seed=1).fired == ()


@pytest.mark.skipif(DATA is None, reason="shared data not found")
def test_most_questions_change_toward_egyptian() -> None:
    assert DATA is not None
    data = json.loads((DATA / "xquad-r" / "ar.json").read_text(encoding="utf-8"))
    questions = [qa["question"] for art in data["data"] for par in art["paragraphs"] for qa in par["qas"]]
    changed = sum(noise_text(q, "ar", "egy", 0.5, seed=i).text != q for i, q in enumerate(questions))
    assert changed / len(questions) >= 0.6


@pytest.mark.skipif(DATA is None or not (DATA / "dev" / "tatoeba").is_dir(), reason="dev/tatoeba not found")
def test_noise_moves_standard_arabic_toward_real_dialect_text() -> None:
    from polyret.noise.realism import realism

    assert DATA is not None
    records = {record.dialect: record for record in realism(DATA, languages=["ar"])}
    assert set(records) == {"ar-egy", "ar-mag"}
    # the MSA file is dominated by names (سامي, ليلى, توم) that no rule touches, which caps the Egyptian gain
    assert records["ar-egy"].noised_similarity > records["ar-egy"].clean_similarity + 0.004, records["ar-egy"]
    assert records["ar-mag"].noised_similarity > records["ar-mag"].clean_similarity + 0.015, records["ar-mag"]
