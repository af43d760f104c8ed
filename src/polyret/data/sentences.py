"""Rule-based sentence splitting for the native QA sources (Arabic, Turkish, Chinese, Thai).

A native QA pair becomes a (question, answer sentence) pair, so the passage must look like an XQuAD-R candidate:
one sentence. The splitter returns character spans into the original paragraph, so the answer's `answer_start`
can be mapped to its sentence exactly.

Why not a library: `pysbd` (last release 2021) has no Turkish or Thai, splits Arabic at the comma `،` (a clause,
not a sentence) and Chinese at `1.` inside a line; `pythainlp`'s CRF splitter (crfcut) takes about 35 ms per
paragraph (70 s for iApp alone), breaks `พ.ศ. 2533` apart and keeps paragraph breaks inside sentences.

Rules, in order:
- a line break always ends a sentence;
- Chinese/Japanese full stops `。！？｡．` end a sentence where they stand (no space follows them);
- `. ! ? ؟ … ‼ ⁇ ⁈ ⁉ । ॥ ۔ ๚ ๛` (plus closing quotes or brackets) end a sentence when whitespace or the end of
  the line follows, except a single `.` after an abbreviation-like token (one letter: initials, `พ.ศ.`;
  digits, in languages that write ordinals with a dot: Turkish `19. yüzyıl`; a Roman numeral: `II. Mehmed`;
  a dotted short form: `M.Ö.`; a known abbreviation: `Dr.`, `vb.`) or before a lower-case word; a `.` glued
  to the next capitalised word after a lower-case word (`ayrıldı.Boğdan`, a typing slip in TQuAD) ends one too;
- Thai has no sentence punctuation: writers put a space between sentences and clauses, but also around names,
  numbers and foreign words. A space between two Thai letters is a candidate boundary (never one before `ๆ`),
  and the pieces are joined left to right until each is at least `thai_min_chars` long, so a Thai passage is
  a run of clauses of sentence-like length rather than a name or a number (default 100 characters: iApp
  passages then have a median of 135 characters, between TQuAD's 106 and ARCD's 178).
"""

from __future__ import annotations

import re

Span = tuple[int, int]

THAI_MIN_CHARS = 100

_LINE = re.compile(r"[^\n\r\u2028\u2029]+")
_CJK_STOPS = "。！？｡．"
_CLOSERS = "\"'”’»)\\]}）」』】〉》›"
_PUNCT = re.compile(rf"(?:[{_CJK_STOPS}]+|[.!?؟…‼⁇⁈⁉।॥۔๚๛]+)[{_CLOSERS}]*")
_THAI_LETTER = "\u0e01-\u0e4f"
_THAI_SPACE = re.compile(rf"(?<=[{_THAI_LETTER}])\s+(?=[{_THAI_LETTER}])(?!ๆ)")
_ROMAN = re.compile(r"[IVXLCDM]+")
_DOTTED = re.compile(r"(?:\w{1,3}\.)+\w{1,3}")
_ORDINAL_DOT_LANGUAGES = frozenset({"tr", "de", "da", "fi", "hu", "cs", "sk", "nb", "no"})  # "19. yüzyıl"
_ABBREVIATIONS = frozenset({  # English and Turkish, before a capitalised name or word
    "dr", "prof", "doç", "yrd", "av", "mr", "mrs", "ms", "st", "no", "vb", "vs", "bkz", "örn", "yy", "çev", "sn",
    "ing", "lat", "fr", "ar", "yun", "haz", "ed", "vol", "jr", "sr",
})


def sentence_spans(text: str, lang: str, thai_min_chars: int = THAI_MIN_CHARS) -> list[Span]:
    """[start, end) of every sentence of `text`, without surrounding whitespace, in order."""
    spans: list[Span] = []
    for line in _LINE.finditer(text):
        start = line.start()
        for cut in _line_boundaries(text, start, line.end(), lang):
            for s, e in _strip(text, start, cut):
                spans.extend(_thai_pieces(text, s, e, thai_min_chars) if lang == "th" else [(s, e)])
            start = cut
    return spans


def split_sentences(text: str, lang: str, thai_min_chars: int = THAI_MIN_CHARS) -> list[str]:
    """The sentences of `text` as strings."""
    return [text[s:e] for s, e in sentence_spans(text, lang, thai_min_chars)]


def covering_span(spans: list[Span], start: int, end: int) -> Span | None:
    """The run of sentences that covers [start, end) (an answer may cross a sentence break), if any overlaps."""
    hit = [(s, e) for s, e in spans if s < end and start < e]
    return (hit[0][0], hit[-1][1]) if hit else None


def _line_boundaries(text: str, start: int, end: int, lang: str) -> list[int]:
    """Sentence ends inside one line, always closed by the line's end."""
    cuts = [m.end() for m in _PUNCT.finditer(text, start, end) if _ends_sentence(text, m, end, lang)]
    return [*cuts, end] if not cuts or cuts[-1] != end else cuts


def _ends_sentence(text: str, match: re.Match[str], line_end: int, lang: str) -> bool:
    if match.group()[0] in _CJK_STOPS:
        return True
    after = match.end()
    if after < line_end and not text[after].isspace():
        return match.group() == "." and text[after].isupper() and _glued_after_word(text, match.start())
    if match.group().rstrip(_CLOSERS) != ".":
        return True
    word = _word_before(text, match.start())
    ordinal = word.isdigit() and lang in _ORDINAL_DOT_LANGUAGES
    return not (ordinal or _is_abbreviation(word) or _next_is_lower(text, after, line_end))


def _glued_after_word(text: str, pos: int) -> bool:
    """`ayrıldı.Boğdan`: a full stop typed without its space, after a lower-case word (not `M.Ö` nor `St.P`)."""
    tail = text[max(0, pos - 3):pos]
    return len(tail) == 3 and tail.isalpha() and tail.islower()


def _word_before(text: str, pos: int) -> str:
    start = pos
    while start > 0 and not text[start - 1].isspace():
        start -= 1
    return text[start:pos].lstrip("\"'“‘«([{（「『【〈《‹")


def _is_abbreviation(word: str) -> bool:
    return (
        (len(word) == 1 and word.isalpha())
        or bool(_ROMAN.fullmatch(word) or _DOTTED.fullmatch(word))
        or word.casefold() in _ABBREVIATIONS
    )


def _next_is_lower(text: str, pos: int, line_end: int) -> bool:
    while pos < line_end and text[pos].isspace():
        pos += 1
    return pos < line_end and text[pos].islower()


def _thai_pieces(text: str, start: int, end: int, min_chars: int) -> list[Span]:
    """Split one sentence-level span at Thai inter-clause spaces, joining pieces shorter than `min_chars`."""
    pieces: list[Span] = []
    piece_start = start
    for space in _THAI_SPACE.finditer(text, start, end):
        if space.start() - piece_start >= min_chars:
            pieces.append((piece_start, space.start()))
            piece_start = space.end()
    if pieces and end - piece_start < min_chars:
        piece_start = pieces.pop()[0]
    return [*pieces, (piece_start, end)]


def _strip(text: str, start: int, end: int) -> list[Span]:
    """The span without leading/trailing whitespace; nothing if only whitespace is left."""
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return [(start, end)] if start < end else []
