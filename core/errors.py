"""The root of every error Lore raises on purpose, and the core layer's subtree.

One root, :class:`LoreError`, so that the command line and the server catch Lore's own failures
once and print them in one line, while anything else (a bug) keeps its traceback. Each layer has
its own subtree (``core.errors``, ``retrieval.errors``, ``connectors.errors``, ``bot.errors``),
and inside it a class says what the failure means for the caller, not where it happened (as
httpx does: ``TransportError`` vs ``HTTPStatusError``):

    LoreError
    ├── CoreError                      core/: what every layer shares
    │   ├── ConfigError                the settings are wrong: fix them, then start again
    │   ├── SecretStoreError           a secret cannot be read or written (core.secrets)
    │   │   ├── InvalidSecretName      not a valid secret name
    │   │   ├── SecretNotFound         a mandatory secret is not set
    │   │   └── SecretStoreUnavailable the vault cannot be reached and no cached value is
    │   │                              young enough to serve: fail closed
    │   ├── TokenVaultError            a stored token cannot be sealed or opened (core.tokens)
    │   │   ├── TokenKeyError          its encryption key secret is missing or malformed
    │   │   └── TokenDecryptionError   a stored reference is corrupt, moved or sealed elsewhere
    │   ├── DatabaseError              the metadata database is unusable (core.db)
    │   ├── AuditError                 an audit event cannot be stored, or the log read (core.audit)
    │   │   └── AuditKeyError          the audit key secret is missing or malformed
    │   ├── LeaseError                 the database could not answer a lease operation
    │   ├── DeduplicationError         the event store could not answer (core.dedupe)
    │   ├── PrincipalError             not a valid principal (core.acl)
    │   ├── MembershipError            memberships a source may not write (core.memberships)
    │   └── DocumentRefused            a document that must not be indexed (core.models)
    ├── RetrievalError                 retrieval/: index, embedder, answer providers
    │                                  (subtree in retrieval.errors)
    ├── SourceError                    connectors/: a source or its documents (connectors.errors);
    │                                  connectors.sync's SyncStopped, LeaseLost and LeaseHeld
    └── BotError                       bot/: chat surfaces, the command line (bot.errors)

Where callers catch a builtin (``ValueError``, ``LookupError``, ``RuntimeError``), the class
keeps it as a second base.

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
