"""bolt's installation and OAuth state stores on the metadata database (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import base64
import os
from datetime import UTC, datetime, timedelta

import pytest
from slack_sdk.oauth.installation_store.models.bot import Bot
from slack_sdk.oauth.installation_store.models.installation import Installation
from sqlalchemy import select, text

from bot.slack.stores import DatabaseInstallationStore, DatabaseOAuthStateStore
from core.db import Database
from core.db.tables import SlackBot, SlackInstallation, SlackOAuthState
from core.secrets import EnvSecretStore
from core.tokens import TokenDecryptionError, TokenVault
from tests.fakes.memory_secrets import MemorySecretStore

BOT = "xoxb-111-222-botTokenAAAAAAAAAAAAAAA"
BOT2 = "xoxb-111-222-botTokenBBBBBBBBBBBBBBB"
USER = "xoxp-111-222-333-userTokenAAAAAAAAAAA"
REFRESH = "xoxe-1-refreshTokenAAAAAAAAAAAAAAAAAA"


def _env_vault() -> TokenVault:
    key = base64.b64encode(os.urandom(32)).decode()
    return TokenVault(EnvSecretStore({"LORE_SECRET_SLACK_TOKEN_KEY": key}))


@pytest.fixture
def store(database: Database) -> DatabaseInstallationStore:
    return DatabaseInstallationStore(database, _env_vault())


def _install(*, team: str | None = "T1", enterprise: str | None = None, user: str = "U1",
             bot_token: str | None = BOT, user_token: str | None = None,
             org_wide: bool = False, installed_at: float | None = None,
             **extra: object) -> Installation:
    return Installation(
        app_id="A1", enterprise_id=enterprise, team_id=team, team_name="Acme",
        bot_token=bot_token, bot_id="B1" if bot_token else None,
        bot_user_id="UB1" if bot_token else None,
        bot_scopes="app_mentions:read,chat:write", user_id=user, user_token=user_token,
        user_scopes="search:read" if user_token else "", is_enterprise_install=org_wide,
        installed_at=installed_at, **extra,  # type: ignore[arg-type]
    )


def _all_text(database: Database) -> str:
    with database.engine.connect() as conn:
        rows = [*conn.execute(text("SELECT * FROM slack_bots")),
                *conn.execute(text("SELECT * FROM slack_installations"))]
    return repr(rows)


async def test_round_trip_and_no_token_in_the_database(
    store: DatabaseInstallationStore, database: Database
) -> None:
    expires = int(datetime.now(UTC).timestamp()) + 43200
    await store.async_save(_install(user_token=USER, bot_refresh_token=REFRESH,
                                    bot_token_expires_at=expires))
    bot = await store.async_find_bot(enterprise_id=None, team_id="T1")
    assert bot is not None
    assert (bot.bot_token, bot.bot_id, bot.bot_user_id) == (BOT, "B1", "UB1")
    assert list(bot.bot_scopes) == ["app_mentions:read", "chat:write"]
    assert bot.bot_refresh_token == REFRESH and bot.bot_token_expires_at == expires
    assert bot.team_id == "T1" and bot.enterprise_id is None and not bot.is_enterprise_install

    found = await store.async_find_installation(enterprise_id=None, team_id="T1")
    assert found is not None
    assert (found.bot_token, found.user_token, found.user_id) == (BOT, USER, "U1")
    assert list(found.user_scopes or []) == ["search:read"]
    assert found.team_name == "Acme" and found.app_id == "A1"

    dump = _all_text(database)
    for secret in (BOT, USER, REFRESH, "xox"):
        assert secret not in dump


async def test_unknown_workspace(store: DatabaseInstallationStore) -> None:
    assert await store.async_find_bot(enterprise_id=None, team_id="T404") is None
    assert await store.async_find_installation(enterprise_id=None, team_id="T404") is None


async def test_reinstall_updates_in_place(
    store: DatabaseInstallationStore, database: Database
) -> None:
    await store.async_save(_install(installed_at=1000.0))
    await store.async_save(_install(bot_token=BOT2, installed_at=2000.0))
    with database.session() as s:
        assert len(s.execute(select(SlackBot)).all()) == 1
        assert len(s.execute(select(SlackInstallation)).all()) == 1
    bot = await store.async_find_bot(enterprise_id=None, team_id="T1")
    assert bot is not None and bot.bot_token == BOT2 and bot.installed_at == 2000.0


async def test_several_installers(store: DatabaseInstallationStore) -> None:
    await store.async_save(_install(user="UA", user_token=USER, installed_at=1000.0))
    await store.async_save(_install(user="UB", installed_at=2000.0))
    latest = await store.async_find_installation(enterprise_id=None, team_id="T1")
    assert latest is not None and latest.user_id == "UB" and latest.user_token is None
    alice = await store.async_find_installation(enterprise_id=None, team_id="T1", user_id="UA")
    assert alice is not None and alice.user_token == USER and alice.bot_token == BOT
    assert await store.async_find_installation(
        enterprise_id=None, team_id="T1", user_id="UC") is None

    # Token rotation saves the bot alone: every installer's record sees the new bot token.
    rotated = Bot(app_id="A1", team_id="T1", bot_token=BOT2, bot_id="B1", bot_user_id="UB1",
                  bot_scopes="chat:write", bot_refresh_token=REFRESH,
                  bot_token_expires_in=43200, installed_at=1000.0)
    await store.async_save_bot(rotated)
    alice = await store.async_find_installation(enterprise_id=None, team_id="T1", user_id="UA")
    assert alice is not None and alice.bot_token == BOT2 and alice.bot_refresh_token == REFRESH


async def test_enterprise_grid(store: DatabaseInstallationStore) -> None:
    # Org-wide install: no team; found from any workspace of the org when bolt says so.
    await store.async_save(_install(enterprise="E1", team=None, org_wide=True, bot_token=BOT))
    # Workspace-level install inside another org's workspace.
    await store.async_save(_install(enterprise="E2", team="T2", bot_token=BOT2))

    org = await store.async_find_bot(enterprise_id="E1", team_id="T9",
                                     is_enterprise_install=True)
    assert org is not None and org.bot_token == BOT and org.team_id is None
    assert org.is_enterprise_install and org.enterprise_id == "E1"
    assert await store.async_find_bot(enterprise_id="E1", team_id="T9") is None
    inst = await store.async_find_installation(enterprise_id="E1", team_id="T9",
                                               is_enterprise_install=True)
    assert inst is not None and inst.bot_token == BOT and inst.is_enterprise_install

    ws = await store.async_find_bot(enterprise_id="E2", team_id="T2")
    assert ws is not None and ws.bot_token == BOT2
    assert await store.async_find_bot(enterprise_id=None, team_id="T2") is None  # other org
    # bolt passes team_id None for org-wide uninstalls.
    await store.async_delete_all(enterprise_id="E1", team_id=None)
    assert await store.async_find_bot(enterprise_id="E1", team_id=None,
                                      is_enterprise_install=True) is None
    assert await store.async_find_bot(enterprise_id="E2", team_id="T2") is not None


async def test_tokens_revoked_and_uninstall(store: DatabaseInstallationStore) -> None:
    await store.async_save(_install(user="UA", user_token=USER, installed_at=1000.0))
    await store.async_save(_install(user="UB", installed_at=2000.0))
    await store.async_save(_install(team="T2"))

    # tokens_revoked for UA's user token: the workspace keeps its bot.
    await store.async_delete_installation(enterprise_id=None, team_id="T1", user_id="UA")
    assert await store.async_find_installation(
        enterprise_id=None, team_id="T1", user_id="UA") is None
    assert (await store.async_find_bot(enterprise_id=None, team_id="T1")) is not None

    # tokens_revoked for the bot.
    await store.async_delete_bot(enterprise_id=None, team_id="T1")
    assert await store.async_find_bot(enterprise_id=None, team_id="T1") is None
    left = await store.async_find_installation(enterprise_id=None, team_id="T1")
    assert left is not None and left.bot_token is None

    # app_uninstalled.
    await store.async_delete_all(enterprise_id=None, team_id="T1")
    assert await store.async_find_installation(enterprise_id=None, team_id="T1") is None
    assert await store.async_find_bot(enterprise_id=None, team_id="T2") is not None


async def test_secret_store_mode(database: Database) -> None:
    secrets = MemorySecretStore()
    store = DatabaseInstallationStore(database, TokenVault(secrets))
    await store.async_save(_install(enterprise="E1", user_token=USER, bot_refresh_token=REFRESH))
    assert secrets.values == {
        "slack-bot-token-e1-t1": BOT,
        "slack-bot-refresh-token-e1-t1": REFRESH,
        "slack-user-token-e1-t1-u1": USER,
    }
    with database.session() as s:
        row = s.execute(select(SlackBot)).scalar_one()
        assert row.bot_token_ref == "secret:slack-bot-token-e1-t1"
    found = await store.async_find_installation(enterprise_id="E1", team_id="T1")
    assert found is not None and (found.bot_token, found.user_token) == (BOT, USER)
    await store.async_delete_all(enterprise_id="E1", team_id="T1")
    assert secrets.values == {}


async def test_ciphertext_moved_to_another_workspace_is_rejected(
    store: DatabaseInstallationStore, database: Database
) -> None:
    await store.async_save(_install(team="T1"))
    await store.async_save(_install(team="T2", bot_token=BOT2))
    with database.session() as s:
        t1 = s.execute(select(SlackBot).where(SlackBot.team_id == "T1")).scalar_one()
        t2 = s.execute(select(SlackBot).where(SlackBot.team_id == "T2")).scalar_one()
        t2.bot_token_ref = t1.bot_token_ref  # someone with database access copies a row
    with pytest.raises(TokenDecryptionError):
        await store.async_find_bot(enterprise_id=None, team_id="T2")


async def test_concurrent_saves_from_two_replicas(database: Database) -> None:
    vault = _env_vault()
    a = DatabaseInstallationStore(database, vault)
    b = DatabaseInstallationStore(database, vault)
    await asyncio.gather(*(
        (a if i % 2 else b).async_save(_install(user=f"U{i % 3}", installed_at=1000.0 + i))
        for i in range(12)
    ))
    with database.session() as s:
        assert len(s.execute(select(SlackBot)).all()) == 1
        assert len(s.execute(select(SlackInstallation)).all()) == 3


# -- OAuth state ------------------------------------------------------------------------------


async def test_state_is_single_use(database: Database) -> None:
    states = DatabaseOAuthStateStore(database)
    state = await states.async_issue()
    assert len(state) >= 40
    with database.session() as s:
        stored = s.execute(select(SlackOAuthState.state_hash)).scalars().all()
    assert stored and state not in stored  # only a hash is kept
    assert await states.async_consume(state)
    assert not await states.async_consume(state)
    assert not await states.async_consume("never-issued")
    assert not await states.async_consume("")


async def test_state_consumed_once_across_replicas(database: Database) -> None:
    a, b = DatabaseOAuthStateStore(database), DatabaseOAuthStateStore(database)
    state = await a.async_issue()
    results = await asyncio.gather(*((a, b)[i % 2].async_consume(state) for i in range(20)))
    assert results.count(True) == 1


async def test_state_expires(database: Database) -> None:
    now = [datetime.now(UTC)]
    states = DatabaseOAuthStateStore(database, expiration_seconds=600, clock=lambda: now[0])
    state = await states.async_issue()
    stale = await states.async_issue()
    now[0] += timedelta(seconds=601)
    assert not await states.async_consume(state)
    await states.async_issue()  # issuing purges expired states
    with database.session() as s:
        assert len(s.execute(select(SlackOAuthState)).all()) == 1
    assert not await states.async_consume(stale)


async def test_bolt_accepts_the_stores(database: Database) -> None:
    from slack_bolt.app.async_app import AsyncApp
    from slack_bolt.oauth.async_oauth_settings import AsyncOAuthSettings

    installations = DatabaseInstallationStore(database, _env_vault())
    app = AsyncApp(
        signing_secret="s" * 32,
        oauth_settings=AsyncOAuthSettings(
            client_id="111.222", client_secret="c" * 32, scopes=["chat:write"],
            installation_store=installations,
            state_store=DatabaseOAuthStateStore(database),
        ),
    )
    assert app.installation_store is installations
    flow = app.oauth_flow
    assert flow is not None
    state = await flow.issue_new_state(None)  # type: ignore[arg-type]
    assert await flow.settings.state_store.async_consume(state)
