"""Rule tables: one YAML file per language under polyret/noise/rules/, validated and compiled once.

A table names its dialect targets, the published sources its rules rest on, and an ordered list of rules. Each rule
belongs to one family and says which dialects it serves ("*" = all of the language's dialects). Rules are applied in
file order, so a table lists lexical and morphosyntactic rules before spelling rules and typos last. The format is
documented in docs/noise.md; errors name the file and the rule.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any, Literal, Union

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from polyret.errors import PolyretError

FAMILIES = ("orthographic", "lexical", "phonological", "morphosyntactic", "code_switching", "typo")
TYPO_DIALECT = "typos"  # every language also has this control target: keyboard typos only
Replacement = Union[str, list[str]]


class RuleSpec(BaseModel):
    """One rule as written in a table."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^[a-z0-9_]+$")
    family: Literal["orthographic", "lexical", "phonological", "morphosyntactic", "code_switching", "typo"]
    dialects: Union[Literal["*"], list[str]] = "*"
    kind: Literal["chars", "words", "regex", "typo"]
    map: dict[str, Replacement] | None = None
    pattern: str | None = None
    replace: Replacement | None = None
    keyboard: list[str] | None = None
    weight: float = Field(1.0, gt=0.0, description="multiplies the rate for this rule's sites")
    source: str | list[str]
    note: str = ""

    @model_validator(mode="after")
    def _fields_for_kind(self) -> "RuleSpec":
        need = {"chars": ("map",), "words": ("map",), "regex": ("pattern", "replace"), "typo": ("keyboard",)}[self.kind]
        missing = [name for name in need if getattr(self, name) in (None, {}, [])]
        if missing:
            raise ValueError(f"kind {self.kind!r} needs {', '.join(missing)}")
        if self.kind == "typo" and self.family != "typo":
            raise ValueError("kind 'typo' belongs to family 'typo'")
        return self


class DialectSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    tatoeba: str | None = Field(None, description="ISO 639-3 code of real text of this variety in dev/tatoeba")
    ntrex: list[str] = Field(default_factory=list, description="codes of real variants of this variety parallel to "
                             "the standard NTREX sentences in dev/ntrex-variants, e.g. gsw-BE")
    description: str = ""


class LanguageTable(BaseModel):
    model_config = ConfigDict(extra="forbid")

    language: str
    name: str
    standard_tatoeba: str = Field(description="ISO 639-3 code of the standard language's dev/tatoeba file")
    sources: dict[str, str]
    dialects: dict[str, DialectSpec]
    rules: list[RuleSpec]

    @model_validator(mode="after")
    def _references(self) -> "LanguageTable":
        if TYPO_DIALECT in self.dialects:
            raise ValueError(f"dialect id {TYPO_DIALECT!r} is reserved for the keyboard-typo control")
        seen: set[str] = set()
        for rule in self.rules:
            if rule.id in seen:
                raise ValueError(f"rule {rule.id!r} appears twice")
            seen.add(rule.id)
            if rule.dialects != "*":
                unknown = sorted(set(rule.dialects) - set(self.dialects))
                if unknown:
                    raise ValueError(f"rule {rule.id!r}: unknown dialects {unknown}")
            cited = [rule.source] if isinstance(rule.source, str) else rule.source
            if not set(cited) <= set(self.sources):
                raise ValueError(f"rule {rule.id!r}: source {sorted(set(cited) - set(self.sources))} not in sources")
        return self


@dataclass(frozen=True)
class CompiledRule:
    """A rule ready to run: one regex whose matches are the rule's sites."""

    id: str  # "<lang>.<rule id>"
    family: str
    kind: str
    regex: re.Pattern[str]
    weight: float
    table: dict[str, tuple[str, ...]]  # chars/words: lowercase key -> alternatives
    templates: tuple[str, ...]  # regex: replacement templates
    neighbours: dict[str, str]  # typo: key -> adjacent keys


@dataclass(frozen=True)
class DialectRules:
    language: str
    dialect: str
    rules: tuple[CompiledRule, ...]

    @property
    def families(self) -> tuple[str, ...]:
        present = {rule.family for rule in self.rules}
        return tuple(family for family in FAMILIES if family in present)


def _rules_dir() -> Any:
    return resources.files("polyret.noise") / "rules"


@lru_cache(maxsize=None)
def available() -> dict[str, tuple[str, ...]]:
    """language -> its dialect ids (the first is the default), from the files present."""
    out: dict[str, tuple[str, ...]] = {}
    for entry in sorted(_rules_dir().iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".yaml"):
            table = language_table(entry.name[: -len(".yaml")])
            out[table.language] = (*table.dialects, TYPO_DIALECT)
    return out


@lru_cache(maxsize=None)
def language_table(language: str) -> LanguageTable:
    path = _rules_dir() / f"{language}.yaml"
    if not path.is_file():
        langs = sorted(e.name[:-5] for e in _rules_dir().iterdir() if e.name.endswith(".yaml"))
        raise PolyretError(f"noise: no rules for language {language!r}; available: {', '.join(langs)}")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        table = LanguageTable(**data)
    except yaml.YAMLError as err:
        raise PolyretError(f"noise rules {path}: malformed YAML ({str(err).splitlines()[0]})") from None
    except ValidationError as err:
        first = err.errors()[0]
        where = _location(data, first["loc"])
        raise PolyretError(f"noise rules {path}: {where}: {first['msg']}") from None
    if table.language != language:
        raise PolyretError(f"noise rules {path}: says language {table.language!r}, file name says {language!r}")
    return table


def _location(data: Any, loc: tuple[Any, ...]) -> str:
    if len(loc) >= 2 and loc[0] == "rules" and isinstance(loc[1], int):
        try:
            rule_id = data["rules"][loc[1]].get("id", f"#{loc[1]}")
        except (KeyError, IndexError, TypeError, AttributeError):
            rule_id = f"#{loc[1]}"
        rest = ".".join(str(x) for x in loc[2:])
        return f"rule {rule_id!r}" + (f" field {rest!r}" if rest else "")
    return "field " + ".".join(str(x) for x in loc)


def parse_spec(spec: str) -> list[tuple[str, str]]:
    """Dialect targets named by a spec.

    'ar-egy' -> [(ar, egy)]; 'ar' -> ar's default (first) dialect; 'ar-*' -> every dialect of ar (not the typo
    control); 'all' -> every language's default; 'all-*' -> every dialect of every language; 'all-typos' -> the
    keyboard-typo control in every language.
    """
    spec = spec.strip()
    langs = available()
    if spec in ("all", "all-*", f"all-{TYPO_DIALECT}"):
        return [pair for lang in langs for pair in parse_spec(lang + spec[3:])]
    language, _, dialect = spec.partition("-")
    if language not in langs:
        raise PolyretError(f"noise: unknown language {language!r} in {spec!r}; available: {', '.join(langs)}"
                           f" (or 'all', 'all-*', 'all-{TYPO_DIALECT}')")
    if not dialect:
        return [(language, langs[language][0])]
    if dialect == "*":
        return [(language, d) for d in langs[language] if d != TYPO_DIALECT]
    if dialect not in langs[language]:
        raise PolyretError(f"noise: unknown dialect {dialect!r} for {language}; available: "
                           f"{', '.join(language + '-' + d for d in langs[language])}")
    return [(language, dialect)]


@lru_cache(maxsize=None)
def dialect_table(language: str, dialect: str) -> DialectRules:
    """The compiled, ordered rules that noise `language` text toward `dialect`."""
    table = language_table(language)
    if dialect != TYPO_DIALECT and dialect not in table.dialects:
        raise PolyretError(f"noise: unknown dialect {dialect!r} for {language}; available: "
                           f"{', '.join([*table.dialects, TYPO_DIALECT])}")
    compiled = []
    for rule in table.rules:
        if dialect == TYPO_DIALECT:
            if rule.family != "typo":
                continue
        elif rule.dialects == "*":
            if rule.family == "typo":  # typos are the control, not part of a dialect, unless a rule names one
                continue
        elif dialect not in rule.dialects:
            continue
        try:
            compiled.append(_compile(language, rule))
        except re.error as err:
            raise PolyretError(f"noise rules {language}.yaml: rule {rule.id!r}: bad pattern ({err})") from None
    return DialectRules(language, dialect, tuple(compiled))


def _alternatives(value: Replacement) -> tuple[str, ...]:
    return (value,) if isinstance(value, str) else tuple(value)


def _compile(language: str, rule: RuleSpec) -> CompiledRule:
    rule_id = f"{language}.{rule.id}"
    if rule.kind in ("chars", "words"):
        assert rule.map is not None
        fold = rule.kind == "words"
        table = {(key.lower() if fold else key): _alternatives(value) for key, value in rule.map.items()}
        body = _trie_pattern(list(table))
        if rule.kind == "words":
            word = _word_char()
            regex = re.compile(rf"(?<!{word})(?:{body})(?!{word})", re.IGNORECASE)
        else:
            regex = re.compile(body)
        return CompiledRule(rule_id, rule.family, rule.kind, regex, rule.weight, table, (), {})
    if rule.kind == "regex":
        assert rule.pattern is not None and rule.replace is not None
        return CompiledRule(rule_id, rule.family, rule.kind, re.compile(rule.pattern), rule.weight, {},
                            _alternatives(rule.replace), {})
    assert rule.keyboard is not None
    return CompiledRule(rule_id, rule.family, rule.kind, re.compile(_word_char() + "{3,}"), rule.weight, {}, (),
                        _keyboard_neighbours(rule.keyboard))


@lru_cache(maxsize=1)
def _word_char() -> str:
    """A regex class for one character of a word: \\w plus every combining mark (Unicode category M).

    Python's \\w leaves out combining marks, so a word boundary would fall inside Devanagari or Thai words at every
    vowel sign, and inside vocalised Arabic at every short vowel.
    """
    import unicodedata

    ranges: list[tuple[int, int]] = []
    for code in range(0x300, 0x10000):  # the BMP holds every script's marks we need; wider classes run ~3x slower
        if unicodedata.category(chr(code)).startswith("M"):
            if ranges and ranges[-1][1] == code - 1:
                ranges[-1] = (ranges[-1][0], code)
            else:
                ranges.append((code, code))
    marks = "".join(chr(a) if a == b else f"{chr(a)}-{chr(b)}" for a, b in ranges)
    return f"[\\w{marks}]"


def _trie_pattern(keys: list[str]) -> str:
    """One regex for a set of literal keys, shared prefixes factored out (a character trie).

    A flat alternation tries every key at every position; the trie tries only keys that share the next character,
    which made the large dialect lexicons 2-3x faster. Greedy optional ends keep the longest key first, exactly as a
    longest-first alternation does.
    """
    trie: dict[str, Any] = {}
    for key in keys:
        node = trie
        for ch in key:
            node = node.setdefault(ch, {})
        node[""] = {}

    def emit(node: dict[str, Any]) -> str:
        branches = [re.escape(ch) + emit(child) for ch, child in sorted(node.items()) if ch]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        if "" in node:
            return f"(?:{body})?"
        return body

    return emit(trie)


def _keyboard_neighbours(rows: list[str]) -> dict[str, str]:
    """Keys next to each key: left and right on its row, and the same column on the rows above and below."""
    out: dict[str, str] = {}
    for r, row in enumerate(rows):
        for c, key in enumerate(row):
            near = [row[c - 1] if c > 0 else "", row[c + 1] if c + 1 < len(row) else ""]
            for other in (r - 1, r + 1):
                if 0 <= other < len(rows) and c < len(rows[other]):
                    near.append(rows[other][c])
            out[key] = "".join(ch for ch in near if ch and ch != " ")
    return out
