"""Training-step throughput and peak memory: polyret vs sentence-transformers' MultipleNegativesRankingLoss.

    python benchmarks/train_step.py [--data-dir ../shared/data] [--batch-size 16] [--steps 3] [--frozen both]
        [--engines polyret,polyret-bf16,polyret-freeze4,sentence-transformers]

polyret runs through its own TrainStep (the path `polyret train` takes), in float32, under CPU bfloat16 autocast
(--mixed-precision bf16) and with the lowest 4 layers frozen (--freeze-layers 4). Same model (the embedded mE5-small unless --model), same 16 MKQA question pairs per step (English query,
Spanish translation as positive), same max length (128), same AdamW over the same trainable parameters,
temperature 0.05 = MNRL scale 20. Each engine runs in its own subprocess so peak RSS is its own. Prints pairs per
second (after one warm-up step), peak RSS, and the ratio polyret / sentence-transformers.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path


def pairs(data_dir: Path, n: int) -> tuple[list[str], list[str]]:
    from polyret.data.training import load_training_groups

    data = load_training_groups(data_dir, ["mkqa"], ["en", "es"])
    chosen = [g for g in data.groups if "en" in g.queries and "es" in g.queries][:n]
    return [g.queries["en"] for g in chosen], [g.queries["es"] for g in chosen]


def worker(engine: str, model: str, data_dir: Path, batch: int, steps: int, frozen: bool) -> dict[str, float]:
    import torch

    from polyret.model.encoder import Encoder, EncoderOptions

    queries, positives = pairs(data_dir, batch * (steps + 1))
    encoder = Encoder(EncoderOptions(model=model))
    model_dir = encoder.identity.get("path") or model
    times = []
    if engine.startswith("polyret"):
        from polyret.train.config import TrainConfig
        from polyret.train.loop import freeze
        from polyret.train.loss import InfoNCELoss
        from polyret.train.precision import Precision
        from polyret.train.step import TrainStep
        from polyret.sampling import Batch

        variant = engine.split("-", 1)[1] if "-" in engine else "float32"
        config = TrainConfig(model=model, query_max_length=128, passage_max_length=128, lr=2e-5,
                             freeze_embeddings=frozen, freeze_layers=4 if variant == "freeze4" else 0)
        net = encoder.model.train()
        freeze(net, config)
        optim = torch.optim.AdamW([p for p in net.parameters() if p.requires_grad], lr=2e-5)
        sched = torch.optim.lr_scheduler.LambdaLR(optim, lambda _: 1.0)
        precision = Precision("bf16" if variant == "bf16" else "no", torch.device("cpu"))
        step = TrainStep(encoder, net, InfoNCELoss(temperature=0.05), optim, sched, config, precision)
        for s in range(steps + 1):
            t0 = time.perf_counter()
            qs, ps = queries[s * batch:(s + 1) * batch], positives[s * batch:(s + 1) * batch]
            step(Batch(step=s + 1, kind="cross", language_pair=("en", "es"), query_langs=["en"] * batch,
                       positive_langs=["es"] * batch, group_ids=[str(i) for i in range(batch)], queries=qs,
                       positives=ps))
            times.append(time.perf_counter() - t0)
    else:
        from sentence_transformers import SentenceTransformer
        from sentence_transformers.losses import MultipleNegativesRankingLoss

        del encoder
        st = SentenceTransformer(str(model_dir), device="cpu")
        st.max_seq_length = 128
        st.train()
        st[0].auto_model.get_input_embeddings().weight.requires_grad_(not frozen)
        loss_fn = MultipleNegativesRankingLoss(st, scale=20.0)
        optim = torch.optim.AdamW([p for p in st.parameters() if p.requires_grad], lr=2e-5)
        for s in range(steps + 1):
            t0 = time.perf_counter()
            q = st.tokenize(["query: " + t for t in queries[s * batch:(s + 1) * batch]])
            p = st.tokenize(["passage: " + t for t in positives[s * batch:(s + 1) * batch]])
            loss = loss_fn([q, p], torch.arange(batch))
            loss.backward()
            optim.step()
            optim.zero_grad(set_to_none=True)
            times.append(time.perf_counter() - t0)
    measured = times[1:]
    return {"pairs_per_second": batch * len(measured) / sum(measured), "seconds_per_step": sum(measured) / len(measured),
            "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=Path(os.environ.get("POLYRET_DATA", "../shared/data")))
    parser.add_argument("--model", default="embedded:me5-small")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--frozen", choices=["yes", "no", "both"], default="both")
    parser.add_argument("--engines", default="polyret,polyret-bf16,polyret-freeze4,sentence-transformers",
                        help="polyret (float32), polyret-bf16 (CPU bfloat16 autocast, native bf16 only), "
                        "polyret-freeze4 (lowest 4 layers frozen), sentence-transformers (the reference)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        engine, frozen = args.worker.split(":")
        print(json.dumps(worker(engine, args.model, args.data_dir, args.batch_size, args.steps, frozen == "yes")))
        return
    settings = ["yes", "no"] if args.frozen == "both" else [args.frozen]
    print(f"model {args.model}, {args.batch_size} pairs/step, max length 128, {args.steps} measured steps, "
          f"torch threads {os.environ.get('OMP_NUM_THREADS', 'default')}")
    for frozen in settings:
        results = {}
        for engine in args.engines.split(","):
            cmd = [sys.executable, __file__, "--worker", f"{engine}:{frozen}", "--data-dir", str(args.data_dir),
                   "--model", args.model, "--batch-size", str(args.batch_size), "--steps", str(args.steps)]
            done = subprocess.run(cmd, capture_output=True, text=True, check=True)
            results[engine] = json.loads(done.stdout.strip().splitlines()[-1])
            r = results[engine]
            print(f"word embeddings {'frozen  ' if frozen == 'yes' else 'trainable'} {engine:22s}: "
                  f"{r['pairs_per_second']:6.2f} pairs/s ({r['seconds_per_step']:.1f} s/step), "
                  f"peak RSS {r['peak_rss_mib']:.0f} MiB", flush=True)
        reference = results.get("sentence-transformers")
        for engine, r in results.items():
            if reference is None or engine == "sentence-transformers":
                continue
            ratio = r["pairs_per_second"] / reference["pairs_per_second"]
            mem = r["peak_rss_mib"] / reference["peak_rss_mib"]
            print(f"  ratio {engine} / sentence-transformers: speed {ratio:.2f}x, peak memory {mem:.2f}x")


if __name__ == "__main__":
    main()
