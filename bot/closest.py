"""The pages offered when nothing answers a question (issue 11): the closest permitted pages
and who the sources record as their owners.

Built only from the hits of the asker's own ACL-filtered search (in a shared conversation, the
search narrowed to what the audience may read), so a page, a title or a person's name from a
page the asker cannot read can never appear here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from bot.citation_dates import DocumentFacts
from bot.turn import ClosestPage
from retrieval.index.base import Hit

MAX_CLOSEST = 3


def closest_pages(
    hits: Sequence[Hit], facts: Mapping[str, DocumentFacts], limit: int = MAX_CLOSEST
) -> tuple[ClosestPage, ...]:
    """The first ``limit`` distinct documents of the ranked hits, each with its best chunk's
    heading path, last-updated date and owner."""
    pages: dict[str, ClosestPage] = {}
    for hit in hits:
        if hit.document_id in pages:
            continue
        fact = facts.get(hit.document_id)
        pages[hit.document_id] = ClosestPage(
            title=hit.title,
            url=hit.url,
            source_id=hit.source_id,
            heading_path=hit.heading_path,
            updated_at=fact.updated_at if fact else None,
            owner=fact.owner if fact else None,
        )
        if len(pages) == limit:
            break
    return tuple(pages.values())
