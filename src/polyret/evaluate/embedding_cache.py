"""On-disk embedding cache: one SQLite file per (model fingerprint, settings), keyed by the exact input text.

SQLite gives atomic commits for free, so a killed evaluation keeps every batch it finished and the next run
encodes only the rest; re-evaluating the same model encodes nothing.
"""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

import numpy as np


def text_key(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8")).digest()


class EmbeddingCache:
    """Maps input text (prefix included) to a float32 vector, for one model and settings."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._db = sqlite3.connect(str(path), timeout=60)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS emb (key BLOB PRIMARY KEY, vec BLOB NOT NULL)")
        self._db.commit()

    def get_many(self, texts: Iterable[str]) -> dict[str, np.ndarray]:
        """Vectors already cached for these texts (missing texts are simply absent)."""
        wanted = {text_key(t): t for t in texts}
        found: dict[str, np.ndarray] = {}
        keys = list(wanted)
        for start in range(0, len(keys), 500):
            part = keys[start:start + 500]
            marks = ",".join("?" * len(part))
            for key, blob in self._db.execute(f"SELECT key, vec FROM emb WHERE key IN ({marks})", part):
                found[wanted[bytes(key)]] = np.frombuffer(blob, dtype=np.float32)
        return found

    def _rows(self, keys: list[bytes], columns: str) -> Iterator[tuple[Any, ...]]:
        for start in range(0, len(keys), 500):
            part = keys[start:start + 500]
            yield from self._db.execute(f"SELECT {columns} FROM emb WHERE key IN ({','.join('?' * len(part))})", part)

    def fill(self, texts: Sequence[str], out: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Write the cached vector of texts[i] into out[rows[i]]; returns which texts were found (bool mask).

        Blobs go straight into `out` (which may be a np.memmap): no per-text arrays, no second copy.
        """
        position = {text_key(t): i for i, t in enumerate(texts)}
        found = np.zeros(len(texts), dtype=bool)
        for key, blob in self._rows(list(position), "key, vec"):
            i = position[bytes(key)]
            out[rows[i]] = np.frombuffer(blob, dtype=np.float32)
            found[i] = True
        return found

    def contains(self, texts: Sequence[str]) -> np.ndarray:
        """Which texts have a cached vector (bool mask), reading keys only."""
        position = {text_key(t): i for i, t in enumerate(texts)}
        found = np.zeros(len(texts), dtype=bool)
        for (key,) in self._rows(list(position), "key"):
            found[position[bytes(key)]] = True
        return found

    def put_many(self, texts: list[str], vectors: np.ndarray) -> None:
        rows = [(text_key(t), np.ascontiguousarray(v, dtype=np.float32).tobytes()) for t, v in zip(texts, vectors)]
        self._db.executemany("INSERT OR REPLACE INTO emb (key, vec) VALUES (?, ?)", rows)
        self._db.commit()

    def __len__(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM emb").fetchone()[0])

    def close(self) -> None:
        self._db.close()
