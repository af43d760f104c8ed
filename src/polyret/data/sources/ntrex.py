"""NTREX-128: 1,997 WMT19 news sentences in 123 documents, line-aligned in all 11 languages, with document ids.

Groups (each in all 11 languages, the same lines in every language):
- headline -> opening sentences: query = a document's first line (its headline), positive = the next 2 x window
  sentences;
- inverse cloze (Lee et al. 2019): the remaining sentences are cut into consecutive, non-overlapping chunks of
  2 x window + 1; query = the chunk's middle sentence, positive = the rest of the chunk (the query removed).
  Chunks do not overlap, so no group's query is part of another group's positive (an in-batch false negative);
  a last chunk of 2 sentences or more is kept.

The fixed document split (`document_split`): documents in order of first appearance in DOCUMENT_IDS.tsv, index k
from 0: k % 5 == 0 -> "test" (the dialect benchmark, `polyret.data.dialects`), k % 5 == 1 -> "dev" (model
selection and probes), the others -> "train". Only "train" documents (73 of 123) reach training.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Literal

from polyret.data.groups import Group
from polyret.data.sources.base import Reading
from polyret.data.sources.tsv import read_lines
from polyret.errors import PolyretError

Split = Literal["train", "dev", "test"]
DOCUMENT_IDS = "DOCUMENT_IDS.tsv"
WINDOW = 2
# XQuAD-R language -> NTREX file name
FILES = {
    "ar": "newstest2019-ref.arb.txt", "de": "newstest2019-ref.deu.txt", "el": "newstest2019-ref.ell.txt",
    "en": "newstest2019-src.eng.txt", "es": "newstest2019-ref.spa.txt", "hi": "newstest2019-ref.hin.txt",
    "ru": "newstest2019-ref.rus.txt", "th": "newstest2019-ref.tha.txt", "tr": "newstest2019-ref.tur.txt",
    "vi": "newstest2019-ref.vie.txt", "zh": "newstest2019-ref.zho-CN.txt",
}
_JOINER = {"zh": ""}  # Chinese sentences follow each other without a space


def read_document_ids(path: Path) -> list[str]:
    """The document id of every line (one per line, e.g. bbc.381790)."""
    ids = read_lines(path)
    for number, doc in enumerate(ids, 1):
        if not doc.strip() or "\t" in doc:
            raise PolyretError(f"{path}:{number}: expected one document id per line, got {doc!r}")
    return ids


def document_split(ids: list[str]) -> dict[str, Split]:
    """Document id -> its fixed split (see the module docstring)."""
    order = list(dict.fromkeys(ids))
    return {doc: "test" if k % 5 == 0 else "dev" if k % 5 == 1 else "train" for k, doc in enumerate(order)}


def documents(ids: list[str]) -> dict[str, list[int]]:
    """Document id -> its line indices (0-based), in file order; a document must be one run of lines."""
    out: dict[str, list[int]] = {}
    for index, doc in enumerate(ids):
        if doc in out and out[doc][-1] != index - 1:
            raise PolyretError(f"{DOCUMENT_IDS}:{index + 1}: document {doc!r} resumes after another document")
        out.setdefault(doc, []).append(index)
    return out


def read_aligned(path: Path, expected: int) -> list[str]:
    """One sentence per line, exactly `expected` lines, none empty."""
    lines = read_lines(path)
    if len(lines) != expected:
        raise PolyretError(f"{path}: {len(lines)} lines, but {DOCUMENT_IDS} has {expected}: not line-aligned")
    for number, line in enumerate(lines, 1):
        if not line.strip():
            raise PolyretError(f"{path}:{number}: empty sentence")
    return lines


def chunks(lines: list[int], window: int) -> list[tuple[int, list[int]]]:
    """(query line, positive lines) of one document: headline -> opening sentences, then inverse-cloze chunks."""
    if len(lines) < 2:
        return []
    out = [(lines[0], lines[1 : 1 + 2 * window])]
    rest = lines[1 + 2 * window :]
    size = 2 * window + 1
    for start in range(0, len(rest), size):
        chunk = rest[start : start + size]
        if len(chunk) >= 2:
            middle = len(chunk) // 2
            out.append((chunk[middle], chunk[:middle] + chunk[middle + 1 :]))
    return out


def held_out_lines(ids: list[str], text: dict[str, list[str]], split: Split) -> list[int]:
    """Lines of the `split` documents whose sentence, in no language, occurs in (or equals) a training sentence.

    News stories quote each other: a held-out sentence repeated in a training document would reach training
    after all, so an evaluation over held-out lines leaves it out.
    """
    splits = document_split(ids)
    trained = {lang: "\n".join(lines[i] for i, doc in enumerate(ids) if splits[doc] == "train")
               for lang, lines in text.items()}
    return [i for i, doc in enumerate(ids) if splits[doc] == split
            and not any(lines[i].strip() in trained[lang] for lang, lines in text.items())]


def read_ntrex(root: Path, ctx: Reading) -> Iterator[Group | str]:
    langs = [lang for lang in FILES if lang in ctx.languages]
    if not langs:
        return
    if ctx.ntrex_window < 1:
        raise PolyretError(f"--ntrex-window must be at least 1, got {ctx.ntrex_window}")
    ids = read_document_ids(ctx.open(root / DOCUMENT_IDS))
    text = {lang: read_aligned(ctx.open(root / FILES[lang]), len(ids)) for lang in langs}
    split = document_split(ids)
    for doc, lines in documents(ids).items():
        if split[doc] != "train":
            continue  # held out: the dialect benchmark and the dev set
        for query, positive in chunks(lines, ctx.ntrex_window):
            yield Group(f"{root.name}/{doc}/{query + 1}", root.name, {lang: text[lang][query] for lang in langs},
                        {lang: _JOINER.get(lang, " ").join(text[lang][i] for i in positive) for lang in langs})
