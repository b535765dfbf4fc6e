"""``!who can read``: a document's access list, spelled out for a person.

The document is found in the metadata database by its URL, its source id or its document id;
its ACL is shown as stored: every clause must be satisfied (all of), each by any one of its
principals (any of), with each group's member count from the membership store.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import or_, select

from bot.admin.messages import NO_DOCUMENT, WHO_CAN_READ_USAGE
from core.acl import ORG_MEMBERS
from core.db import Database, DocumentRow
from core.memberships import members_of

MAX_MATCHES = 10


@dataclass(frozen=True)
class Found:
    id: str
    source: str
    source_id: str
    title: str
    url: str
    acl: list[list[str]]


def spellings(target: str) -> list[str]:
    """``target`` as typed and as a chat client may have rewritten it: Slack sends a pasted link
    as ``<url>`` or ``<url|label>`` with ``&``, ``<`` and ``>`` as entities."""
    typed = target.strip()
    out = [typed]
    if typed.startswith("<") and typed.endswith(">"):
        link = typed[1:-1].split("|", 1)[0]
        out.append(link.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&"))
    return [t for t in dict.fromkeys(out) if t]


def find_documents(db: Database, target: str) -> list[Found]:
    """Documents whose URL, source id or document id is ``target`` (at most MAX_MATCHES)."""
    wanted = spellings(target)
    if not wanted:
        return []
    with db.session() as s:
        rows = s.execute(
            select(DocumentRow)
            .where(or_(DocumentRow.url.in_(wanted), DocumentRow.source_id.in_(wanted), DocumentRow.id.in_(wanted)))
            .order_by(DocumentRow.id)
            .limit(MAX_MATCHES)
        ).scalars().all()
        return [Found(r.id, r.source, r.source_id, r.title, r.url, [list(c) for c in (r.acl or [])]) for r in rows]


def describe_principal(db: Database, principal: str) -> str:
    if principal == ORG_MEMBERS:
        return f"`{ORG_MEMBERS}` (every full member of the organisation)"
    if principal.startswith("group:"):
        count = len(members_of(db, principal))
        if principal.startswith("group:aad:"):
            # Entra groups also come from Teams at question time, beyond what a sync stored.
            return f"`{principal}` ({count} synced members, plus whom Microsoft Entra vouches for)"
        return f"`{principal}` ({count} {'member' if count == 1 else 'members'})"
    return f"`{principal}`"


def describe_acl(db: Database, acl: Sequence[Sequence[str]]) -> list[str]:
    clauses = [sorted(c) for c in acl if c]
    if not clauses:
        return ["Readable by nobody (the document has no access list)."]
    if len(clauses) == 1:
        return ["Readable by anyone who holds any of:", *(f"- {describe_principal(db, p)}" for p in clauses[0])]
    lines = [f"Readable only by someone who satisfies all {len(clauses)} of:"]
    for n, clause in enumerate(clauses, 1):
        lines.append(f"{n}. any of: " + ", ".join(describe_principal(db, p) for p in clause))
    return lines


def who_can_read(db: Database, target: str) -> str:
    if not target.strip():
        return WHO_CAN_READ_USAGE
    found = find_documents(db, target)
    if not found:
        return NO_DOCUMENT
    lines: list[str] = []
    if len(found) > 1:
        more = " (the first ten)" if len(found) == MAX_MATCHES else ""
        lines.append(f"{len(found)} documents match{more}:")
    for doc in found:
        if lines:
            lines.append("")
        lines.append(f"**{doc.title or doc.source_id}** (`{doc.id}`)")
        lines.append(f"{doc.source}: {doc.url or doc.source_id}")
        lines.extend(describe_acl(db, doc.acl))
    return "\n".join(lines)
