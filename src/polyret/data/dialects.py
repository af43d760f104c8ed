"""The NTREX dialect benchmark: real regional varieties as queries against the 11 standard languages.

Queries: the held-out NTREX test documents' sentences (`polyret.data.sources.ntrex`, fixed split by document id)
in seven varieties from dev/ntrex-variants (Bernese and Zurich Swiss German, Mexican Spanish, Taiwanese Chinese,
British, Indian and US English), plus the same sentences in each variety's standard parent (de, es, zh, en).
Pool: the same sentences in the 11 standard languages of train/ntrex; a query's relevant candidates are its
sentence in every one of them. A variety query carries its parent's language code, so Mo is "find the parent-
language sentence among the parent's candidates" and Cr the mean over the ten other languages.

The parent's own query has an identical candidate in the pool (its Mo and Mul are near 1 by construction), so the
gap reported per variety (`variety_scores`) is on Cr: the same sentences, the same ten candidate languages, only
the query's form differs. Lines whose sentence (in any standard language) also occurs in a training document
are left out (`held_out_lines`), so no benchmark sentence reaches training.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from polyret.data.benchmark import Candidate, Query, RetrievalBenchmark
from polyret.data.sources.ntrex import (DOCUMENT_IDS, FILES, Split, held_out_lines, read_aligned,
                                        read_document_ids)
from polyret.errors import PolyretError
from polyret.provenance import sha256_file
from polyret.report.stats import compare, per_query_array

NAME = "ntrex-dialects"
DEV_NAME = "ntrex-dev"
VARIANTS = "dev/ntrex-variants"
# variety -> (file in dev/ntrex-variants, standard parent language)
VARIETIES = {
    "gsw-BE": ("newstest2019-ref.gsw-BE.txt", "de"), "gsw-ZH": ("newstest2019-ref.gsw-ZH.txt", "de"),
    "es-MX": ("newstest2019-ref.spa-MX.txt", "es"), "zh-TW": ("newstest2019-ref.zho-TW.txt", "zh"),
    "en-GB": ("newstest2019-ref.eng-GB.txt", "en"), "en-IN": ("newstest2019-ref.eng-IN.txt", "en"),
    "en-US": ("newstest2019-ref.eng-US.txt", "en"),
}


def load_ntrex_benchmark(data_dir: Path, split: Split = "test", max_sentences: int | None = None,
                         varieties: bool = True) -> RetrievalBenchmark:
    """The held-out `split` documents as a benchmark (first `max_sentences` lines of it, None: all).

    varieties=True (the dialect benchmark, split "test"): variety and parent queries as the module says.
    varieties=False (a development set, split "dev"): queries in every standard language.
    """
    if split == "train":
        raise PolyretError("the NTREX benchmark evaluates held-out documents only (split test or dev)")
    if max_sentences is not None and max_sentences < 1:
        raise PolyretError(f"--dialect-sentences must be at least 1, got {max_sentences}")
    data_dir = Path(data_dir)
    root = data_dir / "train" / "ntrex"
    files: dict[str, str] = {}

    def opened(path: Path) -> Path:
        if not path.is_file():
            raise PolyretError(f"{path}: file not found (the NTREX benchmark needs train/ntrex and {VARIANTS})")
        files[path.relative_to(data_dir).as_posix()] = sha256_file(path)
        return path

    ids = read_document_ids(opened(root / DOCUMENT_IDS))
    standard = {lang: read_aligned(opened(root / name), len(ids)) for lang, name in FILES.items()}
    lines = held_out_lines(ids, standard, split)[:max_sentences]
    if varieties:
        if read_document_ids(opened(data_dir / VARIANTS / DOCUMENT_IDS)) != ids:
            raise PolyretError(f"{data_dir / VARIANTS / DOCUMENT_IDS}: differs from train/ntrex's: not aligned")
        texts = {v: read_aligned(opened(data_dir / VARIANTS / name), len(ids)) for v, (name, _) in VARIETIES.items()}
        parents = sorted({parent for _, parent in VARIETIES.values()})
        queries = [Query(f"{v}/{i + 1}", texts[v][i], parent) for v, (_, parent) in VARIETIES.items() for i in lines]
        queries += [Query(f"{p}/{i + 1}", standard[p][i], p) for p in parents for i in lines]
    else:
        queries = [Query(f"{lang}/{i + 1}", standard[lang][i], lang) for lang in FILES for i in lines]
    candidates = [Candidate(f"{lang}:{i + 1}", standard[lang][i], lang) for lang in FILES for i in lines]
    qrels = {q.id: {f"{lang}:{q.id.split('/')[1]}" for lang in FILES} for q in queries}
    options = {"split": split, "documents": sorted({ids[i] for i in lines}), "sentences": len(lines),
               "document_split": "k-th document in order of appearance: k % 5 == 0 test, 1 dev, else train"}
    bench = RetrievalBenchmark(NAME if varieties else DEV_NAME, queries, candidates, qrels, files, options)
    bench.validate()
    return bench


def variety_scores(per_query: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Per variety, from an evaluation's per-query arrays: n, Mo/Cr/Mul mAP, its parent's Cr and Mul mAP on the
    same sentences, and the Cr gap (variety minus parent) with its 95% interval and paired p (by sentence)."""
    ids = per_query["query_ids"]
    arrays = {key: per_query_array(per_query, key) for key in ("mul_ap", "mo_ap", "cr_ap")}
    index = {qid: i for i, qid in enumerate(ids)}
    out: dict[str, dict[str, Any]] = {}
    for variety, (_, parent) in VARIETIES.items():
        mine = [(i, qid.split("/", 1)[1]) for i, qid in enumerate(ids) if qid.split("/", 1)[0] == variety]
        pairs = [(i, index[f"{parent}/{line}"]) for i, line in mine if f"{parent}/{line}" in index]
        if not pairs:
            continue
        v, p = np.array([a for a, _ in pairs]), np.array([b for _, b in pairs])
        clusters = np.arange(len(pairs))
        out[variety] = {
            "parent": parent, "n_queries": len(pairs),
            **{f"{m}_map": float(np.nanmean(arrays[f"{m}_ap"][v])) for m in ("mo", "cr", "mul")},
            "parent_cr_map": float(np.nanmean(arrays["cr_ap"][p])),
            "parent_mul_map": float(np.nanmean(arrays["mul_ap"][p])),
            "cr_gap": compare(arrays["cr_ap"][v], arrays["cr_ap"][p], clusters),
        }
    return out


def variety_differences(cell: dict[str, Any], baseline: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Per variety: the cell's Cr AP minus the baseline's on the same variety queries (paired by sentence), with
    its 95% interval and paired p. This is how the study asks "does training noise help real dialect queries?"."""
    if cell["query_ids"] != baseline["query_ids"]:
        raise PolyretError("dialect benchmark: the two cells were evaluated on different queries")
    ids = cell["query_ids"]
    a, b = per_query_array(cell, "cr_ap"), per_query_array(baseline, "cr_ap")
    out: dict[str, dict[str, Any]] = {}
    for variety in VARIETIES:
        rows = np.array([i for i, qid in enumerate(ids) if qid.split("/", 1)[0] == variety], dtype=np.int64)
        if len(rows):
            out[variety] = {"n_queries": int(len(rows)), **compare(a[rows], b[rows], np.arange(len(rows)))}
    return out
