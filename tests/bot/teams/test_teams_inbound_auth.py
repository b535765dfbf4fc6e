"""Inbound security through the real server: every bad token is 401 (403 where documented),
never 500, and no token text reaches the logs."""

from __future__ import annotations

import logging
import time

import jwt
import pytest

from tests.bot.teams.conftest import APP_ID, OTHER_TENANT, PERSONAL, Teams, activity
from tests.fakes.bot_tokens import new_key


async def wait_for_reply(teams: Teams) -> None:
    await teams.replies(PERSONAL)


def no_token_in(caplog: pytest.LogCaptureFixture, *tokens: str) -> None:
    text = caplog.text + " ".join(str(r.__dict__) for r in caplog.records)
    for token in tokens:
        for piece in token.split("."):
            assert piece not in text


async def test_a_valid_token_is_accepted_and_answered_and_not_logged(teams: Teams, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    body = activity(teams.service_url, "personal", "how do I get VPN access?")
    token = teams.issuer.token(body["serviceUrl"])
    assert await teams.post(body, token=token) == 200
    await wait_for_reply(teams)
    no_token_in(caplog, token)


@pytest.mark.parametrize("case", ["expired", "not_yet_valid", "wrong_audience", "wrong_issuer", "bad_signature",
                                  "unknown_key", "serviceurl_mismatch", "hs256", "garbage", "no_exp"])
async def test_bad_tokens_are_401_and_not_logged(teams: Teams, case: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    body = activity(teams.service_url, "personal", "how do I get VPN access?")
    url = body["serviceUrl"]
    now = time.time()
    token = {
        "expired": lambda: teams.issuer.token(url, issued_at=now - 3600 - 301, lifetime=3600),
        "not_yet_valid": lambda: teams.issuer.token(url, not_before=now + 301, issued_at=now),
        "wrong_audience": lambda: teams.issuer.token(url, audience="someone-else"),
        "wrong_issuer": lambda: teams.issuer.token(url, issuer="https://sts.windows.net/evil/"),
        "bad_signature": lambda: teams.issuer.token(url)[:-6] + "AAAAAA",
        "unknown_key": lambda: teams.issuer.token(url, key=new_key("not-published")),
        "serviceurl_mismatch": lambda: teams.issuer.token("https://smba.evil.example/"),
        "hs256": lambda: jwt.encode({"iss": "https://api.botframework.com", "aud": APP_ID, "exp": now + 600,
                                     "serviceurl": url}, "x" * 32, algorithm="HS256", headers={"kid": "key-1"}),
        "garbage": lambda: "not-a-jwt",
        "no_exp": lambda: teams.issuer.token(url, extra={"exp": None}),
    }[case]()
    assert await teams.post(body, token=token) == 401
    assert not teams.connector.messages(PERSONAL)
    no_token_in(caplog, token)
    assert "Teams request refused" in caplog.text


async def test_clock_skew_of_five_minutes_is_allowed(teams: Teams) -> None:
    body = activity(teams.service_url, "personal", "how do I get VPN access?")
    token = teams.issuer.token(body["serviceUrl"], issued_at=time.time() - 3600 - 240, lifetime=3600)
    assert await teams.post(body, token=token) == 200


@pytest.mark.parametrize("header", [None, "", "Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "bearer-token"])
async def test_missing_or_malformed_authorization_header_is_401(teams: Teams, header: str | None) -> None:
    body = activity(teams.service_url, "personal", "hello")
    headers = {} if header is None else {"Authorization": header}
    r = await teams.client.post("/api/messages", json=body, headers=headers)
    assert r.status == 401


async def test_unparseable_body_is_401_not_500(teams: Teams) -> None:
    r = await teams.client.post("/api/messages", data=b"{nope", headers={"Authorization": "Bearer x.y.z"})
    assert r.status == 401


async def test_a_key_not_endorsed_for_teams_is_403(teams: Teams) -> None:
    key = new_key("webchat-only", endorsements=["webchat"])
    teams.issuer.published.append(key)
    body = activity(teams.service_url, "personal", "hello")
    assert await teams.post(body, token=teams.issuer.token(body["serviceUrl"], key=key)) == 403


async def test_rotated_keys_are_fetched_once_for_a_new_kid(teams: Teams) -> None:
    body = activity(teams.service_url, "personal", "how do I get VPN access?")
    assert await teams.post(body) == 200
    assert teams.issuer.key_fetches == 1
    new = teams.issuer.rotate()
    body = activity(teams.service_url, "personal", "how do I get VPN access?")
    assert await teams.post(body, token=teams.issuer.token(body["serviceUrl"], key=new)) == 200
    assert teams.issuer.key_fetches == 2
    # An unknown kid right after does not refetch (at most once a minute): refused, no fetch.
    body = activity(teams.service_url, "personal", "hello")
    assert await teams.post(body, token=teams.issuer.token(body["serviceUrl"], key=new_key("bogus"))) == 401
    assert teams.issuer.key_fetches == 2


async def test_another_tenant_is_refused_and_logged(teams: Teams, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    body = activity(teams.service_url, "personal", "how do I get VPN access?", tenant=OTHER_TENANT)
    assert await teams.post(body) == 403
    assert any(r.getMessage().startswith("Teams activity from a tenant") and getattr(r, "tenant", "") == OTHER_TENANT
               for r in caplog.records)
    assert not teams.connector.messages(PERSONAL)


async def test_unreachable_signing_keys_are_503_not_500(teams: Teams) -> None:
    teams.surface.events.auth.metadata_url = "http://127.0.0.1:9/v1/.well-known/openidconfiguration"
    body = activity(teams.service_url, "personal", "hello")
    assert await teams.post(body) == 503

