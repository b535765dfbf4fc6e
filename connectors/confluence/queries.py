"""What the connector asks Confluence for: CQL over the spaces in scope, and the expansions
that bring a page's body, version, space, ancestors, labels and own view restriction along, so
that an unchanged wiki costs one search request per run.

CQL dates have minute granularity and are read in the *API user's profile time zone* (Cloud),
so an instant is converted to that zone (``cql_timezone``) and floored to the minute, after
going back by the overlap window: the last minutes are read again (unchanged documents write
nothing) rather than missed.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta, tzinfo

RESTRICTION_EXPAND = "restrictions.read.restrictions.user,restrictions.read.restrictions.group"
PAGE_EXPAND = f"space,ancestors,metadata.labels,{RESTRICTION_EXPAND}"
CONTENT_EXPAND = f"body.storage,version,history,container,{PAGE_EXPAND}"
LISTING_LIMIT = 100  # results per request of a listing without bodies
CQL_DATE = "%Y/%m/%d %H:%M"


def quote(value: str) -> str:
    """A CQL string literal."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def in_spaces(keys: Sequence[str]) -> str:
    return f"space in ({', '.join(quote(k) for k in keys)})"


def content_cql(
    types: Sequence[str],
    keys: Sequence[str],
    *,
    since: datetime | None = None,
    overlap: timedelta = timedelta(0),
    zone: tzinfo = UTC,
) -> str:
    """Content of ``types`` in the spaces ``keys``, oldest change first; with ``since``, only
    what changed from ``since - overlap`` on (a minute in ``zone``)."""
    cql = f"type in ({', '.join(types)}) and {in_spaces(keys)}"
    if since is not None:
        local = (since - overlap).astimezone(zone)
        cql += f' and lastmodified >= "{local.strftime(CQL_DATE)}"'
    return cql + " order by lastmodified asc"
