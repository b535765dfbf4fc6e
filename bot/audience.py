"""Who else will read an answer, and what the answer may therefore draw on.

* A direct conversation (or a private answer) uses the asker's own principals.
* A group or channel conversation of full members only uses ``org:members``: the answer may only
  cite documents every member of the company may read.
* A conversation that includes guests or people from another organisation may only use what
  every member of it can read. The principals held by *all* members are the safe filter: a
  document some member cannot read never qualifies. (It can miss a document that each member
  reaches through a different group; that costs recall, never confidentiality.) In practice
  this is usually nothing, and the reply says so and offers the private answer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bot.turn import Audience, PrincipalsFor
from core.acl import ORG_MEMBERS


@dataclass(frozen=True)
class SearchScope:
    principals: list[str]
    restricted_to_audience: bool
    note: str = ""  # shown with the answer when the audience narrowed it


OUTSIDERS_NOTE = (
    "This conversation includes guests or people from outside the organisation, so I can only "
    "use documents every one of them may read here. Ask me privately for an answer with your own access."
)
ORG_NOTE = "Answered from documents everyone in the organisation can read, because others can see this reply."


def scope_for(
    private: bool,
    asker_principals: Sequence[str],
    audience: Audience | None,
    principals_for: PrincipalsFor,
) -> SearchScope:
    if private or audience is None:
        return SearchScope(list(asker_principals), restricted_to_audience=False)
    if not audience.includes_outsiders:
        held = [ORG_MEMBERS] if ORG_MEMBERS in asker_principals else []
        return SearchScope(held, restricted_to_audience=True, note=ORG_NOTE)
    if not audience.members:
        return SearchScope([], restricted_to_audience=True, note=OUTSIDERS_NOTE)
    common = set(asker_principals)
    for member in audience.members:
        common &= set(principals_for(member))
    return SearchScope(sorted(common), restricted_to_audience=True, note=OUTSIDERS_NOTE)
