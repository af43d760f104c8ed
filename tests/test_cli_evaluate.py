"""`polyret evaluate` end to end on a tiny model and a tiny generic benchmark, checked by brute force."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from polyret.cli import app
from polyret.data.generic import load_generic
from polyret.evaluate.config import SAVED_CONFIG, load_config, read_saved_config
from polyret.model.encoder import Encoder, EncoderOptions

runner = CliRunner()





def brute_force(q: np.ndarray, c: np.ndarray, q_lang: list[str], c_lang: list[str], rel: list[set[int]]) -> dict:
    """Independent reference: full stable sort of every query's scores."""
    scores = q @ c.T
    aps, dists, pair = [], [], {}
    for i in range(len(q)):
        order = np.argsort(-scores[i], kind="stable")
        ranks = sorted(int(np.where(order == j)[0][0]) + 1 for j in rel[i])
        aps.append(np.mean([(k + 1) / r for k, r in enumerate(ranks)]))
        dists.append(ranks[-1] - ranks[0])
        for lang in set(c_lang):
            sub = [j for j in order if c_lang[j] == lang]
            target = [j for j in rel[i] if c_lang[j] == lang][0]
            pair.setdefault((q_lang[i], lang), []).append(1.0 / (sub.index(target) + 1))
    langs = sorted(set(c_lang))
    mo = np.mean([np.mean(pair[(a, a)]) for a in langs])
    cr = np.mean([np.mean(pair[(a, b)]) for a in langs for b in langs if a != b])
    by_lang = {a: np.mean([d for d, ql in zip(dists, q_lang) if ql == a]) for a in langs}
    return {"mul_map": float(np.mean(aps)), "mo_map": float(mo), "cr_map": float(cr),
            "rank_distance": float(np.mean(list(by_lang.values())))}


def test_evaluate_matches_brute_force(tiny_models: dict[str, Path], parallel_bench: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    args = ["evaluate", "--model", str(tiny_models["xlm-roberta"]), "--benchmark", str(parallel_bench),
            "--output", str(out), "--trec-run", "--query-prefix", "query: ", "--passage-prefix", "passage: "]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    res = json.loads((out / "results.json").read_text())
    assert (out / "pair_map.png").stat().st_size > 1000
    assert len((out / "run.trec").read_text().splitlines()) == 9 * 12  # every candidate, top_k >= pool

    bench = load_generic(parallel_bench)
    enc = Encoder(EncoderOptions(model=str(tiny_models["xlm-roberta"]), query_prefix="query: ",
                                 passage_prefix="passage: "))
    q = enc.encode([x.text for x in bench.queries], "query")
    c = enc.encode([x.text for x in bench.candidates], "passage")
    cid = {x.id: i for i, x in enumerate(bench.candidates)}
    expected = brute_force(q, c, [x.lang for x in bench.queries], [x.lang for x in bench.candidates],
                           [{cid[d] for d in bench.qrels[x.id]} for x in bench.queries])
    for key, value in expected.items():
        assert res["metrics"][key] == pytest.approx(value, abs=1e-6), key
    assert res["benchmark"]["files_sha256"].keys() == {"corpus.jsonl", "queries.jsonl", "qrels.tsv"}
    assert res["model"]["fingerprint"] and res["code_version"]["polyret"]
    assert res["options"]["encoder"]["query_prefix"] == "query: "
    assert res["timing"]["texts_encoded"] == 21

    # a second run of the same model encodes nothing (cache), and refuses to overwrite without --overwrite
    again = runner.invoke(app, args)
    assert again.exit_code == 2 and "already holds results.json" in again.output
    before = (out / "results.json").read_text()
    assert json.loads(before) == res
    rerun = runner.invoke(app, args + ["--overwrite"])
    assert rerun.exit_code == 0, rerun.output
    assert json.loads((out / "results.json").read_text())["timing"]["texts_encoded"] == 0


@pytest.mark.parametrize(("extra", "message"), [
    (["--languages", "xx"], "unknown language code 'xx'"),
    (["--articles", "3"], "--articles applies to the named benchmarks only"),
    (["--pooling", "max"], "unknown pooling 'max'"),
])
def test_bad_options_exit_2_without_output(tiny_models: dict[str, Path], parallel_bench: Path, tmp_path: Path,
                                           extra: list[str], message: str) -> None:
    out = tmp_path / "out"
    result = runner.invoke(app, ["evaluate", "--model", str(tiny_models["bert"]), "--benchmark",
                                 str(parallel_bench), "--output", str(out), *extra])
    assert result.exit_code == 2
    assert message in result.output and len(result.output.strip().splitlines()) <= 2
    assert not (out / "results.json").exists()


def test_config_file_flags_override_and_saved_config_repeats_the_run(tiny_models: dict[str, Path],
                                                                     parallel_bench: Path, tmp_path: Path) -> None:
    config = tmp_path / "eval.yaml"
    config.write_text(yaml.safe_dump({"model": str(tiny_models["bert"]), "benchmark": str(parallel_bench),
                                      "output": str(tmp_path / "from-file"), "top-k": 50, "languages": "en,de",
                                      "query_prefix": "q: "}))
    out = tmp_path / "out"
    result = runner.invoke(app, ["evaluate", "--config", str(config), "--output", str(out), "--top-k", "20"])
    assert result.exit_code == 0, result.output
    assert not (tmp_path / "from-file").exists()  # the flag beat the file
    res = json.loads((out / "results.json").read_text())
    assert res["options"]["top_k"] == 20 and res["options"]["languages"] == ["en", "de"]
    assert res["options"]["encoder"]["query_prefix"] == "q: " and res["benchmark"]["languages"] == ["de", "en"]
    assert "model" not in res["options"] and "output" not in res["options"]  # the options keep their old shape

    saved = yaml.safe_load((out / SAVED_CONFIG).read_text())
    assert saved["output"] == str(out) and saved["top_k"] == 20 and saved["model"] == str(tiny_models["bert"])
    assert read_saved_config(out) == load_config(config, {"output": out, "top_k": 20})
    again = runner.invoke(app, ["evaluate", "--config", str(out / SAVED_CONFIG), "--output", str(tmp_path / "again")])
    assert again.exit_code == 0, again.output
    repeat = json.loads((tmp_path / "again" / "results.json").read_text())
    assert repeat["metrics"] == res["metrics"] and repeat["options"] == res["options"]


@pytest.mark.parametrize(("content", "message"), [
    ({"top_k": 3}, "option 'top_k': Input should be greater than or equal to 10"),
    ({"pooling": "max"}, "option 'pooling': unknown pooling 'max'"),
    ({"dtype": "float8"}, "option 'dtype': unknown dtype 'float8'"),
    ({"robustness": True, "robustness_rates": "0,2"}, "option 'robustness_rates': 2.0 is outside [0, 1]"),
    ({"batchsize": 4}, "option 'batchsize': Extra inputs are not permitted"),
    ({"transform_source": "tatoeba"}, "--transform-source / --allow-oracle need --transform"),
    (["not", "a", "mapping"], "a config must be a mapping"),
])
def test_config_errors_name_the_file_and_field(tmp_path: Path, content: object, message: str) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text(yaml.safe_dump(content))
    result = runner.invoke(app, ["evaluate", "--config", str(config), "--output", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert f"{config}: " in result.output and message in " ".join(result.output.split())
    assert not (tmp_path / "out").exists()


def test_output_is_required() -> None:
    result = runner.invoke(app, ["evaluate", "--model", "embedded:me5-small"])
    assert result.exit_code == 2 and "option 'output': required" in result.output
