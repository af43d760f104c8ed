"""Large pools: vectors go straight into one (memory-mapped) array, from the cache and from fresh batches."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from polyret.errors import PolyretError
from typer.testing import CliRunner

from polyret.cli import app
from polyret.evaluate import stages
from polyret.model.encoder import Encoder, EncoderOptions

TEXTS = ["Where is Paris?", "狐狸", "Where is Paris?", "Der Hund schläft.", "", "狐狸"]


def test_memmapped_output_equals_a_plain_encode_fresh_and_cached(tiny_models: dict[str, Path], tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    enc = Encoder(EncoderOptions(model=str(tiny_models["bert"]), cache_dir=tmp_path / "cache", batch_size=2))
    plain = enc.encode(TEXTS, "passage", use_cache=False)
    monkeypatch.setattr(stages, "MEMMAP_BYTES", 16)
    for _ in range(2):  # the first pass encodes and caches, the second reads every vector from the cache
        out = stages.pool_array(enc, len(TEXTS))
        assert isinstance(out, np.memmap) and not list((tmp_path / "cache").glob("pool-*"))  # unlinked at once
        got = enc.encode(TEXTS, "passage", out=out)
        assert got is out
        np.testing.assert_array_equal(np.asarray(got), plain)
    with pytest.raises(PolyretError, match="expected"):
        enc.encode(TEXTS, "passage", out=np.zeros((2, enc.dim), dtype=np.float32))


def test_cli_with_memmapped_pools_gives_the_same_result(tiny_models: dict[str, Path], tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from builders import QUESTIONS, SENTENCES
    from builders import write_generic

    corpus = [{"id": f"{lang}{i}", "text": t, "lang": lang} for lang, ts in SENTENCES.items() for i, t in enumerate(ts)]
    queries = [{"id": f"q{lang}{i}", "text": t, "lang": lang} for lang, ts in QUESTIONS.items() for i, t in enumerate(ts)]
    qrels = [f"q{ql}{i} 0 {cl}{i} 1" for ql in QUESTIONS for i in range(3) for cl in SENTENCES]
    bench = write_generic(tmp_path / "bench", corpus, queries, qrels)
    base = ["evaluate", "--model", str(tiny_models["bert"]), "--benchmark", str(bench)]
    plain = CliRunner().invoke(app, [*base, "--output", str(tmp_path / "plain"), "--cache-dir", str(tmp_path / "c1")])
    monkeypatch.setattr(stages, "MEMMAP_BYTES", 16)
    mapped = CliRunner().invoke(app, [*base, "--output", str(tmp_path / "mapped"), "--cache-dir", str(tmp_path / "c2")])
    assert plain.exit_code == 0 and mapped.exit_code == 0, mapped.output
    a, b = (json.loads((tmp_path / name / "results.json").read_text()) for name in ("plain", "mapped"))
    assert a["metrics"] == b["metrics"]
