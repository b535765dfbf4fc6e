"""Shared setup of the Slack tests: the server's config pointed at the Web API stand-in."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from core.config import Config
from tests.bot.conftest import dev_config

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"  # the app's signing secret
TOKEN = "xoxb-lore-test"  # the bot token the stand-in accepts


def slack_config(handbook_data: Path, tmp_path: Path, api_url: str, monkeypatch: pytest.MonkeyPatch) -> Config:
    """A copy of the indexed handbook, Slack on (one workspace) against ``api_url``, and the
    signing secret and bot token in the environment secret store."""
    shutil.copytree(handbook_data, tmp_path / "data")
    cfg = dev_config(tmp_path / "data")
    cfg.slack.enabled = True
    cfg.slack.api_url = api_url
    monkeypatch.setenv("LORE_SECRET_SLACK_SIGNING_SECRET", SECRET)
    monkeypatch.setenv("LORE_SECRET_SLACK_BOT_TOKEN", TOKEN)
    return cfg
