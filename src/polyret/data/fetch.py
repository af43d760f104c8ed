"""Rebuild the data root from the files' public homes, so anyone gets byte-identical input.

Every file of the registry (`sources.json`) is downloaded from `<base_url>/<repo>/<commit>/<upstream_path>`
(zip archives once, however many files they feed), checked against its sha256 and moved into place atomically,
laid out as shared/data is. Files already present with the right checksum are kept, so an interrupted run resumes.

Provenance notes (the snapshot's SOURCE.txt files) have no upstream: they are written from the registry instead,
only where missing (or with `force`), and are not checksum-verified since their wording cannot match the snapshot's.
"""

from __future__ import annotations

import glob
import hashlib
import http.client
import os
import re
import shutil
import tempfile
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from polyret import __version__
from polyret.data.sources import GITHUB_RAW, registry, upstream_url
from polyret.errors import PolyretError
from polyret.report.io import give_new_file_mode
from polyret.provenance import sha256_file

TIMEOUT_S = 60.0
TRIES = 3
CHUNK = 1 << 20

Entry = dict[str, Any]


@dataclass
class FetchReport:
    """What a fetch did; `bytes` counts what came over the network (archives compressed)."""

    dest: Path
    downloaded: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    bytes: int = 0
    seconds: float = 0.0

    def summary(self) -> str:
        return (f"{self.dest}: {len(self.downloaded)} file(s) downloaded ({self.bytes / 1e6:.1f} MB), "
                f"{len(self.skipped)} already present, {len(self.notes)} provenance note(s) written "
                f"[{self.seconds:.1f} s]")


def fetch_data(
    dest: Path,
    *,
    base_url: str = GITHUB_RAW,
    only: list[str] | None = None,
    force: bool = False,
    progress: bool = True,
) -> FetchReport:
    """Download, verify and lay out the registry's files under `dest`; `only` keeps paths under these prefixes.

    Stops at the first failure with a PolyretError naming the file or address; nothing unverified is left behind.
    """
    started = time.monotonic()
    report = FetchReport(dest)
    entries = _select(registry(), only)
    files = [e for e in entries if not e.get("note")]
    notes = [e for e in entries if e.get("note") and (force or not (dest / e["path"]).exists())]
    todo = [e for e in files if force or not _intact(dest / e["path"], e)]
    report.skipped = [e["path"] for e in files if e not in todo]
    _require_writable(dest, [e["path"] for e in todo + notes])
    _remove_stale_parts(dest, [e["path"] for e in entries])

    archives: dict[str, list[Entry]] = {}
    plain: dict[str, list[Entry]] = {}  # one upstream file can feed several paths (NTREX's DOCUMENT_IDS.tsv)
    for entry in todo:
        (archives if entry.get("archive_member") else plain).setdefault(str(upstream_url(entry, base_url)), []).append(entry)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True, disable=not progress) as bar:
        task = bar.add_task("fetch", total=len(todo))
        try:
            for url, copies in plain.items():
                bar.update(task, description=copies[0]["path"])
                _fetch_file(url, copies, dest, report)
                bar.advance(task, len(copies))
            for url, members in archives.items():
                bar.update(task, description=f"{members[0]['upstream_path']} ({len(members)} files)")
                _fetch_archive(url, members, dest, report)
                bar.advance(task, len(members))
            for note in notes:
                _write_note(dest, note)
                report.notes.append(note["path"])
        except OSError as err:  # disk full, permissions: one line, naming the path
            raise PolyretError(f"{err.filename or dest}: {err.strerror or err}") from None
    report.seconds = time.monotonic() - started
    return report


def _select(entries: list[Entry], only: list[str] | None) -> list[Entry]:
    """Entries at or under any of the `only` path prefixes (whole path components: `xquad` is not `xquad-r`)."""
    if only is None:
        return entries
    chosen = []
    for prefix in only:
        prefix = prefix.strip("/")
        matched = [e for e in entries if e["path"] == prefix or e["path"].startswith(prefix + "/")]
        if not matched:
            tops = sorted({e["path"].split("/")[0] for e in entries})
            raise PolyretError(f"no registry file under {prefix!r}; top-level folders: {', '.join(tops)}")
        chosen += [e for e in matched if e not in chosen]
    return chosen


def _intact(path: Path, entry: Entry) -> bool:
    """Size first, so a truncated file costs no hashing."""
    return path.is_file() and path.stat().st_size == entry["bytes"] and sha256_file(path) == entry["sha256"]


def _require_writable(dest: Path, paths: Iterable[str]) -> None:
    """Refuse before any download. Mode bits are checked too, since root ignores them (a 555 snapshot stays intact)."""
    for directory in sorted({(dest / p).parent for p in paths}):
        existing = directory
        while not existing.exists():
            existing = existing.parent
        if not existing.is_dir():
            raise PolyretError(f"{existing} is not a directory; fetch into a folder")
        if not os.access(existing, os.W_OK) or not existing.stat().st_mode & 0o222:
            raise PolyretError(f"{existing} is read-only; fetch into another folder")


def _fetch_file(url: str, copies: list[Entry], dest: Path, report: FetchReport) -> None:
    """One download, verified against every entry it feeds, then copied (staged, atomic) to each further path."""
    first = dest / copies[0]["path"]
    with _staged(first) as (handle, tmp):
        size, digest = _download(url, handle)
        handle.close()
        for entry in copies:
            _verify(entry, digest, f" (from {url})")
        for entry in copies[1:]:
            with _staged(dest / entry["path"]) as (out, copy):
                out.close()
                shutil.copyfile(tmp, copy)
                os.replace(copy, dest / entry["path"])
        os.replace(tmp, first)
    report.downloaded += [e["path"] for e in copies]
    report.bytes += size


def _fetch_archive(url: str, members: list[Entry], dest: Path, report: FetchReport) -> None:
    """One download of the zip, every wanted member extracted, verified and moved into place."""
    with _staged(dest / members[0]["path"]) as (handle, archive):
        report.bytes += _download(url, handle)[0]
        handle.close()
        try:
            zipped = zipfile.ZipFile(archive)
        except zipfile.BadZipFile:
            raise PolyretError(f"{url}: not a zip archive") from None
        with zipped:
            for entry in members:
                target = dest / entry["path"]
                try:
                    source = zipped.open(entry["archive_member"])
                except KeyError:
                    raise PolyretError(f"{url}: no member {entry['archive_member']!r} (for {entry['path']})") from None
                with source, _staged(target) as (out, tmp):
                    digest = hashlib.sha256()
                    while block := source.read(CHUNK):
                        digest.update(block)
                        out.write(block)
                    out.close()
                    _verify(entry, digest.hexdigest(), f" (member {entry['archive_member']} of {url})")
                    os.replace(tmp, target)
                report.downloaded.append(entry["path"])


def _remove_stale_parts(dest: Path, paths: Iterable[str]) -> None:
    """Delete the staging files a killed fetch left beside registry files (`.<name>.<random>.part`, the names
    `_staged` makes), and nothing else."""
    for path in paths:
        target = dest / path
        if target.parent.is_dir():
            for stale in target.parent.glob(f".{glob.escape(target.name)}.*.part"):
                if stale.is_file() and _STAGED_NAME.fullmatch(stale.name[len(target.name) + 2:]):
                    stale.unlink()


_STAGED_NAME = re.compile(r"[A-Za-z0-9_]+\.part")  # mkstemp's random part, then our suffix


@contextmanager
def _staged(target: Path) -> Iterator[tuple[IO[bytes], Path]]:
    """A temporary file beside `target` (same file system, so the final rename is atomic), removed unless renamed."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    tmp = Path(name)
    give_new_file_mode(tmp)  # a fetched file gets the mode of any other new file, not mkstemp's 0600
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle, tmp
    finally:
        tmp.unlink(missing_ok=True)


def _verify(entry: Entry, actual: str, origin: str) -> None:
    if actual != entry["sha256"]:
        raise PolyretError(f"{entry['path']}: sha256 mismatch{origin}: expected {entry['sha256']}, got {actual}")


def _download(url: str, out: IO[bytes]) -> tuple[int, str]:
    """Stream `url` into `out`; (bytes, sha256). Network hiccups and 5xx are retried, other HTTP errors are not."""
    request = urllib.request.Request(url, headers={"User-Agent": f"polyret/{__version__} (data fetch)"})
    for attempt in range(1, TRIES + 1):
        out.seek(0)
        out.truncate()
        digest, size = hashlib.sha256(), 0
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
                while block := response.read(CHUNK):
                    digest.update(block)
                    out.write(block)
                    size += len(block)
                expected = response.headers.get("Content-Length")
                if expected is not None and int(expected) != size:
                    raise ConnectionError(f"connection closed after {size} of {expected} bytes")
            return size, digest.hexdigest()
        except urllib.error.HTTPError as err:
            if err.code < 500 and err.code != 429:
                raise PolyretError(f"{url}: HTTP {err.code} {err.reason}") from None
            failure = f"HTTP {err.code} {err.reason}"
        except (urllib.error.URLError, http.client.HTTPException, OSError) as err:
            failure = str(getattr(err, "reason", None) or err)
        if attempt < TRIES:
            time.sleep(2 ** (attempt - 1))
    raise PolyretError(f"{url}: {failure} (after {TRIES} tries)")


def _write_note(dest: Path, note: Entry) -> None:
    """The registry's provenance of every file in the note's folder, in place of the snapshot's hand-written note."""
    folder = note["path"].rsplit("/", 1)[0]
    lines = [
        "Provenance note written by polyret data fetch from its registry (not an upstream file).",
        f"Repo: github.com/{note['repo']}",
        f"Commit: {note.get('commit') or note.get('ref')}",
        f"License: {note['license']}",
        "Files (local path <- upstream path [archive member]):",
    ]
    for entry in registry():
        if entry["path"].startswith(folder + "/") and not entry.get("note"):
            member = f" [{entry['archive_member']}]" if entry.get("archive_member") else ""
            lines.append(f"  {entry['path'][len(folder) + 1:]} <- {entry['upstream_path']}{member}")
    target = dest / note["path"]
    with _staged(target) as (handle, tmp):
        handle.write(("\n".join(lines) + "\n").encode("utf-8"))
        handle.close()
        os.replace(tmp, target)
