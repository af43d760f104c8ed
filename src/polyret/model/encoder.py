"""A bi-encoder for retrieval: any Hugging Face encoder or the embedded mE5-small, pooled and L2-normalised.

Encoding is the scarce resource on CPU, so `encode` sorts texts by token length (little padding), encodes each
distinct text once, and reads and writes an on-disk cache keyed by weights fingerprint, settings and exact text.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Callable, Iterator, Literal, Protocol, Sequence

import numpy as np
import torch

from polyret.errors import PolyretError
from polyret.model.embedding_cache import EmbeddingCache
from polyret.model.loading import (
    DEFAULT_MODEL,
    ModelSettings,
    Pooling,
    metadata_settings,
    resolve_model_dir,
    weights_fingerprint,
)

Kind = Literal["query", "passage"]
# Architectures whose base model has a pooler we never use (loading it would only warn about missing weights).
POOLER_MODELS = {"bert", "xlm-roberta", "roberta", "camembert", "xlm-roberta-xl"}
# Architectures whose position ids start at pad_token_id + 1.
OFFSET_POSITION_MODELS = {"xlm-roberta", "roberta", "camembert", "xlm-roberta-xl"}
Progress = Callable[[int], None]
WINDOW = 16384
"""Texts tokenised and length-sorted together (see Encoder.batch_plan)."""



class Sharding(Protocol):
    """What the encoder needs of a sharded encoding (evaluate/sharding.py under torchrun), injected at
    construction so model/ depends on nothing in evaluate/."""

    world: int
    texts_here: int

    def announce(self, inputs: list[str]) -> None: ...

    def run(self, encoder: "Encoder", batches: Iterator[tuple[list[int], list[list[int]]]]
            ) -> Iterator[tuple[list[int], np.ndarray]]: ...


@dataclass(frozen=True)
class EncoderOptions:
    """User-facing encoder options; None means "take it from the model's metadata, else the default"."""

    model: str = DEFAULT_MODEL
    pooling: Pooling | None = None
    query_prefix: str | None = None
    passage_prefix: str | None = None
    max_length: int | None = None
    batch_size: int = 32
    device: str = "auto"
    dtype: Literal["float32", "float16", "bfloat16", "int8"] = "float32"  # int8: CPU only, see model/quantize.py
    cache_dir: Path | None = None  # None: $POLYRET_CACHE/embeddings or ~/.cache/polyret/embeddings


def default_cache_root() -> Path:
    return Path(os.environ.get("POLYRET_CACHE", Path.home() / ".cache" / "polyret"))


def pick_device(device: str, local_rank: int | None = None) -> torch.device:
    """The torch device for `--device`: `auto` is a GPU when there is one, else the CPU.

    `auto` and a bare `cuda` give this process its own GPU, cuda:LOCAL_RANK (torchrun sets LOCAL_RANK per rank;
    0 when absent), so N ranks on one machine use N GPUs rather than all landing on GPU 0. `cuda:N` is taken as
    given. `local_rank` overrides the environment.
    """
    if local_rank is None:
        local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise PolyretError(f"--device {device}: no CUDA device is available here")
    if device == "cuda":
        count = torch.cuda.device_count()
        if local_rank >= count:
            raise PolyretError(f"--device {device}: local rank {local_rank} needs GPU {local_rank}, but this machine "
                               f"has {count}; start at most {count} process(es) per machine")
        return torch.device("cuda", local_rank)
    try:
        return torch.device(device)
    except RuntimeError:
        raise PolyretError(f"--device: unknown device {device!r} (use auto, cpu or cuda[:N])") from None


class Encoder:
    """Loads the model once; `encode` maps texts to unit vectors (numpy float32)."""

    def __init__(self, options: EncoderOptions, sharding: Sharding | None = None) -> None:
        from transformers import AutoConfig, AutoModel
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()
        self.options = options
        model_dir, self.identity = resolve_model_dir(options.model)
        meta = metadata_settings(model_dir)
        engine = self.identity["kind"] == "embedded" or bool(meta.get("engine_tokenizer"))
        self.settings = ModelSettings(
            pooling=options.pooling or meta.get("pooling", "mean"),
            query_prefix=options.query_prefix if options.query_prefix is not None else meta.get("query_prefix", ""),
            passage_prefix=(
                options.passage_prefix if options.passage_prefix is not None else meta.get("passage_prefix", "")
            ),
            max_length=options.max_length or int(meta.get("max_length", 512)),  # capped below by the model
            engine_tokenizer=engine,
        )
        if self.settings.pooling not in ("mean", "cls"):
            raise PolyretError(f"--pooling: unknown pooling {self.settings.pooling!r} (mean or cls)")
        self.device = pick_device(options.device)
        if options.dtype == "int8" and self.device.type != "cpu":
            raise PolyretError(f"--dtype int8: CPU inference only (device {self.device}); use float16 or bfloat16")
        dtype = torch.float32 if options.dtype == "int8" else getattr(torch, options.dtype)
        try:
            config = AutoConfig.from_pretrained(str(model_dir))
            extra = {"add_pooling_layer": False} if config.model_type in POOLER_MODELS else {}
            self.model = AutoModel.from_pretrained(str(model_dir), dtype=dtype, **extra)
        except (OSError, ValueError) as err:
            raise PolyretError(f"--model {options.model}: cannot load ({str(err).splitlines()[0]})") from None
        positions = getattr(config, "max_position_embeddings", 512)
        if config.model_type in OFFSET_POSITION_MODELS:  # positions start after the padding index
            positions -= int(config.pad_token_id) + 1
        if self.settings.max_length > positions:
            self.settings = replace(self.settings, max_length=positions)
        self.model.eval().to(self.device)
        if options.dtype == "int8":
            from polyret.model.quantize import quantize_int8

            self.model = quantize_int8(self.model)
        try:
            self._load_tokenizer(model_dir)
        except PolyretError:
            raise
        except Exception as err:  # tokenizers raises plain Exceptions for a corrupt file  # noqa: BLE001
            where = Path(model_dir) / "tokenizer.json" if isinstance(model_dir, Path) else model_dir
            detail = str(err).strip().splitlines()[0][:160] if str(err).strip() else type(err).__name__
            raise PolyretError(f"{where}: cannot load the tokenizer ({detail})") from None
        self.fingerprint = weights_fingerprint(model_dir, self.identity)
        self.identity.update(
            {
                "fingerprint": self.fingerprint,
                "architecture": type(self.model).__name__,
                "settings": asdict(self.settings),
                "dtype": options.dtype,
                "device": str(self.device),
                "source": meta.get("source"),
            }
        )
        self._cache: EmbeddingCache | None = None
        self.sharding = sharding  # rank 0 of a sharded evaluation (evaluate/sharding.py), else None

    def _load_tokenizer(self, model_dir: Path | str) -> None:
        if self.settings.engine_tokenizer:
            from tokenizers import Tokenizer

            from polyret.model.embedded import engine_token_ids

            tok = Tokenizer.from_file(str(Path(model_dir) / "tokenizer.json"))
            self._pad_id = 1
            self._tokenize: Callable[[list[str]], list[list[int]]] = lambda texts: engine_token_ids(tok, texts)
            self._eos_id: int | None = 2
        else:
            from transformers import AutoTokenizer

            hf_tok = AutoTokenizer.from_pretrained(str(model_dir))
            if hf_tok.pad_token_id is None:
                raise PolyretError(f"--model {self.options.model}: the tokenizer has no pad token")
            self._pad_id = int(hf_tok.pad_token_id)
            self._eos_id = hf_tok.sep_token_id if hf_tok.sep_token_id is not None else hf_tok.eos_token_id
            self._tokenize = lambda texts: hf_tok(list(texts), add_special_tokens=True, truncation=False)["input_ids"]

    # ------------------------------------------------------------------ keys and cache
    def settings_key(self) -> str:
        """Cache namespace: weights + everything that changes an embedding except the text."""
        blob = json.dumps(
            {"fp": self.fingerprint, "pool": self.settings.pooling, "max": self.settings.max_length,
             "dtype": self.options.dtype, "engine": self.settings.engine_tokenizer},
            sort_keys=True,
        )
        return hashlib.sha256(blob.encode()).hexdigest()[:24]

    def cache(self) -> EmbeddingCache:
        if self._cache is None:
            root = self.options.cache_dir or default_cache_root() / "embeddings"
            self._cache = EmbeddingCache(Path(root) / f"{self.settings_key()}.sqlite")
        return self._cache

    def prefixed(self, texts: Sequence[str], kind: Kind) -> list[str]:
        prefix = self.settings.query_prefix if kind == "query" else self.settings.passage_prefix
        return [prefix + t for t in texts]

    # ------------------------------------------------------------------ encoding
    def token_ids(self, texts: list[str], max_length: int | None = None) -> list[list[int]]:
        """Ids with special tokens, truncated to max_length keeping the closing special token."""
        limit = min(max_length or self.settings.max_length, self.settings.max_length)
        out = []
        for ids in self._tokenize(texts):
            if len(ids) > limit:
                ids = list(ids[: limit - 1]) + ([self._eos_id] if self._eos_id is not None else [ids[-1]])
            out.append(list(ids))
        return out

    def pad(self, batch: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
        """Right-padded input ids and attention mask on the model's device."""
        width = max(len(ids) for ids in batch)
        input_ids = torch.full((len(batch), width), self._pad_id, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for row, ids in enumerate(batch):
            input_ids[row, : len(ids)] = torch.tensor(ids, dtype=torch.long)
            mask[row, : len(ids)] = 1
        return input_ids.to(self.device), mask.to(self.device)

    def embed_ids(self, batch: list[list[int]], model: torch.nn.Module | None = None) -> torch.Tensor:
        """Pooled, L2-normalised float32 embeddings of token-id lists; differentiable (used by training).

        `model` overrides the encoder's own module, e.g. with its DistributedDataParallel wrapper.
        """
        input_ids, mask = self.pad(batch)
        hidden = (model or self.model)(input_ids=input_ids, attention_mask=mask).last_hidden_state.float()
        if self.settings.pooling == "cls":
            pooled = hidden[:, 0]
        else:
            weights = mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * weights).sum(1) / weights.sum(1).clamp(min=1.0)
        return torch.nn.functional.normalize(pooled, dim=-1)

    @torch.inference_mode()
    def forward_ids(self, batch: list[list[int]]) -> np.ndarray:
        """Unit vectors (numpy float32) of one batch of token-id lists, without gradients."""
        return self.embed_ids(batch).cpu().numpy().astype(np.float32)

    def batch_plan(self, inputs: Sequence[str]) -> Iterator[tuple[list[int], list[list[int]]]]:
        """(rows, token ids) of each batch, in the order a single process encodes them.

        Tokenisation is streamed: one window of WINDOW texts at a time is tokenised and sorted longest first
        (so the batch width only shrinks), never the whole input at once. A text's batch, and so its float32
        embedding to the bit, depends only on the inputs and the batch size, which is what lets sharded
        encoding (polyret.evaluate.sharding) reproduce one process exactly.
        """
        size = max(1, self.options.batch_size)
        for w0 in range(0, len(inputs), WINDOW):
            ids = self.token_ids(list(inputs[w0:w0 + WINDOW]))
            order = sorted(range(len(ids)), key=lambda i: -len(ids[i]))
            for start in range(0, len(order), size):
                chosen = order[start:start + size]
                yield [w0 + i for i in chosen], [ids[i] for i in chosen]

    def encode_uncached(self, inputs: Sequence[str], progress: Progress | None = None,
                        sink: Callable[[list[str], np.ndarray], None] | None = None,
                        out: np.ndarray | None = None, rows: np.ndarray | None = None) -> np.ndarray:
        """Encode already-prefixed texts (see batch_plan), sharded over ranks when a Sharding is attached.

        With `out` (and optionally `rows`, the row of out for each input), vectors are written there in place
        and `out` is returned: no second copy of a large pool.
        """
        if out is None:
            out = np.zeros((len(inputs), self.dim), dtype=np.float32)
            rows = None
        target = np.arange(len(inputs)) if rows is None else np.asarray(rows)
        if not len(inputs):
            return out
        batches = self.batch_plan(inputs)
        if self.sharding is not None:  # rank 0: the workers walk the same plan and take their share
            self.sharding.announce(list(inputs))
            results: Iterator[tuple[list[int], np.ndarray]] = self.sharding.run(self, batches)
        else:
            results = ((chosen, self.forward_ids(ids)) for chosen, ids in batches)
        for chosen, vectors in results:
            out[target[chosen]] = vectors
            if sink is not None:
                sink([inputs[i] for i in chosen], vectors)
            if progress is not None:
                progress(len(chosen))
        return out

    @property
    def dim(self) -> int:
        return int(self.model.config.hidden_size)

    def encode(self, texts: Sequence[str], kind: Kind, progress: Progress | None = None,
               use_cache: bool = True, out: np.ndarray | None = None) -> np.ndarray:
        """Unit vectors for `texts` (queries or passages), each distinct input encoded at most once, ever.

        `progress` is told how many texts were freshly encoded after each batch (cache hits are not work).
        Vectors go straight into one [len(texts), dim] array (`out` if given, e.g. a np.memmap), filled from
        the cache and from fresh batches in place, so a large pool is never held twice.
        """
        inputs = self.prefixed(texts, kind)
        if out is None:
            out = np.zeros((len(inputs), self.dim), dtype=np.float32)
        elif out.shape != (len(inputs), self.dim):
            raise PolyretError(f"encode: out has shape {out.shape}, expected {(len(inputs), self.dim)}")
        first: dict[str, int] = {}
        for row, text in enumerate(inputs):
            first.setdefault(text, row)
        unique = list(first)
        unique_rows = np.fromiter(first.values(), dtype=np.int64, count=len(first))
        found = self.cache().fill(unique, out, unique_rows) if use_cache else np.zeros(len(unique), dtype=bool)
        todo = np.flatnonzero(~found)
        sink = self.cache().put_many if use_cache else None
        self.encode_uncached([unique[i] for i in todo], progress, sink, out=out, rows=unique_rows[todo])
        if len(unique) < len(inputs):  # repeated texts copy their first occurrence
            source = np.fromiter((first[t] for t in inputs), dtype=np.int64, count=len(inputs))
            repeated = np.flatnonzero(source != np.arange(len(inputs)))
            out[repeated] = out[source[repeated]]
        return out

    def count_missing(self, texts: Sequence[str], kind: Kind) -> int:
        unique = list(dict.fromkeys(self.prefixed(texts, kind)))
        return len(unique) - int(self.cache().contains(unique, self.dim).sum())

    def describe(self) -> dict[str, Any]:
        return dict(self.identity)
