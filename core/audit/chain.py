"""The hash chain's encoding: one fixed, unambiguous byte string per stored event.

Each event's ``hash`` is SHA-256 over a JSON array of every stored column, ``seq`` and
``prev_hash`` included, so that editing, renumbering or relinking a row changes what it hashes
to. JSON arrays of strings and integers leave no ambiguity between fields (no separator that a
field could contain). The first event links to :data:`GENESIS`; after pruning, the first
remaining event links to the hash a signed checkpoint records.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from core.audit.errors import AuditError
from core.db.engine import as_utc

GENESIS = "0" * 64
_RECORD_TAG = "lore-audit-event/1"
_CHECKPOINT_TAG = "lore-audit-checkpoint/1"


def iso_utc(value: datetime) -> str:
    """Microseconds, as both databases keep them, so a re-read timestamp hashes the same."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _check_json(value: Any, depth: int = 0) -> None:
    if depth > 32:
        raise AuditError("audit event details are nested too deeply")
    if isinstance(value, float) and not math.isfinite(value):
        raise AuditError("audit event details hold a non-finite number")
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                raise AuditError("audit event details have a key that is not a string")
            _check_json(item, depth + 1)
    elif isinstance(value, list | tuple):
        for item in value:
            _check_json(item, depth + 1)
    elif not isinstance(value, str | int | float | bool) and value is not None:
        raise AuditError(f"audit event details hold a {type(value).__name__}, not a JSON value")


def canonical_details(details: Mapping[str, Any]) -> str:
    """Sorted keys, no whitespace: the same details always give the same text."""
    _check_json(details)
    return json.dumps(dict(details), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


@dataclass(frozen=True)
class AuditRecord:
    """One stored event, as the table holds it."""

    seq: int
    at: datetime
    kind: str
    actor: str
    platform: str
    details: str  # canonical JSON
    prev_hash: str
    hash: str

    def computed_hash(self, seq: int | None = None) -> str:
        """The hash this row's contents give (under another ``seq``: to tell a renumbered row
        from an edited one)."""
        return event_hash(self.seq if seq is None else seq, self.at, self.kind, self.actor,
                          self.platform, self.details, self.prev_hash)

    @classmethod
    def from_row(cls, row: Any) -> AuditRecord:
        r = row._mapping
        return cls(int(r["seq"]), as_utc(r["at"]), r["kind"], r["actor"], r["platform"], r["details"],
                   r["prev_hash"], r["hash"])

    def as_json(self) -> dict[str, Any]:
        return {"seq": self.seq, "at": iso_utc(self.at), "kind": self.kind, "actor": self.actor,
                "platform": self.platform, "details": json.loads(self.details),
                "prev_hash": self.prev_hash, "hash": self.hash}


def event_hash(seq: int, at: datetime, kind: str, actor: str, platform: str, details: str,
               prev_hash: str) -> str:
    encoded = json.dumps([_RECORD_TAG, seq, iso_utc(at), kind, actor, platform, details, prev_hash],
                         separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(encoded.encode("utf-8")).hexdigest()


def checkpoint_signature(key: bytes, last_seq: int, last_hash: str, count: int, at: datetime) -> str:
    """HMAC-SHA256 over what a checkpoint asserts: without the key nobody can make one that
    hides rows deleted from the start of the chain."""
    message = json.dumps([_CHECKPOINT_TAG, last_seq, last_hash, count, iso_utc(at)], separators=(",", ":"))
    return hmac.new(key, message.encode("utf-8"), hashlib.sha256).hexdigest()


def signature_valid(key: bytes, last_seq: int, last_hash: str, count: int, at: datetime, signature: str) -> bool:
    return hmac.compare_digest(checkpoint_signature(key, last_seq, last_hash, count, at), signature)
