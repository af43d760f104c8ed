"""Batch strategies (docs/design.md section 1): which (query language, positive language) pairs fill a training batch.

A sampler is an infinite stream indexed by step. The batch of step `s` is drawn from
`np.random.default_rng([seed, s])` alone, so any step can be produced on its own: resuming needs only the next
step number, and every data-parallel rank draws the same *global* batch and keeps its own shard of it. The global
batch therefore does not depend on `world_size`, and gathered cross-device negatives share the batch's language
setting without duplicates.

Data are indexed once into *pools*: for every (query language, positive language) pair, the groups that can feed
it and an interned id of each one's positive text. A pool whose groups hold fewer distinct positive texts than the
global batch size cannot fill a batch without repeating a group or a positive (a false negative); it is excluded
from drawing and listed in `BatchSampler.excluded`. A strategy left with no pool of a kind it needs fails at
construction with a `PolyretError`; there is no silent fallback to another strategy.
"""

from __future__ import annotations

import bisect
import hashlib
import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Literal

import numpy as np

from polyret.data.groups import Group
from polyret.errors import PolyretError
from polyret.strategy import is_plain_batch_name

DESIGNS = ("practical", "controlled")
SAMPLER_INFO = "sampler.json"  # saved with every training run: BatchSampler.describe()
Kind = Literal["mono", "cross"]
Pair = tuple[str, str]


@dataclass(frozen=True)
class BatchStrategy:
    """What a batch strategy decides, and all it decides: the share of monolingual batches (a function of alpha),
    whether a monolingual batch draws its language per example (x_x) or once per batch, which language pairs it may
    draw, and whether cross-lingual batches may draw their pair per example (`--per-example-pairs`). The sampler
    does the drawing the same way for every strategy, so a new strategy is one `register_batch_strategy` call."""

    name: str
    mono_share: Callable[[float], float]
    description: str
    mono_per_example: bool = False
    allows_pair: Callable[[Pair], bool] = lambda pair: True
    per_example_pairs_allowed: bool = False
    needs: str | None = None
    """What the data must hold, said when it does not (None: the batch kind's generic requirement)."""


def _is_english(pair: Pair) -> bool:
    return pair == ("en", "en")


BATCH_STRATEGIES: dict[str, BatchStrategy] = {}


def register_batch_strategy(strategy: BatchStrategy) -> BatchStrategy:
    """Add a batch strategy to `polyret train --strategy` and to the study grid of this process (its name must be
    new). A Python-API extension: register it before `polyret.train.loop.train` or `polyret.study.run.run_study`
    is called; the command line knows the built-in ones."""
    if strategy.name in BATCH_STRATEGIES or not is_plain_batch_name(strategy.name):
        raise PolyretError(f"batch strategy {strategy.name!r} is taken, reserved or not a plain name (letters, "
                           "digits, _)")
    BATCH_STRATEGIES[strategy.name] = strategy
    return strategy


for _strategy in (
    BatchStrategy("x_x_mono", lambda alpha: 1.0, "monolingual batches, one language per batch"),
    BatchStrategy("x_y", lambda alpha: 0.0, "cross-lingual batches, one language pair per batch",
                  per_example_pairs_allowed=True),
    BatchStrategy("hybrid", lambda alpha: alpha, "monolingual with probability alpha, else cross-lingual",
                  per_example_pairs_allowed=True),
    BatchStrategy("x_x", lambda alpha: 1.0, "monolingual pairs, each example its own language",
                  mono_per_example=True),
    BatchStrategy("en_en", lambda alpha: 1.0, "English query-positive pairs only", allows_pair=_is_english,
                  needs="English query-positive pairs (en-en)"),
):
    register_batch_strategy(_strategy)
STRATEGIES = tuple(BATCH_STRATEGIES)  # the built-in ones, in the order the CLI lists them
# Rounds of vectorised candidate draws before crowded pools are scanned in a random order instead.
_ROUNDS = 4
# Per-example draws across pools can (rarely) exhaust a small pool once other pools have taken its groups or
# positive texts; such a batch is redrawn, and this many failures in a row means the data cannot feed the batch.
_MAX_ATTEMPTS = 100


@dataclass(frozen=True)
class Batch:
    """This rank's share of one global batch: example i is (queries[i], positives[i]) from group group_ids[i].

    `language_pair` is the batch-wide (query, positive) language pair, the same on every rank; None when pairs are
    drawn per example (x_x, or x_y with per-example pairs). `negatives[i]` is a hard negative of example i in its
    positive's language (from the group's `negatives`), or None; empty when no group of the data has any.
    """

    step: int
    kind: Kind
    language_pair: Pair | None
    query_langs: list[str]
    positive_langs: list[str]
    group_ids: list[str]
    queries: list[str]
    positives: list[str]
    negatives: list[str | None] = field(default_factory=list)
    negative_langs: list[str | None] = field(default_factory=list)
    """The language of each negative (with same-language negatives: the query's language in cross batches)."""

    def __len__(self) -> int:
        return len(self.group_ids)


class BatchSampler:
    """Infinite stream of batches for one strategy; build it with `make_sampler`.

    `batch_size` is the global batch (all ranks together), so results do not change with the number of devices;
    each rank gets `batch_size // world_size` examples.
    """

    def __init__(
        self,
        strategy: str,
        groups: list[Group],
        batch_size: int,
        *,
        alpha: float,
        tau: float,
        seed: int,
        world_size: int,
        rank: int,
        languages: list[str] | None,
        per_example_pairs: bool,
        same_language_negatives: bool = False,
    ) -> None:
        _validate(strategy, groups, batch_size, alpha, tau, seed, world_size, rank, per_example_pairs)
        self.same_language_negatives = same_language_negatives
        self.strategy = strategy
        self.batch_size = batch_size
        self.local_batch_size = batch_size // world_size
        self.world_size = world_size
        self.rank = rank
        self.seed = seed
        self.languages = sorted(set(languages)) if languages is not None else None
        self.step = 0
        self._groups = groups
        self._has_negatives = any(g.negatives for g in groups)
        self._texts: list[str] = []
        pools = self._index(groups)
        distinct = {key: len(set(texts)) for key, (_, texts) in pools.items()}
        self.excluded: dict[Pair, int] = {key: n for key, n in distinct.items() if n < batch_size}
        """Pairs left out of drawing, with their number of distinct positive texts (below the batch size)."""

        # Eligible pools in flat arrays: a pool is the slice offsets[i]:offsets[i] + sizes[i] of pairs[i].
        self._pairs = [key for key in pools if key not in self.excluded]
        self._sizes = np.array([len(pools[key][0]) for key in self._pairs], dtype=np.int64)
        self._offsets = np.concatenate([[0], np.cumsum(self._sizes)[:-1]]).astype(np.int64)
        self._flat_groups = np.array([g for key in self._pairs for g in pools[key][0]], dtype=np.int64)
        self._flat_texts = np.array([t for key in self._pairs for t in pools[key][1]], dtype=np.int64)

        self.spec = BATCH_STRATEGIES[strategy]
        self._mono_share = float(self.spec.mono_share(alpha))
        if not 0.0 <= self._mono_share <= 1.0:
            raise PolyretError(f"batch strategy {strategy}: its share of monolingual batches is {self._mono_share} "
                               f"at alpha {alpha}, outside [0, 1]")
        self._mixed: dict[Kind, bool] = {"mono": self.spec.mono_per_example, "cross": per_example_pairs}
        self._candidates: dict[Kind, np.ndarray] = {}
        self._cdf: dict[Kind, list[float]] = {}
        self.probabilities: dict[Kind, dict[Pair, float]] = {"mono": {}, "cross": {}}
        """Probability of each language pair within a batch kind: proportional to (number of groups) ** tau."""
        for kind, needed in (("mono", self._mono_share > 0), ("cross", self._mono_share < 1)):
            if not needed:
                continue
            indices = [i for i, (q, p) in enumerate(self._pairs) if (q == p) == (kind == "mono")]
            indices = [i for i in indices if self.spec.allows_pair(self._pairs[i])]
            if not indices:
                raise PolyretError(self._missing(kind, distinct))
            weights = self._sizes[indices].astype(np.float64) ** tau
            probabilities = weights / weights.sum()
            self.probabilities[kind] = {self._pairs[i]: float(w) for i, w in zip(indices, probabilities)}
            self._candidates[kind] = np.array(indices, dtype=np.int64)
            # Inverse-CDF draws cost a fraction of Generator.choice(p=...); the last bound is exactly 1.
            self._cdf[kind] = [*np.cumsum(probabilities)[:-1].tolist(), 1.0]
        self._fingerprint = {
            "strategy": strategy,
            "batch_size": batch_size,
            "alpha": alpha,
            "tau": tau,
            "seed": seed,
            "languages": self.languages,
            "per_example_pairs": per_example_pairs,
            "groups_sha256": hashlib.sha256("\0".join(g.id for g in groups).encode()).hexdigest(),
        }
        if same_language_negatives:  # only when on, so states saved before the option existed still load
            self._fingerprint["same_language_negatives"] = True
        # Per language, the (group, text) of every positive in that language: the same-language negatives' pool
        # (built only when the option is on: it costs a pass over every pool at start-up).
        self._by_language: dict[str, list[tuple[int, int]]] = defaultdict(list)
        if same_language_negatives:
            for key, (members, text_ids) in pools.items():
                self._by_language[key[1]].extend(zip(members, text_ids))
            for lang, entries in self._by_language.items():
                self._by_language[lang] = sorted(set(entries))

    def _index(self, groups: list[Group]) -> dict[Pair, tuple[list[int], list[int]]]:
        """For every language pair, the groups that can feed it and the interned id of each one's positive."""
        allowed = set(self.languages) if self.languages is not None else None
        if allowed is not None:
            present = {lang for g in groups for lang in (*g.queries, *g.passages)}
            if missing := sorted(allowed - present):
                raise PolyretError(f"--languages: no training group has text in {', '.join(missing)}")
        pools: dict[Pair, tuple[list[int], list[int]]] = defaultdict(lambda: ([], []))
        interned: dict[str, int] = {}
        for index, group in enumerate(groups):
            langs = sorted(set(group.queries) | set(group.passages))
            if allowed is not None:
                langs = [lang for lang in langs if lang in allowed]
            # The pairs of Group.pair_languages, enumerated here to call Group.positive once per pair.
            for q in langs:
                if q not in group.queries:
                    continue
                for p in langs:
                    text = group.positive(q, p)
                    if text is None:
                        continue
                    text_id = interned.setdefault(text, len(interned))
                    if text_id == len(self._texts):
                        self._texts.append(text)
                    members, text_ids = pools[(q, p)]
                    members.append(index)
                    text_ids.append(text_id)
        return {key: pools[key] for key in sorted(pools)}

    def _missing(self, kind: Kind, distinct: dict[Pair, int]) -> str:
        """Why the data cannot feed `kind` batches, naming the strategy and the pairs that were too small."""
        if self.spec.needs is not None:
            need = self.spec.needs
            small = {k: n for k, n in distinct.items() if self.spec.allows_pair(k)}
        elif kind == "mono":
            need = "groups with a query and a positive in the same language (QA pairs; parallel questions have none)"
            small = {k: n for k, n in distinct.items() if k[0] == k[1]}
        else:
            need = "groups with a positive in another language than the query (translated QA or parallel questions)"
            small = {k: n for k, n in distinct.items() if k[0] != k[1]}
        message = f"batch strategy {self.strategy} needs {need}"
        if not small:
            within = " within --languages" if self.languages is not None else ""
            return f"{message}; the training groups have none{within}"
        sizes = ", ".join(f"{q}-{p} {n}" for (q, p), n in sorted(small.items(), key=lambda item: -item[1])[:8])
        return (
            f"{message}, with at least --batch-size {self.batch_size} distinct positives per language pair; "
            f"largest: {sizes}"
        )

    def batch_at(self, step: int) -> Batch:
        """This rank's share of the global batch of `step`; a pure function of (seed, step) and the options."""
        rng = np.random.default_rng([self.seed, step])
        kind: Kind = "mono" if rng.random() < self._mono_share else "cross"
        candidates, cdf, mixed = self._candidates[kind], self._cdf[kind], self._mixed[kind]
        for _ in range(_MAX_ATTEMPTS):
            if mixed:
                slots = candidates[np.searchsorted(cdf, rng.random(self.batch_size), side="right")]
            else:
                slots = np.full(self.batch_size, candidates[bisect.bisect_right(cdf, rng.random())])
            chosen = self._fill(rng, slots)
            if chosen is not None:
                break
        else:
            raise PolyretError(
                f"batch strategy {self.strategy}: could not draw {self.batch_size} distinct groups and positives "
                f"at step {step} in {_MAX_ATTEMPTS} tries; lower --batch-size"
            )
        start = self.rank * self.local_batch_size
        mine = chosen[start : start + self.local_batch_size]
        pairs = [self._pairs[i] for i in slots[start : start + self.local_batch_size].tolist()]
        negatives = self._negatives(rng, chosen, slots)
        negative_langs = [None if n is None else self._pairs[slot][1] for n, slot in zip(negatives, slots.tolist())]
        if self.same_language_negatives and kind == "cross":
            negatives, negative_langs = self._same_language(rng, chosen, slots)
        negatives = negatives[start : start + self.local_batch_size]
        negative_langs = negative_langs[start : start + self.local_batch_size]
        return Batch(
            step=step,
            kind=kind,
            language_pair=None if mixed else pairs[0],
            query_langs=[q for q, _ in pairs],
            positive_langs=[p for _, p in pairs],
            group_ids=[self._groups[g].id for g, _ in mine],
            queries=[self._groups[g].queries[q] for (g, _), (q, _) in zip(mine, pairs)],
            positives=[self._texts[t] for _, t in mine],
            negatives=negatives,
            negative_langs=negative_langs,
        )

    def _same_language(self, rng: np.random.Generator, chosen: list[tuple[int, int]],
                       slots: np.ndarray) -> tuple[list[str | None], list[str | None]]:
        """For every example of a cross-lingual batch, a positive text in its *query's* language from a group that is
        not in the batch: the wrong-but-same-language candidates that a multilingual pool ranks too high.

        Neither a group of the batch nor any text that a batch group holds (in any language or role) is used: either
        would be relevant to a query of the batch, a false negative. Drawn after the batch, so batches do not
        depend on the option; under data parallelism all or none, as for the data's hard negatives.
        """
        in_batch = {g for g, _ in chosen}
        # Every text of every batch group, in any role or language: groups often share an answer sentence, so a
        # group outside the batch can hold a batch query's own relevant text; it must never be its negative.
        blocked = {text for g in in_batch for text in (*self._groups[g].queries.values(),
                                                       *self._groups[g].passages.values())}
        out: list[str | None] = []
        langs: list[str | None] = []
        for slot in slots.tolist():
            lang = self._pairs[slot][0]
            pool = self._by_language.get(lang, [])
            pick = None
            for _ in range(_MAX_ATTEMPTS):
                if not pool:
                    break
                group, text = pool[int(rng.random() * len(pool))]
                if group not in in_batch and self._texts[text] not in blocked:
                    pick = self._texts[text]
                    break
            out.append(pick)
            langs.append(lang if pick is not None else None)
        if self.world_size > 1 and None in out:
            return [None] * len(out), [None] * len(out)
        return out, langs

    def _negatives(self, rng: np.random.Generator, chosen: list[tuple[int, int]],
                   slots: np.ndarray) -> list[str | None]:
        """One hard negative per example of the global batch (drawn from its group's, in the positive's language).

        A negative equal to a positive of the batch is left out (it would be a positive and a negative at once).
        Under data parallelism every rank's loss must gather as many negatives: unless every example of the global
        batch has one, none is used. Drawn after the batch, so the batches themselves do not depend on negatives.
        """
        if not self._has_negatives:
            return []
        positives = {self._texts[t] for _, t in chosen}
        out: list[str | None] = []
        for (g, _), slot in zip(chosen, slots.tolist()):
            options = [t for t in self._groups[g].negatives.get(self._pairs[slot][1], []) if t not in positives]
            out.append(options[int(rng.random() * len(options))] if options else None)
        if self.world_size > 1 and None in out:
            return [None] * len(out)
        return out

    def _fill(self, rng: np.random.Generator, slots: np.ndarray) -> list[tuple[int, int]] | None:
        """(group, positive text id) for every slot (a pool index), all distinct; None if a pool ran dry.

        Each round draws one candidate per open slot from its pool at once and keeps those whose group and text
        are still unused, which amounts to sampling without replacement. Slots still open after a few rounds
        (pools about as small as the batch, or full of repeated texts) take the first unused entries of a random
        permutation of their pool.
        """
        chosen: list[tuple[int, int]] = [(-1, -1)] * len(slots)
        used_groups: set[int] = set()
        used_texts: set[int] = set()

        def entries(flat: np.ndarray) -> Iterator[tuple[int, int]]:
            return zip(self._flat_groups[flat].tolist(), self._flat_texts[flat].tolist())

        def fresh(group: int, text: int) -> bool:
            if group in used_groups or text in used_texts:
                return False
            used_groups.add(group)
            used_texts.add(text)
            return True

        pending = list(range(len(slots)))
        for _ in range(_ROUNDS):
            pools = slots[pending]
            # floor(u * n) < n for u < 1 (n < 2**53); several times cheaper than integers() with array bounds.
            draws = (rng.random(len(pending)) * self._sizes[pools]).astype(np.int64)
            left = []
            for position, entry in zip(pending, entries(self._offsets[pools] + draws)):
                if fresh(*entry):
                    chosen[position] = entry
                else:
                    left.append(position)
            if not left:
                return chosen
            pending = left
        for pool in sorted(set(slots[pending].tolist())):
            open_slots = [position for position in pending if slots[position] == pool]
            for entry in entries(self._offsets[pool] + rng.permutation(self._sizes[pool])):
                if fresh(*entry):
                    chosen[open_slots.pop()] = entry
                    if not open_slots:
                        break
            else:
                return None
        return chosen

    def __iter__(self) -> Iterator[Batch]:
        return self

    def __next__(self) -> Batch:
        batch = self.batch_at(self.step)
        self.step += 1
        return batch

    def describe(self) -> dict[str, Any]:
        """What this sampler draws from, as JSON: groups (count, sources, sha256 of their ids), the excluded pairs
        with their distinct positives, and each batch kind's pair probabilities (pairs keyed `query-positive`)."""
        return {
            "strategy": self.strategy,
            "mono_share": self._mono_share,
            "languages": self.languages,
            "groups": len(self._groups),
            "group_sources": dict(Counter(g.source for g in self._groups)),
            "groups_sha256": self._fingerprint["groups_sha256"],
            "excluded": {f"{q}-{p}": n for (q, p), n in sorted(self.excluded.items())},
            "probabilities": {kind: {f"{q}-{p}": round(v, 8) for (q, p), v in sorted(probs.items())}
                              for kind, probs in self.probabilities.items()},
        }

    def state_dict(self) -> dict[str, Any]:
        """JSON-serialisable state: the next step, and the options and data it is valid for."""
        return {"step": self.step, **self._fingerprint}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue from a saved state; refuses a state saved with other options or data (its batches would differ)."""
        for name, value in self._fingerprint.items():
            if state.get(name) != value:
                raise PolyretError(
                    f"sampler state was saved with {name}={state.get(name)!r} but this run has {value!r}: "
                    "resume with the same options and training data"
                )
        self.step = int(state["step"])


def _validate(
    strategy: str,
    groups: list[Group],
    batch_size: int,
    alpha: float,
    tau: float,
    seed: int,
    world_size: int,
    rank: int,
    per_example_pairs: bool,
) -> None:
    if strategy not in BATCH_STRATEGIES:
        raise PolyretError(f"--strategy: unknown batch strategy {strategy!r}; choose one of "
                           f"{', '.join(BATCH_STRATEGIES)}")
    if not 0.0 <= alpha <= 1.0:
        raise PolyretError(f"--alpha must be in [0, 1] (share of x_x_mono batches in hybrid), got {alpha}")
    if not (tau >= 0.0 and math.isfinite(tau)):
        raise PolyretError(f"--tau must be a finite number >= 0 (0 uniform, 1 by data size), got {tau}")
    if seed < 0:
        raise PolyretError(f"--seed must be >= 0, got {seed}")
    if batch_size < 2:
        raise PolyretError(f"--batch-size must be at least 2 (in-batch negatives need others), got {batch_size}")
    if world_size < 1 or not 0 <= rank < world_size:
        raise PolyretError(f"rank {rank} is outside world size {world_size}")
    if batch_size % world_size:
        raise PolyretError(
            f"--batch-size {batch_size} (the global batch) must be divisible by the world size {world_size}"
        )
    if per_example_pairs and not BATCH_STRATEGIES[strategy].per_example_pairs_allowed:
        allowed = ", ".join(n for n, s in BATCH_STRATEGIES.items() if s.per_example_pairs_allowed)
        raise PolyretError(f"--per-example-pairs applies to {allowed} batches, not to strategy {strategy}")
    if not groups:
        raise PolyretError(f"batch strategy {strategy}: no training groups")
    if repeated := [i for i, n in Counter(g.id for g in groups).items() if n > 1]:
        raise PolyretError(f"training groups repeat id {repeated[0]!r}: a repeated group would be its own negative")


def batch_composition(batch: Batch) -> dict[str, Any]:
    """A batch's language pairs and sources (the prefix of its group ids), counted: what training logs per step."""
    out: dict[str, Any] = {
        "language_pairs": dict(Counter(f"{q}-{p}" for q, p in zip(batch.query_langs, batch.positive_langs))),
        "sources": dict(Counter(gid.split("/", 1)[0] for gid in batch.group_ids)),
    }
    if batch.negatives:
        out["negatives"] = sum(n is not None for n in batch.negatives)
        out["same_language_negatives"] = sum(
            lang is not None and lang == query for lang, query in zip(batch.negative_langs, batch.query_langs))
    return out


def design_groups(groups: list[Group], design: str) -> list[Group]:
    """The groups a study design trains on. practical: all of them, each batch kind drawing from the groups that
    can feed it. controlled: only groups that can feed both kinds (a same-language and a cross-language pair),
    so every strategy draws from one and the same set and strategies differ only in how batches are composed."""
    if design not in DESIGNS:
        raise PolyretError(f"--design: unknown design {design!r}; choose one of {', '.join(DESIGNS)}")
    if design == "practical":
        return groups
    kept = []
    for group in groups:
        pairs = group.pair_languages()
        if any(q == p for q, p in pairs) and any(q != p for q, p in pairs):
            kept.append(group)
    if not kept:
        raise PolyretError("--design controlled: no training group has both a same-language and a cross-language "
                           "pair (add xnli or ntrex to --sources)")
    return kept


def make_sampler(
    strategy: str,
    groups: list[Group],
    batch_size: int,
    *,
    alpha: float = 0.5,
    tau: float = 1.0,
    seed: int = 0,
    world_size: int = 1,
    rank: int = 0,
    languages: list[str] | None = None,
    per_example_pairs: bool = False,
    same_language_negatives: bool = False,
) -> BatchSampler:
    """A sampler for `strategy` (a name of BATCH_STRATEGIES); `batch_size` is global, `languages` restricts both sides.

    `same_language_negatives`: every example of a cross-lingual batch gets a negative in its query's language."""
    return BatchSampler(
        strategy,
        groups,
        batch_size,
        alpha=alpha,
        tau=tau,
        seed=seed,
        world_size=world_size,
        rank=rank,
        languages=languages,
        per_example_pairs=per_example_pairs,
        same_language_negatives=same_language_negatives,
    )
