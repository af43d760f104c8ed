"""Training sources (one reader module per source or shared format, listed in `registry`) and the public homes
of every data file (`homes`, read from sources.json)."""

from polyret.data.sources.homes import GITHUB_RAW, expected_sha256, registry, upstream_url

__all__ = ["GITHUB_RAW", "expected_sha256", "registry", "upstream_url"]
