"""Reading fields of Confluence's JSON: nested keys that may be missing, lists of objects,
ISO 8601 instants (UTC when no zone is written) and a user's display name."""

from __future__ import annotations

import re
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


_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")


def author(user: Any) -> str | None:
    """A user object's display name (whitespace collapsed), or None when it gives none: an email
    address or an account id, which Confluence shows in place of some names, is never taken for
    a person's name."""
    if not isinstance(user, Mapping) or user.get("type") == "anonymous":
        return None
    ids = {str(user[k]).strip().lower() for k in ("accountId", "email", "username", "userKey") if user.get(k)}
    for key in ("displayName", "publicName"):
        value = user.get(key)
        name = " ".join(value.split()) if isinstance(value, str) else ""
        if name and name.lower() not in ids and not _EMAIL.match(name):
            return name
    return None


def owner(item: Mapping[str, Any]) -> str | None:
    """Whom to ask about a page or attachment: its last editor (``version.by``), else its
    creator (``history.createdBy``), by display name."""
    return author(dig(item, "version", "by")) or author(dig(item, "history", "createdBy"))
