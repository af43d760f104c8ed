"""Turkish rule table: each dialect target's families on hand-written sentences, exact outputs at rate 1."""

from __future__ import annotations

import pytest
from noise_cases import only_for

from polyret.noise import noise_text

only = only_for("tr")


@pytest.mark.parametrize("dialect, family, text, expected", [
    ("colloquial", "lexical", "Evet, gerçekten güzel ama neden geldin?", "He, cidden güzel ama niye geldin?"),
    ("colloquial", "morphosyntactic", "Bu şehrin adı nedir?", "Bu şehrin adı ne?"),
    ("colloquial", "morphosyntactic", "Takım bu sezon kaç maç kazanmıştır?", "Takım bu sezon kaç maç kazanmış?"),
    ("colloquial", "morphosyntactic", "Şirket burada bulunmaktadır ve kabul edilmektedir.",
     "Şirket burada bulunuyor ve kabul ediliyor."),
    ("colloquial", "phonological", "Ne yapıyorsun? Bir şey yapmayacağım, nerede kalıyorsun?",
     "Napıyosun? Bişey yapmayacam, nerde kalıyosun?"),
    ("colloquial", "orthographic", "Merhaba, herkes tabii geldi.", "Mrb, herkez tabi geldi."),
    ("colloquial", "orthographic", "Çok güzel şarkı söylüyor.", "Cok guzel sarki soyluyor."),
    ("colloquial", "orthographic", "Sen de geldin mi?", "Sen de geldinmi?"),
    ("colloquial", "code_switching", "Affedersiniz, toplantı harika geçti.", "Pardon, meeting süper geçti."),
    ("karadeniz", "lexical", "Çocuk bana baktı, hadi gel.", "Uşak baa baktı, hade gel."),
    ("karadeniz", "morphosyntactic", "Gelmişti, ne vardı", "Gelmiş idi, ne var idi"),
    ("karadeniz", "phonological", "Geliyorum, yapıyorsun, yağıyor, geliyor. Öleceksin.",
     "Geleyrum, yapayusun, yağayi, geleyi. Ölecesun."),
    ("karadeniz", "phonological", "Dün geldim, biz geldik.", "Dün geldum, biz gelduk."),
    ("karadeniz", "orthographic", "Çok güzel şarkı söylüyor.", "Cok guzel sarki soyluyor."),
])
def test_each_family_of_each_dialect(dialect: str, family: str, text: str, expected: str) -> None:
    assert only(text, dialect, family) == expected


def test_alternatives_are_drawn_from_the_listed_forms() -> None:
    assert only("Tamam.", "colloquial", "orthographic") in {"Tmm.", "Tm."}
    assert only("Bu çok güzel.", "colloquial", "lexical") in {"Bu baya güzel.", "Bu bayağı güzel."}


def test_sentence_initial_dotted_capital_is_safe() -> None:
    # Python lower-cases "İ" to "i" + U+0307, which is not how the keys are written
    text = "İstanbul'da iyi misin? İlk gün değil."
    assert noise_text(text, "tr", "colloquial", 1.0, seed=0).text
    assert noise_text(text, "tr", "karadeniz", 1.0, seed=0).text


def test_all_caps_turkish_words() -> None:
    # "DEĞİL".lower() is "deği̇l" (i + combining dot) and "HAYIR".lower() is "hayir": the engine must still find the keys
    out = only("BU DEĞİL, HAYIR.", "colloquial", "phonological", seed=0)
    assert out == "BU Diil, HAYIR."
