"""Builders shared by the test modules (tiny benchmarks, training launches, fake batches): one home, so no
test module imports another."""

from __future__ import annotations

import json
from pathlib import Path
import pytest
import numpy as np
from polyret.model.encoder import Encoder, EncoderOptions
from functools import lru_cache
from polyret.data.training import TrainingData, load_training_groups
import os
import socket
import subprocess
import sys
import torch
from polyret.train.loss import InfoNCELoss
from polyret.sampling import Batch
from polyret.train.config import TrainConfig
from polyret.train.precision import Precision
from polyret.train.step import TrainStep


# from test_generic_reader.py
def write_generic(root: Path, corpus: list[dict], queries: list[dict], qrels: list[str]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "corpus.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in corpus))
    (root / "queries.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in queries))
    (root / "qrels.tsv").write_text("".join(line + "\n" for line in qrels))
    return root


# from test_cli_evaluate.py
SENTENCES = {
    "en": ["Paris is the capital of France.", "The dog sleeps all day.", "Water boils at one hundred degrees.",
           "The fox jumps over the fence."],
    "de": ["Paris ist die Hauptstadt Frankreichs.", "Der Hund schläft den ganzen Tag.",
           "Wasser kocht bei hundert Grad.", "Der Fuchs springt über den Zaun."],
    "es": ["París es la capital de Francia.", "El perro duerme todo el día.", "El agua hierve a cien grados.",
           "El zorro salta la valla."],
}


# from test_cli_evaluate.py
QUESTIONS = {"en": ["What is the capital of France?", "Who sleeps all day?", "When does water boil?"],
             "de": ["Was ist die Hauptstadt Frankreichs?", "Wer schläft den ganzen Tag?", "Wann kocht Wasser?"],
             "es": ["¿Cuál es la capital de Francia?", "¿Quién duerme todo el día?", "¿Cuándo hierve el agua?"]}


# from test_cli_evaluate.py
@pytest.fixture()
def parallel_bench(tmp_path: Path) -> Path:
    corpus = [{"id": f"{lang}{i}", "text": t, "lang": lang} for lang, ts in SENTENCES.items() for i, t in enumerate(ts)]
    queries = [{"id": f"q{lang}{i}", "text": t, "lang": lang} for lang, ts in QUESTIONS.items() for i, t in enumerate(ts)]
    qrels = [f"q{ql}{i} 0 {cl}{i} 1" for ql in QUESTIONS for i in range(3) for cl in SENTENCES]
    return write_generic(tmp_path / "bench", corpus, queries, qrels)


# from test_training_data.py
@lru_cache(maxsize=1)
def load_shared(data_dir: Path) -> TrainingData:
    """Every source, groups sharing an answer sentence kept (one group per distinct question); read once."""
    return load_training_groups(data_dir, distinct_passages=False)


# from test_training_data.py
def _squad(context: str, start: int, question: str = "Soru?") -> dict[str, object]:
    qa = {"id": "1", "question": question, "answers": [{"text": context[start:start + 3], "answer_start": start}]}
    return {"data": [{"title": "T", "paragraphs": [{"context": context, "qas": [qa]}]}]}


def write_training_root(root: Path) -> Path:
    """A minimal data root with every training source in its published format."""
    train = root / "train"
    for folder in ("arcd", "tquad", "cmrc2018", "iapp-wiki-qa-thai", "mkqa/dev", "mkqa/test-questions", "mintaka"):
        (train / folder).mkdir(parents=True, exist_ok=True)
    (train / "arcd" / "arcd.json").write_text(json.dumps(_squad("جملة أولى. جملة ثانية هنا.", 11, "ما؟")))
    (train / "tquad" / "a.json").write_text(json.dumps(_squad("Bir cümle. İkinci cümle burada.", 11)))
    for name in ("cmrc2018_dev.json", "cmrc2018_trial.json"):
        (train / "cmrc2018" / name).write_text(json.dumps(_squad("第一句。第二句话。", 4, f"{name}？")))
    for number, split in enumerate(("train", "valid", "test")):
        record = {"question_id": f"{split}_1", "question": f"คำถาม {split}", "context": f"ประโยคที่ {number}",
                  "answers": {"text": ["ประโยค"], "answer_start": [0]}}
        (train / "iapp-wiki-qa-thai" / f"{split}.jsonl").write_text(json.dumps(record) + "\n")
    for part, qid in (("dev", "11"), ("test-questions", "-12")):
        for code, text in (("en", "who is it"), ("ar", "من هو"), ("zh_cn", "他是谁")):
            line = {"id": f"{qid}_{code}", "lang": code, "question": f"{text} {part}", "answers": []}
            (train / "mkqa" / part / f"mkqa-{code}.jsonl").write_text(json.dumps(line) + "\n")
    mintaka = [{"id": "m1", "question": "Who?", "translations": {"de": "Wer?", "fr": "Qui ?"}}]
    (train / "mintaka" / "mintaka_dev.json").write_text(json.dumps(mintaka))
    return root


# from test_loss.py
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# from test_metrics.py
def random_run(seed: int, nq: int = 60, nc: int = 120, n_langs: int = 3, d: int = 12):
    """Continuous random scores (no ties); 0-4 relevant per candidate language, at least one per query."""
    rng = np.random.default_rng(seed)
    q = rng.standard_normal((nq, d)).astype(np.float32)
    c = rng.standard_normal((nc, d)).astype(np.float32)
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    cand_lang = rng.integers(0, n_langs, nc)
    query_lang = rng.integers(0, n_langs, nq)
    relevant = []
    for _ in range(nq):
        rel = np.concatenate([rng.choice(np.flatnonzero(cand_lang == lang), rng.integers(0, 5), replace=False)
                              for lang in range(n_langs)])  # fmt: skip
        relevant.append(rel if len(rel) else rng.integers(0, nc, 1))
    scores = q.astype(np.float64) @ c.astype(np.float64).T
    return q, c, relevant, cand_lang, query_lang, scores


# from test_train.py
REPO = Path(__file__).resolve().parents[1]


# from test_train.py
LAUNCHER = Path(__file__).with_name("train_launcher.py")  # runs polyret with test hooks (kill -9 at a step, records)


# from test_train.py
def base_args(model: Path, data_dir: Path, output: Path, steps: int) -> list[str]:
    return ["train", "--model", str(model), "--strategy", "hybrid", "--alpha", "0.5", "--steps", str(steps),
            "--batch-size", "4", "--data-dir", str(data_dir), "--sources", "arcd,mkqa", "--languages", "ar,en,es",
            "--output", str(output), "--checkpoint-every", "2", "--lr", "1e-3", "--no-check-leakage",
            "--no-freeze-embeddings", "--query-max-length", "24", "--passage-max-length", "32"]


# from test_train.py
def cli(args: list[str], kill_at_step: int | None = None) -> subprocess.CompletedProcess[str]:
    launch = [str(LAUNCHER), "--kill-at-step", str(kill_at_step), "--"] if kill_at_step else ["-m", "polyret"]
    return subprocess.run([sys.executable, *launch, *args], capture_output=True, text=True, timeout=300, cwd=REPO)


# from test_train.py
def losses(output: Path) -> list[tuple[int, float]]:
    return [(r["step"], r["loss"]) for r in map(json.loads, (output / "log.jsonl").read_text().splitlines())]


# from test_train.py
def torchrun(args: list[str], ranks: int = 2, **hooks: object) -> subprocess.CompletedProcess[str]:
    """`torchrun --nproc_per_node ranks` of polyret on the CPU (gloo), through the test launcher's hooks."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    options = [str(x) for key, value in hooks.items() for x in (f"--{key.replace('_', '-')}", value)]
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", str(ranks), "--master_addr",
           "127.0.0.1", "--master_port", str(port), str(LAUNCHER), *options, "--", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600, cwd=REPO,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})


# from test_train.py
def rank_records(directory: Path, ranks: int = 2) -> list[dict[int, dict]]:
    """Per rank, its records by step (a step redone after a resume: the later record)."""
    return [{r["step"]: r for r in map(json.loads, (directory / f"rank-{rank}.jsonl").read_text().splitlines())}
            for rank in range(ranks)]


# from test_train_step.py
QUERIES = ["where is the capital of france", "how many points did the team score", "der schnelle braune fuchs",
           "el rápido zorro marrón", "the quick brown fox", "быстрая коричневая лиса", "what is the final game",
           "who jumps over the lazy dog"]


# from test_train_step.py
PASSAGES = ["paris is the capital", "the team scored in the final game", "springt über den faulen hund",
            "salta sobre el perro perezoso", "jumps over the lazy dog", "прыгает через ленивую собаку",
            "the final game of the season", "the fox jumps over the dog"]


# from test_train_step.py
def batch(step: int = 1) -> Batch:
    n = len(QUERIES)
    return Batch(step=step, kind="mono", language_pair=("en", "en"), query_langs=["en"] * n,
                 positive_langs=["en"] * n, group_ids=[f"g{i}" for i in range(n)], queries=QUERIES,
                 positives=PASSAGES)


# from test_train_step.py
def make_step(model_dir: Path, precision: Precision | None = None, **options: object) -> TrainStep:
    encoder = Encoder(EncoderOptions(model=str(model_dir), device="cpu"))
    config = TrainConfig(model=str(model_dir), query_max_length=16, passage_max_length=16, **options)
    params = [p for p in encoder.model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=1e-3)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda _: 1.0)
    precision = precision or Precision("no", torch.device("cpu"))
    return TrainStep(encoder, encoder.model, InfoNCELoss(0.05), optimizer, scheduler, config, precision)


# from test_train_step.py
def grads(step: TrainStep) -> dict[str, torch.Tensor]:
    return {name: p.grad.clone() for name, p in step.encoder.model.named_parameters() if p.grad is not None}

