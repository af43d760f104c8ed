"""What a study profile costs here: one process measures the pieces, then multiplies them out for a profile.

    python benchmarks/study_budget.py [--data-dir ../shared/data] [--profile standard] [--rounds 4] [--sample 320]
    python benchmarks/study_budget.py --profile full --device cuda --batch-size 256 --rounds 20 --sample 20000

Measured (embedded mE5-small, the profile's max lengths, word embeddings frozen as in the profile, AdamW):
- a training step of `batch_size` pairs with short positives (MKQA question -> its Spanish translation) and with
  passage positives (native QA question -> its passage, cut at passage_max_length): the step cost of the strategies
  lies between these two (x_y batches of the practical design are question pairs, monolingual batches and the
  controlled design's groups have passages);
- encoding rates of a sample of XQuAD-R questions (as queries) and candidate sentences (as passages), scaled to the
  whole pool (what one cell's clean evaluation encodes; the noised evaluation re-encodes the queries only);
- one development-set scoring (polyret.evaluate.dev, the profile's dev settings);
- the exact search and all measures over the whole pool (random vectors: the cost does not depend on them).
The pieces are measured in interleaved rounds (one of each per round, the first round a warm-up), so a change in
the machine's load hits them alike. Then: trained models x (steps x mean step + dev scorings + clean evaluation +
noised evaluation of the queries the noise changed) + the zero-shot cell (its +center cell reuses the embeddings
and encodes the Tatoeba sentences of its language means).
Timings on a shared machine swing; the ratios (step / whole-pool evaluation) are what carries over.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path


def _sync(encoder) -> None:  # type: ignore[no-untyped-def]
    import torch

    if encoder.device.type == "cuda":
        torch.cuda.synchronize(encoder.device)


def _step(encoder, net, optim, loss_fn, queries, positives, budget) -> float:  # type: ignore[no-untyped-def]
    import torch

    t0 = time.perf_counter()
    q = encoder.token_ids(encoder.prefixed(queries, "query"), budget.query_max_length)
    p = encoder.token_ids(encoder.prefixed(positives, "passage"), budget.passage_max_length)
    cuda = encoder.device.type == "cuda"  # as the trainer: bf16 autocast on a GPU, float32 on CPU
    with torch.autocast(device_type=encoder.device.type, dtype=torch.bfloat16, enabled=cuda):
        loss = loss_fn(encoder.embed_ids(q, net), encoder.embed_ids(p, net)).loss
    loss.backward()
    optim.step()
    optim.zero_grad(set_to_none=True)
    _sync(encoder)
    return time.perf_counter() - t0


def _encode(encoder, texts, kind) -> float:  # type: ignore[no-untyped-def]
    encoder.model.eval()
    t0 = time.perf_counter()
    encoder.encode_uncached(encoder.prefixed(texts, kind))
    _sync(encoder)
    encoder.model.train()
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=Path(os.environ.get("POLYRET_DATA", "../shared/data")))
    parser.add_argument("--profile", default="standard")
    parser.add_argument("--rounds", type=int, default=4, help="measured rounds (after a warm-up round)")
    parser.add_argument("--sample", type=int, default=320, help="XQuAD-R questions and sentences encoded in all")
    parser.add_argument("--device", default="cpu", help="cpu or cuda (the full profile is sized on a GPU)")
    parser.add_argument("--batch-size", type=int, default=None, help="encoding batch (default: the encoder's 32)")
    args = parser.parse_args()

    import numpy as np
    import torch

    from polyret.data.training import load_training_groups
    from polyret.data.xquad_r import load_xquad_r
    from polyret.evaluate.dev import load_dev_set, score_encoder
    from polyret.model.encoder import Encoder, EncoderOptions
    from polyret.noise.apply import QueryNoise
    from polyret.study.profiles import PROFILES
    from polyret.train.loss import InfoNCELoss

    profile = PROFILES[args.profile]
    budget = profile.train
    b, rounds = budget.batch_size, args.rounds + 1
    encoder = Encoder(EncoderOptions(model="embedded:me5-small", device=args.device,
                                     **({"batch_size": args.batch_size} if args.batch_size else {})))
    short = [g for g in load_training_groups(args.data_dir, ["mkqa"], ["en", "es"]).groups
             if "en" in g.queries and "es" in g.queries][: b * rounds]
    native = [g for g in load_training_groups(args.data_dir, ["arcd", "tquad", "cmrc2018", "iapp-wiki-qa-thai"]).groups
              if g.passages]
    picked = [native[i] for i in np.random.default_rng(0).choice(len(native), size=b * rounds, replace=False)]
    bench = load_xquad_r(args.data_dir)
    queries = sorted({q.text for q in bench.queries})
    cands = sorted({c.text for c in bench.candidates})
    rng = np.random.default_rng(1)
    per_round = args.sample // args.rounds
    q_sample = [queries[i] for i in rng.choice(len(queries), size=per_round * rounds, replace=False)]
    c_sample = [cands[i] for i in rng.choice(len(cands), size=per_round * rounds, replace=False)]
    dev = load_dev_set(args.data_dir, profile.dev.set if profile.dev else None)

    net = encoder.model.train()
    net.get_input_embeddings().weight.requires_grad_(not budget.freeze_embeddings)
    optim = torch.optim.AdamW([p for p in net.parameters() if p.requires_grad], lr=budget.lr)
    loss_fn = InfoNCELoss(temperature=0.05)
    totals = {"short": 0.0, "long": 0.0, "query": 0.0, "cand": 0.0, "dev": 0.0}
    for r in range(rounds):  # interleaved, so a change in the machine's load hits every piece alike
        part = slice(r * b, (r + 1) * b)
        t = {"short": _step(encoder, net, optim, loss_fn, [g.queries["en"] for g in short[part]],
                            [g.queries["es"] for g in short[part]], budget),
             "long": _step(encoder, net, optim, loss_fn, [next(iter(g.queries.values())) for g in picked[part]],
                           [next(iter(g.passages.values())) for g in picked[part]], budget),
             "query": _encode(encoder, q_sample[r * per_round:(r + 1) * per_round], "query"),
             "cand": _encode(encoder, c_sample[r * per_round:(r + 1) * per_round], "passage")}
        if r == rounds - 1:
            t0 = time.perf_counter()
            score_encoder(encoder, dev)
            totals["dev"] = time.perf_counter() - t0
        if r:  # round 0 warms up
            for k, v in t.items():
                totals[k] += v
    step_short, step_long = totals["short"] / args.rounds, totals["long"] / args.rounds
    per_query = totals["query"] / (per_round * args.rounds)
    per_cand = totals["cand"] / (per_round * args.rounds)
    dev_s = totals["dev"]

    # exact search and every measure over the whole pool (random unit vectors of the model's width)
    from polyret.evaluate.metrics import compute_metrics
    from polyret.evaluate.stages import index_arrays as _index_arrays
    from polyret.evaluate.search import exact_search

    langs, query_lang, cand_lang, relevant = _index_arrays(bench)
    vecs = np.random.default_rng(2).normal(size=(len(bench.queries) + len(bench.candidates), encoder.dim))
    vecs = (vecs / np.linalg.norm(vecs, axis=1, keepdims=True)).astype(np.float32)
    t0 = time.perf_counter()
    ranks = exact_search(vecs[:len(bench.queries)], vecs[len(bench.queries):], relevant, cand_lang,
                         n_langs=len(langs))
    compute_metrics(ranks, query_lang, cand_lang, langs)
    search_s = time.perf_counter() - t0

    # the noised evaluation encodes only the queries the noise changed (the others are cache hits)
    noise = QueryNoise.parse([f"{spec}:{profile.noise_eval_rate}" for spec in profile.noise_eval])
    noised, _ = noise.apply(bench.queries)
    changed = len({q.text for q in noised} - set(queries))
    eval_clean = len(queries) * per_query + len(cands) * per_cand + search_s
    eval_noised = changed * per_query + search_s
    trained_bases = sorted({s.split("+center")[0].split("+subspace")[0] for s in profile.strategies
                            if not s.startswith("zero_shot")})
    n_models = len(trained_bases) * len(profile.seeds)
    n_zero = sum(s.startswith("zero_shot") for s in profile.strategies)
    dev_runs = (budget.steps // profile.dev.every + 1) if profile.dev else 0
    mean_step = (step_short + step_long) / 2
    per_model = budget.steps * mean_step + dev_runs * dev_s + eval_clean + eval_noised
    # zero_shot encodes the pool; its transformed cells reuse those embeddings and the noised queries (cached)
    # +center estimates its language means from Tatoeba: up to max_per_language texts x 11 languages x 2 roles,
    # short sentences like the development set's
    n_center = sum(s.endswith("+center") or s.endswith("+subspace") for s in profile.strategies)
    center = n_center * profile.transform_max_per_language * 11 * 2 * dev_s / (4 * len(dev.pairs))
    zero = (eval_clean + eval_noised if n_zero else 0.0) + center
    total = n_models * per_model + zero
    out = {
        "profile": args.profile, "batch_size": b, "steps": budget.steps, "trained_models": n_models,
        "step_seconds_question_pairs": round(step_short, 2), "step_seconds_passage_pairs": round(step_long, 2),
        "seconds_per_query": round(per_query, 4), "seconds_per_candidate": round(per_cand, 4),
        "whole_pool_distinct_texts": [len(queries), len(cands)], "noised_queries_to_encode": changed,
        "search_and_measures_seconds": round(search_s, 1), "eval_clean_seconds": round(eval_clean),
        "eval_noised_seconds": round(eval_noised), "transform_stats_seconds": round(center),
        "dev_texts": 2 * len(dev.pairs), "dev_seconds": round(dev_s, 1), "dev_scorings_per_model": dev_runs,
        "step_over_clean_eval": [round(step_short / eval_clean, 5), round(step_long / eval_clean, 5)],
        "predicted_model_seconds": round(per_model), "predicted_total_minutes": round(total / 60, 1),
    }
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
