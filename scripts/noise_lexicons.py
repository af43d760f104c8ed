"""Builds the generated lexicon maps of the romanised targets (zh-pinyin, th-karaoke) into their rule tables.

The maps are word lists, not text: for Chinese the most frequent characters and words of the jieba dictionary
(word + frequency lists) with their toneless pinyin from pypinyin (Unihan readings and its phrase dictionary); for
Thai the most frequent words of the Thai National Corpus frequency list shipped with PyThaiNLP, romanised with
PyThaiNLP's thai2rom model (an RTGS-trained transliterator). Neither list holds a sentence of any corpus.

Run once when the tables change, in an environment with the build-only packages (they are not runtime
dependencies; `pip install "polyret[tables]"`, plus onnxruntime for thai2rom):

    python scripts/noise_lexicons.py            # rewrites the marked `map:` lines of rules/zh.yaml and rules/th.yaml

Each generated map sits on the line after a marker comment `# generated: <rule id>`; the rest of the table is
hand-written and left untouched.
"""

from __future__ import annotations

import json
import re
import sys
from collections import Counter
from pathlib import Path

RULES = Path(__file__).resolve().parents[1] / "src" / "polyret" / "noise" / "rules"
HAN = re.compile(r"^[\u4e00-\u9fff]+$")
THAI = re.compile(r"^[\u0e01-\u0e4e]+$")
ZH_CHARS = 6000  # characters: beyond these (0.1% of running text by the dictionary's counts) a Han character stays
ZH_WORDS = 2500  # multi-character words spelled joined ("zhidao"), which also fixes most polyphones (银行 yinhang)
TH_WORDS = 3000
# thai2rom errs on a few frequent words; these corrections (RTGS, checked by hand) replace its output
TH_FIXES = {"ที่ไหน": " thi nai", "อร่อย": " aroi"}


def _flow_map(mapping: dict[str, str]) -> str:
    return "{" + ", ".join(f"{json.dumps(k, ensure_ascii=False)}: {json.dumps(v, ensure_ascii=False)}"
                           for k, v in mapping.items()) + "}"


def chinese_maps() -> tuple[dict[str, str], dict[str, str]]:
    """(words, chars): Han string -> " pinyin" (a leading space: the cleanup rules squeeze and trim spaces)."""
    import jieba
    from pypinyin import Style, lazy_pinyin

    path = Path(jieba.__file__).with_name("dict.txt")
    words: Counter[str] = Counter()
    chars: Counter[str] = Counter()
    for line in path.read_text(encoding="utf-8").splitlines():
        word, freq, *_ = line.split(" ")
        if not HAN.match(word):
            continue
        count = int(freq)
        words[word] += count
        for ch in word:
            chars[ch] += count
    out_words = {}
    for word, _ in words.most_common():
        if len(out_words) >= ZH_WORDS:
            break
        if 2 <= len(word) <= 4:
            out_words[word] = " " + "".join(lazy_pinyin(word, style=Style.NORMAL, v_to_u=True))
    out_chars = {}
    for ch, _ in chars.most_common(ZH_CHARS):
        syllable = lazy_pinyin(ch, style=Style.NORMAL, v_to_u=True)[0]
        if syllable != ch and syllable.isascii() or "ü" in syllable:
            out_chars[ch] = " " + syllable
    return dict(sorted(out_words.items())), dict(sorted(out_chars.items()))


def thai_words() -> dict[str, str]:
    """Thai word -> " romanisation", the most frequent TNC words."""
    from pythainlp.corpus import tnc
    from pythainlp.transliterate import romanize

    ranked = sorted(((w, c) for w, c in tnc.word_freqs() if THAI.match(w) and len(w) >= 2), key=lambda x: -x[1])
    out = {}
    for word, _ in ranked[:TH_WORDS]:
        latin = romanize(word, engine="thai2rom_onnx").strip()
        if latin and latin.isascii() and latin.isalpha():
            out[word] = " " + latin.lower()
    out.update((word, latin) for word, latin in TH_FIXES.items() if word in out)
    return dict(sorted(out.items()))


def rewrite(path: Path, maps: dict[str, dict[str, str]]) -> None:
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    done = set()
    for i, line in enumerate(lines):
        marker = re.match(r"^(\s*)# generated: (\w+)", line)
        if marker and marker.group(2) in maps:
            lines[i + 1] = f"{marker.group(1)}map: {_flow_map(maps[marker.group(2)])}\n"
            done.add(marker.group(2))
    missing = set(maps) - done
    if missing:
        raise SystemExit(f"{path}: no marker for {sorted(missing)}")
    path.write_text("".join(lines), encoding="utf-8")


def main() -> None:
    which = set(sys.argv[1:]) or {"zh", "th"}
    if "zh" in which:
        words, chars = chinese_maps()
        rewrite(RULES / "zh.yaml", {"pinyin_words": words, "pinyin_chars": chars})
        print(f"zh: {len(words)} words, {len(chars)} characters")
    if "th" in which:
        words = thai_words()
        rewrite(RULES / "th.yaml", {"karaoke_words": words})
        print(f"th: {len(words)} words")


if __name__ == "__main__":
    main()
