"""The root of every error Lore raises on purpose, and the core layer's subtree.

One root, :class:`LoreError`, so that the command line and the server catch Lore's own failures
once and print them in one line, while anything else (a bug) keeps its traceback. Each layer has
its own subtree (``core.errors``, ``retrieval.errors``, ``connectors.errors``, ``bot.errors``),
and inside it a class says what the failure means for the caller, not where it happened (as
httpx does: ``TransportError`` vs ``HTTPStatusError``):

    LoreError
    ├── CoreError                      core/: settings, secrets, the metadata database, ...
    │   ├── ConfigError                the settings are wrong: fix them, then start again
    │   ├── SecretStoreError           a secret cannot be read or written (core.secrets)
    │   ├── DatabaseError              the metadata database is unusable (core.db)
    │   └── ...
    ├── RetrievalError                 retrieval/: index, embedder, answer providers
    ├── SourceError                    connectors/: a source or its documents
    └── BotError                       bot/: chat surfaces, the command line

The message of every one of them is safe to show: it never holds a secret value or document
text (secrets are redacted where messages are built, see core.secrets.redaction).
"""

from __future__ import annotations


class LoreError(Exception):
    """Something Lore refused or could not do, explained in one line safe to show."""


class CoreError(LoreError):
    """A failure of what every layer shares: settings, secrets, the metadata database, leases,
    principals."""


class ConfigError(CoreError, ValueError):
    """The settings are wrong or incomplete: fix them and start again (exit status 2)."""
