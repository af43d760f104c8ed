"""How comma-separated option and config values are read, in one place."""

from __future__ import annotations

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
