"""Tiny, randomly initialised encoders built locally (no network): BERT, XLM-R, DistilBERT, sentence-transformers.

Each has a real `tokenizers` tokenizer trained on a few sentences, so the whole load/tokenise/encode path runs
exactly as it would for a hub model.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors, trainers

CORPUS = [
    "The quick brown fox jumps over the lazy dog.",
    "Der schnelle braune Fuchs springt über den faulen Hund.",
    "El rápido zorro marrón salta sobre el perro perezoso.",
    "Быстрая коричневая лиса прыгает через ленивую собаку.",
    "敏捷的棕色狐狸跳过了懒狗。",
    "الثعلب البني السريع يقفز فوق الكلب الكسول.",
    "Where is the capital of France? Paris is the capital.",
    "How many points did the team score in the final game?",
] * 4


def _wordpiece_tokenizer() -> Tokenizer:
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    trainer = trainers.WordPieceTrainer(vocab_size=400, special_tokens=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"])
    tok.train_from_iterator(CORPUS, trainer)
    cls, sep = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B [SEP]", special_tokens=[("[CLS]", cls), ("[SEP]", sep)]
    )
    return tok


def _unigram_tokenizer() -> Tokenizer:
    tok = Tokenizer(models.Unigram())
    tok.normalizer = normalizers.NFKC()
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    trainer = trainers.UnigramTrainer(
        vocab_size=300, special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"], unk_token="<unk>"
    )
    tok.train_from_iterator(CORPUS, trainer)
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", pair="<s> $A </s> </s> $B </s>", special_tokens=[("<s>", 0), ("</s>", 2)]
    )
    return tok


def make_tiny_model(directory: Path, arch: str = "bert", seed: int = 0) -> Path:
    """Write a tiny random model of architecture `arch` (bert, xlm-roberta, distilbert) to `directory`."""
    from transformers import (
        BertConfig, BertModel, BertTokenizerFast, DistilBertConfig, DistilBertModel, DistilBertTokenizerFast,
        XLMRobertaConfig, XLMRobertaModel, XLMRobertaTokenizerFast,
    )

    torch.manual_seed(seed)
    directory.mkdir(parents=True, exist_ok=True)
    if arch == "xlm-roberta":
        tok = _unigram_tokenizer()
        fast = XLMRobertaTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>", sep_token="</s>",
                                       cls_token="<s>", unk_token="<unk>", pad_token="<pad>", mask_token="<mask>")
        config = XLMRobertaConfig(vocab_size=tok.get_vocab_size(), hidden_size=32, num_hidden_layers=2,
                                  num_attention_heads=2, intermediate_size=64, max_position_embeddings=130,
                                  pad_token_id=1, bos_token_id=0, eos_token_id=2)
        model = XLMRobertaModel(config, add_pooling_layer=False)
    else:
        tok = _wordpiece_tokenizer()
        kwargs = dict(tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]",
                      sep_token="[SEP]", mask_token="[MASK]")
        if arch == "distilbert":
            fast = DistilBertTokenizerFast(**kwargs)
            config = DistilBertConfig(vocab_size=tok.get_vocab_size(), dim=32, n_layers=2, n_heads=2,
                                      hidden_dim=64, max_position_embeddings=128, pad_token_id=0)
            model = DistilBertModel(config)
        elif arch == "bert":
            fast = BertTokenizerFast(**kwargs)
            config = BertConfig(vocab_size=tok.get_vocab_size(), hidden_size=32, num_hidden_layers=2,
                                num_attention_heads=2, intermediate_size=64, max_position_embeddings=128,
                                pad_token_id=0)
            model = BertModel(config, add_pooling_layer=False)
        else:
            raise ValueError(arch)
    fast.model_max_length = 128
    model.save_pretrained(directory)
    fast.save_pretrained(directory)
    return directory


def make_sentence_transformers_layout(directory: Path, pooling: str = "cls") -> Path:
    """Add sentence-transformers metadata (modules.json, pooling config, prompts) to a model directory."""
    modules = [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
    ]
    (directory / "modules.json").write_text(json.dumps(modules))
    (directory / "1_Pooling").mkdir(exist_ok=True)
    (directory / "1_Pooling" / "config.json").write_text(json.dumps({
        "word_embedding_dimension": 32, "pooling_mode_cls_token": pooling == "cls",
        "pooling_mode_mean_tokens": pooling == "mean",
    }))
    (directory / "sentence_bert_config.json").write_text(json.dumps({"max_seq_length": 64}))
    (directory / "config_sentence_transformers.json").write_text(json.dumps(
        {"prompts": {"query": "q: ", "document": "d: "}}))
    return directory
