"""Nothing polyret loads can run code, nothing it deletes is not its own, and damaged files give one line.

Each case is met where a user meets it: the `polyret` command line, exit status 2, one line naming the file.
"""

from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from polyret.errors import PolyretError
from polyret.model.embedding_cache import EmbeddingCache, text_key
from polyret.model.encoder import Encoder, EncoderOptions
from polyret.ownership import MARKER
from builders import QUESTIONS, SENTENCES
from builders import write_generic
from builders import base_args, cli, losses


def one_line_error(done: subprocess.CompletedProcess[str], *needles: str) -> str:
    """The run failed with exit 2 and one line on stderr that names every needle."""
    assert done.returncode == 2, (done.returncode, done.stderr[-2000:])
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr[-2000:]
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


class _WritesAFile:
    """A pickled callable: unpickling it opens (creates) a file. weights_only loading must refuse it unrun."""

    def __init__(self, target: Path) -> None:
        self.target = target

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (open, (str(self.target), "w"))


@pytest.fixture(scope="module")
def killed_run(tiny_models: dict[str, Path], data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 7-step run killed at the start of step 6: checkpoints of steps 2 and 4, five log lines."""
    out = tmp_path_factory.mktemp("killed") / "run"
    crash = cli(base_args(tiny_models["bert"], data_dir, out, 7), kill_at_step=6)
    assert crash.returncode == -9, crash.stderr
    return out


def _copy_run(source: Path, target: Path) -> Path:
    import shutil

    shutil.copytree(source, target)
    return target


def test_checkpoint_with_a_pickled_callable_is_refused_and_runs_nothing(killed_run: Path, tiny_models: dict,
                                                                         data_dir: Path, tmp_path: Path) -> None:
    out = _copy_run(killed_run, tmp_path / "run")
    proof = tmp_path / "PWNED"
    state = out / "checkpoints" / "step-4" / "state.pt"
    torch.save({"step": 4, "payload": _WritesAFile(proof)}, state)
    torch.load(state, weights_only=False).get("payload").close()  # the payload is real: unpickling creates the file
    assert proof.exists()
    proof.unlink()
    done = cli(base_args(tiny_models["bert"], data_dir, out, 7) + ["--resume"])
    one_line_error(done, str(state), "refused")
    assert not proof.exists()


def test_checkpoints_hold_tensors_and_plain_values_only(killed_run: Path) -> None:
    state = torch.load(killed_run / "checkpoints" / "step-4" / "state.pt", weights_only=True)
    assert state["step"] == 4 and isinstance(state["ranks"][0]["rng"]["numpy"]["keys"], torch.Tensor)


def test_torn_last_log_line_is_dropped_and_resume_gives_the_uninterrupted_losses(
        killed_run: Path, tiny_models: dict, data_dir: Path, tmp_path: Path) -> None:
    straight = tmp_path / "straight"
    assert cli(base_args(tiny_models["bert"], data_dir, straight, 7)).returncode == 0
    out = _copy_run(killed_run, tmp_path / "run")
    with open(out / "log.jsonl", "a", encoding="utf-8") as handle:
        handle.write('{"step": 6, "loss": 1.2')  # power loss in the middle of a record
    resumed = cli(base_args(tiny_models["bert"], data_dir, out, 7) + ["--resume"])
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "torn last line" in resumed.stderr
    assert losses(out) == losses(straight)


def test_a_bad_log_line_that_is_not_the_last_is_named(killed_run: Path, tiny_models: dict, data_dir: Path,
                                                      tmp_path: Path) -> None:
    out = _copy_run(killed_run, tmp_path / "run")
    lines = (out / "log.jsonl").read_text().splitlines()
    lines[1] = "garbage"
    (out / "log.jsonl").write_text("\n".join(lines) + "\n")
    done = cli(base_args(tiny_models["bert"], data_dir, out, 7) + ["--resume"])
    one_line_error(done, "log.jsonl:2")


def test_overwrite_refuses_a_directory_polyret_did_not_make(tiny_models: dict, data_dir: Path, tmp_path: Path) -> None:
    thesis = tmp_path / "thesis"
    (thesis / "sub").mkdir(parents=True)
    (thesis / "thesis.tex").write_text("\\chapter{One}")
    (thesis / "sub" / "data.csv").write_text("a,b\n")
    done = cli(base_args(tiny_models["bert"], data_dir, thesis, 2) + ["--overwrite"])
    one_line_error(done, str(thesis), "did not make")
    assert (thesis / "thesis.tex").read_text() == "\\chapter{One}" and (thesis / "sub" / "data.csv").is_file()


def test_overwrite_checks_every_input_before_removing_its_own_run(killed_run: Path, tiny_models: dict,
                                                                  data_dir: Path, tmp_path: Path) -> None:
    out = _copy_run(killed_run, tmp_path / "run")
    assert (out / MARKER).is_file()
    before = sorted(p.relative_to(out) for p in out.rglob("*"))
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": 1, "queries": {"en": "who?"}, "passages": {"en": "He did."}}\n{"id": 2, "queries": \n')
    done = cli(base_args(tiny_models["bert"], data_dir, out, 2) + ["--overwrite", "--train-file", str(bad)])
    one_line_error(done, str(bad))
    done = cli([*base_args(tiny_models["bert"], data_dir, out, 2), "--overwrite", "--model", str(tmp_path / "nope")])
    one_line_error(done, "nope")
    assert sorted(p.relative_to(out) for p in out.rglob("*")) == before  # nothing removed by a failed start
    done = cli(base_args(tiny_models["bert"], data_dir, out, 2) + ["--overwrite"])
    assert done.returncode == 0, done.stderr[-2000:]
    assert [step for step, _ in losses(out)] == [1, 2] and (out / "polyret_model.json").is_file()


def test_killed_save_and_truncated_tokenizer_are_refused_by_name(killed_run: Path, tiny_models: dict,
                                                                 data_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "model"
    assert cli(base_args(tiny_models["bert"], data_dir, out, 2)).returncode == 0
    Encoder(EncoderOptions(model=str(out)))  # the finished directory loads
    (out / "polyret_model.json").unlink()  # as if the save was killed before its last file
    with pytest.raises(PolyretError, match=r"polyret_model\.json"):
        Encoder(EncoderOptions(model=str(out)))
    with pytest.raises(PolyretError, match=r"polyret_model\.json"):  # an unfinished run is no model either
        Encoder(EncoderOptions(model=str(killed_run)))
    plain = tmp_path / "plain"
    import shutil

    shutil.copytree(tiny_models["bert"], plain)
    text = (plain / "tokenizer.json").read_text()
    (plain / "tokenizer.json").write_text(text[: len(text) // 2])
    bench = _tiny_bench(tmp_path)
    done = subprocess.run([sys.executable, "-m", "polyret", "evaluate", "--model", str(plain), "--benchmark",
                           str(bench), "--output", str(tmp_path / "ev")], capture_output=True, text=True, timeout=300)
    one_line_error(done, "tokenizer.json")


def test_model_save_is_staged_and_leaves_no_staging(tiny_models: dict, data_dir: Path, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    from polyret.train import saving
    from polyret.train.config import load_config
    from polyret.train.loop import train

    out = tmp_path / "model"
    config = load_config(None, {"model": str(tiny_models["bert"]), "steps": 2, "batch_size": 4, "data_dir": data_dir,
                                "sources": "arcd,mkqa", "languages": "ar,en", "output": out, "check_leakage": False})
    real = saving._write_model_files

    def dies_after_the_weights(encoder, model, staging, *args):  # type: ignore[no-untyped-def]
        model.save_pretrained(staging, safe_serialization=True)
        raise KeyboardInterrupt  # killed mid-save

    monkeypatch.setattr(saving, "_write_model_files", dies_after_the_weights)
    with pytest.raises(KeyboardInterrupt):
        train(config)
    assert not (out / "model.safetensors").exists() and not (out / "polyret_model.json").exists()
    monkeypatch.setattr(saving, "_write_model_files", real)
    train(config, resume=True)
    assert (out / "polyret_model.json").is_file() and not (out / saving.STAGING).exists()
    umask = os.umask(0)
    os.umask(umask)
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in out.iterdir() if p.is_file() and p.name[0] != "."}
    assert modes["model.safetensors"] == modes["polyret_model.json"] == 0o666 & ~umask, modes  # others may read it


def _tiny_bench(tmp_path: Path) -> Path:
    corpus = [{"id": f"{lang}{i}", "text": t, "lang": lang} for lang, ts in SENTENCES.items() for i, t in enumerate(ts)]
    queries = [{"id": f"q{lang}{i}", "text": t, "lang": lang} for lang, ts in QUESTIONS.items() for i, t in enumerate(ts)]
    qrels = [f"q{ql}{i} 0 {cl}{i} 1" for ql in QUESTIONS for i in range(3) for cl in SENTENCES]
    return write_generic(tmp_path / "bench", corpus, queries, qrels)


def test_evaluate_overwrite_keeps_old_results_when_the_model_is_mistyped(tiny_models: dict, tmp_path: Path) -> None:
    bench, out = _tiny_bench(tmp_path), tmp_path / "ev"
    first = subprocess.run([sys.executable, "-m", "polyret", "evaluate", "--model", str(tiny_models["bert"]),
                            "--benchmark", str(bench), "--output", str(out)], capture_output=True, text=True,
                           timeout=300)
    assert first.returncode == 0, first.stderr[-2000:]
    old = (out / "results.json").read_bytes()
    done = subprocess.run([sys.executable, "-m", "polyret", "evaluate", "--model", str(tmp_path / "typo"),
                           "--benchmark", str(bench), "--output", str(out), "--overwrite"], capture_output=True,
                          text=True, timeout=300)
    one_line_error(done, "typo")
    assert (out / "results.json").read_bytes() == old


# ------------------------------------------------------------------------------------------ the embedding cache
def _encoder(tiny_models: dict, cache: Path) -> Encoder:
    return Encoder(EncoderOptions(model=str(tiny_models["bert"]), cache_dir=cache))


@pytest.mark.parametrize("damage", ["truncated", "overwritten", "non-finite", "old-format"])
def test_damaged_cache_entries_are_re_encoded(tiny_models: dict, tmp_path: Path, damage: str) -> None:
    texts = ["The quick brown fox.", "Der schnelle Fuchs.", "El zorro rápido."]
    fresh = _encoder(tiny_models, tmp_path / "c").encode(texts, "passage", use_cache=False)
    encoder = _encoder(tiny_models, tmp_path / "c")
    np.testing.assert_array_equal(encoder.encode(texts, "passage"), fresh)  # fills the cache
    path = encoder.cache().path
    encoder.cache().close()
    key = text_key(encoder.prefixed(texts[1:2], "passage")[0])
    with sqlite3.connect(path) as db:
        (blob,) = db.execute("SELECT vec FROM emb WHERE key = ?", (key,)).fetchone()
        vector = np.frombuffer(blob[: fresh.shape[1] * 4], dtype=np.float32).copy()
        bad = {"truncated": blob[:4],
               "overwritten": (vector[::-1].copy()).tobytes() + blob[-8:],
               "non-finite": np.full_like(vector, np.nan).tobytes() + blob[-8:],
               "old-format": vector.tobytes()}[damage]
        db.execute("UPDATE emb SET vec = ? WHERE key = ?", (bad, key))
    again = _encoder(tiny_models, tmp_path / "c")
    assert again.count_missing(texts, "passage") == 1
    healed = again.encode(texts, "passage")
    np.testing.assert_array_equal(healed[[0, 2]], fresh[[0, 2]])  # sound entries read back bit for bit
    np.testing.assert_allclose(healed[1], fresh[1], atol=1e-6)  # re-encoded alone (other padding: last-bit noise)
    assert again.cache().rejected == 1
    assert _encoder(tiny_models, tmp_path / "c").count_missing(texts, "passage") == 0  # the entry was replaced


def test_corrupt_cache_database_is_one_line_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "cache.sqlite"
    cache = EmbeddingCache(path)
    cache.put_many([f"text {i}" for i in range(500)], np.ones((500, 8), dtype=np.float32))
    cache.close()
    for side in path.parent.glob("cache.sqlite-*"):
        side.unlink()
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])
    with pytest.raises(PolyretError, match=rf"{path}: the embedding cache is corrupt.*delete this file"):
        broken = EmbeddingCache(path)
        broken.fill([f"text {i}" for i in range(500)], np.zeros((500, 8), dtype=np.float32), np.arange(500))
    path.write_bytes(b"not a database at all" * 100)
    with pytest.raises(PolyretError, match=rf"{path}: the embedding cache is corrupt"):
        EmbeddingCache(path)


# ------------------------------------------------------------------------------------------ data fetch
def test_fetch_removes_its_own_stale_part_files_only_and_writes_readable_files(tmp_path: Path) -> None:
    from polyret.data import fetch as fetch_module

    dest = tmp_path / "data"
    folder = dest / "xquad-r"
    folder.mkdir(parents=True)
    stale = folder / ".en.json.k2j_x9ab.part"  # what a killed fetch leaves (mkstemp's name)
    stale.write_bytes(b"half")
    foreign = folder / "notes.part"
    foreign.write_text("mine")
    fetch_module._remove_stale_parts(dest, ["xquad-r/en.json"])
    assert not stale.exists() and foreign.read_text() == "mine"
    with fetch_module._staged(folder / "en.json") as (handle, tmp):
        handle.write(b"x")
        handle.close()
        mode = stat.S_IMODE(os.stat(tmp).st_mode)
        os.replace(tmp, folder / "en.json")
    umask = os.umask(0)
    os.umask(umask)
    assert mode == 0o666 & ~umask and mode & 0o044  # readable by group and others under the usual umask


def test_results_are_written_with_the_usual_file_mode(tmp_path: Path) -> None:
    from polyret.report.io import write_json_atomic

    write_json_atomic(tmp_path / "results.json", {"a": 1})
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(os.stat(tmp_path / "results.json").st_mode) == 0o666 & ~umask


def test_a_saved_config_alone_does_not_make_a_directory_a_run(tiny_models: dict, tmp_path: Path) -> None:
    import shutil

    model = tmp_path / "someone-elses-model"
    shutil.copytree(tiny_models["bert"], model)
    (model / "train_config.yaml").write_text("lr: 1e-4\n")  # their own file, not polyret's
    Encoder(EncoderOptions(model=str(model)))  # loads
    (model / "checkpoints").mkdir()
    with pytest.raises(PolyretError, match=r"train_config.yaml and checkpoints/"):
        Encoder(EncoderOptions(model=str(model)))
