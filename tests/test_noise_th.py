"""Thai noise tables: Isan and informal online Thai, one hand-written example per dialect and family."""

from __future__ import annotations

import json

import pytest
from conftest import find_data_dir

from polyret.noise import dialect_table, language_table, noise_text

LEX = frozenset({"lexical"})
MORPH = frozenset({"morphosyntactic"})
PHON = frozenset({"phonological"})
ORTH = frozenset({"orthographic"})
CODE = frozenset({"code_switching"})


def noised(text: str, dialect: str, families: frozenset[str], seed: int = 0) -> str:
    return noise_text(text, "th", dialect, 1.0, seed, families=families).text


def test_table_loads_with_isan_first() -> None:
    table = language_table("th")
    assert list(table.dialects)[0] == "isan"
    for dialect in table.dialects:
        families = set(dialect_table("th", dialect).families) - {"typo"}
        assert len(families) >= 3, (dialect, families)
    assert dialect_table("th", "typos").families == ("typo",)


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


# ---- engine contract on this table ----

def test_rate_zero_and_determinism() -> None:
    text = "ใครคือผู้ชนะการแข่งขันในปีนั้นและได้รับรางวัลอะไร"
    for dialect in ("isan", "net", "typos"):
        assert noise_text(text, "th", dialect, 0.0, 3).text == text
        first = noise_text(text, "th", dialect, 0.5, 7)
        assert noise_text(text, "th", dialect, 0.5, 7) == first


def test_typos_only_for_typo_target() -> None:
    text = "ผู้เล่นคนใดทำคะแนนได้มากที่สุดในฤดูกาลนี้"
    fired = [f for seed in range(20) for f in noise_text(text, "th", "typos", 1.0, seed).fired]
    assert fired and {f.family for f in fired} == {"typo"}
    for dialect in ("isan", "net"):
        assert all(f.family != "typo" for seed in range(20)
                   for f in noise_text(text, "th", dialect, 1.0, seed).fired)


@pytest.mark.skipif(find_data_dir() is None, reason="shared data not found")
def test_xquad_questions_mostly_changed() -> None:
    data = json.loads((find_data_dir() / "xquad-r" / "th.json").read_text(encoding="utf-8"))  # type: ignore[operator]
    questions = [qa["question"] for art in data["data"] for par in art["paragraphs"] for qa in par["qas"]][:400]
    for dialect in ("isan", "net"):
        changed = sum(noise_text(q, "th", dialect, 0.5, i).text != q for i, q in enumerate(questions))
        assert changed / len(questions) >= 0.6, dialect
