"""Arabic rule table: each dialect target's families on hand-written sentences, exact outputs at rate 1."""

from __future__ import annotations

import pytest
from noise_cases import only_for, realism_records

from polyret.noise import noise_text

only = only_for("ar")


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


def test_keyboard_typos_fire_on_most_seeds() -> None:
    # stronger than the every-table check in test_noise_tables.py (which also checks each slip on this sentence)
    text = "قررت الحكومة أمس إصدار قانون جديد للمدارس."
    results = [noise_text(text, "ar", "typos", 1.0, seed=seed) for seed in range(8)]
    assert sum(result.text != text for result in results) >= 4  # weight 0.3 per word, seven words


def test_noise_moves_standard_arabic_toward_real_dialect_text() -> None:
    records = realism_records("ar")
    assert set(records) == {"ar-egy", "ar-mag"}
    # the MSA file is dominated by names (سامي, ليلى, توم) that no rule touches, which caps the Egyptian gain
    assert records["ar-egy"].noised_similarity > records["ar-egy"].clean_similarity + 0.004, records["ar-egy"]
    assert records["ar-mag"].noised_similarity > records["ar-mag"].clean_similarity + 0.015, records["ar-mag"]
