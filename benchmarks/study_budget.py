"""What a study profile costs here: one process measures the pieces, then multiplies them out for a profile.

    python benchmarks/study_budget.py [--data-dir ../shared/data] [--profile standard] [--steps 4] [--sample 300]

Measured (embedded mE5-small, the profile's max lengths, word embeddings frozen as in the profile, AdamW):
- a training step of `batch_size` pairs with short positives (MKQA question -> its Spanish translation) and with
  passage positives (native QA question -> its passage, cut at passage_max_length): the step cost of the strategies
  lies between these two (x_y batches of the practical design are question pairs, monolingual batches and the
  controlled design's groups have passages);
- encoding rates of a sample of XQuAD-R questions (as queries) and candidate sentences (as passages), scaled to the
  whole pool (what one cell's clean evaluation encodes; the noised evaluation re-encodes the queries only);
- one development-set scoring (polyret.evaluate.dev, the profile's dev settings).
Then: trained models x (steps x step + dev scorings + clean and noised evaluation) + the zero-shot cells. Timings
on a shared machine swing; the printed ratios (step / per-text encoding) are what carries over.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path


def _step_seconds(encoder, queries, positives, budget, steps: int) -> float:  # type: ignore[no-untyped-def]
    import torch

    from polyret.train.loss import InfoNCELoss

    net = encoder.model.train()
    net.get_input_embeddings().weight.requires_grad_(not budget.freeze_embeddings)
    optim = torch.optim.AdamW([p for p in net.parameters() if p.requires_grad], lr=budget.lr)
    loss_fn = InfoNCELoss(temperature=0.05)
    b = budget.batch_size
    times = []
    for s in range(steps + 1):  # the first step warms up
        t0 = time.perf_counter()
        q = encoder.token_ids(encoder.prefixed(queries[s * b:(s + 1) * b], "query"), budget.query_max_length)
        p = encoder.token_ids(encoder.prefixed(positives[s * b:(s + 1) * b], "passage"), budget.passage_max_length)
        loss = loss_fn(encoder.embed_ids(q), encoder.embed_ids(p)).loss
        loss.backward()
        optim.step()
        optim.zero_grad(set_to_none=True)
        times.append(time.perf_counter() - t0)
    net.eval()
    return sum(times[1:]) / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=Path(os.environ.get("POLYRET_DATA", "../shared/data")))
    parser.add_argument("--profile", default="standard")
    parser.add_argument("--steps", type=int, default=4, help="measured training steps per kind (after a warm-up)")
    parser.add_argument("--sample", type=int, default=300, help="XQuAD-R questions and sentences encoded")
    args = parser.parse_args()

    import numpy as np

    from polyret.data.training import load_training_groups
    from polyret.data.xquad_r import load_xquad_r
    from polyret.evaluate.dev import load_dev_set, score_encoder
    from polyret.model.encoder import Encoder, EncoderOptions
    from polyret.study.profiles import PROFILES

    profile = PROFILES[args.profile]
    budget = profile.train
    b, n = budget.batch_size, budget.batch_size * (args.steps + 1)
    encoder = Encoder(EncoderOptions(model="embedded:me5-small"))
    short = [g for g in load_training_groups(args.data_dir, ["mkqa"], ["en", "es"]).groups
             if "en" in g.queries and "es" in g.queries][:n]
    native = [g for g in load_training_groups(args.data_dir, ["arcd", "tquad", "cmrc2018", "iapp-wiki-qa-thai"]).groups
              if g.passages]
    picked = [native[i] for i in np.random.default_rng(0).choice(len(native), size=n, replace=False)]
    long_q = [next(iter(g.queries.values())) for g in picked]
    long_p = [next(iter(g.passages.values())) for g in picked]
    step_short = _step_seconds(encoder, [g.queries["en"] for g in short], [g.queries["es"] for g in short], budget,
                               args.steps)
    step_long = _step_seconds(encoder, long_q, long_p, budget, args.steps)

    bench = load_xquad_r(args.data_dir)
    rng = np.random.default_rng(1)
    queries = sorted({q.text for q in bench.queries})
    cands = sorted({c.text for c in bench.candidates})
    q_sample = [queries[i] for i in rng.choice(len(queries), size=args.sample, replace=False)]
    c_sample = [cands[i] for i in rng.choice(len(cands), size=args.sample, replace=False)]
    t0 = time.perf_counter()
    encoder.encode_uncached(encoder.prefixed(q_sample, "query"))
    per_query = (time.perf_counter() - t0) / args.sample
    t0 = time.perf_counter()
    encoder.encode_uncached(encoder.prefixed(c_sample, "passage"))
    per_cand = (time.perf_counter() - t0) / args.sample
    dev = load_dev_set(args.data_dir, profile.dev.set if profile.dev else None)
    t0 = time.perf_counter()
    score_encoder(encoder, dev)
    dev_s = time.perf_counter() - t0

    eval_clean = len(queries) * per_query + len(cands) * per_cand
    eval_noised = len(queries) * per_query
    trained_bases = sorted({s.split("+center")[0].split("+subspace")[0] for s in profile.strategies
                            if not s.startswith("zero_shot")})
    n_models = len(trained_bases) * len(profile.seeds)
    n_zero = sum(s.startswith("zero_shot") for s in profile.strategies)
    dev_every = profile.dev.every if profile.dev else 0
    dev_runs = (budget.steps // dev_every) if dev_every else 0
    mean_step = (step_short + step_long) / 2
    per_model = budget.steps * mean_step + dev_runs * dev_s + eval_clean + eval_noised
    zero = eval_clean + eval_noised + (n_zero - 1) * eval_noised  # transformed zero-shot cells reuse clean embeddings
    total = n_models * per_model + zero
    out = {
        "profile": args.profile, "batch_size": b, "steps": budget.steps, "trained_models": n_models,
        "step_seconds_question_pairs": round(step_short, 2), "step_seconds_passage_pairs": round(step_long, 2),
        "seconds_per_query": round(per_query, 4), "seconds_per_candidate": round(per_cand, 4),
        "whole_pool_texts": [len(queries), len(cands)], "eval_clean_seconds": round(eval_clean),
        "eval_noised_seconds": round(eval_noised), "dev_texts": 2 * len(dev.pairs), "dev_seconds": round(dev_s, 1),
        "dev_scorings_per_model": dev_runs, "ratio_passage_step_to_query_encoding": round(step_long / per_query, 1),
        "predicted_model_seconds": round(per_model), "predicted_total_minutes": round(total / 60, 1),
    }
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
