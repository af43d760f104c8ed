"""The encoder on tiny local models of each architecture: pooling, padding, metadata, cache."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from polyret.errors import PolyretError
from polyret.model.encoder import Encoder, EncoderOptions

TEXTS = ["Where is Paris?", "Der schnelle braune Fuchs springt über den faulen Hund und noch viel weiter.", "狐狸", ""]


@pytest.mark.parametrize("arch", ["bert", "xlm-roberta", "distilbert"])
def test_unit_vectors_and_padding_invariance(tiny_models: dict[str, Path], arch: str, tmp_path: Path) -> None:
    enc = Encoder(EncoderOptions(model=str(tiny_models[arch]), cache_dir=tmp_path, batch_size=4))
    batched = enc.encode(TEXTS, "passage", use_cache=False)
    assert batched.shape == (4, enc.dim)
    np.testing.assert_allclose(np.linalg.norm(batched, axis=1), 1.0, atol=1e-5)
    alone = np.stack([enc.encode([t], "passage", use_cache=False)[0] for t in TEXTS])
    np.testing.assert_allclose(batched, alone, atol=2e-5)  # padding must not leak into the pooled vector


def test_mean_pooling_matches_a_direct_computation(tiny_models: dict[str, Path], tmp_path: Path) -> None:
    from transformers import AutoModel, AutoTokenizer

    enc = Encoder(EncoderOptions(model=str(tiny_models["bert"]), cache_dir=tmp_path, query_prefix="query: "))
    ours = enc.encode([TEXTS[1]], "query", use_cache=False)[0]
    tok = AutoTokenizer.from_pretrained(tiny_models["bert"])
    model = AutoModel.from_pretrained(tiny_models["bert"]).eval()
    with torch.no_grad():
        hidden = model(**tok(["query: " + TEXTS[1]], return_tensors="pt")).last_hidden_state[0]
    expected = hidden.mean(0)
    np.testing.assert_allclose(ours, (expected / expected.norm()).numpy(), atol=1e-5)


def test_cls_pooling_differs_from_mean(tiny_models: dict[str, Path], tmp_path: Path) -> None:
    mean = Encoder(EncoderOptions(model=str(tiny_models["bert"]), cache_dir=tmp_path)).encode(TEXTS[:2], "query")
    cls = Encoder(EncoderOptions(model=str(tiny_models["bert"]), pooling="cls", cache_dir=tmp_path)).encode(
        TEXTS[:2], "query")
    assert not np.allclose(mean, cls, atol=1e-3)  # also proves the cache key separates poolings


def test_sentence_transformers_metadata_is_honoured(tiny_models: dict[str, Path], tmp_path: Path) -> None:
    enc = Encoder(EncoderOptions(model=str(tiny_models["st-cls"]), cache_dir=tmp_path))
    assert enc.settings.pooling == "cls"
    assert (enc.settings.query_prefix, enc.settings.passage_prefix, enc.settings.max_length) == ("q: ", "d: ", 64)
    assert enc.prefixed(["x"], "passage") == ["d: x"]


def test_cache_encodes_each_text_once(tiny_models: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    opts = EncoderOptions(model=str(tiny_models["xlm-roberta"]), cache_dir=tmp_path, query_prefix="query: ")
    enc = Encoder(opts)
    seen: list[int] = []
    original = enc.forward_ids
    monkeypatch.setattr(enc, "forward_ids", lambda batch: seen.append(len(batch)) or original(batch))
    first = enc.encode(TEXTS + TEXTS, "query")
    assert sum(seen) == len(set(TEXTS))  # duplicates encoded once
    again = Encoder(opts)
    monkeypatch.setattr(again, "forward_ids", lambda batch: pytest.fail("cache miss on a re-run"))
    np.testing.assert_array_equal(again.encode(TEXTS + TEXTS, "query"), first)
    assert again.count_missing(TEXTS, "query") == 0 and again.count_missing(TEXTS, "passage") == len(set(TEXTS))


def test_long_text_is_truncated_to_the_model_limit(tiny_models: dict[str, Path], tmp_path: Path) -> None:
    enc = Encoder(EncoderOptions(model=str(tiny_models["xlm-roberta"]), cache_dir=tmp_path, max_length=16))
    ids = enc.token_ids(["the quick brown fox " * 50])[0]
    assert len(ids) == 16 and ids[0] == 0 and ids[-1] == 2


@pytest.mark.parametrize(("options", "message"), [
    ({"model": "/no/such/dir"}, "no such directory"),
    ({"model": "embedded:nope"}, "unknown embedded model"),
    ({"device": "cuda:0"}, None),
])
def test_bad_options(tiny_models: dict[str, Path], tmp_path: Path, options: dict, message: str | None) -> None:
    if message is None:
        if torch.cuda.is_available():
            pytest.skip("a CUDA device is present")
        message = "no CUDA device"
    full = {"model": str(tiny_models["bert"]), "cache_dir": tmp_path, **options}
    with pytest.raises(PolyretError, match=message):
        Encoder(EncoderOptions(**full))
