"""The README and docs/ have no dead references: every relative link and anchor resolves, every file the code
cites as documentation exists, and the README stays a front page."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")


def _anchors(page: Path) -> set[str]:
    """GitHub's heading slugs (lower case, punctuation dropped, spaces as hyphens), outside code fences."""
    found, fence = set(), False
    for line in page.read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            fence = not fence
        elif not fence and (m := re.match(r"^#{1,6} (.*)$", line)):
            found.add(re.sub(r"[^\w\- ]", "", m.group(1).strip().lower()).replace(" ", "-"))
    return found


def _links(page: Path) -> list[str]:
    text, fence, out = page.read_text(encoding="utf-8"), False, []
    for line in text.splitlines():
        if line.startswith("```"):
            fence = not fence
        elif not fence:
            out += LINK.findall(line)
    return out


def test_every_relative_link_and_anchor_resolves() -> None:
    dead = []
    for page in PAGES:
        for target in _links(page):
            if re.match(r"^[a-z]+:", target):
                continue
            path, _, anchor = target.partition("#")
            resolved = (page.parent / path).resolve() if path else page
            if not resolved.exists():
                dead.append(f"{page.relative_to(REPO)}: {target} (no such file)")
            elif anchor and resolved.suffix == ".md" and anchor not in _anchors(resolved):
                dead.append(f"{page.relative_to(REPO)}: {target} (no such heading)")
    assert not dead, "\n".join(dead)


def test_documentation_the_code_cites_exists() -> None:
    cited = set()
    sources = [*(REPO / "src").rglob("*.py"), *(REPO / "tests").glob("*.py"), *(REPO / "benchmarks").glob("*.py")]
    for source in [s for s in sources if s.name != Path(__file__).name]:
        cited.update(re.findall(r"\b(docs/[\w\-]+\.md|README\.md|DESIGN\.md)", source.read_text(encoding="utf-8")))
    assert "DESIGN.md" not in cited  # the design lives in docs/design.md, inside the repository
    assert cited and all((REPO / name).is_file() for name in cited), sorted(cited)


def test_readme_is_a_front_page() -> None:
    lines = (REPO / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= 250
    first_screen = "\n".join(lines[:40])
    assert "polyret run" in first_screen and "pytest" in first_screen
