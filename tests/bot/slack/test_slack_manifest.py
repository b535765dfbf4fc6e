"""The Slack app manifest asks for what the code uses, and no more."""

from __future__ import annotations

import yaml

from bot.slack.app import BOT_SCOPES
from tests.conftest import REPO

MANIFEST = yaml.safe_load((REPO / "manifest" / "slack" / "manifest.yaml").read_text(encoding="utf-8"))


def test_scopes_match_the_code() -> None:
    assert sorted(MANIFEST["oauth_config"]["scopes"]["bot"]) == sorted(BOT_SCOPES)


def test_events_command_and_interactivity_point_at_the_events_route() -> None:
    settings = MANIFEST["settings"]
    assert set(settings["event_subscriptions"]["bot_events"]) == {
        "app_mention", "message.im", "app_uninstalled", "tokens_revoked",
        "assistant_thread_started", "assistant_thread_context_changed",
    }
    assert settings["event_subscriptions"]["request_url"].endswith("/slack/events")
    assert settings["interactivity"]["is_enabled"] and settings["interactivity"]["request_url"].endswith("/slack/events")
    (command,) = MANIFEST["features"]["slash_commands"]
    assert command["command"] == "/lore" and command["url"].endswith("/slack/events")
    assert MANIFEST["oauth_config"]["redirect_urls"][0].endswith("/slack/oauth_redirect")
    assert MANIFEST["features"]["app_home"]["messages_tab_enabled"]  # DMs to the bot
