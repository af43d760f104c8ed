"""Vietnamese noise tables: Southern Vietnamese and teencode, one hand-written example per dialect and family."""

from __future__ import annotations

from noise_cases import CODE, LEX, MORPH, ORTH, PHON, changed_share, noised_for, xquad_questions

from polyret.noise import dialect_table, language_table, noise_text

noised = noised_for("vi")


def test_every_dialect_has_four_families() -> None:
    # stronger than the three families test_noise_tables.py asks of every table
    for dialect in language_table("vi").dialects:
        families = set(dialect_table("vi", dialect).families) - {"typo"}
        assert len(families) >= 4, (dialect, families)


# ---- Southern Vietnamese ----

def test_south_lexical() -> None:
    assert noised("Tôi ăn thịt lợn vào hôm nay", "south", LEX) == "Tui ăn thịt heo vô bữa nay"
    assert noised("Kết quả của quả táo", "south", LEX) == "Kết quả của trái táo"  # kết quả 'result' stays
    assert noised("Công bố của bố tôi", "south", LEX) == "Công bố của ba tui"
    assert noised("Không khí ở đây không tốt", "south", LEX) in {
        "Không khí ở đây hông tốt", "Không khí ở đây hổng tốt"}


def test_south_morphosyntactic() -> None:
    assert noised("Anh ấy đi rồi nhé", "south", MORPH) == "Ảnh đi rồi nha"
    assert noised("Anh ấy ở đây này", "south", MORPH) == "Ảnh ở đây nè"
    assert noised("Năm này", "south", MORPH) == "Năm nè"  # sentence-final only ...
    assert noised("Năm này anh đi", "south", MORPH) == "Năm này anh đi"  # ... the demonstrative stays


def test_south_phonological() -> None:
    assert noised("Tôi cũng đã nghĩ", "south", PHON) == "Tôi củng đả nghỉ"


def test_south_orthographic() -> None:
    assert noised("vui vậy về với vợ", "south", ORTH) == "dzui dzậy dzề dzới dzợ"


def test_south_code_switching() -> None:
    assert noised("Tôi mua xà phòng và quả bóng, không phải bóng rổ", "south", CODE) == \
        "Tôi mua xà bông và quả banh, không phải bóng rổ"


def test_south_question_tag() -> None:
    seen = {noised("Ai thắng?", "south", MORPH, seed) for seed in range(30)}
    assert seen == {"Ai thắng?", "Ai thắng vậy?", "Ai thắng dị?"}


# ---- teencode ----

def test_teen_lexical() -> None:
    assert noised("Vợ muốn gì với chồng", "teen", LEX) == "Vk mún j vs ck"
    assert noised("Như thế nào", "teen", LEX) == "Ntn"


def test_teen_morphosyntactic() -> None:
    assert noised("Làm như thế đấy", "teen", MORPH) == "Làm như z đó"


def test_teen_phonological() -> None:
    assert noised("Em học trường trong làng", "teen", PHON) == "Em học chường chong làng"


def test_teen_orthographic() -> None:
    assert noised("Tôi là người Hà Nội", "teen", ORTH) == "Toi la nguoi Ha Noi"
    assert noised("Đường đi", "teen", ORTH) == "Duong di"


def test_teen_code_switching() -> None:
    assert noised("Được rồi, đội thắng", "teen", CODE) == "Ok, team thắng"


# ---- typos (the control) ----

def test_telex_slips_in_the_typo_control() -> None:
    # test_noise_tables.py checks that only the typo control has typo rules, and the keyboard slips
    text = "Người Việt viết tiếng Việt"
    fired = [f for seed in range(30) for f in noise_text(text, "vi", "typos", 1.0, seed).fired]
    telex = [f for f in fired if f.rule == "vi.telex_slip"]
    assert telex and {f.family for f in fired} == {"typo"}
    assert {(f.before, f.after) for f in telex} <= {("ư", "uw"), ("ờ", "owf"), ("ệ", "eej"), ("ế", "ees")}


def test_xquad_questions_mostly_changed_toward_teen() -> None:
    # test_noise_tables.py checks the default dialect (south) on every question
    share = changed_share("vi", "teen", xquad_questions("vi")[:400])
    assert share >= 0.6, share
