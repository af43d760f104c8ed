"""Thai noise tables: Isan and informal online Thai, one hand-written example per dialect and family."""

from __future__ import annotations

from noise_cases import CODE, LEX, MORPH, ORTH, PHON, changed_share, noised_for, xquad_questions

from polyret.noise import noise_text

noised = noised_for("th")


# ---- Isan ----

def test_isan_lexical() -> None:
    assert noised("ใครพูด", "isan", LEX) == "ไผเว้า"
    assert noised("ทำงานทำลาย", "isan", LEX) == "เฮ็ดเวียกทำลาย"  # ทำลาย 'destroy' is an exception
    assert noised("กี่คนเกี่ยวข้อง", "isan", LEX) == "จักคนเกี่ยวข้อง"  # กี่ inside เกี่ยว is left alone
    assert noised("อะไร", "isan", LEX) in {"อีหยัง", "หยัง"}


def test_isan_morphosyntactic() -> None:
    assert noised("ไม่ไปไหม", "isan", MORPH) == "บ่ไปบ่"
    assert noised("ฉันจะไป", "isan", MORPH) == "ฉันสิไป"
    assert noised("เขาก็มา", "isan", MORPH) == "เขากะมา"
    assert noised("ชนะแล้วนะ", "isan", MORPH) in {"ชนะแล้วเด้อ", "ชนะแล้วเนาะ"}  # not the นะ of ชนะ


def test_isan_phonological() -> None:
    assert noised("ประเทศรักช้าง", "isan", PHON) == "ปะเทศฮักซ้าง"
    assert noised("สำหรับครับ", "isan", PHON) == "สำหรับคับ"  # cluster r is never h


def test_isan_orthographic() -> None:
    assert noised("การศึกษาการ์ตูน", "isan", ORTH) == "กานสึกสาการ์ตูน"


def test_isan_all_families_together() -> None:
    out = noise_text("ใครทำอะไรไม่ได้", "th", "isan", 1.0, 0).text
    assert out in {"ไผเฮ็ดอีหยังบ่ได้", "ไผเฮ็ดหยังบ่ได้"}


# ---- informal online Thai ----

def test_net_lexical() -> None:
    assert noised("เขาอยู่ที่ใด", "net", LEX) == "เค้าอยู่ที่ไหน"
    assert noised("ภูเขาใด", "net", LEX) == "ภูเขาไหน"  # the เขา of ภูเขา 'mountain' stays


def test_net_morphosyntactic() -> None:
    assert noised("ชาหรือกาแฟ", "net", MORPH) == "ชารึกาแฟ"
    assert noised("ไปไหม", "net", MORPH) in {"ไปมั้ย", "ไปมะ", "ไปป่ะ"}


def test_net_phonological() -> None:
    assert noised("จริงครับ", "net", PHON) == "จิงคับ"
    seen = {noised("ราคา", "net", PHON, seed) for seed in range(30)}
    assert seen == {"ราคา", "ลาคา"}  # r -> l has weight 0.6


def test_net_orthographic() -> None:
    assert noised("ใช่ได้ ", "net", ORTH) == "ช่ายด้าย "  # trailing space: no 555 site
    laughs = {noised("ใช่ได้", "net", ORTH, seed) for seed in range(40)}
    assert laughs == {"ช่ายด้าย", "ช่ายด้าย 555", "ช่ายด้าย 5555"}


def test_net_code_switching() -> None:
    assert noised("ทีมชนะเกมรับผิดชอบ", "net", CODE) == "teamชนะgameรับผิดชอบ"


def test_xquad_questions_mostly_changed_toward_net() -> None:
    # test_noise_tables.py checks the default dialect (isan) on every question
    share = changed_share("th", "net", xquad_questions("th")[:400])
    assert share >= 0.6, share
