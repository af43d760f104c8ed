"""`polyret noise list | preview | realism` through the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from typer.testing import CliRunner

from polyret.cli import app
from polyret.cli.noise import marked
from polyret.noise import available, noise_text

runner = CliRunner()


def test_list_shows_every_language_and_target() -> None:
    result = runner.invoke(app, ["noise", "list"], env={"COLUMNS": "160"})
    assert result.exit_code == 0, result.output
    for lang, dialects in available().items():
        assert f"{lang}-{dialects[0]} *" in result.output  # the default target is starred
        for dialect in dialects:
            assert f"{lang}-{dialect}" in result.output


def test_list_json() -> None:
    result = runner.invoke(app, ["noise", "list", "--json"])
    assert result.exit_code == 0, result.output
    records = json.loads(result.output)
    assert {(r["language"], r["dialect"]) for r in records} == {
        (lang, d) for lang, dialects in available().items() for d in dialects}
    typos = [r for r in records if r["dialect"] == "typos"]
    assert len(typos) == len(available()) and all(set(r["families"]) == {"typo"} for r in typos)
    for r in records:
        assert r["rules"] == sum(r["families"].values()) > 0
        assert r["default"] == (available()[r["language"]][0] == r["dialect"])


def test_preview_marks_changes() -> None:
    text = "You all are going to see them"
    result = runner.invoke(app, ["noise", "preview", "--lang", "en", "--dialect", "sus", "--rate", "1", text])
    assert result.exit_code == 0, result.output
    expected = noise_text(text, "en", "sus", 1.0, 0)
    assert expected.fired
    assert "[-" in result.output and "{+" in result.output  # no colour in a pipe: textual marks
    for firing in expected.fired:
        assert firing.rule in result.output and firing.family in result.output


def test_marked_styles() -> None:
    styled = marked("the cat", "da cat")
    assert styled.plain == "theda cat"  # deleted text is kept (struck through), inserted text follows
    styles = {str(span.style) for span in styled.spans}
    assert styles == {"strike red", "bold green"}
    assert marked("the cat", "da cat", plain=True).plain == "[-the-]{+da+} cat"
    assert marked("Tôi đi", "Tui đi", plain=True).plain == "T[-ô-]{+u+}i đi"
    assert marked("same", "same").plain == "same"


def test_preview_json_lists_fired_rules() -> None:
    text = "Tôi không biết anh ấy ở đâu"
    result = runner.invoke(app, ["noise", "preview", "--lang", "vi", "--rate", "1", "--seed", "2",
                                 "--families", "lexical,morphosyntactic", "--json", text])
    assert result.exit_code == 0, result.output
    record = json.loads(result.output)
    expected = noise_text(text, "vi", "south", 1.0, 2, frozenset({"lexical", "morphosyntactic"}))
    assert record["text"] == text and record["noised"] == expected.text != text
    assert record["fired"] == [{"rule": f.rule, "family": f.family, "before": f.before, "after": f.after}
                               for f in expected.fired]
    assert {f["family"] for f in record["fired"]} <= {"lexical", "morphosyntactic"}


def test_preview_reads_stdin_lines() -> None:
    result = runner.invoke(app, ["noise", "preview", "--lang", "en", "--dialect", "typos", "--rate", "1",
                                 "--json", "-"], input="several longer words here\n\nanother typing example\n")
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in result.output.splitlines()]
    assert [r["text"] for r in records] == ["several longer words here", "another typing example"]
    assert all(f["family"] == "typo" for r in records for f in r["fired"])


@pytest.mark.parametrize("args, says", [
    (["--lang", "en", "--dialect", "nowhere"], "unknown dialect 'nowhere' for en; available: en-"),
    (["--lang", "xx"], "unknown language 'xx'"),
    (["--lang", "en", "--families", "slang"], "unknown family 'slang'; available: orthographic"),
    (["--lang", "en", "--rate", "1.5"], "outside [0, 1]"),
    (["--lang", "all"], "one language"),
])
def test_preview_errors_are_one_line_with_choices(args: list[str], says: str) -> None:
    result = runner.invoke(app, ["noise", "preview", *args, "some text"])
    assert result.exit_code == 2
    assert says in result.output and "Traceback" not in result.output
    if "unknown dialect" in says:
        for dialect in available()["en"]:
            assert f"en-{dialect}" in result.output
    if "unknown language" in says:
        assert ", ".join(available()) in result.output


def test_realism_json_records(data_dir: Path) -> None:
    result = runner.invoke(app, ["noise", "realism", "--data-dir", str(data_dir), "--json"])
    assert result.exit_code == 0, result.output
    records = json.loads(result.output)
    assert records
    for record in records:
        assert {"dialect", "clean_similarity", "noised_similarity"} <= set(record)
        assert 0.0 <= record["clean_similarity"] <= 1.0 and 0.0 <= record["noised_similarity"] <= 1.0
        assert record["gain"] == pytest.approx(record["noised_similarity"] - record["clean_similarity"], abs=1e-5)


def test_realism_errors(tmp_path) -> None:  # noqa: ANN001
    result = runner.invoke(app, ["noise", "realism", "--data-dir", str(tmp_path)])
    assert result.exit_code == 2 and "not found" in result.output
    result = runner.invoke(app, ["noise", "realism", "--languages", "xx"])
    assert result.exit_code == 2 and "unknown language 'xx'" in result.output


def test_realism_reports_both_checks(data_dir: Path) -> None:
    data = str(data_dir)
    result = runner.invoke(app, ["noise", "realism", "--data-dir", data, "--languages", "de,zh", "--json"])
    assert result.exit_code == 0, result.output
    records = json.loads(result.output)
    assert {r["check"] for r in records} == {"ngram", "paired"}
    paired = {(r["dialect"], r["variant"]): r for r in records if r["check"] == "paired"}
    assert set(paired) == {("de-gsw", "gsw-BE"), ("de-gsw", "gsw-ZH"), ("zh-tw", "zho-TW")}
    for r in paired.values():
        assert r["gain_low"] <= r["gain"] <= r["gain_high"] and r["split"] == "dev"
    result = runner.invoke(app, ["noise", "realism", "--data-dir", data, "--languages", "zh", "--markdown",
                                 "--families", "lexical"])
    assert result.exit_code == 0, result.output
    assert "| `zh-tw` | zho-TW |" in result.output and "| `zh-yue` | yue |" in result.output
    result = runner.invoke(app, ["noise", "realism", "--data-dir", data, "--split", "bogus"])
    assert result.exit_code == 2 and "--split" in result.output


def test_study_noise_families_option(tmp_path, monkeypatch) -> None:  # noqa: ANN001
    """`polyret run --noise-families` trains hybrid+noise with that family subset (the family ablation)."""
    import polyret.study.run as study_run

    seen = {}

    def fake_run_study(models, profile, data_dir, output, *args):  # noqa: ANN001, ANN202
        seen["noise"] = profile.train.noise
        (output / "report.md").parent.mkdir(parents=True, exist_ok=True)
        (output / "report.md").write_text("report\n")
        return {"cells": []}

    monkeypatch.setattr(study_run, "run_study", fake_run_study)
    result = runner.invoke(app, ["run", "--output", str(tmp_path / "s"), "--strategies", "hybrid+noise",
                                 "--noise-families", "lexical,code_switching"])
    assert result.exit_code == 0, result.output
    assert seen["noise"].families == ["lexical", "code_switching"]
    assert seen["noise"].dialects == ["all-*"]  # the rest of the profile's noise is kept
    result = runner.invoke(app, ["run", "--output", str(tmp_path / "t"), "--noise-families", "lexicon"])
    assert result.exit_code == 2 and "--noise-families" in result.output and "unknown families" in result.output
    result = runner.invoke(app, ["run", "--output", str(tmp_path / "r"), "--strategies", "hybrid+noise",
                                 "--noise-dialects", "ar-arabizi,zh-pinyin"])
    assert result.exit_code == 0, result.output
    assert seen["noise"].dialects == ["ar-arabizi", "zh-pinyin"] and seen["noise"].families is None
    assert seen["noise"].targets() == {"ar": ("arabizi",), "zh": ("pinyin",)}  # de, en, ... stay clean
    result = runner.invoke(app, ["run", "--output", str(tmp_path / "u"), "--noise-dialects", "ar-latin"])
    assert result.exit_code == 2 and "--noise-dialects" in result.output and "ar-arabizi" in result.output


@pytest.mark.parametrize("lang, dialect, text", [("ar", "arabizi", "لماذا أنت هنا؟"), ("zh", "pinyin", "我们去银行。"),
                                                 ("th", "karaoke", "วันนี้อากาศดีมาก")])
def test_list_and_preview_show_the_romanised_targets(lang: str, dialect: str, text: str) -> None:
    listed = runner.invoke(app, ["noise", "list", "--json"])
    assert f"{lang}-{dialect}" in {r["spec"] for r in json.loads(listed.output)}
    result = runner.invoke(app, ["noise", "preview", "--lang", lang, "--dialect", dialect, "--rate", "1", text])
    assert result.exit_code == 0, result.output
    expected = noise_text(text, lang, dialect, 1.0, 0)
    assert "[-" in result.output and "{+" in result.output
    assert {f.family for f in expected.fired} >= {"code_switching"}
    for firing in expected.fired:
        assert firing.rule in result.output
