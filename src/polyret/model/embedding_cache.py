"""On-disk embedding cache: one SQLite file per (model fingerprint, settings), keyed by the exact input text.

SQLite gives atomic commits for free, so a killed evaluation keeps every batch it finished and the next run
encodes only the rest; re-evaluating the same model encodes nothing.

Each stored vector carries an 8-byte BLAKE2b digest of its key and bytes. A vector whose length, digest or
finiteness is wrong (a torn write, a flipped byte, an entry from an older format) is treated as a miss: it is
re-encoded and replaced, never read as it is. A database SQLite cannot read is one line naming the file.
"""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np

from polyret.errors import PolyretError

DIGEST_BYTES = 8


def text_key(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8")).digest()


def _digest(key: bytes, vector: bytes) -> bytes:
    return hashlib.blake2b(key + vector, digest_size=DIGEST_BYTES).digest()


def pack(key: bytes, vector: np.ndarray) -> bytes:
    """The stored blob: float32 bytes, then the digest of key and bytes."""
    data = np.ascontiguousarray(vector, dtype=np.float32).tobytes()
    return data + _digest(key, data)


def unpack(key: bytes, blob: bytes, dim: int) -> np.ndarray | None:
    """The vector of a stored blob, or None when it is not exactly what `pack` wrote for this key."""
    blob = bytes(blob)
    if len(blob) != dim * 4 + DIGEST_BYTES:
        return None
    data, digest = blob[:-DIGEST_BYTES], blob[-DIGEST_BYTES:]
    if _digest(key, data) != digest:
        return None
    vector = np.frombuffer(data, dtype=np.float32)
    return vector if np.isfinite(vector).all() else None


class EmbeddingCache:
    """Maps input text (prefix included) to a float32 vector, for one model and settings."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.rejected = 0  # entries found but refused (wrong length, digest or non-finite): re-encoded
        with self._guard():
            self._db = sqlite3.connect(str(path), timeout=60)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("CREATE TABLE IF NOT EXISTS emb (key BLOB PRIMARY KEY, vec BLOB NOT NULL)")
            self._db.commit()

    def _guard(self) -> Any:
        return _CorruptDatabase(self.path)

    def _rows(self, keys: list[bytes], columns: str) -> Iterator[tuple[Any, ...]]:
        for start in range(0, len(keys), 500):
            part = keys[start:start + 500]
            with self._guard():
                rows = self._db.execute(f"SELECT {columns} FROM emb WHERE key IN ({','.join('?' * len(part))})",
                                        part).fetchall()
            yield from rows

    def fill(self, texts: Sequence[str], out: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Write the cached vector of texts[i] into out[rows[i]]; returns which texts were found (bool mask).

        Only entries that pass `unpack` count as found; the rest are misses, encoded again by the caller.
        """
        dim = int(out.shape[1])
        position = {text_key(t): i for i, t in enumerate(texts)}
        found = np.zeros(len(texts), dtype=bool)
        for key, blob in self._rows(list(position), "key, vec"):
            i = position[bytes(key)]
            vector = unpack(bytes(key), blob, dim)
            if vector is None:
                self.rejected += 1
                continue
            out[rows[i]] = vector
            found[i] = True
        return found

    def contains(self, texts: Sequence[str], dim: int) -> np.ndarray:
        """Which texts have a sound cached vector (bool mask)."""
        position = {text_key(t): i for i, t in enumerate(texts)}
        found = np.zeros(len(texts), dtype=bool)
        for key, blob in self._rows(list(position), "key, vec"):
            found[position[bytes(key)]] = unpack(bytes(key), blob, dim) is not None
        return found

    def put_many(self, texts: list[str], vectors: np.ndarray) -> None:
        rows = []
        for text, vector in zip(texts, vectors):
            key = text_key(text)
            rows.append((key, pack(key, vector)))
        with self._guard():
            self._db.executemany("INSERT OR REPLACE INTO emb (key, vec) VALUES (?, ?)", rows)
            self._db.commit()

    def __len__(self) -> int:
        with self._guard():
            return int(self._db.execute("SELECT COUNT(*) FROM emb").fetchone()[0])

    def close(self) -> None:
        self._db.close()


class _CorruptDatabase:
    """Turns SQLite errors into one line naming the cache file, classified by SQLite's own error name."""

    CORRUPT = ("SQLITE_CORRUPT", "SQLITE_NOTADB")
    BUSY = ("SQLITE_BUSY", "SQLITE_LOCKED")

    def __init__(self, path: Path) -> None:
        self.path = path

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: Any, err: Any, tb: Any) -> bool:
        if not isinstance(err, sqlite3.Error):
            return False
        name = str(getattr(err, "sqlite_errorname", "") or "")
        if name.startswith(self.CORRUPT) or "malformed" in str(err) or "not a database" in str(err):
            raise PolyretError(f"{self.path}: the embedding cache is corrupt ({err}); it is only a cache: delete "
                               "this file and run again") from None
        if name.startswith(self.BUSY) or "locked" in str(err):
            raise PolyretError(f"{self.path}: the embedding cache is busy ({err}): another process holds it; "
                               "wait for it or give this run its own --cache-dir") from None
        raise PolyretError(f"{self.path}: embedding cache error ({err})") from None
