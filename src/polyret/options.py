"""How comma-separated option values and YAML config files are read, in one place."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from polyret.errors import PolyretError


def comma_list(value: str) -> list[str]:
    """'ar, de,,zh' -> ['ar', 'de', 'zh']."""
    return [part.strip() for part in value.split(",") if part.strip()]


def option_list(option: str, value: str | None) -> list[str] | None:
    """A comma-separated CLI option: None when not given, an error naming the option when given but empty."""
    if value is None:
        return None
    parts = comma_list(value)
    if not parts:
        raise PolyretError(f"{option}: empty list")
    return parts


def name_path_pairs(option: str, specs: list[str], form: str = "NAME=DIR",
                    check_name: Callable[[str, str], None] | None = None) -> dict[str, Path]:
    """NAME=DIR arguments as {name: path}, in the order given; errors name the option and the argument.

    check_name(spec, name), if given, raises for a name the caller does not accept (before the duplicate check).
    """
    out: dict[str, Path] = {}
    for spec in specs:
        name, sep, path = spec.partition("=")
        name = name.strip()
        if not sep or not name or not path.strip():
            raise PolyretError(f"{option} {spec!r}: expected {form}")
        if check_name is not None:
            check_name(spec, name)
        if name in out:
            raise PolyretError(f"{option}: name {name!r} given twice")
        out[name] = Path(path.strip())
    return out


def read_yaml_options(path: Path) -> dict[str, Any]:
    """A YAML config file as {option: value}, dashes read as underscores; errors name the file."""
    try:
        loaded = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except OSError as err:
        raise PolyretError(f"{path}: cannot read config ({err.strerror})") from None
    except yaml.YAMLError as err:
        raise PolyretError(f"{path}: malformed YAML ({str(err).splitlines()[0]})") from None
    if not isinstance(loaded, dict):
        raise PolyretError(f"{path}: a config must be a mapping of option: value")
    return {str(k).replace("-", "_"): v for k, v in loaded.items()}
