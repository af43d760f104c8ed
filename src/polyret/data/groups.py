"""Training data as groups: one information need seen in one or more languages (docs/design.md section 1).

A translated QA pair has a query and a positive passage in every language; a native QA pair has both in one
language; a parallel question set has only queries, where the translation of the query in language B serves as
the positive "passage" for the query in language A.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Group:
    """One information need. `queries` and `passages` map a language code to one text."""

    id: str
    source: str
    queries: dict[str, str]
    passages: dict[str, str] = field(default_factory=dict)
    contexts: dict[str, str] = field(default_factory=dict)  # paragraph of each passage, when known
    negatives: dict[str, list[str]] = field(default_factory=dict)  # hard negatives per language (passage side)

    def positive(self, query_lang: str, positive_lang: str) -> str | None:
        """The positive text in `positive_lang` for this group's query in `query_lang`, if the group has one.

        A passage in that language if there is one; else the question's translation, which is only a
        positive across languages (the same-language "translation" is the query itself).
        """
        if query_lang not in self.queries:
            return None
        if positive_lang in self.passages:
            return self.passages[positive_lang]
        if positive_lang != query_lang and positive_lang in self.queries:
            return self.queries[positive_lang]
        return None

    def pair_languages(self) -> list[tuple[str, str]]:
        """Every (query language, positive language) pair this group can feed."""
        langs = sorted(set(self.queries) | set(self.passages))
        return [(q, p) for q in sorted(self.queries) for p in langs if self.positive(q, p) is not None]
