"""bolt's installation and OAuth state stores on the metadata database (multi-workspace installs).

Semantics follow slack_sdk's own stores, which bolt is written against:

- ids: an org-wide (Enterprise Grid) install is stored with ``team_id`` absent and found again
  whenever ``is_enterprise_install`` is true, whatever workspace of the org an event came from;
- the bot of a workspace/org is one row (``slack_bots``), the latest install or token rotation;
  installers are rows of their own (``slack_installations``), so revoking one user's token
  never loses the bot;
- ``find_installation`` without a user returns the latest installer's record; with a user,
  that user's record or None; either way with the workspace's current bot token.

Tokens go through ``core.tokens.TokenVault`` (secret store, or AES-GCM bound to the row's ids);
the tables hold references only. Database and secret store calls block, so each store method
runs them in a worker thread.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import secrets
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from slack_sdk.oauth.installation_store.async_installation_store import AsyncInstallationStore
from slack_sdk.oauth.installation_store.models.bot import Bot
from slack_sdk.oauth.installation_store.models.installation import Installation
from slack_sdk.oauth.state_store.async_state_store import AsyncOAuthStateStore
from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from core.db.engine import Database, as_utc
from core.db.tables import SlackBot, SlackInstallation, SlackOAuthState
from core.secrets.base import SecretStoreError
from core.tokens import TokenSlot, TokenVault

log = logging.getLogger("lore.slack.stores")


BOT_TOKEN = "slack-bot-token"
BOT_REFRESH_TOKEN = "slack-bot-refresh-token"
USER_TOKEN = "slack-user-token"
USER_REFRESH_TOKEN = "slack-user-refresh-token"


def _key(enterprise_id: str | None, team_id: str | None,
         is_enterprise_install: bool | None) -> tuple[str, str]:
    """The row key bolt means: an org-wide install has no team (slack_sdk does the same)."""
    if is_enterprise_install or not team_id:
        team_id = None
    return enterprise_id or "", team_id or ""


def _utc(value: datetime | None) -> datetime | None:
    return None if value is None else as_utc(value)


def _from_epoch(value: float | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value, tz=UTC)


def _to_epoch(value: datetime | None) -> int | None:
    value = _utc(value)
    return None if value is None else int(value.timestamp())


def _scopes(value: Sequence[str] | str | None) -> str:
    if not value:
        return ""
    return value if isinstance(value, str) else ",".join(value)


def _insert(db: Database) -> Any:
    return postgresql.insert if db.engine.dialect.name == "postgresql" else sqlite.insert


def _upsert(session: Session, db: Database, model: Any, keys: Sequence[str],
            values: dict[str, Any]) -> None:
    """Insert or update by the unique ``keys``, atomically (replicas may save concurrently)."""
    stmt = _insert(db)(model.__table__).values(**values)
    stmt = stmt.on_conflict_do_update(
        index_elements=list(keys),
        set_={k: stmt.excluded[k] for k in values if k not in keys},
    )
    session.execute(stmt)


class DatabaseInstallationStore(AsyncInstallationStore):
    def __init__(self, db: Database, vault: TokenVault,
                 logger: logging.Logger | None = None) -> None:
        self._db = db
        self._vault = vault
        self._logger = logger or log

    @property
    def logger(self) -> logging.Logger:
        return self._logger

    # -- save ---------------------------------------------------------------------------------

    async def async_save(self, installation: Installation) -> None:
        await asyncio.to_thread(self._save, installation)

    async def async_save_bot(self, bot: Bot) -> None:
        await asyncio.to_thread(self._save_bot, bot)

    def _save(self, i: Installation) -> None:
        ent, team = _key(i.enterprise_id, i.team_id, i.is_enterprise_install)
        user = i.user_id
        if not user:
            raise ValueError("a Slack installation without user_id cannot be stored")
        owner = (ent, team, user)
        refs = {
            "user_token_ref": self._seal(i.user_token, TokenSlot(USER_TOKEN, owner)),
            "user_refresh_token_ref": self._seal(
                i.user_refresh_token, TokenSlot(USER_REFRESH_TOKEN, owner)
            ),
        }
        bot = i.to_bot() if i.bot_token else None
        with self._db.session() as s:
            _upsert(s, self._db, SlackInstallation, ("enterprise_id", "team_id", "user_id"), {
                "enterprise_id": ent, "team_id": team, "user_id": user,
                "is_enterprise_install": bool(i.is_enterprise_install),
                "app_id": i.app_id, "enterprise_name": i.enterprise_name,
                "enterprise_url": i.enterprise_url, "team_name": i.team_name,
                "user_scopes": _scopes(i.user_scopes),
                **refs,
                "user_token_expires_at": _from_epoch(i.user_token_expires_at),
                "token_type": i.token_type,
                "installed_at": _from_epoch(i.installed_at),
            })
            if bot is not None:
                self._save_bot_in(s, bot)

    def _save_bot(self, bot: Bot) -> None:
        with self._db.session() as s:
            self._save_bot_in(s, bot)

    def _save_bot_in(self, s: Session, b: Bot) -> None:
        ent, team = _key(b.enterprise_id, b.team_id, b.is_enterprise_install)
        owner = (ent, team)
        token_ref = self._seal(b.bot_token, TokenSlot(BOT_TOKEN, owner))
        if token_ref is None:
            raise ValueError("a Slack bot without bot_token cannot be stored")
        _upsert(s, self._db, SlackBot, ("enterprise_id", "team_id"), {
            "enterprise_id": ent, "team_id": team,
            "is_enterprise_install": bool(b.is_enterprise_install),
            "app_id": b.app_id, "enterprise_name": b.enterprise_name, "team_name": b.team_name,
            "bot_id": b.bot_id, "bot_user_id": b.bot_user_id,
            "bot_scopes": _scopes(b.bot_scopes),
            "bot_token_ref": token_ref,
            "bot_refresh_token_ref": self._seal(
                b.bot_refresh_token, TokenSlot(BOT_REFRESH_TOKEN, owner)
            ),
            "bot_token_expires_at": _from_epoch(b.bot_token_expires_at),
            "installed_at": _from_epoch(b.installed_at),
        })

    def _seal(self, value: str | None, slot: TokenSlot) -> str | None:
        return self._vault.seal(value, slot) if value else None

    def _open(self, ref: str | None, slot: TokenSlot) -> str | None:
        return self._vault.open(ref, slot) if ref else None

    # -- find ---------------------------------------------------------------------------------

    async def async_find_bot(
        self, *, enterprise_id: str | None, team_id: str | None,
        is_enterprise_install: bool | None = False,
    ) -> Bot | None:
        key = _key(enterprise_id, team_id, is_enterprise_install)
        return await asyncio.to_thread(self._find_bot, key)

    def _find_bot(self, key: tuple[str, str]) -> Bot | None:
        with self._db.session() as s:
            row = self._bot_row(s, key)
            return None if row is None else self._bot(row)

    @staticmethod
    def _bot_row(s: Session, key: tuple[str, str]) -> SlackBot | None:
        return s.execute(
            select(SlackBot).where(SlackBot.enterprise_id == key[0], SlackBot.team_id == key[1])
        ).scalar_one_or_none()

    def _bot(self, row: SlackBot) -> Bot:
        owner = (row.enterprise_id, row.team_id)
        token = self._open(row.bot_token_ref, TokenSlot(BOT_TOKEN, owner))
        assert token is not None  # the column is NOT NULL
        return Bot(
            app_id=row.app_id,
            enterprise_id=row.enterprise_id or None,
            enterprise_name=row.enterprise_name,
            team_id=row.team_id or None,
            team_name=row.team_name,
            bot_token=token,
            bot_id=row.bot_id,
            bot_user_id=row.bot_user_id,
            bot_scopes=row.bot_scopes,
            bot_refresh_token=self._open(
                row.bot_refresh_token_ref, TokenSlot(BOT_REFRESH_TOKEN, owner)
            ),
            bot_token_expires_at=_to_epoch(row.bot_token_expires_at),
            is_enterprise_install=row.is_enterprise_install,
            installed_at=_utc(row.installed_at).timestamp(),  # type: ignore[union-attr]
        )

    async def async_find_installation(
        self, *, enterprise_id: str | None, team_id: str | None, user_id: str | None = None,
        is_enterprise_install: bool | None = False,
    ) -> Installation | None:
        key = _key(enterprise_id, team_id, is_enterprise_install)
        return await asyncio.to_thread(self._find_installation, key, user_id)

    def _find_installation(self, key: tuple[str, str], user_id: str | None) -> Installation | None:
        query = select(SlackInstallation).where(
            SlackInstallation.enterprise_id == key[0], SlackInstallation.team_id == key[1]
        )
        if user_id is not None:
            query = query.where(SlackInstallation.user_id == user_id)
        query = query.order_by(SlackInstallation.installed_at.desc(),
                               SlackInstallation.id.desc()).limit(1)
        with self._db.session() as s:
            row = s.execute(query).scalar_one_or_none()
            if row is None:
                return None
            bot_row = self._bot_row(s, key)
            bot = None if bot_row is None else self._bot(bot_row)
        owner = (row.enterprise_id, row.team_id, row.user_id)
        return Installation(
            app_id=row.app_id or (bot.app_id if bot else None),
            enterprise_id=row.enterprise_id or None,
            enterprise_name=row.enterprise_name,
            enterprise_url=row.enterprise_url,
            team_id=row.team_id or None,
            team_name=row.team_name,
            bot_token=bot.bot_token if bot else None,
            bot_id=bot.bot_id if bot else None,
            bot_user_id=bot.bot_user_id if bot else None,
            bot_scopes=bot.bot_scopes if bot else "",
            bot_refresh_token=bot.bot_refresh_token if bot else None,
            bot_token_expires_at=bot.bot_token_expires_at if bot else None,
            user_id=row.user_id,
            user_token=self._open(row.user_token_ref, TokenSlot(USER_TOKEN, owner)),
            user_scopes=row.user_scopes,
            user_refresh_token=self._open(
                row.user_refresh_token_ref, TokenSlot(USER_REFRESH_TOKEN, owner)
            ),
            user_token_expires_at=_to_epoch(row.user_token_expires_at),
            is_enterprise_install=row.is_enterprise_install,
            token_type=row.token_type,
            installed_at=_utc(row.installed_at).timestamp(),  # type: ignore[union-attr]
        )

    # -- delete (app_uninstalled, tokens_revoked) -----------------------------------------------

    async def async_delete_bot(self, *, enterprise_id: str | None, team_id: str | None) -> None:
        # No is_enterprise_install here (bolt passes none): an org-wide install's bot is keyed
        # with team "" and bolt calls with team_id None for it, as slack_sdk's stores expect.
        await asyncio.to_thread(self._delete_bot, (enterprise_id or "", team_id or ""))

    def _delete_bot(self, key: tuple[str, str]) -> None:
        with self._db.session() as s:
            rows = s.execute(
                delete(SlackBot)
                .where(SlackBot.enterprise_id == key[0], SlackBot.team_id == key[1])
                .returning(SlackBot.bot_token_ref, SlackBot.bot_refresh_token_ref)
            ).all()
        self._discard(ref for row in rows for ref in row)

    async def async_delete_installation(
        self, *, enterprise_id: str | None, team_id: str | None, user_id: str | None = None,
    ) -> None:
        key = (enterprise_id or "", team_id or "")
        await asyncio.to_thread(self._delete_installation, key, user_id)

    def _delete_installation(self, key: tuple[str, str], user_id: str | None) -> None:
        stmt = delete(SlackInstallation).where(
            SlackInstallation.enterprise_id == key[0], SlackInstallation.team_id == key[1]
        )
        if user_id is not None:
            stmt = stmt.where(SlackInstallation.user_id == user_id)
        with self._db.session() as s:
            rows = s.execute(stmt.returning(
                SlackInstallation.user_token_ref, SlackInstallation.user_refresh_token_ref
            )).all()
        self._discard(ref for row in rows for ref in row)

    async def async_delete_all(self, *, enterprise_id: str | None, team_id: str | None) -> None:
        await self.async_delete_bot(enterprise_id=enterprise_id, team_id=team_id)
        await self.async_delete_installation(enterprise_id=enterprise_id, team_id=team_id)

    def _discard(self, refs: Any) -> None:
        for ref in refs:
            if ref:
                try:
                    self._vault.discard(ref)
                except SecretStoreError as exc:  # the rows are gone; a leftover secret is not fatal
                    self._logger.warning("could not delete a revoked Slack token's secret: %s",
                                         exc.__class__.__name__)

    def __repr__(self) -> str:
        return f"<DatabaseInstallationStore {self._vault!r}>"


class DatabaseOAuthStateStore(AsyncOAuthStateStore):
    """OAuth ``state`` values: random, single use, expiring (``expiration_seconds``, 10 minutes
    by default, as slack_sdk's stores). Only their SHA-256 is stored."""

    def __init__(self, db: Database, *, expiration_seconds: int = 600,
                 logger: logging.Logger | None = None,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        if expiration_seconds < 1:
            raise ValueError("expiration_seconds must be at least 1")
        self._db = db
        self._expiration = timedelta(seconds=expiration_seconds)
        self._logger = logger or log
        self._clock = clock

    @property
    def logger(self) -> logging.Logger:
        return self._logger

    @staticmethod
    def _hash(state: str) -> str:
        return hashlib.sha256(state.encode("utf-8")).hexdigest()

    async def async_issue(self, *args: Any, **kwargs: Any) -> str:
        state = secrets.token_urlsafe(32)
        await asyncio.to_thread(self._issue, self._hash(state))
        return state

    def _issue(self, state_hash: str) -> None:
        now = self._clock()
        with self._db.session() as s:
            s.execute(delete(SlackOAuthState).where(SlackOAuthState.expires_at <= now))
            s.add(SlackOAuthState(state_hash=state_hash, expires_at=now + self._expiration))

    async def async_consume(self, state: str) -> bool:
        if not state or len(state) > 512:
            return False
        return await asyncio.to_thread(self._consume, self._hash(state))

    def _consume(self, state_hash: str) -> bool:
        # One DELETE decides: of two requests with the same state, one deletes the row.
        with self._db.session() as s:
            deleted = s.execute(
                delete(SlackOAuthState)
                .where(SlackOAuthState.state_hash == state_hash,
                       SlackOAuthState.expires_at > self._clock())
                .returning(SlackOAuthState.state_hash)
            ).all()
        return len(deleted) == 1

    def __repr__(self) -> str:
        return "<DatabaseOAuthStateStore>"
