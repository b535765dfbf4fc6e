"""Teams is built only when enabled, and a configuration it cannot work with stops the server at
start with one line."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.server import build_state, create_app
from core.config import ConfigError
from tests.bot.teams.conftest import teams_config


def test_disabled_teams_routes_nothing(handbook_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = teams_config(handbook_data, tmp_path, "http://127.0.0.1:9/", monkeypatch)
    cfg.teams.enabled = False
    state = build_state(cfg)
    app = create_app(cfg, state)
    assert "teams" not in state.surfaces.by_platform
    assert not [r for r in app.router.routes() if r.resource is not None and r.resource.canonical == "/api/messages"]


def test_enabled_teams_routes_api_messages(handbook_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = teams_config(handbook_data, tmp_path, "http://127.0.0.1:9/", monkeypatch)
    app = create_app(cfg, build_state(cfg))
    assert [r.method for r in app.router.routes() if r.resource is not None and r.resource.canonical == "/api/messages"] == ["POST"]


@pytest.mark.parametrize(("change", "message"), [
    (lambda cfg, mp: setattr(cfg.teams, "app_id", " "), "teams.enabled needs teams.app_id"),
    (lambda cfg, mp: setattr(cfg.teams, "tenant_ids", []), "teams.enabled needs teams.tenant_ids"),
    (lambda cfg, mp: mp.delenv("LORE_SECRET_TEAMS_APP_PASSWORD"), "teams.enabled needs the secret 'teams-app-password'"),
    (lambda cfg, mp: setattr(cfg.teams, "certificate_secret", "teams-cert"), "needs the secret 'teams-cert' (teams.certificate_secret)"),
])
def test_configuration_errors_are_one_line(handbook_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                           change: object, message: str) -> None:
    cfg = teams_config(handbook_data, tmp_path, "http://127.0.0.1:9/", monkeypatch)
    change(cfg, monkeypatch)  # type: ignore[operator]
    with pytest.raises(ConfigError) as raised:
        build_state(cfg)
    assert message in str(raised.value) and "\n" not in str(raised.value)


def test_app_type_is_checked_when_loaded() -> None:
    from tests.builders import load_config

    assert load_config(env={"LORE_TEAMS_APP_TYPE": "multi-tenant"}).teams.app_type == "multi-tenant"
    with pytest.raises(ConfigError, match="LORE_TEAMS_APP_TYPE: expected one of single-tenant, multi-tenant"):
        load_config(env={"LORE_TEAMS_APP_TYPE": "both"})


def test_configured_tenants_compare_without_case(handbook_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = teams_config(handbook_data, tmp_path, "http://127.0.0.1:9/", monkeypatch)
    cfg.teams.tenant_ids = [" ABCDEF01-0000-0000-0000-00000000000A "]
    surface = build_state(cfg).surfaces.by_platform["teams"]
    assert surface.events.tenants == frozenset({"abcdef01-0000-0000-0000-00000000000a"})  # type: ignore[attr-defined]
