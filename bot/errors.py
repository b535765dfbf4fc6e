"""The application layer's errors (see core.errors for the whole tree).

    BotError
    └── CliError            the command was used wrongly (arguments, a missing connector)
"""

from __future__ import annotations

from core.errors import LoreError


class BotError(LoreError):
    """The application (a chat surface, the server, the command line) refused or failed."""


class CliError(BotError):
    """A command used wrongly: printed without a traceback, exit status 2."""
