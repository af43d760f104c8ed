"""`polyret noise`: the dialect rule tables, a preview of what they do to a text, and how real the result looks."""

from __future__ import annotations

import json
import sys
from collections import Counter
from difflib import SequenceMatcher
from pathlib import Path
from typing import Any, Optional

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from polyret.cli.common import default_data_dir, friendly
from polyret.errors import PolyretError
from polyret.options import comma_list
from polyret.noise.engine import NoiseResult, noise_text
from polyret.noise.paired import PairedRecord, paired_realism
from polyret.noise.realism import DEFAULT_RATE, RealismRecord, realism
from polyret.noise.tables import FAMILIES, TYPO_DIALECT, available, dialect_table, language_table, parse_spec

noise_app = typer.Typer(
    no_args_is_help=True, add_completion=False,
    help="Synthetic dialectal noise: the rule tables, a preview of a text noised, and the realism check.",
)
_DATA_DIR_HELP = "data root laid out as shared/data (default $POLYRET_DATA or ../shared/data)"
DELETED = "strike red"
FAMILY_HEADERS = {"orthographic": "orth", "lexical": "lex", "phonological": "phon", "morphosyntactic": "morph",
                  "code_switching": "code", "typo": "typo"}
INSERTED = "bold green"


# ------------------------------------------------------------------------------------------------------------ list

def target_records() -> list[dict[str, Any]]:
    """One record per (language, dialect target), the typos control included: what `noise list` shows."""
    records = []
    for lang, dialects in available().items():
        table = language_table(lang)
        for dialect in dialects:
            counts = Counter(rule.family for rule in dialect_table(lang, dialect).rules)
            spec = table.dialects.get(dialect)
            records.append({
                "language": lang, "language_name": table.name, "dialect": dialect, "spec": f"{lang}-{dialect}",
                "name": spec.name if spec else "keyboard typos (the control)",
                "default": dialect == dialects[0], "control": dialect == TYPO_DIALECT,
                "tatoeba": spec.tatoeba if spec else None, "standard_tatoeba": table.standard_tatoeba,
                "ntrex": list(spec.ntrex) if spec else [],
                "rules": sum(counts.values()),
                "families": {family: counts[family] for family in FAMILIES if counts[family]},
            })
    return records


def targets_markdown(records: list[dict[str, Any]]) -> str:
    """The targets as the Markdown table of docs/noise.md."""
    langs = list(dict.fromkeys(r["language"] for r in records))
    dialects = sum(not r["control"] for r in records)
    lines = [f"{len(langs)} tables ({', '.join(langs)}), {dialects} dialect targets plus the typos control in each.", "",
             "| language | spec | name | real text | " + " | ".join(FAMILY_HEADERS[f] for f in FAMILIES) + " | rules |",
             "|---|---|---|---|" + "---:|" * (len(FAMILIES) + 1)]
    previous = None
    for r in records:
        first = r["language"] != previous
        previous = r["language"]
        lang = f"{r['language']} ({r['language_name']}, {r['standard_tatoeba']})" if first else ""
        spec = f"`{r['spec']}`" + (" (default)" if r["default"] else "")
        real = ", ".join([*([r["tatoeba"]] if r["tatoeba"] else []), *r["ntrex"]])
        counts = " | ".join(str(r["families"].get(f, "")) for f in FAMILIES)
        lines.append(f"| {lang} | {spec} | {r['name']} | {real} | {counts} | {r['rules']} |")
    return "\n".join(lines)


@noise_app.command("list")
@friendly
def list_command(
    as_json: bool = typer.Option(False, "--json", help="print the targets as JSON"),
    markdown: bool = typer.Option(False, "--markdown", help="print the targets as a Markdown table (for the docs)"),
) -> None:
    """Languages and their dialect targets (the first is the default), with rule counts per family."""
    records = target_records()
    if as_json:
        typer.echo(json.dumps(records, indent=1, ensure_ascii=False))
        return
    if markdown:
        typer.echo(targets_markdown(records))
        return
    out = Console()
    wide = out.width >= 100  # the dialect names only fit a wide terminal; --json always has them
    table = Table(title="noise targets: rules per family (* = the language's default target)", title_justify="left",
                  caption="spec: LANG-DIALECT, or LANG for the default (as in --query-noise); tatoeba: real text of "
                          "the dialect in dev/tatoeba" + ("" if wide else "; names: a wider terminal or --json"),
                  caption_justify="left")
    table.add_column("lang", no_wrap=True)
    table.add_column("spec", no_wrap=True)
    if wide:
        table.add_column("name")
    table.add_column("tatoeba", no_wrap=True)
    for family in FAMILIES:
        table.add_column(FAMILY_HEADERS[family], justify="right", no_wrap=True)
    previous = None
    for record in records:
        first = record["language"] != previous
        if first and previous is not None:
            table.add_section()
        previous = record["language"]
        table.add_row(
            record["language"] if first else "", record["spec"] + (" *" if record["default"] else ""),
            *([record["name"]] if wide else []), record["tatoeba"] or "-",
            *(str(record["families"].get(family, "")) for family in FAMILIES),
            style="dim" if record["control"] else None,
        )
    out.print(table)


# --------------------------------------------------------------------------------------------------------- preview

def marked(before: str, after: str, plain: bool = False) -> Text:
    """`after` with the changes from `before` marked: deletions struck through in red, insertions in green.

    `plain` (no colour available) marks them as [-deleted-]{+inserted+} instead, so the marks survive a pipe.
    """
    out = Text()
    for op, i1, i2, j1, j2 in SequenceMatcher(None, before, after, autojunk=False).get_opcodes():
        if op == "equal":
            out.append(before[i1:i2])
            continue
        if i2 > i1:
            out.append(f"[-{before[i1:i2]}-]" if plain else before[i1:i2], style=None if plain else DELETED)
        if j2 > j1:
            out.append(f"{{+{after[j1:j2]}+}}" if plain else after[j1:j2], style=None if plain else INSERTED)
    return out


def _families(value: Optional[str]) -> Optional[frozenset[str]]:
    if value is None:
        return None
    chosen = comma_list(value)
    unknown = [family for family in chosen if family not in FAMILIES]
    if unknown or not chosen:
        raise PolyretError(f"--families: unknown family {unknown[0] if unknown else value!r}; "
                           f"available: {', '.join(FAMILIES)}")
    return frozenset(chosen)


def _target(lang: str, dialect: Optional[str]) -> tuple[str, str]:
    if lang.startswith("all"):
        raise PolyretError(f"--lang: preview noises one language's text; name one of: {', '.join(available())}")
    if "-" in lang:
        raise PolyretError(f"--lang: {lang!r} is not a language code; pass the dialect with --dialect")
    targets = parse_spec(lang if dialect is None else f"{lang}-{dialect}")
    return targets[0]


def _fired(result: NoiseResult) -> list[dict[str, str]]:
    return [{"rule": f.rule, "family": f.family, "before": f.before, "after": f.after} for f in result.fired]


@noise_app.command()
@friendly
def preview(
    text: str = typer.Argument(..., help='the text to noise; "-" reads one text per line from stdin'),
    lang: str = typer.Option(..., "--lang", help="language code, e.g. ar (see `polyret noise list`)"),
    dialect: Optional[str] = typer.Option(None, "--dialect", help="dialect target, e.g. egy, or typos "
                                          "(default: the language's first)"),
    rate: float = typer.Option(0.3, help="probability that a rule site is rewritten, 0 to 1"),
    seed: int = typer.Option(0, help="noise seed (same inputs and seed, same output)"),
    families: Optional[str] = typer.Option(None, help=f"comma-separated subset of: {', '.join(FAMILIES)}"),
    as_json: bool = typer.Option(False, "--json", help='one JSON object per text: {"text", "noised", "fired"}'),
) -> None:
    """Noise TEXT toward a dialect and show what changed and which rules fired."""
    language, target = _target(lang, dialect)
    chosen = _families(families)
    texts = [line.rstrip("\r\n") for line in sys.stdin] if text == "-" else [text]
    results = [(t, noise_text(t, language, target, rate, seed, chosen)) for t in texts if t.strip()]
    if as_json:
        for original, result in results:
            typer.echo(json.dumps({"text": original, "noised": result.text, "fired": _fired(result)},
                                  ensure_ascii=False))
        return
    out = Console()
    plain = out.color_system is None
    for n, (original, result) in enumerate(results):
        if n:
            out.print()
        out.print(Text(f"{language}-{target} rate {rate} seed {seed}:", style="bold"), marked(original, result.text, plain))
        if not result.fired:
            out.print("no rule fired", style="dim")
            continue
        table = Table(show_edge=False, pad_edge=False)
        for column in ("rule", "family", "before -> after"):
            table.add_column(column)
        for firing in result.fired:
            change = Text(firing.before or "(empty)", style=None if plain else DELETED)
            change.append(" -> ", style="")
            change.append(firing.after or "(empty)", style=None if plain else INSERTED)
            table.add_row(firing.rule, firing.family, change)
        out.print(table)


# --------------------------------------------------------------------------------------------------------- realism

def _realism_table(records: list[RealismRecord]) -> Table:
    table = Table(title="realism: cosine of character 1-3-gram profiles with real dialect text (dev/tatoeba)",
                  title_justify="left")
    for column in ("dialect", "real text", "sentences", "changed", "clean sim.", "noised sim.", "gain",
                   "typos sim."):
        table.add_column(column, justify="left" if column in ("dialect", "real text") else "right")
    for r in records:
        gain = f"{r.gain:+.4f}"
        table.add_row(r.dialect, r.tatoeba, str(r.sentences), f"{r.changed_share:.1%}", f"{r.clean_similarity:.4f}",
                      f"{r.noised_similarity:.4f}", Text(gain, style="green" if r.gain > 0 else "red"),
                      f"{r.typo_control_similarity:.4f}")
    return table


def _paired_table(records: list[PairedRecord]) -> Table:
    split = records[0].split if records else "dev"
    table = Table(title=f"paired realism: each standard sentence against its own real variant (dev/ntrex-variants, "
                        f"{split} documents); chrF 0-1, higher is closer; edit: normalised edit distance, lower is "
                        "closer; [95% bootstrap interval]", title_justify="left")
    for column in ("dialect", "variant", "sentences", "changed", "chrF clean", "chrF noised", "gain", "chrF typos",
                   "typos gain", "edit clean", "edit noised", "edit typos"):
        table.add_column(column, justify="left" if column in ("dialect", "variant") else "right")
    for r in records:
        table.add_row(r.dialect, r.variant, str(r.sentences), f"{r.changed_share:.1%}", f"{r.clean_similarity:.4f}",
                      f"{r.noised_similarity:.4f}",
                      Text(f"{r.gain:+.4f} [{r.gain_low:+.4f}, {r.gain_high:+.4f}]",
                           style="green" if r.gain_low > 0 else "red" if r.gain_high < 0 else ""),
                      f"{r.typo_control_similarity:.4f}", f"{r.typo_gain:+.4f} [{r.typo_gain_low:+.4f}, "
                      f"{r.typo_gain_high:+.4f}]", f"{r.clean_edit:.4f}", f"{r.noised_edit:.4f}",
                      f"{r.typo_control_edit:.4f}")
    return table


def realism_markdown(records: list[RealismRecord], paired: list[PairedRecord]) -> str:
    """Both checks as Markdown tables (what docs/noise.md and the README carry)."""
    lines = ["| target | real text | sentences | changed | clean similarity | noised similarity | gain | typos control |",
             "|---|---|---:|---:|---:|---:|---:|---:|"]
    lines += [f"| `{r.dialect}` | {r.tatoeba} | {r.sentences} | {r.changed_share:.1%} | {r.clean_similarity:.4f} | "
              f"{r.noised_similarity:.4f} | {r.gain:+.4f} | {r.typo_control_similarity:.4f} |" for r in records]
    lines += ["", "| target | real variant | sentences | changed | chrF clean | chrF noised | gain [95% CI] | "
              "typos gain [95% CI] | edit clean | edit noised | edit typos |",
              "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    lines += [f"| `{r.dialect}` | {r.variant} | {r.sentences} | {r.changed_share:.1%} | {r.clean_similarity:.4f} | "
              f"{r.noised_similarity:.4f} | {r.gain:+.4f} [{r.gain_low:+.4f}, {r.gain_high:+.4f}] | "
              f"{r.typo_gain:+.4f} [{r.typo_gain_low:+.4f}, {r.typo_gain_high:+.4f}] | {r.clean_edit:.4f} | "
              f"{r.noised_edit:.4f} | {r.typo_control_edit:.4f} |" for r in paired]
    return "\n".join(lines)


@noise_app.command("realism")
@friendly
def realism_command(
    data_dir: Path = typer.Option(None, help=_DATA_DIR_HELP),
    rate: float = typer.Option(DEFAULT_RATE, help="noise rate applied to the standard sentences"),
    seed: int = typer.Option(0, help="noise seed"),
    languages: Optional[str] = typer.Option(None, help="comma-separated subset (default: every table)"),
    split: str = typer.Option("dev", help="NTREX documents for the paired check: dev, test, train or all"),
    families: Optional[str] = typer.Option(None, help="keep only these rule families of the dialect targets "
                                           f"(comma-separated: {', '.join(FAMILIES)}); the typo control is unchanged"),
    as_json: bool = typer.Option(False, "--json", help='print the records as one JSON list ("check": "ngram" or '
                                 '"paired")'),
    markdown: bool = typer.Option(False, "--markdown", help="print both checks as Markdown tables (for the docs)"),
) -> None:
    """Does noise toward a dialect move standard text toward real text of that dialect?

    Two checks: character n-gram profiles against unrelated real dialect sentences (dev/tatoeba), and each standard
    sentence against its own real variant (dev/ntrex-variants), both beside the keyboard-typo control."""
    if not 0.0 <= rate <= 1.0:
        raise PolyretError(f"--rate: {rate} is outside [0, 1]")
    langs = None
    if languages is not None:
        langs = comma_list(languages)
        unknown = [lang for lang in langs if lang not in available()]
        if unknown or not langs:
            raise PolyretError(f"--languages: unknown language {unknown[0] if unknown else languages!r}; "
                               f"available: {', '.join(available())}")
    if split not in ("dev", "test", "train", "all"):
        raise PolyretError(f"--split: {split!r} is not one of dev, test, train, all")
    root = data_dir or default_data_dir()
    chosen = _families(families)
    records = realism(root, rate=rate, seed=seed, languages=langs, families=chosen)
    paired = paired_realism(root, rate=rate, seed=seed, languages=langs, split=split,  # type: ignore[arg-type]
                            families=chosen)
    if as_json:
        typer.echo(json.dumps([record.to_dict() for record in [*records, *paired]], indent=1, ensure_ascii=False))
        return
    if markdown:
        typer.echo(realism_markdown(records, paired))
        return
    out = Console()
    if records:
        out.print(_realism_table(records))
    else:
        out.print("no dialect target names real text in dev/tatoeba for these languages")
    if paired:
        out.print(_paired_table(paired))
    else:
        out.print("no dialect target names a real parallel variant in dev/ntrex-variants for these languages")
