"""polyret: language-agnostic multilingual dense retrieval, trained and measured."""

__version__ = "0.1.0"
