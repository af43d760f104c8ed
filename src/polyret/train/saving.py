"""Save a trained encoder as a directory that polyret, transformers and sentence-transformers all load."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import torch

from polyret.model.encoder import Encoder
from polyret.report.io import give_new_file_mode, write_json_atomic

TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "sentencepiece.bpe.model",
                   "vocab.txt", "spiece.model")


COMPLETE = "polyret_model.json"
"""Written last: its presence marks a finished model directory (model/loading.py refuses one without it)."""
STAGING = ".model-staging"


def save_trained_model(encoder: Encoder, model: torch.nn.Module, out: Path, config: Any,
                       parameter_counts: dict[str, int], provenance: dict[str, Any]) -> None:
    """Weights (float32 safetensors), tokenizer, sentence-transformers metadata, then polyret_model.json last.

    Everything is written into a staging directory inside `out` and moved into place at the end, polyret_model.json
    last, so a save killed at any point leaves no half model that loads: the loader refuses a polyret run directory
    without polyret_model.json, and a later save starts a fresh staging directory.
    """
    staging = out / STAGING
    shutil.rmtree(staging, ignore_errors=True)  # a killed save's leftovers (our own hidden directory)
    staging.mkdir(parents=True)
    _write_model_files(encoder, model, staging, config, parameter_counts, provenance)
    publish_staged(staging, out)


def publish_staged(staging: Path, out: Path) -> None:
    """Move a staged model directory's files into `out`, polyret_model.json last, and remove the staging folder."""
    (out / COMPLETE).unlink(missing_ok=True)
    for path in staging.rglob("*"):  # save_pretrained stages model.safetensors as 0600: the usual mode, like the rest
        if path.is_file():
            give_new_file_mode(path)
    for item in sorted(staging.iterdir(), key=lambda p: p.name == COMPLETE):
        target = out / item.name
        if target.is_dir():
            shutil.rmtree(target)
        os.replace(item, target)
    staging.rmdir()


def _write_model_files(encoder: Encoder, model: torch.nn.Module, out: Path, config: Any,
                       parameter_counts: dict[str, int], provenance: dict[str, Any]) -> None:
    model.save_pretrained(out, safe_serialization=True)
    source = encoder.identity.get("path")
    if source and Path(source).is_dir():
        for name in TOKENIZER_FILES:
            if (Path(source) / name).is_file():
                shutil.copyfile(Path(source) / name, out / name)
    else:
        from transformers import AutoTokenizer

        AutoTokenizer.from_pretrained(config.model).save_pretrained(out)
    settings = encoder.settings
    modules = [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
    ]
    write_json_atomic(out / "modules.json", modules)
    write_json_atomic(out / "1_Pooling" / "config.json", {
        "word_embedding_dimension": encoder.dim, "pooling_mode_cls_token": settings.pooling == "cls",
        "pooling_mode_mean_tokens": settings.pooling == "mean", "pooling_mode_max_tokens": False,
        "pooling_mode_mean_sqrt_len_tokens": False,
    })
    write_json_atomic(out / "sentence_bert_config.json", {"max_seq_length": settings.max_length,
                                                          "do_lower_case": False})
    write_json_atomic(out / "config_sentence_transformers.json", {
        "prompts": {"query": settings.query_prefix, "passage": settings.passage_prefix},
        "default_prompt_name": None, "similarity_fn_name": "cosine",
    })
    write_json_atomic(out / COMPLETE, {
        "pooling": settings.pooling, "query_prefix": settings.query_prefix,
        "passage_prefix": settings.passage_prefix, "max_length": settings.max_length, "normalize": True,
        "engine_tokenizer": settings.engine_tokenizer,
        "base_model": {k: encoder.identity.get(k) for k in ("spec", "kind", "fingerprint", "source")},
        "training": {"config": json.loads(json.dumps(config.model_dump(mode="json"))),
                     "parameters": parameter_counts, **provenance},
    })
