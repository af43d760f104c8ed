"""Paired realism: hand-made pairs with a known answer, the document split, errors, and the real variants."""

from __future__ import annotations

from pathlib import Path

import pytest

from polyret.errors import PolyretError
from polyret.noise import noise_text
from polyret.noise.paired import bootstrap, chrf, compare, edit_distance, paired_realism, split_lines

STANDARD = ["Ich habe heute kein Auto.", "Wir sind nicht hier.", "Das Haus ist klein."]
VARIANT = ["I ha hüt kes Auto.", "Mir sind nid da.", "S Huus isch chli."]


def test_metrics_on_known_strings() -> None:
    assert chrf("Das Haus", "Das Haus") == pytest.approx(1.0)
    assert chrf("abc", "xyz") == 0.0
    assert 0.0 < chrf("Das Haus ist klein", "S Huus isch chli") < chrf("Das Huus isch chli", "S Huus isch chli")
    assert edit_distance("abc", "abd") == pytest.approx(1 / 3)
    assert edit_distance("", "abcd") == pytest.approx(1.0)


def test_bootstrap_interval() -> None:
    constant = bootstrap([0.25] * 50)
    assert (constant.mean, constant.low, constant.high) == pytest.approx((0.25, 0.25, 0.25))
    values = [0.0, 1.0] * 100
    interval = bootstrap(values, seed=1)
    assert interval.mean == pytest.approx(0.5)
    assert 0.4 < interval.low < 0.5 < interval.high < 0.6
    assert bootstrap(values, seed=1) == interval  # deterministic
    with pytest.raises(PolyretError):
        bootstrap([])


def test_noise_that_writes_the_variant_gains_exactly_the_distance_left() -> None:
    # the "noised" side is the real variant itself and the typo side is the untouched standard: the gain must be
    # 1 - chrF(clean) on average, the typo control must gain exactly 0, and the edit distance must fall to 0
    record = compare(STANDARD, VARIANT, STANDARD, VARIANT, dialect="de-gsw", variant="gsw-BE", rate=0.5, split="all")
    clean = [chrf(s, v) for s, v in zip(STANDARD, VARIANT)]
    assert record.sentences == 3 and record.changed_share == 1.0
    assert record.noised_similarity == pytest.approx(1.0)
    assert record.clean_similarity == pytest.approx(sum(clean) / 3, abs=1e-6)
    assert record.gain == pytest.approx(1 - sum(clean) / 3, abs=1e-6)
    assert record.gain_low <= record.gain <= record.gain_high
    assert (record.typo_gain, record.typo_gain_low, record.typo_gain_high) == (0.0, 0.0, 0.0)
    assert record.noised_edit == 0.0 and record.edit_change == pytest.approx(-record.clean_edit, abs=1e-6)
    # noise that moves away from the variant has a negative gain
    away = compare(STANDARD, ["xxxx"] * 3, STANDARD, VARIANT, dialect="de-gsw", variant="gsw-BE", rate=0.5,
                   split="all")
    assert away.gain_high < 0 and away.edit_change > 0
    with pytest.raises(PolyretError, match="differ in length"):
        compare(STANDARD, VARIANT[:2], STANDARD, VARIANT, dialect="de-gsw", variant="gsw-BE", rate=0.5, split="all")


def test_split_follows_the_document_order() -> None:
    ids = ["a", "a", "b", "c", "d", "e", "f", "g", "g"]  # documents a..g are k = 0..6
    assert split_lines(ids, "test") == [0, 1, 6]  # a (k=0), f (k=5)
    assert split_lines(ids, "dev") == [2, 7, 8]  # b (k=1), g (k=6)
    assert split_lines(ids, "train") == [3, 4, 5]
    assert split_lines(ids, "all") == list(range(9))


def _fake_ntrex(root: Path, standard: list[str], variants: dict[str, list[str]], ids: list[str]) -> None:
    (root / "train" / "ntrex").mkdir(parents=True)
    (root / "dev" / "ntrex-variants").mkdir(parents=True)
    (root / "train" / "ntrex" / "DOCUMENT_IDS.tsv").write_text("\n".join(ids) + "\n", encoding="utf-8")
    (root / "train" / "ntrex" / "newstest2019-ref.deu.txt").write_text("\n".join(standard) + "\n", encoding="utf-8")
    for code, lines in variants.items():
        (root / "dev" / "ntrex-variants" / f"newstest2019-ref.{code}.txt").write_text("\n".join(lines) + "\n",
                                                                                     encoding="utf-8")


def test_paired_realism_reads_aligned_files_and_keeps_the_split(tmp_path: Path) -> None:
    # gsw-BE holds exactly what the table writes at rate 0.5 seed 0, gsw-ZH the standard text: known answers
    noised = [noise_text(s, "de", "gsw", 0.5, 0).text for s in STANDARD]
    _fake_ntrex(tmp_path, STANDARD, {"gsw-BE": noised, "gsw-ZH": STANDARD}, ["d1", "d2", "d2"])
    records = {r.variant: r for r in paired_realism(tmp_path, languages=["de"], split="all")}
    assert set(records) == {"gsw-BE", "gsw-ZH"}
    assert records["gsw-BE"].noised_similarity == pytest.approx(1.0) and records["gsw-BE"].sentences == 3
    assert records["gsw-ZH"].clean_similarity == pytest.approx(1.0) and records["gsw-ZH"].gain < 0
    dev = paired_realism(tmp_path, languages=["de"], split="dev")
    assert {r.sentences for r in dev} == {2}  # document d2 (k = 1) only
    assert paired_realism(tmp_path, languages=["ru"]) == []  # no ru target names a variant


def test_paired_realism_errors(tmp_path: Path) -> None:
    with pytest.raises(PolyretError, match="not found"):
        paired_realism(tmp_path, languages=["de"])
    _fake_ntrex(tmp_path, STANDARD, {"gsw-BE": VARIANT[:2], "gsw-ZH": VARIANT}, ["d1", "d2", "d2"])
    with pytest.raises(PolyretError, match="gsw-BE: 2 lines.*not line-aligned"):
        paired_realism(tmp_path, languages=["de"])


def test_real_variants(data_dir: Path) -> None:
    records = {(r.dialect, r.variant): r for r in paired_realism(data_dir)}
    assert set(records) == {("de-gsw", "gsw-BE"), ("de-gsw", "gsw-ZH"), ("es-latam", "spa-MX"), ("zh-tw", "zho-TW")}
    for key in [("de-gsw", "gsw-BE"), ("de-gsw", "gsw-ZH"), ("zh-tw", "zho-TW")]:
        r = records[key]
        assert r.gain_low > 0 and r.typo_gain_high < r.gain_low, r  # closer, and not by perturbation as such
        assert r.edit_change_high < 0, r
    for r in records.values():
        assert r.typo_gain_high < 0, r  # typos only ever move a sentence away from its variant
