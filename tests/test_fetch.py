"""`polyret data fetch` against a loopback mirror built from the data root: same bytes, same layout, resumable."""

from __future__ import annotations

import filecmp
import hashlib
import http.server
import threading
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from polyret.cli.fetch import fetch
from polyret.data.fetch import fetch_data
from polyret.data.sources import registry, upstream_url
from polyret.errors import PolyretError

FILES = [e for e in registry() if not e.get("note")]
CORRUPT = ["xquad-r/en.json", "train/mkqa/dev/mkqa-ar.jsonl"]  # a plain file and a zip member


@dataclass
class Mirror:
    url: str
    served: list[str]  # request paths, in order


def _mirror_path(root: Path, entry: dict[str, Any]) -> Path:
    ref = entry.get("commit") or entry.get("ref")
    return root / entry["repo"] / ref / entry["upstream_path"]


def _build_tree(root: Path, data_dir: Path, entries: list[dict[str, Any]], corrupt: bool = False) -> None:
    """Plain files as symlinks (cheap); zip archives rebuilt from their members (stored: speed, not size, matters)."""
    for entry in entries:
        target = _mirror_path(root, entry)
        if target.exists() and not entry.get("archive_member"):
            continue  # one upstream file registered for two local paths
        target.parent.mkdir(parents=True, exist_ok=True)
        data = (data_dir / entry["path"]).read_bytes() if corrupt or entry.get("archive_member") else b""
        if corrupt:
            data = bytes([data[0] ^ 1]) + data[1:]
        if entry.get("archive_member"):
            with zipfile.ZipFile(target, "a") as archive:
                archive.writestr(entry["archive_member"], data)
        elif corrupt:
            target.write_bytes(data)
        else:
            target.symlink_to(data_dir / entry["path"])


@pytest.fixture(scope="module")
def mirror(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mirror]:
    """The registry's upstream tree under /, corrupted copies under /corrupt, served on loopback only."""
    root = tmp_path_factory.mktemp("mirror")
    _build_tree(root, data_dir, FILES)
    _build_tree(root / "corrupt", data_dir, [e for e in FILES if e["path"] in CORRUPT], corrupt=True)
    served: list[str] = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, directory=str(root), **kwargs)

        def do_GET(self) -> None:
            served.append(self.path)
            super().do_GET()

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield Mirror(f"http://127.0.0.1:{server.server_address[1]}", served)
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def _files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


def test_fetch_rebuilds_the_data_root_byte_for_byte_and_resumes(mirror: Mirror, data_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "data"
    mirror.served.clear()
    report = fetch_data(out, base_url=mirror.url, progress=False)
    assert _files(out) == _files(data_dir) - {"MANIFEST.md"} == {e["path"] for e in registry()}
    for entry in FILES:
        assert filecmp.cmp(out / entry["path"], data_dir / entry["path"], shallow=False), entry["path"]
    assert sorted(report.downloaded) == sorted(e["path"] for e in FILES)
    urls = {str(upstream_url(e, mirror.url)) for e in FILES}
    assert len(mirror.served) == len(urls) < len(FILES)  # each zip archive fetched once for all its members
    notes = [e for e in registry() if e.get("note")]
    assert sorted(report.notes) == sorted(e["path"] for e in notes)
    assert f"Repo: github.com/{notes[0]['repo']}" in (out / notes[0]["path"]).read_text()

    mirror.served.clear()
    again = fetch_data(out, base_url=mirror.url, progress=False)
    assert mirror.served == [] and again.downloaded == again.notes == [] and len(again.skipped) == len(FILES)

    (out / "xquad-r/de.json").unlink()
    (out / "train/mkqa/dev/mkqa-en.jsonl").write_bytes(b"truncated")
    resumed = fetch_data(out, base_url=mirror.url, progress=False)
    assert sorted(resumed.downloaded) == ["train/mkqa/dev/mkqa-en.jsonl", "xquad-r/de.json"]
    assert len(mirror.served) == 2
    assert filecmp.cmp(out / "xquad-r/de.json", data_dir / "xquad-r/de.json", shallow=False)
    assert filecmp.cmp(out / "train/mkqa/dev/mkqa-en.jsonl", data_dir / "train/mkqa/dev/mkqa-en.jsonl", shallow=False)


def test_complete_root_is_verified_without_downloads(mirror: Mirror, data_dir: Path) -> None:
    """The read-only snapshot itself passes: nothing to write, so nothing is refused or fetched."""
    mirror.served.clear()
    report = fetch_data(data_dir, base_url=mirror.url, progress=False)
    assert mirror.served == [] and report.downloaded == [] and len(report.skipped) == len(FILES)


def test_only_fetches_the_prefix(mirror: Mirror, tmp_path: Path) -> None:
    mirror.served.clear()
    report = fetch_data(tmp_path, base_url=mirror.url, only=["xquad-r"], progress=False)
    wanted = {e["path"] for e in registry() if e["path"].startswith("xquad-r/")}
    assert _files(tmp_path) == set(report.downloaded) == wanted and len(mirror.served) == len(wanted)
    with pytest.raises(PolyretError, match="no registry file under 'xquad'"):
        fetch_data(tmp_path, base_url=mirror.url, only=["xquad"], progress=False)


@pytest.mark.parametrize("path", CORRUPT)
def test_checksum_mismatch_names_the_file_and_leaves_nothing(mirror: Mirror, data_dir: Path, tmp_path: Path,
                                                              path: str) -> None:
    entry = next(e for e in FILES if e["path"] == path)
    data = (data_dir / path).read_bytes()
    actual = hashlib.sha256(bytes([data[0] ^ 1]) + data[1:]).hexdigest()
    with pytest.raises(PolyretError) as err:
        fetch_data(tmp_path, base_url=f"{mirror.url}/corrupt", only=[path], progress=False)
    assert path in str(err.value) and entry["sha256"] in str(err.value) and actual in str(err.value)
    assert _files(tmp_path) == set()


def test_missing_upstream_file_names_the_address(mirror: Mirror, tmp_path: Path) -> None:
    with pytest.raises(PolyretError, match="HTTP 404") as err:
        fetch_data(tmp_path, base_url=f"{mirror.url}/missing", only=["xquad-r/en.json"], progress=False)
    assert f"{mirror.url}/missing/google-research-datasets/lareqa/master/xquad-r/en.json" in str(err.value)
    assert _files(tmp_path) == set()


def test_cli_refuses_a_read_only_folder_and_fetches_into_a_writable_one(mirror: Mirror, tmp_path: Path) -> None:
    app = typer.Typer()
    app.command()(fetch)
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o555)
    mirror.served.clear()
    try:
        result = CliRunner().invoke(app, ["--to", str(locked), "--mirror", mirror.url, "--only", "xquad-r/LICENSE"])
    finally:
        locked.chmod(0o755)
    assert result.exit_code == 2 and "read-only" in result.output and mirror.served == []

    out = tmp_path / "data"
    result = CliRunner().invoke(app, ["--to", str(out), "--mirror", mirror.url, "--only", "xquad-r/LICENSE"])
    assert result.exit_code == 0, result.output
    assert "1 file(s) downloaded" in result.output and _files(out) == {"xquad-r/LICENSE"}
