"""Synthetic dialectal noise: rule tables per language (package data) and a deterministic engine.

`noise_text(text, language, dialect, rate, seed)` is the one entry point; everything else is how tables are read,
how dialect specs are parsed and how the noise is measured.
"""

from polyret.noise.engine import Firing, NoiseResult, noise_text
from polyret.noise.tables import FAMILIES, available, dialect_table, language_table, parse_spec

__all__ = ["FAMILIES", "Firing", "NoiseResult", "available", "dialect_table", "language_table", "noise_text",
           "parse_spec"]
