"""Training objectives from the loss registry (hand-computed values) and WiSE-FT weight interpolation."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from typer.testing import CliRunner

from polyret.cli import app
from polyret.model.encoder import Encoder, EncoderOptions
from polyret.train.config import load_config
from polyret.train.interpolate import interpolate_state
from polyret.train.loss import LOSSES, InfoNCELoss, build_loss

runner = CliRunner()


def test_margin_loss_against_hand_computed_values() -> None:
    q = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    p = torch.tensor([[1.0, 0.0], [0.6, 0.8]])
    out = InfoNCELoss(temperature=1.0, symmetric=True, margin=0.5)(q, p)
    # query -> passage: row 0 scores [1 - 0.5, 0.6], row 1 [0, 0.8 - 0.5]
    forward = (math.log(1 + math.exp(0.6 - 0.5)) + math.log(1 + math.exp(0.0 - 0.3))) / 2
    # passage -> query: row 0 scores [1 - 0.5, 0], row 1 [0.6, 0.8 - 0.5]
    backward = (math.log(1 + math.exp(0.0 - 0.5)) + math.log(1 + math.exp(0.6 - 0.3))) / 2
    assert float(out.loss) == pytest.approx((forward + backward) / 2, abs=1e-6)
    assert float(out.accuracy) == 0.5  # row 0 ranks its positive second once the margin is taken off


def test_zero_margin_is_infonce_and_the_margin_only_raises_the_loss() -> None:
    torch.manual_seed(0)
    q = torch.nn.functional.normalize(torch.randn(6, 8), dim=1)
    p = torch.nn.functional.normalize(torch.randn(6, 8), dim=1)
    plain = InfoNCELoss(temperature=0.05, symmetric=True)(q, p).loss
    assert torch.equal(InfoNCELoss(temperature=0.05, symmetric=True, margin=0.0)(q, p).loss, plain)
    assert InfoNCELoss(temperature=0.05, symmetric=True, margin=0.2)(q, p).loss > plain


def test_the_registry_builds_what_the_config_names(tmp_path: Path) -> None:
    assert set(LOSSES) == {"infonce", "margin"}
    margin = build_loss(load_config(None, {"loss": "margin", "margin": 0.25, "temperature": 0.1}))
    assert (margin.symmetric, margin.margin, margin.temperature) == (True, 0.25, 0.1)
    plain = build_loss(load_config(None, {}))
    assert (plain.symmetric, plain.margin) == (False, 0.0)
    from polyret.errors import PolyretError

    with pytest.raises(PolyretError, match="option 'loss'"):
        load_config(None, {"loss": "triplet"})


def test_train_with_the_margin_loss(tiny_models: dict[str, Path], data_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "margin"
    done = runner.invoke(app, ["train", "--model", str(tiny_models["bert"]), "--loss", "margin", "--margin", "0.2",
                               "--steps", "2", "--batch-size", "4", "--data-dir", str(data_dir), "--sources",
                               "mkqa", "--languages", "ar,en", "--output", str(out), "--no-check-leakage", "--strategy", "x_y"])
    assert done.exit_code == 0, done.output
    saved = json.loads((out / "polyret_model.json").read_text())["training"]["config"]
    assert (saved["loss"], saved["margin"]) == ("margin", 0.2)
    assert all(math.isfinite(json.loads(line)["loss"]) for line in (out / "log.jsonl").read_text().splitlines())


# ------------------------------------------------------------------------------------------ interpolation
def test_interpolate_state_endpoints_are_exact_and_the_middle_is_the_mean() -> None:
    base = {"w": torch.tensor([-0.0, 1.0, 3.0]), "ids": torch.tensor([1, 2])}
    tuned = {"w": torch.tensor([2.0, -1.0, 3.5]), "ids": torch.tensor([1, 2])}
    zero, one = interpolate_state(base, tuned, 0.0), interpolate_state(base, tuned, 1.0)
    assert torch.equal(zero["w"], base["w"]) and torch.signbit(zero["w"][0])  # -0.0 stays -0.0
    assert torch.equal(one["w"], tuned["w"])
    assert torch.allclose(interpolate_state(base, tuned, 0.5)["w"], torch.tensor([1.0, 0.0, 3.25]))
    assert torch.equal(interpolate_state(base, tuned, 0.5)["ids"], base["ids"])


def test_interpolate_command_endpoints_bit_for_bit_and_dev_choice(tiny_models: dict[str, Path], data_dir: Path,
                                                                  tmp_path: Path) -> None:
    tuned = tmp_path / "tuned"
    done = runner.invoke(app, ["train", "--model", str(tiny_models["bert"]), "--steps", "2", "--batch-size", "4",
                               "--lr", "1e-3", "--data-dir", str(data_dir), "--sources", "mkqa", "--languages",
                               "ar,en", "--output", str(tuned), "--no-check-leakage", "--no-freeze-embeddings", "--strategy", "x_y"])
    assert done.exit_code == 0, done.output
    base_state = Encoder(EncoderOptions(model=str(tiny_models["bert"]))).model.state_dict()
    tuned_state = load_file(tuned / "model.safetensors")
    for alpha, expected in (("0", base_state), ("1", tuned_state)):
        out = tmp_path / f"a{alpha}"
        done = runner.invoke(app, ["interpolate", str(tuned), "--alpha", alpha, "--output", str(out)])
        assert done.exit_code == 0, done.output
        written = load_file(out / "model.safetensors")
        assert written.keys() == tuned_state.keys()
        assert all(torch.equal(written[k], expected[k]) for k in written), alpha
    assert any(not torch.equal(base_state[k], tuned_state[k]) for k in tuned_state)  # the endpoints differ

    chosen = tmp_path / "chosen"
    done = runner.invoke(app, ["interpolate", str(tuned), "--alpha", "0,0.5,1", "--output", str(chosen),
                               "--data-dir", str(data_dir)])
    assert done.exit_code == 0, done.output
    record = json.loads((chosen / "polyret_model.json").read_text())["interpolation"]
    sweep = record["chosen_on"]["sweep"]
    assert [p["alpha"] for p in sweep] == [0.0, 0.5, 1.0]
    assert record["alpha"] == max(sweep, key=lambda p: p["mixed_mrr"])["alpha"]
    assert record["chosen_on"]["dev_set"]  # the development set is named, never an evaluation set
    Encoder(EncoderOptions(model=str(chosen))).encode(["a question"], "query", use_cache=False)  # loads and runs
    done = runner.invoke(app, ["interpolate", str(tuned), "--alpha", "1.5", "--output", str(tmp_path / "bad")])
    assert done.exit_code == 2 and "--alpha" in done.output


# ------------------------------------------------------------------------------------------ distillation
def test_distillation_term_against_hand_computed_values() -> None:
    from polyret.train.distill import DistillationLoss, DistillTargets

    q = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    p = torch.tensor([[1.0, 0.0], [0.6, 0.8]])
    targets = DistillTargets(queries=torch.tensor([[0.8, 0.6], [9.0, 9.0]]), query_mask=torch.tensor([True, False]),
                             positives=torch.tensor([[1.0, 0.0], [0.0, 1.0]]), positive_mask=torch.tensor([True, True]))
    base = InfoNCELoss(temperature=1.0)
    plain = float(base(q, p).loss)
    out = DistillationLoss(base, weight=2.0)(q, p, targets=targets)
    query_term = (1 - 0.8) ** 2 + (0 - 0.6) ** 2  # row 1 has no target
    positive_term = ((0.0 + 0.0) + ((0.6 - 0.0) ** 2 + (0.8 - 1.0) ** 2)) / 2
    assert float(out.loss) == pytest.approx(plain + 2.0 * (query_term + positive_term), abs=1e-6)


def test_teacher_targets_are_each_rows_pivot_counterpart() -> None:
    from polyret.data.groups import Group
    from polyret.sampling import Batch
    from polyret.train.distill import Teacher

    class Recorder:  # an encoder that returns one-hot vectors and records what it was asked to encode, how long
        dim = 3

        def __init__(self) -> None:
            self.model, self.calls = torch.nn.Linear(1, 1), []

        def prefixed(self, texts, kind):  # type: ignore[no-untyped-def]
            return [f"{kind}: {t}" for t in texts]

        def token_ids(self, texts, max_length):  # type: ignore[no-untyped-def]
            self.calls.append((max_length, list(texts)))
            return texts

        def forward_ids(self, ids):  # type: ignore[no-untyped-def]
            import numpy as np

            return np.eye(3, dtype=np.float32)[: len(ids)]

    qa = Group("qa/1", "qa", {"de": "Wer?", "en": "Who?"}, {"de": "Er.", "en": "He."})
    parallel = Group("mkqa/2", "mkqa", {"ar": "من؟", "en": "Who is it?", "es": "¿Quién?"})
    native = Group("arcd/3", "arcd", {"ar": "ماذا؟"}, {"ar": "هذا."})
    batch = Batch(step=1, kind="cross", language_pair=None, query_langs=["de", "ar", "ar"],
                  positive_langs=["en", "es", "ar"], group_ids=["qa/1", "mkqa/2", "arcd/3"],
                  queries=["Wer?", "من؟", "ماذا؟"], positives=["He.", "¿Quién?", "هذا."])
    recorder = Recorder()
    teacher = Teacher(recorder, [qa, parallel, native], query_max_length=16, passage_max_length=32)
    assert teacher.texts(batch) == (["Who?", "Who is it?", None], ["He.", "Who is it?", None])
    targets = teacher.targets(batch, torch.device("cpu"))
    # truncated as the student is; each (role, text) encoded once
    assert recorder.calls == [(16, ["query: Who?", "query: Who is it?"]), (32, ["passage: He.", "passage: Who is it?"])]
    teacher.targets(batch, torch.device("cpu"))
    assert len(recorder.calls) == 2
    assert targets.query_mask.tolist() == [True, True, False] and targets.positive_mask.tolist() == [True, True, False]
    assert targets.queries[2].abs().sum() == 0  # no target: zeros, masked out


def test_training_with_distillation_adds_the_term(tiny_models: dict[str, Path], data_dir: Path,
                                                  tmp_path: Path) -> None:
    def first_loss(extra: list[str], out: Path) -> float:
        done = runner.invoke(app, ["train", "--model", str(tiny_models["bert"]), "--steps", "2", "--batch-size", "4",
                                   "--data-dir", str(data_dir), "--sources", "mkqa", "--languages", "ar,en,es",
                                   "--output", str(out), "--no-check-leakage", "--strategy", "x_y", *extra])
        assert done.exit_code == 0, done.output
        return json.loads((out / "log.jsonl").read_text().splitlines()[0])["loss"]

    plain = first_loss([], tmp_path / "plain")
    distilled = first_loss(["--distill-weight", "1.0"], tmp_path / "distilled")
    # same seed, same first batch: the distillation term is positive for every row that is not its own pivot
    assert distilled > plain
    # through the gradient cache, against a plain run with the same micro-batches (the same dropout draws)
    cached_plain = first_loss(["--grad-accum", "2"], tmp_path / "cached-plain")
    cached = first_loss(["--distill-weight", "1.0", "--grad-accum", "2"], tmp_path / "cached")
    assert cached > cached_plain and math.isfinite(cached)
    saved = json.loads((tmp_path / "distilled" / "polyret_model.json").read_text())["training"]["config"]
    assert (saved["distill_weight"], saved["distill_pivot"]) == (1.0, "en")
