"""The one list of training sources: `polyret data stats`, the leakage guard, training and fetch all read it.

Adding a source = one reader module in this package + one line here + its test. Order matters: it is the order
of groups in the training data (and so of the sampler's pools), and of the statistics tables.
"""

from __future__ import annotations

from polyret.data.sources.base import Source
from polyret.data.sources.iapp import read_iapp
from polyret.data.sources.mintaka import read_mintaka
from polyret.data.sources.mkqa import read_mkqa
from polyret.data.sources.ntrex import read_ntrex
from polyret.data.sources.squad import read_arcd, read_cmrc2018, read_tquad
from polyret.data.sources.tydiqa import read_tydiqa
from polyret.data.sources.xnli import read_xnli

NATIVE_QA = "native question -> answer sentence"
PARALLEL_QUESTIONS = "parallel questions"
PARALLEL_PASSAGES = "query -> passage in all 11 languages"

REGISTRY: tuple[Source, ...] = (
    Source("arcd", read_arcd, NATIVE_QA),
    Source("tquad", read_tquad, NATIVE_QA),
    Source("cmrc2018", read_cmrc2018, NATIVE_QA),
    Source("iapp-wiki-qa-thai", read_iapp, NATIVE_QA),
    Source("mkqa", read_mkqa, PARALLEL_QUESTIONS),
    Source("mintaka", read_mintaka, PARALLEL_QUESTIONS),
    Source("tydiqa-goldp", read_tydiqa, "native question -> gold passage"),
    Source("xnli", read_xnli, PARALLEL_PASSAGES + " (entailed hypothesis -> premise)"),
    Source("ntrex", read_ntrex, PARALLEL_PASSAGES + " (sentence -> neighbouring sentences)"),
)
SOURCES: tuple[str, ...] = tuple(source.name for source in REGISTRY)
BY_NAME = {source.name: source for source in REGISTRY}
