"""`torchrun --nproc_per_node 2 -m polyret evaluate`: two gloo ranks give one process's embeddings bit for bit."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np

from builders import QUESTIONS, SENTENCES
from builders import write_generic
from builders import free_port


def cached_vectors(cache_dir: Path) -> dict[bytes, bytes]:
    (db,) = cache_dir.glob("*.sqlite")
    with sqlite3.connect(db) as con:
        return {bytes(k): bytes(v) for k, v in con.execute("SELECT key, vec FROM emb")}


def test_two_gloo_ranks_equal_one_process_bit_for_bit(tiny_models: dict[str, Path], tmp_path: Path) -> None:
    # more texts than fit one round, an odd number of batches, and repeated texts
    corpus = [{"id": f"{lang}{i}", "text": t, "lang": lang} for lang, ts in SENTENCES.items() for i, t in enumerate(ts)]
    corpus += [{"id": f"en-dup{i}", "text": SENTENCES["en"][i], "lang": "en"} for i in range(2)]
    queries = [{"id": f"q{lang}{i}", "text": t, "lang": lang} for lang, ts in QUESTIONS.items() for i, t in enumerate(ts)]
    qrels = [f"q{ql}{i} 0 {cl}{i} 1" for ql in QUESTIONS for i in range(3) for cl in SENTENCES]
    bench = write_generic(tmp_path / "bench", corpus, queries, qrels)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MASTER_ADDR": "127.0.0.1",
           "PYTHONPATH": os.pathsep.join([str(Path(__file__).resolve().parents[1] / "src"),
                                          os.environ.get("PYTHONPATH", "")])}
    common = ["evaluate", "--model", str(tiny_models["xlm-roberta"]), "--benchmark", str(bench), "--batch-size", "3",
              "--trec-run"]

    def run(prefix: list[str], name: str) -> dict:
        command = [sys.executable, *prefix, "-m", "polyret", *common, "--output", str(tmp_path / name),
                   "--cache-dir", str(tmp_path / f"cache-{name}")]
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=240)
        assert done.returncode == 0, f"{name} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        return json.loads((tmp_path / name / "results.json").read_text())

    single = run([], "single")
    sharded = run(["-m", "torch.distributed.run", "--nnodes", "1", "--nproc_per_node", "2", "--master_addr",
                   "127.0.0.1", "--master_port", str(free_port())], "sharded")
    assert single["timing"]["ranks"] == 1 and sharded["timing"]["ranks"] == 2
    assert sharded["timing"]["texts_encoded"] == single["timing"]["texts_encoded"] == 9 + 12
    assert sharded["timing"]["texts_encoded_on_rank_0"] == 6 + 6  # batches of 3: rank 0 takes every other one
    one, two = cached_vectors(tmp_path / "cache-single"), cached_vectors(tmp_path / "cache-sharded")
    assert len(one) == 21 and one == two  # every vector, byte for byte
    assert sharded["metrics"] == single["metrics"]
    assert (tmp_path / "sharded" / "run.trec").read_text() == (tmp_path / "single" / "run.trec").read_text()
    assert not np.isnan(single["metrics"]["mul_map"])
