"""The chat surfaces Lore can serve: one line per surface.

Adding a surface (Teams, say) is a new package under ``bot/`` whose ``build(ctx)`` returns its
:class:`~bot.surface.Surface` when the configuration enables it (None otherwise), plus one line
here. The server builds every entry and names none of them.
"""

from __future__ import annotations

from bot.slack import surface as slack
from bot.surface import SurfaceFactory
from bot.teams import surface as teams
from bot.webchat import surface as webchat

SURFACES: dict[str, SurfaceFactory] = {
    "webchat": webchat.build,
    "slack": slack.build,
    "teams": teams.build,
}
