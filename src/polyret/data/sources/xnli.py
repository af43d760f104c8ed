"""XNLI 1.0 dev in the XTREME layout: `dev-<lang>.tsv`, premise<TAB>hypothesis<TAB>label, line-aligned in 11 languages.

One group per premise: query = its *entailed* hypothesis, positive = the premise, in every language (so each group
feeds monolingual and cross-lingual batches alike). The choice, measured (README "Data"): an entailed hypothesis
restates part of its premise, a neutral one adds unsupported content and a contradicting one negates it, so only
the entailed pair is a relevant (query, passage) pair. Neutral and contradicting hypotheses are dropped rather
than used as hard negatives: they are hypotheses, not premises, so as negatives they would sit on the query side
of the genre and teach "short sentence = wrong", not relevance. The unlabelled test part (`test-<lang>.tsv`, the
three hypotheses of a premise in varying order) cannot say which hypothesis is entailed and contributes nothing.

Premises come in blocks of consecutive lines (one per label); blocks are taken from the English file and the
label column must be identical in every language (it is upstream), or the files are not aligned.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from polyret.data.groups import Group
from polyret.data.sources.base import Reading
from polyret.data.sources.tsv import tsv_rows
from polyret.data.xquad_r import XQUAD_R_LANGUAGES
from polyret.errors import PolyretError

LABELS = ("entailment", "neutral", "contradiction")
FIELDS = ("premise", "hypothesis", "label")


def read_xnli(root: Path, ctx: Reading) -> Iterator[Group | str]:
    langs = [lang for lang in XQUAD_R_LANGUAGES if lang in ctx.languages]
    if not langs:
        return
    rows = {lang: _rows(ctx.open(root / f"dev-{lang}.tsv")) for lang in sorted({"en", *langs})}
    english = rows["en"]
    for lang, mine in rows.items():
        if len(mine) != len(english):
            raise PolyretError(f"{root / f'dev-{lang}.tsv'}: {len(mine)} lines, but dev-en.tsv has {len(english)}: "
                               "the XNLI files are not line-aligned")
        for number, (row, ref) in enumerate(zip(mine, english), 1):
            if row[2] != ref[2]:
                raise PolyretError(f"{root / f'dev-{lang}.tsv'}:{number}: label {row[2]!r} differs from "
                                   f"dev-en.tsv's {ref[2]!r}: the XNLI files are not line-aligned")
    blocks: list[list[int]] = []
    for index, row in enumerate(english):
        if index and row[0] == english[index - 1][0]:
            blocks[-1].append(index)
        else:
            blocks.append([index])
    for number, block in enumerate(blocks):
        entailed = [i for i in block if english[i][2] == "entailment"]
        if len(entailed) != 1:
            raise PolyretError(f"{root / 'dev-en.tsv'}:{block[0] + 1}: premise block of {len(block)} line(s) has "
                               f"{len(entailed)} entailed hypotheses, expected 1")
        line = entailed[0]
        yield Group(f"{root.name}/dev/{number}", root.name, {lang: rows[lang][line][1] for lang in langs},
                    {lang: rows[lang][line][0] for lang in langs})


def _rows(path: Path) -> list[list[str]]:
    rows = tsv_rows(path, FIELDS)
    for number, row in enumerate(rows, 1):
        if row[2] not in LABELS:
            raise PolyretError(f"{path}:{number}: field 'label' is {row[2]!r}, expected one of {', '.join(LABELS)}")
    return rows
