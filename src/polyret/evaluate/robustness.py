"""Robustness to dialectal query noise: Mul mAP of each language's queries as their noise rate rises.

Only query vectors change, so candidates are encoded once. A query's average precision depends on its own vector
alone, so one pass can noise every language at once (each toward one dialect) and read each language's Mul mAP
from the per-query numbers; dialects of the same language need separate passes ("layers").
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from polyret.data.benchmark import Query
from polyret.noise.apply import QueryNoise
from polyret.noise.tables import parse_spec

DEFAULT_RATES = (0.0, 0.1, 0.2, 0.3, 0.5)
DEFAULT_DIALECTS = ("all",)

# (queries) -> (per-query Mul AP as a float array, per-language Mul mAP dict)
Scorer = Callable[[list[Query]], tuple[np.ndarray, dict[str, float]]]


def layers(specs: list[str], languages: list[str]) -> list[list[tuple[str, str]]]:
    """Dialect targets for the benchmark's languages, grouped so that no layer holds two dialects of one language."""
    out: list[list[tuple[str, str]]] = []
    seen: set[tuple[str, str]] = set()
    for spec in specs:
        for language, dialect in parse_spec(spec):
            if language not in languages or (language, dialect) in seen:
                continue
            seen.add((language, dialect))
            for layer in out:
                if all(lang != language for lang, _ in layer):
                    layer.append((language, dialect))
                    break
            else:
                out.append([(language, dialect)])
    return out


def robustness_curve(queries: list[Query], languages: list[str], score: Scorer,
                     clean: tuple[np.ndarray, dict[str, float]], specs: list[str], rates: list[float], seed: int = 0,
                     progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """{'rates', 'lines': [{'dialect', 'language', 'mul_map': [...], 'changed_share': [...]}], 'layers'}.

    `clean` is what `score(queries)` gives for the clean queries: the evaluation has it already, so rate 0 costs
    nothing.
    """
    rates = sorted(set(rates) | {0.0})
    plan = layers(specs, languages)
    clean_ap, clean_lang = clean
    lines: dict[tuple[str, str], dict[str, Any]] = {
        pair: {"dialect": f"{pair[0]}-{pair[1]}", "language": pair[0], "mul_map": [], "changed_share": []}
        for layer in plan for pair in layer}
    overall: list[dict[str, Any]] = []
    for layer in plan:
        noised_langs = {lang for lang, _ in layer}
        layer_curve = []
        for rate in rates:
            if rate == 0.0:
                per_query, per_lang, changed = clean_ap, clean_lang, {lang: 0.0 for lang in noised_langs}
            else:
                if progress:
                    progress(f"rate {rate} on {', '.join(f'{a}-{b}' for a, b in layer)}")
                noise = QueryNoise({lang: (dialect, rate) for lang, dialect in layer}, seed)
                noised, _ = noise.apply(queries)
                per_query, per_lang = score(noised)
                changed = {lang: float(np.mean([a.text != b.text for a, b in zip(queries, noised) if a.lang == lang]))
                           for lang in noised_langs}
            for pair in layer:
                lines[pair]["mul_map"].append(per_lang[pair[0]])
                lines[pair]["changed_share"].append(round(changed[pair[0]], 4))
            mask = np.array([q.lang in noised_langs for q in queries])
            layer_curve.append(float(np.nanmean(per_query[mask])))
        overall.append({"dialects": [f"{a}-{b}" for a, b in layer], "mul_map": layer_curve})
    return {"rates": rates, "seed": seed, "specs": specs, "lines": list(lines.values()), "layers": overall}
