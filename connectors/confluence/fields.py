"""Reading fields of Confluence's JSON: nested keys that may be missing, lists of objects,
ISO 8601 instants (UTC when no zone is written) and a user's display name."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any


def dig(data: Any, *keys: str) -> Any:
    """``data[k1][k2]...``, or None as soon as a level is missing or not an object."""
    for key in keys:
        if not isinstance(data, Mapping):
            return None
        data = data.get(key)
    return data


def objects(value: Any) -> list[Mapping[str, Any]]:
    """The objects of a JSON list (anything else in it, or a non-list, is ignored)."""
    return [v for v in value if isinstance(v, Mapping)] if isinstance(value, list) else []


def parse_instant(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def author(user: Any) -> str | None:
    if not isinstance(user, Mapping):
        return None
    name = user.get("displayName") or user.get("publicName")
    return str(name) if name else None
