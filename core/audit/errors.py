"""The audit log's errors (a subtree of core.errors.CoreError)."""

from __future__ import annotations

from core.errors import CoreError


class AuditError(CoreError):
    """An event could not be stored, or the log could not be read, pruned or exported. The
    message never holds an event's details (they may be personal data) nor the audit key."""


class AuditKeyError(AuditError):
    """The audit key secret (``audit.key_secret``) is missing or not base64 of 32 bytes."""
