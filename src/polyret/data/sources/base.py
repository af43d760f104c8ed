"""What every training-source reader shares: the reading context, the reader signature and a registry entry.

A reader turns one source's published files into groups (unfiltered: cleaning, de-duplication and statistics are
done once for every source in `polyret.data.training`). It yields a `Group`, or a string naming why it skipped a
record (counted under that name in the source's `dropped` statistics).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from polyret.data.groups import Group
from polyret.errors import PolyretError
from polyret.provenance import sha256_file

_LANGUAGE_ALIASES = {"zh_cn": "zh"}


def language(code: str) -> str:
    """The XQuAD-R code of an upstream language code (MKQA writes zh_cn)."""
    return _LANGUAGE_ALIASES.get(code, code)


@dataclass
class Reading:
    """What every reader of one source needs: the data root, the languages kept, and the files it read."""

    data_dir: Path
    languages: frozenset[str]
    files: dict[str, str]
    ntrex_window: int = 2  # NTREX: sentences on each side of an inverse-cloze query

    def open(self, path: Path) -> Path:
        """Check the file exists and record its checksum."""
        if not path.is_file():
            raise PolyretError(f"{path}: file not found (training data expected under <data-dir>/train)")
        self.files[path.relative_to(self.data_dir).as_posix()] = sha256_file(path)
        return path


# A reader gets the source's directory and the reading context.
Reader = Callable[[Path, Reading], Iterator["Group | str"]]


@dataclass(frozen=True)
class Source:
    """One registered training source: its name (= its directory under DATA_ROOT/train) and its reader."""

    name: str
    read: Reader
    kind: str  # what its groups are, in a few words (shown by `polyret data stats` and the docs)

    @property
    def directory(self) -> str:
        """The source's folder relative to the data root (and its prefix in sources.json)."""
        return f"train/{self.name}"
