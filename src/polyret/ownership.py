"""Which directories polyret made, so that `--overwrite` never deletes anything else.

A directory polyret creates for a run gets a marker file first; `remove_owned` deletes a directory only when that
marker is there, and refuses in one line otherwise. A user's folder passed as `--output` by mistake is never wiped.
"""

from __future__ import annotations

import json
import os
import shutil
from datetime import datetime, timezone
from pathlib import Path

from polyret.errors import PolyretError
from polyret.report.io import write_text_atomic

MARKER = ".polyret-made"


def claim(directory: Path, what: str) -> None:
    """Create `directory` (if needed) and mark it as polyret's own."""
    directory.mkdir(parents=True, exist_ok=True)
    stamp = {"made_by": "polyret", "what": what, "created": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    write_text_atomic(directory / MARKER, json.dumps(stamp) + "\n")


def is_owned(directory: Path) -> bool:
    return (directory / MARKER).is_file()


def require_owned(directory: Path, option: str = "--overwrite") -> None:
    """Refuse, naming the directory, unless polyret made it (checked before any other work, deleted after)."""
    if not is_owned(directory):
        raise PolyretError(f"{directory}: {option} refused: polyret did not make this directory (no {MARKER} "
                           "marker); delete it yourself or choose another --output")


def remove_owned(directory: Path) -> None:
    """Delete a directory polyret made; anything else is refused.

    The directory is first renamed aside (one atomic step), then deleted: a kill mid-delete leaves a hidden
    `.NAME.deleting-PID` folder beside it, never a half-deleted directory that has lost its marker and would then
    be refused by every later --overwrite.
    """
    require_owned(directory)
    aside = directory.with_name(f".{directory.name}.deleting-{os.getpid()}")
    os.replace(directory, aside)
    shutil.rmtree(aside)
