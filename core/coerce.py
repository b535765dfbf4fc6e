"""Setting values from a TOML file or the environment, into a settings dataclass's typed fields.

A field's annotation says how a value is read: ``bool`` (true/false, yes/no, on/off, 1/0),
``int``, ``float``, ``str``, ``Path``, ``list[str]`` (a TOML array, or comma-separated text),
``dict[str, str]`` (a TOML table) and ``Literal[...]`` (one of its values, in any case).
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Collection
from pathlib import Path
from typing import Any, Literal

from core.errors import ConfigError


def setting_names(section: Any) -> list[str]:
    return [f.name for f in dataclasses.fields(section)]


def one_of(value: Any, allowed: Collection[str], where: str) -> str:
    """``value`` as spelled in ``allowed`` (case and surrounding spaces aside), else a
    ConfigError that lists the allowed values."""
    text = str(value).strip().lower()
    for option in allowed:
        if option.lower() == text:
            return option
    raise ConfigError(f"{where}: expected one of {', '.join(allowed) or '(none)'}, got {value!r}")


def _coerce(value: Any, annotation: Any, where: str) -> Any:
    target = typing.get_origin(annotation) or annotation
    if target is Literal:
        return one_of(value, typing.get_args(annotation), where)
    try:
        if target is bool:
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in {"1", "true", "yes", "on"}:
                return True
            if text in {"0", "false", "no", "off"}:
                return False
            raise ValueError(f"expected true or false, got {value!r}")
        if target is dict:
            if not isinstance(value, dict):
                raise ValueError(f"expected a table, got {value!r}")
            return {str(k): str(v) for k, v in value.items()}
        if target is list:
            if isinstance(value, list):
                return [str(v) for v in value]
            return [v.strip() for v in str(value).split(",") if v.strip()]
        if target is Path:
            return Path(str(value))
        if target is str:
            return str(value)
        if target in (int, float):
            if isinstance(value, bool):
                raise ValueError(f"expected a number, got {value!r}")
            try:
                return target(value)
            except (TypeError, ValueError):
                kind = "an integer" if target is int else "a number"
                raise ValueError(f"expected {kind}, got {value!r}") from None
    except ValueError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    raise ConfigError(f"{where}: unsupported setting type {annotation!r}")


def apply_values(section: Any, values: dict[str, Any], where: str) -> None:
    """Set each of ``values`` on ``section``; ``where`` (the file and the section) prefixes
    errors."""
    names = setting_names(section)
    for key, value in values.items():
        if key not in names:
            raise ConfigError(f"{where}: unknown setting {key!r} (known: {', '.join(sorted(names))})")
        set_value(section, key, value, f"{where}.{key}")


def set_value(section: Any, key: str, value: Any, where: str) -> None:
    """Set one setting, read as its field's annotation says; ``where`` names it in errors."""
    setattr(section, key, _coerce(value, typing.get_type_hints(type(section))[key], where))
