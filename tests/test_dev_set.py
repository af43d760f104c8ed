"""The development set: dev/tatoeba translation retrieval, its measures, and that it shares no text with XQuAD-R."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from polyret.data.leakage import TextRecord, check_leakage, evaluation_texts, normalize_text
from polyret.errors import PolyretError
from polyret.evaluate.dev import DEV_CODES, DevSetConfig, dev_metrics, load_dev_set, score_dev, score_encoder


def _unit(rows: list[list[float]]) -> np.ndarray:
    v = np.array(rows, dtype=np.float64)
    return (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)


def test_measures_on_a_hand_worked_pool() -> None:
    # two pairs: (ar, its English) and (de, its English); query and passage vectors equal here. Cosines:
    # ar.en0 .796, ar.de 0, ar.en1 .989; en0.de .600, en0.en1 .861; de.en1 .110
    v = _unit([[1.0, 0.0, 0.1], [0.8, 0.6, 0.0], [0.0, 1.0, 0.0], [0.9, 0.1, 0.0]])
    # items: 0 = ar text, 1 = its English, 2 = de text, 3 = its English
    m = dev_metrics(v, v, ["ar", "en", "de", "en"])
    scores = v.astype(np.float64) @ v.astype(np.float64).T
    np.fill_diagonal(scores, -np.inf)
    partner = [1, 0, 3, 2]
    ranks = [1 + int(np.sum(scores[i] > scores[i, partner[i]])) for i in range(4)]
    assert m["mixed_mrr"] == pytest.approx(np.mean([1 / r for r in ranks]))
    assert m["mixed_accuracy"] == pytest.approx(np.mean([r == 1 for r in ranks]))
    assert ranks == [2, 2, 2, 3]  # worked by hand from the cosines above
    # top-1 of each item: ar -> en1 (not same), en0 -> en1 (same language), de -> en0 (not), en1 -> ar (not)
    assert m["same_language_top1"] == pytest.approx(0.25)
    # pair accuracy: only the other side of the same pair language; every text finds its partner there
    assert m["pair_accuracy"] == 1.0 and set(m["per_language"]) == {"ar", "de"}
    with pytest.raises(PolyretError):
        dev_metrics(v[:3], v[:3], ["ar", "en", "de"])


def _fake_root(tmp_path: Path, lines: dict[str, tuple[list[str], list[str]]]) -> Path:
    root = tmp_path / "data"
    (root / "dev" / "tatoeba").mkdir(parents=True)
    for code, (own, eng) in lines.items():
        (root / "dev" / "tatoeba" / f"tatoeba.{code}-eng.{code}").write_text("\n".join(own) + "\n", encoding="utf-8")
        (root / "dev" / "tatoeba" / f"tatoeba.{code}-eng.eng").write_text("\n".join(eng) + "\n", encoding="utf-8")
    return root


def test_sampling_is_seeded_distinct_and_refuses_bad_files(tmp_path: Path) -> None:
    # our own sentences; "Hello!" repeats across files and "hallo" twice: at most one copy may enter the pool
    root = _fake_root(tmp_path, {"deu": (["Hallo", "hallo", "Ich bin hier", "Guten Tag", "Danke"],
                                         ["Hello!", "Hi", "I am here", "Good day", "Thanks"]),
                                 "spa": (["Hola", "Estoy aquí", "Gracias"], ["hello", "I am here.", "Thank you"])})
    cfg = DevSetConfig(languages=["de", "es"], per_language=5, seed=3)
    dev = load_dev_set(root, cfg)
    texts, langs = dev.pool()
    normalised = [normalize_text(t) for t in texts]
    assert len(set(normalised)) == len(normalised)  # no two pool items are the same text
    assert langs[::2] == [p.lang for p in dev.pairs] and set(langs[1::2]) == {"en"}
    assert load_dev_set(root, cfg) == dev  # seeded
    assert len(dev.files_sha256) == 4 and dev.describe()["pairs"] == len(dev.pairs)
    for pair in dev.pairs:  # each pair is a line of both files, aligned
        code = DEV_CODES[pair.lang]
        own = (root / "dev" / "tatoeba" / f"tatoeba.{code}-eng.{code}").read_text().splitlines()
        eng = (root / "dev" / "tatoeba" / f"tatoeba.{code}-eng.eng").read_text().splitlines()
        assert (own[pair.line - 1], eng[pair.line - 1]) == (pair.text, pair.english)

    (root / "dev" / "tatoeba" / "tatoeba.spa-eng.eng").write_text("hello\n", encoding="utf-8")
    with pytest.raises(PolyretError, match="tatoeba.spa-eng.spa: 3 lines but tatoeba.spa-eng.eng has 1"):
        load_dev_set(root, cfg)
    with pytest.raises(PolyretError, match="tatoeba.ell-eng.ell: development file not found"):
        load_dev_set(root, DevSetConfig(languages=["el"]))
    with pytest.raises(ValueError, match="no dev/tatoeba file for language 'en'"):
        DevSetConfig(languages=["en"])


def test_development_set_shares_no_text_with_xquad_r(data_dir: Path) -> None:
    dev = load_dev_set(data_dir, DevSetConfig(per_language=1000))  # every usable line, not just the sample
    assert len(dev.pairs) > 5000 and {p.lang for p in dev.pairs} == set(DEV_CODES)
    evaluation = evaluation_texts(data_dir)
    report = check_leakage(dev.records(), evaluation)
    assert report.clean, report.summary()
    # the check would see a leak: one XQuAD-R question slipped into the pool is found
    planted = [*dev.records(), TextRecord("planted", "dev", evaluation[0].lang, evaluation[0].text)]
    assert [h.training.id for h in check_leakage(planted, evaluation).hits] == ["planted"]


def test_default_sample_and_a_real_encoder(data_dir: Path, tiny_models: dict[str, Path]) -> None:
    from polyret.model.encoder import Encoder, EncoderOptions

    dev = load_dev_set(data_dir)
    assert len(dev.pairs) == 50 * len(DEV_CODES)
    encoder = Encoder(EncoderOptions(model=str(tiny_models["bert"])))
    encoder.model.train()
    m = score_encoder(encoder, dev)
    assert encoder.model.training  # the training mode is restored after scoring
    assert 0 < m["mixed_mrr"] <= 1 and 0 <= m["same_language_top1"] <= 1 and m["n_texts"] == 2 * len(dev.pairs)
    assert m == score_encoder(encoder, dev)  # eval mode: no dropout, so deterministic
    texts, _ = dev.pool()
    assert encoder.count_missing(texts[:10], "query") == 10  # training weights: nothing went to the cache

    # a perfect encoder (each text's vector = its pair's direction) scores 1 everywhere
    index = {t: i // 2 for i, t in enumerate(texts)}
    basis = np.eye(len(dev.pairs), dtype=np.float32)
    perfect = score_dev(lambda ts, kind: basis[[index[t] for t in ts]], dev)
    assert perfect["pair_accuracy"] == 1.0 and perfect["same_language_top1"] == 0.0
    assert perfect["mixed_mrr"] == 1.0  # ties (a text's partner has the same vector) cannot hide the partner
