"""The XNLI, NTREX and TyDi QA GoldP readers on their real files (checked against counts read independently) and
on malformed lines; the fixed NTREX document split keeps held-out documents out of training."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from polyret.data.sources.ntrex import FILES, chunks, document_split, held_out_lines, read_document_ids
from polyret.data.training import load_training_groups
from polyret.data.xquad_r import XQUAD_R_LANGUAGES
from polyret.errors import PolyretError

ALL = set(XQUAD_R_LANGUAGES)


def test_xnli_one_group_per_premise_entailed_hypothesis_to_premise_in_all_11(data_dir: Path) -> None:
    data = load_training_groups(data_dir, sources=["xnli"])
    groups = data.groups
    lines = (data_dir / "train/xnli/dev-de.tsv").read_text(encoding="utf-8").splitlines()
    entailed = [line.split("\t") for line in lines if line.endswith("\tentailment")]
    assert len(entailed) == 830 and len(groups) == 830
    assert all(set(g.queries) == set(g.passages) == ALL for g in groups)
    assert [(g.queries["de"], g.passages["de"]) for g in groups] == [(h, p) for p, h, _ in entailed]
    assert len(data.files) == 11 and all("/dev-" in path for path in data.files)  # test-*.tsv is not read


def test_ntrex_groups_are_headlines_and_inverse_cloze_chunks_of_training_documents(data_dir: Path) -> None:
    root = data_dir / "train/ntrex"
    ids = read_document_ids(root / "DOCUMENT_IDS.tsv")
    split = document_split(ids)
    assert len(split) == 123 and sum(s == "train" for s in split.values()) == 73
    assert sum(s == "test" for s in split.values()) == 25 and sum(s == "dev" for s in split.values()) == 25
    english = (root / FILES["en"]).read_text(encoding="utf-8").splitlines()
    groups = load_training_groups(data_dir, sources=["ntrex"]).groups
    assert all(set(g.queries) == set(g.passages) == ALL for g in groups)
    first_doc = ids[0]
    assert split[first_doc] == "test"
    train_docs = [d for d in dict.fromkeys(ids) if split[d] == "train"]
    doc = train_docs[0]
    lines = [i for i, d in enumerate(ids) if d == doc]
    headline = next(g for g in groups if g.id == f"ntrex/{doc}/{lines[0] + 1}")
    assert headline.queries["en"] == english[lines[0]]
    assert headline.passages["en"] == " ".join(english[i] for i in lines[1:5])  # window 2: four opening sentences
    chunk = next(g for g in groups if g.id == f"ntrex/{doc}/{lines[7] + 1}")  # lines 5..9: query is the middle one
    assert chunk.queries["en"] == english[lines[7]]
    assert chunk.passages["en"] == " ".join(english[i] for i in (lines[5], lines[6], lines[8], lines[9]))
    # no group's query is inside another group's positive (no in-batch false negative)
    positives = [g.passages["en"] for g in groups]
    assert not any(g.queries["en"] in p for g in groups for p in positives if p != g.passages["en"])


def test_ntrex_window_option_and_chunking() -> None:
    assert chunks(list(range(8)), 1) == [(0, [1, 2]), (4, [3, 5]), (7, [6])]
    assert chunks([5], 2) == []


def test_ntrex_held_out_documents_never_reach_training(data_dir: Path) -> None:
    root = data_dir / "train/ntrex"
    ids = read_document_ids(root / "DOCUMENT_IDS.tsv")
    text = {lang: (root / name).read_text(encoding="utf-8").splitlines() for lang, name in FILES.items()}
    data = load_training_groups(data_dir)  # every source, as training reads them
    assert not any(document_split(ids)[g.id.split("/")[1]] != "train" for g in data.groups if g.source == "ntrex")
    training = [text for g in data.groups for texts in (g.queries, g.passages) for text in texts.values()]
    for split in ("test", "dev"):
        lines = held_out_lines(ids, text, split)
        assert len(lines) > 250
        for lang, sentences in text.items():
            held = {sentences[i] for i in lines}
            assert not [t for t in training if t in held or (len(t) > 120 and any(s in t for s in held if len(s) > 40))]
    # line 1044, a quote that a training document (newsweek.51340) repeats verbatim, is left out
    repeated = 1043
    assert text["en"][repeated] in "\n".join(text["en"][i] for i, d in enumerate(ids) if d == "newsweek.51340")
    assert document_split(ids)[ids[repeated]] == "dev" and repeated not in held_out_lines(ids, text, "dev")


def test_tydiqa_questions_to_gold_passages(data_dir: Path) -> None:
    data = load_training_groups(data_dir, sources=["tydiqa-goldp"])
    stats = data.stats["tydiqa-goldp"]
    # 921 + 812 + 440 questions; one repeated question each in ar and ru is dropped
    assert stats.pairs == {("ar", "ar"): 920, ("ru", "ru"): 811, ("en", "en"): 440} and stats.groups == 2171
    assert stats.dropped == {"duplicate query texts": 2, "groups without a pair": 2}
    group = next(g for g in data.groups if g.id == "tydiqa-goldp/english--3215621880858840488-2")
    assert group.queries == {"en": "What is a way to increase your wound healing speed?"}
    assert group.passages["en"].startswith("Wound care encourages") and group.contexts == group.passages


def _copy(data_dir: Path, tmp_path: Path, source: str) -> Path:
    shutil.copytree(data_dir / "train" / source, tmp_path / "train" / source)
    return tmp_path


@pytest.mark.parametrize(
    ("source", "path", "edit", "message"),
    [
        ("xnli", "dev-el.tsv", lambda t: t.replace("\t", " ", 1), "dev-el.tsv:1: expected 3 tab-separated fields"),
        ("xnli", "dev-en.tsv", lambda t: t.replace("\tneutral", "\tneutra", 1), "dev-en.tsv:1: field 'label' is"),
        ("xnli", "dev-vi.tsv", lambda t: t.split("\n", 1)[1], "dev-vi.tsv: 2489 lines, but dev-en.tsv has 2490"),
        ("ntrex", "newstest2019-ref.ell.txt", lambda t: t.replace("\n", "\n\n", 1), "ell.txt: 1998 lines"),
        ("ntrex", "newstest2019-ref.tha.txt", lambda t: "  \n" + t.split("\n", 1)[1], "tha.txt:1: empty sentence"),
        ("ntrex", "DOCUMENT_IDS.tsv", lambda t: "a\tb\n" + t.split("\n", 1)[1], "DOCUMENT_IDS.tsv:1: expected one"),
        ("tydiqa-goldp", "tydiqa.goldp.ru.dev.json", lambda t: t.replace('"question"', '"questio"', 1),
         "missing or invalid field 'question'"),
    ],
)
def test_malformed_line_names_file_and_line(data_dir: Path, tmp_path: Path, source: str, path: str, edit, message: str) -> None:
    root = _copy(data_dir, tmp_path, source)
    target = root / "train" / source / path
    target.write_text(edit(target.read_text(encoding="utf-8")), encoding="utf-8")
    with pytest.raises(PolyretError) as caught:
        load_training_groups(root, sources=[source])
    assert message in str(caught.value) and "\n" not in str(caught.value)
