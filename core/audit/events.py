"""What the audit log records: one :class:`AuditEvent` per thing a security review asks about.

The kinds, and the details each carries (JSON values; never a secret, never document text):

``question``         who asked (``actor`` = ``user:<email>``, or the platform account when the
                     identity is unknown), ``platform``; details: ``conversation`` (direct,
                     channel, group, ...), ``question`` or ``question_hmac`` (per
                     ``audit.question_text``), ``outcome``, ``retrieved`` / ``cited`` /
                     ``withheld`` (document ids; withheld: readable by the asker, kept out of a
                     shared conversation's answer by the audience policy), ``provider``,
                     ``latency_ms``
``feedback``         details: ``answer_ref``, ``helpful``
``private_answer``   a request to get an answer privately; details: ``conversation``
``sync``             one sync run of one connector (``actor`` = ``connector:<name>``); details:
                     ``kind``, ``status``, ``upserted`` / ``deleted`` / ``acl_changed``
                     (document ids), ``errors`` (count)
``admin``            an admin command, allowed or refused; details: ``command``, ``allowed``,
                     ``reason`` (why it was refused; "" when allowed), ``target``
``auth_failure``     a request that failed authentication (bad Slack signature, bad Teams
                     token); ``actor`` = what the request claimed, details: ``reason``,
                     ``remote``
``secret_failure``   a secret store read or write that failed; details: ``secret_name``,
                     ``operation``, ``error`` (the class name)
``prune``            written by core.audit.prune itself, in the transaction that removed the
                     oldest events; details: ``pruned`` (count), ``through_seq``,
                     ``older_than_days``, ``cutoff``

Details pass through the secret store's ``Redactor`` before they are stored (credential shapes
and secret values never reach a row, and a value under a key such as ``token``, ``secret`` or
``password`` is replaced whole: hence ``secret_name``, not ``secret``); the question text
itself comes from ``DatabaseAuditLog.question_details``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal, Protocol

AuditKind = Literal[
    "question", "feedback", "private_answer", "sync", "admin", "auth_failure", "secret_failure", "prune",
]

JsonValue = str | int | float | bool | None | list["JsonValue"] | dict[str, "JsonValue"]


@dataclass(frozen=True)
class AuditEvent:
    kind: AuditKind
    actor: str = ""  # "user:<email>", "slack:<team>:<user>", "connector:<name>", "operator", ...
    platform: str = ""  # slack, teams, webchat, cli; empty for the server's own work
    details: Mapping[str, JsonValue] = field(default_factory=dict)


class AuditSink(Protocol):
    """Where events go. ``record`` blocks (a database write): call it from a worker thread in
    async code. It raises ``core.audit.AuditError`` when the event could not be stored."""

    def record(self, event: AuditEvent) -> None: ...
