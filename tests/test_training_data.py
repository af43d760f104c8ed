"""Training sources as groups: the sentence splitter, the readers against the real files (checked by independent
counts), their errors on malformed input, and `polyret data stats`."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from polyret.cli.data import data_app
from polyret.data.training import stats_json
from polyret.data.leakage import normalize_text
from polyret.data.sentences import covering_span, sentence_spans, split_sentences
from polyret.data.sources import expected_sha256
from polyret.data.training import OVERLAP_DROPPED, TrainingData, load_training_groups
from polyret.errors import PolyretError
from builders import _squad, load_shared, write_training_root  # noqa: F401 (shared builders)

NATIVE = {"arcd": "ar", "tquad": "tr", "cmrc2018": "zh", "iapp-wiki-qa-thai": "th"}


# ------------------------------------------------------------------------------------------------ splitter


def test_arabic_splits_at_question_mark_and_full_stop_not_at_comma() -> None:
    text = "ولد جمال خاشقجي في المدينة المنورة، وعمل صحفياً. من هو؟ قال د. أحمد إنه صحفي!\nسطر جديد"
    assert split_sentences(text, "ar") == [
        "ولد جمال خاشقجي في المدينة المنورة، وعمل صحفياً.", "من هو؟", "قال د. أحمد إنه صحفي!", "سطر جديد",
    ]


def test_chinese_splits_at_fullwidth_stops_with_closing_quotes_not_at_decimal_point() -> None:
    text = "他来了。“你好！”她说。价格是1.5元，好吗？再见｡好．"
    assert split_sentences(text, "zh") == ["他来了。", "“你好！”", "她说。", "价格是1.5元，好吗？", "再见｡", "好．"]


def test_turkish_keeps_ordinals_roman_numerals_and_abbreviations_inside_a_sentence() -> None:
    text = ("Osmanlı 19. yüzyılda zayıfladı. II. Mehmed 1453’te İstanbul’u aldı. M.Ö. 3. yüzyılda Dr. Ahmet gitti, "
            "vb. şeyler oldu. Sonra ayrıldı.Boğdan üzerine yürüdü.")
    assert split_sentences(text, "tr") == [
        "Osmanlı 19. yüzyılda zayıfladı.", "II. Mehmed 1453’te İstanbul’u aldı.",
        "M.Ö. 3. yüzyılda Dr. Ahmet gitti, vb. şeyler oldu.", "Sonra ayrıldı.", "Boğdan üzerine yürüdü.",
    ]
    assert split_sentences("Il est né en 1958. Il a travaillé.", "fr") == ["Il est né en 1958.", "Il a travaillé."]


def test_thai_splits_at_spaces_between_thai_letters_into_pieces_of_a_minimum_length() -> None:
    text = "กรุงเทพมหานครเป็นเมืองหลวงของประเทศไทย มีประชากรประมาณ 8 ล้านคน และเป็นศูนย์กลางทางเศรษฐกิจ\nบรรทัดใหม่"
    # the spaces around "8" are not candidates (a digit is not a Thai letter); a line break always ends one
    assert split_sentences(text, "th", thai_min_chars=30) == [
        "กรุงเทพมหานครเป็นเมืองหลวงของประเทศไทย", "มีประชากรประมาณ 8 ล้านคน และเป็นศูนย์กลางทางเศรษฐกิจ", "บรรทัดใหม่",
    ]
    # never before the repetition mark ๆ; a short last piece joins the one before
    assert split_sentences("ประเทศต่าง ๆ ในเอเชีย เช่น จีน ญี่ปุ่น", "th", thai_min_chars=8) == [
        "ประเทศต่าง ๆ", "ในเอเชีย", "เช่น จีน ญี่ปุ่น",
    ]
    assert split_sentences("ประเทศต่าง ๆ ในเอเชีย เช่น จีน ญี่ปุ่น", "th") == ["ประเทศต่าง ๆ ในเอเชีย เช่น จีน ญี่ปุ่น"]


def test_spans_index_the_original_text_and_cover_an_answer() -> None:
    text = "  Bir.  İki iki.\n\nÜç üç üç?  "
    spans = sentence_spans(text, "tr")
    assert [text[s:e] for s, e in spans] == ["Bir.", "İki iki.", "Üç üç üç?"]
    start = text.index("iki.")
    assert covering_span(spans, start, start + 4) == spans[1]
    assert covering_span(spans, text.index("iki."), text.index("üç?")) == (spans[1][0], spans[2][1])  # crosses
    assert covering_span(spans, 0, 1) is None


# ------------------------------------------------------------------------------------------ real data




@pytest.fixture()
def shared(data_dir: Path) -> TrainingData:
    return load_shared(data_dir)


def _jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _squad_answers(path: Path, record_id: Any) -> dict[str, str]:
    data = json.loads(path.read_text(encoding="utf-8"))["data"]
    return {
        record_id(path, qa, a, p, q): qa["answers"][0]["text"]
        for a, art in enumerate(data) for p, para in enumerate(art["paragraphs"]) for q, qa in enumerate(para["qas"])
    }


def _raw_answers(train: Path) -> dict[str, str]:
    """Group id -> answer text, read straight from the files."""
    answers: dict[str, str] = {}
    for name in ("cmrc2018_dev.json", "cmrc2018_trial.json"):
        answers |= _squad_answers(train / "cmrc2018" / name, lambda path, qa, a, p, q: f"cmrc2018/{qa['id']}")
    answers |= _squad_answers(train / "arcd" / "arcd.json", lambda path, qa, a, p, q: f"arcd/{qa['id']}")
    for path in sorted((train / "tquad").glob("*.json")):
        answers |= _squad_answers(path, lambda path, qa, a, p, q: f"tquad/{path.stem}/{a}.{p}.{q}")
    for split in ("train", "valid", "test"):
        for record in _jsonl(train / "iapp-wiki-qa-thai" / f"{split}.jsonl"):
            answers[f"iapp-wiki-qa-thai/{record['question_id']}"] = record["answers"]["text"][0]
    return answers


def test_every_native_answer_lies_in_its_passage_sentence(shared: TrainingData, data_dir: Path) -> None:
    answers = _raw_answers(data_dir / "train")
    native = [g for g in shared.groups if g.source in NATIVE]
    assert len(native) > 19_000
    for group in native:
        lang = NATIVE[group.source]
        assert set(group.queries) == set(group.passages) == set(group.contexts) == {lang}, group.id
        assert group.passages[lang] in group.contexts[lang], group.id
        assert normalize_text(answers[group.id]) in normalize_text(group.passages[lang]), group.id
    # a passage is a sentence, not the paragraph: median lengths like XQuAD-R's (zh 44, ar 123, th 176)
    for source, (low, high) in {"cmrc2018": (25, 70), "arcd": (90, 250), "iapp-wiki-qa-thai": (100, 200)}.items():
        lengths = sorted(len(g.passages[NATIVE[source]]) for g in native if g.source == source)
        assert low <= lengths[len(lengths) // 2] <= high, source


def test_mkqa_groups_align_questions_across_languages(shared: TrainingData, data_dir: Path) -> None:
    root = data_dir / "train" / "mkqa"
    codes = {"ar": "ar", "en": "en", "es": "es", "ru": "ru", "tr": "tr", "zh": "zh_cn"}
    lines = {lang: [r for part in ("dev", "test-questions") for r in _jsonl(root / part / f"mkqa-{code}.jsonl")]
             for lang, code in codes.items()}
    ids = {lang: {r["id"].removesuffix(f"_{codes[lang]}") for r in records} for lang, records in lines.items()}
    assert all(found == ids["en"] for found in ids.values()) and len(ids["en"]) == 1758 + 5000
    stats = shared.stats["mkqa"]
    # one MKQA question is removed as a reviewed overlap with MLQA-R (data/evaluation_overlap.json)
    assert stats.groups == 6758 - 1 and stats.dropped["groups without a pair"] == 0
    assert stats.dropped[OVERLAP_DROPPED] == 1
    removed = {"1524159684855059830"}
    for lang, records in lines.items():  # a language keeps each distinct non-empty question once
        kept = [r for r in records if r["id"].removesuffix(f"_{codes[lang]}") not in removed]
        assert stats.texts[lang] == len({normalize_text(r["question"]) for r in kept} - {""})
    kept_texts = sum(stats.texts.values())
    assert kept_texts + stats.dropped["duplicate query texts"] + stats.dropped["empty texts"] == 6 * (6758 - 1)
    group = next(g for g in shared.groups if g.id == f"mkqa/{lines['en'][0]['id'].removesuffix('_en')}")
    assert group.queries["en"] == lines["en"][0]["question"] and not group.passages


def test_mintaka_groups_hold_english_and_its_translations(shared: TrainingData, data_dir: Path) -> None:
    raw = json.loads((data_dir / "train" / "mintaka" / "mintaka_dev.json").read_text(encoding="utf-8"))
    groups = [g for g in shared.groups if g.source == "mintaka"]
    assert len(groups) == len(raw) - 1 == 1999  # one question is also an MLQA-R question: removed
    assert shared.stats["mintaka"].dropped[OVERLAP_DROPPED] == 1 and "mintaka/1048fe7e" not in {g.id for g in groups}
    first = groups[0]
    assert first.id == f"mintaka/{raw[0]['id']}"
    translations = {lang: raw[0]["translations"][lang] for lang in ("ar", "de", "hi", "es")}
    assert first.queries == {"en": raw[0]["question"], **translations}


def test_pair_counts_and_ids(shared: TrainingData) -> None:
    ids = [g.id for g in shared.groups]
    assert len(ids) == len(set(ids)) and all(g.id.split("/", 1)[0] == g.source for g in shared.groups)
    for source, stats in shared.stats.items():
        groups = [g for g in shared.groups if g.source == source]
        assert stats.groups == len(groups)
        assert stats.pairs == Counter(pair for g in groups for pair in g.pair_languages())
    mkqa = [g for g in shared.groups if g.source == "mkqa"]
    assert shared.stats["mkqa"].pairs[("en", "zh")] == sum("en" in g.queries and "zh" in g.queries for g in mkqa)
    assert shared.stats["tquad"].pairs == {("tr", "tr"): shared.stats["tquad"].groups}


def test_tquad_overlapping_files_are_deduplicated_by_question(shared: TrainingData, data_dir: Path) -> None:
    files = (data_dir / "train" / "tquad").glob("*.json")
    raw = [qa["question"] for path in files for art in json.loads(path.read_text(encoding="utf-8"))["data"]
           for para in art["paragraphs"] for qa in para["qas"]]
    distinct = {normalize_text(q) for q in raw}
    questions = [normalize_text(g.queries["tr"]) for g in shared.groups if g.source == "tquad"]
    assert len(questions) == len(set(questions))
    unlocated = shared.stats["tquad"].dropped["answers not in context"]
    assert len(raw) > len(distinct) >= len(questions) >= len(distinct) - unlocated > 7000


def test_distinct_passages_leave_no_text_twice_in_a_source(data_dir: Path) -> None:
    data = load_training_groups(data_dir, sources=["arcd", "tquad"], distinct_passages=True)
    for source in ("arcd", "tquad"):
        texts = [(role, t) for g in data.groups if g.source == source
                 for role, t in [("q", g.queries["ar" if source == "arcd" else "tr"]), ("p", *g.passages.values())]]
        assert len(texts) == len({(role, normalize_text(t)) for role, t in texts})
    assert data.stats["arcd"].dropped["duplicate passage texts"] > 0


def test_files_are_cited_with_the_registered_checksums(shared: TrainingData) -> None:
    # arcd, tquad, cmrc, iapp, mkqa (6 languages x 2), mintaka; tydiqa-goldp, xnli dev, ntrex (+ document ids)
    assert len(shared.files) == 1 + 7 + 2 + 3 + 12 + 1 + 3 + 11 + 12
    for path, digest in shared.files.items():
        assert expected_sha256(path) == digest, path


def test_language_filter_and_mkqa_language_codes(data_dir: Path) -> None:
    data = load_training_groups(data_dir, sources=["mkqa", "mintaka"], languages=["en", "de"])
    assert data.stats["mkqa"].groups == 0 and data.stats["mkqa"].dropped["groups without a pair"] == 6758 - 1
    mintaka = data.stats["mintaka"]
    assert mintaka.pairs == {("en", "de"): mintaka.groups, ("de", "en"): mintaka.groups} and mintaka.groups >= 1990
    other = load_training_groups(data_dir, sources=["mkqa"], languages=["ja", "zh"])
    assert set(other.stats["mkqa"].texts) == {"ja", "zh"}
    assert {path.rsplit("/", 1)[1] for path in other.files} == {"mkqa-ja.jsonl", "mkqa-zh_cn.jsonl"}


def test_stats_command_prints_tables_and_json(data_dir: Path) -> None:
    runner = CliRunner()
    args = ["stats", "--data-dir", str(data_dir), "--sources", "arcd,mintaka"]
    as_json = runner.invoke(data_app, [*args, "--json"])
    assert as_json.exit_code == 0, as_json.output
    numbers = json.loads(as_json.stdout)
    assert numbers == stats_json(load_training_groups(data_dir, sources=["arcd", "mintaka"]))
    assert numbers["groups"] == numbers["sources"]["arcd"]["groups"] + 2000 - 1  # minus the MLQA-R overlap
    assert numbers["sources"]["arcd"]["pairs"] == {"ar-ar": numbers["sources"]["arcd"]["groups"]}
    table = runner.invoke(data_app, [*args, "--distinct-passages"], env={"COLUMNS": "200"})
    assert table.exit_code == 0 and "training sources" in table.stdout
    assert "│ hi-de │" in table.stdout and "│ ar-ar │" in table.stdout and "duplicate passage texts" in table.stdout


# -------------------------------------------------------------------------------------- malformed input






def test_minimal_root_reads(tmp_path: Path) -> None:
    data = load_training_groups(write_training_root(tmp_path), distinct_passages=True)
    assert {s: stats.groups for s, stats in data.stats.items()} == {
        "arcd": 1, "tquad": 1, "cmrc2018": 1, "iapp-wiki-qa-thai": 3, "mkqa": 2, "mintaka": 1,
    }
    by_id = {g.id: g for g in data.groups}
    assert by_id["arcd/1"].passages == {"ar": "جملة ثانية هنا."}
    assert by_id["tquad/a/0.0.0"].passages == {"tr": "İkinci cümle burada."}
    assert by_id["mkqa/-12"].queries == {"en": "who is it test-questions", "ar": "من هو test-questions",
                                         "zh": "他是谁 test-questions"}
    assert by_id["mintaka/m1"].queries == {"en": "Who?", "de": "Wer?"}  # fr is not an XQuAD-R language
    assert by_id["iapp-wiki-qa-thai/valid_1"].contexts == {"th": "ประโยคที่ 1"}
    # the two CMRC files ask different questions about the same sentence: one group with distinct passages
    assert data.stats["cmrc2018"].dropped == {"duplicate passage texts": 1, "groups without a pair": 1}
    assert load_training_groups(tmp_path, sources=["cmrc2018"]).stats["cmrc2018"].groups == 2  # the default keeps both


@pytest.mark.parametrize(
    ("path", "content", "message"),
    [
        ("train/arcd/arcd.json", None, "arcd.json: file not found"),
        ("train/arcd/arcd.json", "{not json", "arcd.json: malformed JSON at line 1"),
        ("train/arcd/arcd.json", json.dumps(_squad("Kısa.", 40)), "answer_start 40 lies outside the context"),
        ("train/tquad/a.json", json.dumps({"data": [{"paragraphs": [{"context": "x", "qas": [{"id": 3}]}]}]}),
         "data[0].paragraphs[0].qas[0] (id 3): missing or invalid field 'question'"),
        ("train/iapp-wiki-qa-thai/valid.jsonl", '{"question_id": "v1", "context": "ก", "answers": {}}\n',
         "valid.jsonl:1 (question_id v1): missing or invalid field 'question'"),
        ("train/mkqa/dev/mkqa-ar.jsonl", '{"id": "1_ar", "lang": "ar", "question": "q"}\n{bad\n',
         "mkqa-ar.jsonl:2: malformed JSON"),
        ("train/mkqa/dev/mkqa-en.jsonl", '{"id": "1_ar", "lang": "en", "question": "q"}\n',
         "mkqa-en.jsonl:1: id '1_ar' / lang 'en' do not match the file's 'en'"),
        ("train/mintaka/mintaka_dev.json", json.dumps([{"id": "m", "question": "q", "translations": {"de": 1}}]),
         "record 0 (id m): translation 'de' is not a string"),
    ],
)
def test_malformed_input_names_file_and_record(tmp_path: Path, path: str, content: str | None, message: str) -> None:
    write_training_root(tmp_path)
    target = tmp_path / path
    if content is None:
        target.unlink()
    else:
        target.write_text(content)
    with pytest.raises(PolyretError) as caught:
        load_training_groups(tmp_path)
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_unknown_source_and_missing_root(tmp_path: Path) -> None:
    with pytest.raises(PolyretError, match="unknown training source 'squad'"):
        load_training_groups(write_training_root(tmp_path), sources=["squad"])
    with pytest.raises(PolyretError, match="training data directory not found"):
        load_training_groups(tmp_path / "nowhere")
