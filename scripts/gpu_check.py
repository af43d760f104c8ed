"""The GPU check's Python half (scripts/gpu-check runs it): model, training run, evaluation, throughput.

1. builds an encoder of exactly mE5-small's shape (12 layers, hidden 384, its 250k-piece tokenizer) with seeded
   random weights from gpu-pack/model (the 470 MB of real weights do not travel), saved as a model directory;
2. `polyret train`: a short hybrid run, bf16 (on a GPU), gradient caching over --grad-accum micro-batches;
3. `polyret evaluate` of the trained model on XQuAD-R;
4. throughput of polyret and sentence-transformers on the same model, texts and batch size: encoding (texts/s,
   float32 and bf16) and training steps (pairs/s: polyret's TrainStep with gradient caching against
   sentence-transformers' CachedMultipleNegativesRankingLoss, both bf16 autocast, word embeddings frozen).

Random weights make the evaluation's figures meaningless (only that it runs); speed does not depend on the values.
Writes OUT/gpu_check.json and prints a table.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def build_model(pack: Path, out: Path) -> Path:
    from transformers import BertConfig, BertModel

    config = BertConfig.from_pretrained(pack / "model")
    torch.manual_seed(0)
    model = BertModel(config, add_pooling_layer=False)
    shutil.copytree(pack / "model", out)
    model.save_pretrained(out, safe_serialization=True)
    return out


def run(cmd: list[str], log: Path) -> float:
    began = time.perf_counter()
    with open(log, "w", encoding="utf-8") as handle:
        done = subprocess.run(cmd, stdout=handle, stderr=subprocess.STDOUT, text=True)
    seconds = time.perf_counter() - began
    if done.returncode != 0:
        sys.stdout.write(log.read_text(encoding="utf-8")[-4000:])
        raise SystemExit(f"gpu-check: {' '.join(cmd[2:4])} failed (exit {done.returncode}); log: {log}")
    return seconds


def encode_throughput(model_dir: Path, texts: list[str], batch: int, device: torch.device, dtype: str) -> dict:
    """texts/s of polyret's Encoder and of sentence-transformers on the same prefixed texts and batch size."""
    from sentence_transformers import SentenceTransformer

    from polyret.model.encoder import Encoder, EncoderOptions

    ours = Encoder(EncoderOptions(model=str(model_dir), device=str(device), batch_size=batch, dtype=dtype))
    inputs = ours.prefixed(texts, "passage")
    ours.encode_uncached(inputs[: batch * 2])  # warm-up
    sync(device)
    began = time.perf_counter()
    ours.encode_uncached(inputs)
    sync(device)
    polyret_rate = len(inputs) / (time.perf_counter() - began)
    del ours

    st = SentenceTransformer(str(model_dir), device=str(device))
    if dtype != "float32":
        st.to(getattr(torch, dtype))
    st.encode(inputs[: batch * 2], batch_size=batch)
    sync(device)
    began = time.perf_counter()
    st.encode(inputs, batch_size=batch, convert_to_numpy=True)
    sync(device)
    st_rate = len(inputs) / (time.perf_counter() - began)
    return {"texts": len(inputs), "batch_size": batch, "dtype": dtype, "polyret_texts_per_s": round(polyret_rate, 1),
            "sentence_transformers_texts_per_s": round(st_rate, 1)}


def train_throughput(model_dir: Path, data_dir: Path, batch: int, accum: int, steps: int, device: torch.device,
                     precision_mode: str) -> dict:
    """pairs/s of polyret's TrainStep (gradient caching) and of sentence-transformers' CachedMNRL, same batches."""
    from sentence_transformers import SentenceTransformer

    try:
        from sentence_transformers.sentence_transformer.losses import CachedMultipleNegativesRankingLoss
    except ImportError:  # older layout
        from sentence_transformers.losses import CachedMultipleNegativesRankingLoss

    from polyret.data.training import load_training_groups
    from polyret.model.encoder import Encoder, EncoderOptions
    from polyret.sampling import make_sampler
    from polyret.train.config import TrainConfig
    from polyret.train.loss import InfoNCELoss
    from polyret.train.precision import Precision
    from polyret.train.step import TrainStep

    data = load_training_groups(data_dir, ["arcd", "mintaka"], ["ar", "en", "es"])
    sampler = make_sampler("hybrid", data.groups, batch, alpha=0.5, tau=1.0, seed=0, world_size=1, rank=0,
                           languages=["ar", "en", "es"])
    batches = [sampler.batch_at(step) for step in range(1, steps + 2)]
    precision = Precision(precision_mode, device)  # type: ignore[arg-type]

    encoder = Encoder(EncoderOptions(model=str(model_dir), device=str(device)))
    encoder.model.get_input_embeddings().weight.requires_grad_(False)
    encoder.model.train()
    config = TrainConfig(model=str(model_dir), batch_size=batch, grad_accum=accum, query_max_length=64,
                         passage_max_length=128)
    params = [p for p in encoder.model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=1e-5)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda _: 1.0)
    step = TrainStep(encoder, encoder.model, InfoNCELoss(0.05), optimizer, scheduler, config, precision)
    step(batches[0])  # warm-up
    sync(device)
    began = time.perf_counter()
    for b in batches[1:]:
        step(b)
    sync(device)
    polyret_rate = batch * steps / (time.perf_counter() - began)
    peak_polyret = torch.cuda.max_memory_allocated(device) / 2**20 if device.type == "cuda" else None
    del step, encoder, optimizer
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)

    st = SentenceTransformer(str(model_dir), device=str(device))
    st.max_seq_length = 128
    st[0].auto_model.get_input_embeddings().weight.requires_grad_(False)
    st.train()
    loss = CachedMultipleNegativesRankingLoss(st, scale=20.0, mini_batch_size=batch // accum)
    st_params = [p for p in st.parameters() if p.requires_grad]
    st_optimizer = torch.optim.AdamW(st_params, lr=1e-5)

    def st_step(b) -> None:  # type: ignore[no-untyped-def]
        texts = (["query: " + t for t in b.queries], ["passage: " + t for t in b.positives])
        features = [{k: v.to(device) if torch.is_tensor(v) else v for k, v in st.tokenize(side).items()}
                    for side in texts]
        with precision.autocast():
            value = loss(features, torch.empty(0, device=device))
        value.backward()
        torch.nn.utils.clip_grad_norm_(st_params, 1.0)
        st_optimizer.step()
        st_optimizer.zero_grad(set_to_none=True)

    st_step(batches[0])
    sync(device)
    began = time.perf_counter()
    for b in batches[1:]:
        st_step(b)
    sync(device)
    st_rate = batch * steps / (time.perf_counter() - began)
    peak_st = torch.cuda.max_memory_allocated(device) / 2**20 if device.type == "cuda" else None
    return {"batch_size": batch, "grad_accum": accum, "steps_timed": steps, "precision": precision_mode,
            "polyret_pairs_per_s": round(polyret_rate, 1), "sentence_transformers_pairs_per_s": round(st_rate, 1),
            "polyret_peak_mib": peak_polyret and round(peak_polyret), "sentence_transformers_peak_mib": peak_st
            and round(peak_st)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pack", type=Path, default=Path("gpu-pack"))
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--allow-cpu", action="store_true", help="rehearse on the CPU with small sizes")
    args = parser.parse_args()
    gpu = torch.cuda.is_available()
    if not gpu and not args.allow_cpu:
        raise SystemExit("gpu-check: no CUDA device (pass --allow-cpu to rehearse on the CPU)")
    device = torch.device("cuda", 0) if gpu else torch.device("cpu")
    mode = "bf16" if gpu and torch.cuda.is_bf16_supported() else "no"
    # sizes: the GPU's fill about a minute each on an H200; the CPU rehearsal's only prove the path
    size = (dict(train_steps=30, batch=512, accum=4, articles=48, encode_texts=8192, encode_batch=256, timed_steps=5)
            if gpu else dict(train_steps=3, batch=16, accum=2, articles=1, encode_texts=64, encode_batch=16,
                             timed_steps=2))
    data_dir = (args.pack / "data").resolve()
    args.out.mkdir(parents=True, exist_ok=True)
    work = args.out / "work"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    report: dict = {"device": torch.cuda.get_device_name(0) if gpu else "cpu", "torch": torch.__version__,
                    "precision": mode, "sizes": size, "weights": "random (seed 0), mE5-small shape and tokenizer"}
    print(f"gpu-check on {report['device']} ({mode}); sizes {size}", flush=True)

    model_dir = build_model(args.pack, work / "me5-small-shape")
    py = [sys.executable, "-m", "polyret"]
    trained = work / "trained"
    seconds = run(py + ["train", "--model", str(model_dir), "--strategy", "hybrid", "--steps",
                        str(size["train_steps"]), "--batch-size", str(size["batch"]), "--grad-accum",
                        str(size["accum"]), "--mixed-precision", "auto", "--device", "auto", "--data-dir",
                        str(data_dir), "--sources", "arcd,mintaka", "--languages", "ar,en,es", "--output",
                        str(trained), "--checkpoint-every", "1000"], args.out / "train.log")
    records = [json.loads(line) for line in (trained / "log.jsonl").read_text().splitlines()]
    training = json.loads((trained / "polyret_model.json").read_text())["training"]
    report["train"] = {"seconds": round(seconds, 1), "steps": len(records),
                       "kinds": {k: sum(r["kind"] == k for r in records) for k in ("mono", "cross")},
                       "first_loss": records[0]["loss"], "last_loss": records[-1]["loss"],
                       "median_pairs_per_s": statistics.median(r["pairs_per_second"] for r in records[1:]),
                       "device": training["device"], "mixed_precision": training["mixed_precision"]}
    print("train:", json.dumps(report["train"]), flush=True)

    evaluation = work / "eval"
    seconds = run(py + ["evaluate", "--model", str(trained), "--data-dir", str(data_dir), "--articles",
                        str(size["articles"]), "--device", "auto", "--batch-size", str(size["encode_batch"]),
                        "--output", str(evaluation)],
                  args.out / "evaluate.log")
    results = json.loads((evaluation / "results.json").read_text())
    report["evaluate"] = {"seconds": round(seconds, 1), "timing": results.get("timing"),
                          "metrics": {k: results.get("metrics", {}).get(k) for k in ("mo_map", "cr_map", "mul_map")}}
    print("evaluate:", json.dumps(report["evaluate"]), flush=True)

    from polyret.data.xquad_r import load_xquad_r

    bench = load_xquad_r(data_dir, articles=size["articles"])
    texts = [c.text for c in bench.candidates]
    texts = (texts * (size["encode_texts"] // max(1, len(texts)) + 1))[: size["encode_texts"]]
    report["encode"] = [encode_throughput(model_dir, texts, size["encode_batch"], device, dtype)
                        for dtype in (["float32", "bfloat16"] if gpu else ["float32"])]
    for row in report["encode"]:
        print("encode:", json.dumps(row), flush=True)
    report["train_step"] = train_throughput(model_dir, data_dir, size["batch"], size["accum"], size["timed_steps"],
                                            device, mode)
    print("train step:", json.dumps(report["train_step"]), flush=True)
    (args.out / "gpu_check.json").write_text(json.dumps(report, indent=2), encoding="utf-8")
    shutil.rmtree(work, ignore_errors=True)
    print(f"\n| what | polyret | sentence-transformers |\n|---|---|---|")
    for row in report["encode"]:
        print(f"| encode texts/s, {row['dtype']}, batch {row['batch_size']} | {row['polyret_texts_per_s']} | "
              f"{row['sentence_transformers_texts_per_s']} |")
    t = report["train_step"]
    print(f"| train pairs/s, {t['precision']}, batch {t['batch_size']} in {t['grad_accum']} cached micro-batches | "
          f"{t['polyret_pairs_per_s']} | {t['sentence_transformers_pairs_per_s']} |")


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    main()
