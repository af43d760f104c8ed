"""Noise throughput: every XQuAD-R question noised toward its language's default dialect and the typos control.

    python benchmarks/noise_throughput.py [--data-dir ../shared/data] [--rate 0.3] [--repeats 3]
        [--targets ar-arabizi,zh-pinyin]   # other targets than the defaults, for those languages only

Single process. Prints texts per second overall and per language (default dialect and typos), and, as the
reference measured in the same run on the same texts, two trivial passes: `str.lower` and a regex word split
(`re.findall(r"\\w+|[^\\w\\s]")`), with the ratio noise / reference. Each timing is the best of --repeats passes;
the noise tables are compiled before timing (their one-off compile time is printed separately).
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path

WORDS = re.compile(r"\w+|[^\w\s]")


def questions(data_dir: Path) -> dict[str, list[str]]:
    """Every XQuAD-R question, per language, in file order."""
    from polyret.data.xquad_r import XQUAD_R_LANGUAGES, load_xquad_r

    bench = load_xquad_r(data_dir)
    return {lang: [q.text for q in bench.queries if q.lang == lang] for lang in XQUAD_R_LANGUAGES}


def best_of(repeats: int, work: Callable[[], object]) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        work()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=Path(os.environ.get("POLYRET_DATA", "../shared/data")))
    parser.add_argument("--rate", type=float, default=0.3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--targets", default=None,
                        help="comma-separated LANG-DIALECT targets to time instead of the defaults (those languages)")
    args = parser.parse_args()

    from polyret.noise import available, dialect_table, noise_text

    texts = questions(args.data_dir)
    tables = available()
    missing = [lang for lang in texts if lang not in tables]
    if missing:
        print(f"no noise table for {', '.join(missing)}: those languages are skipped")
    texts = {lang: qs for lang, qs in texts.items() if lang in tables}
    chosen: dict[str, str] = {}
    if args.targets:
        from polyret.noise import parse_spec

        for spec in args.targets.split(","):
            for lang, dialect in parse_spec(spec):
                chosen[lang] = dialect
        texts = {lang: qs for lang, qs in texts.items() if lang in chosen}
    targets = {lang: (chosen.get(lang, tables[lang][0]), "typos") for lang in texts}

    t0 = time.perf_counter()
    for lang, dialects in targets.items():
        for dialect in dialects:
            dialect_table(lang, dialect)
    compile_s = time.perf_counter() - t0
    n_texts = sum(len(qs) for qs in texts.values())
    print(f"{n_texts} XQuAD-R questions in {len(texts)} languages; rate {args.rate}, seed {args.seed}, "
          f"best of {args.repeats}; tables compiled in {compile_s * 1000:.0f} ms; python {sys.version.split()[0]}")

    rate, seed = args.rate, args.seed
    per: dict[tuple[str, str], float] = {}
    changed: dict[tuple[str, str], float] = {}
    for lang, qs in texts.items():
        for dialect in targets[lang]:
            per[(lang, dialect)] = best_of(args.repeats, lambda: [noise_text(q, lang, dialect, rate, seed)
                                                                  for q in qs])
            changed[(lang, dialect)] = sum(noise_text(q, lang, dialect, rate, seed).text != q for q in qs) / len(qs)
    every = [q for qs in texts.values() for q in qs]
    lower_s = best_of(args.repeats, lambda: [q.lower() for q in every])
    split_s = best_of(args.repeats, lambda: [WORDS.findall(q) for q in every])

    print(f"\n{'lang':<5} {'dialect':<12} {'texts/s':>9} {'us/text':>8} {'changed':>8}   "
          f"{'typos texts/s':>13} {'us/text':>8}")
    for lang, qs in texts.items():
        default, typos = targets[lang]
        d_s, t_s = per[(lang, default)], per[(lang, typos)]
        print(f"{lang:<5} {default:<12} {len(qs) / d_s:9.0f} {d_s / len(qs) * 1e6:8.1f} "
              f"{changed[(lang, default)]:8.1%}   {len(qs) / t_s:13.0f} {t_s / len(qs) * 1e6:8.1f}")
    default_s = sum(per[(lang, targets[lang][0])] for lang in texts)
    typos_s = sum(per[(lang, "typos")] for lang in texts)
    print(f"\nnoise, default dialects : {n_texts / default_s:9.0f} texts/s  ({default_s / n_texts * 1e6:.1f} us/text)")
    print(f"noise, typos control    : {n_texts / typos_s:9.0f} texts/s  ({typos_s / n_texts * 1e6:.1f} us/text)")
    print(f"reference str.lower     : {n_texts / lower_s:9.0f} texts/s  ({lower_s / n_texts * 1e6:.2f} us/text)")
    print(f"reference regex split   : {n_texts / split_s:9.0f} texts/s  ({split_s / n_texts * 1e6:.2f} us/text)")
    print(f"ratio noise (default) / str.lower   : {default_s / lower_s:.0f}x slower")
    print(f"ratio noise (default) / regex split : {default_s / split_s:.1f}x slower")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
