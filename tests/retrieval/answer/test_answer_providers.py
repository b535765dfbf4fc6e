"""The Groq and OpenAI-compatible providers, through the real SDKs, against the stand-in."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from retrieval.answer.base import ProviderError, Source
from retrieval.answer.chat import ChatCompletionsProvider, ChatSettings
from retrieval.answer.groq import GroqProvider
from retrieval.answer.openai_compat import OpenAICompatProvider
from retrieval.index.base import Hit
from tests.fakes.llm_stand_in import (
    GROQ_PATH,
    OPENAI_PATH,
    DieMidStream,
    ErrorEvent,
    Fail,
    Hang,
    LlmStandIn,
    MalformedChunk,
    Reply,
    rate_limited,
)

SETTINGS = ChatSettings(
    model="llama-3.3-70b-versatile",
    timeout_seconds=5.0,
    connect_timeout_seconds=1.0,
    max_retries=2,
    max_tokens=300,
    temperature=0.1,
)
SDKS = ["groq", "openai"]


def _provider(
    sdk: str, stand_in: LlmStandIn, key: str, **changes: float
) -> ChatCompletionsProvider:
    settings = replace(SETTINGS, **changes)
    if sdk == "groq":
        return GroqProvider(settings, api_key=key, base_url=stand_in.groq_base_url)
    return OpenAICompatProvider(settings, base_url=stand_in.openai_base_url, api_key=key)


@pytest.fixture
def sources(make_hit: Callable[..., Hit]) -> list[Source]:
    return [
        Source(1, make_hit("Request VPN access in the IT portal.", doc="vpn", title="VPN")),
        Source(2, make_hit("Access is granted within one working day.", doc="sla", title="SLA")),
    ]


async def _collect(
    provider: ChatCompletionsProvider, sources: list[Source]
) -> list[tuple[str, float]]:
    out = []
    async for delta in provider.stream("How do I get VPN access?", sources):
        out.append((delta, time.monotonic()))
    return out


@pytest.mark.parametrize("sdk", SDKS)
async def test_streams_deltas_in_order_as_they_arrive(
    sdk: str, stand_in: LlmStandIn, api_key: str, sources: list[Source]
) -> None:
    text = "Request access in the IT portal [1]. It takes a working day [2]."
    stand_in.script(Reply(text, chunks=6, chunk_delay=0.05))
    provider = _provider(sdk, stand_in, api_key)
    try:
        deltas = await _collect(provider, sources)
    finally:
        await provider.aclose()

    assert "".join(d for d, _ in deltas) == text
    assert len(deltas) == 6
    # Streamed, not buffered: the first piece arrived well before the last.
    assert deltas[-1][1] - deltas[0][1] >= 0.2
    (request,) = stand_in.requests
    assert request.path == (GROQ_PATH if sdk == "groq" else OPENAI_PATH)
    assert request.headers["Authorization"] == f"Bearer {api_key}"
    assert request.body["stream"] is True
    assert request.body["model"] == "llama-3.3-70b-versatile"
    assert [m["role"] for m in request.messages] == ["system", "user"]
    assert "Request VPN access in the IT portal." in request.messages[1]["content"]
    tokens = "max_completion_tokens" if sdk == "groq" else "max_tokens"
    assert request.body[tokens] == 300


@pytest.mark.parametrize("sdk", SDKS)
async def test_429_is_retried_after_retry_after(
    sdk: str, stand_in: LlmStandIn, api_key: str, sources: list[Source]
) -> None:
    stand_in.script(rate_limited(1), Reply("Use the IT portal [1]."))
    provider = _provider(sdk, stand_in, api_key)
    try:
        deltas = await _collect(provider, sources)
    finally:
        await provider.aclose()

    assert "".join(d for d, _ in deltas) == "Use the IT portal [1]."
    first, second = stand_in.requests
    assert second.at - first.at >= 0.98  # the server asked for one second
    assert second.headers.get("x-stainless-retry-count") == "1"


@pytest.mark.parametrize("sdk", SDKS)
async def test_retry_after_ms_takes_precedence(
    sdk: str, stand_in: LlmStandIn, api_key: str, sources: list[Source]
) -> None:
    # Both SDKs read the non-standard retry-after-ms first: 0.3 s here, not the 5 s of Retry-After.
    stand_in.script(rate_limited(5, retry_after_ms="300"), Reply("Portal [1]."))
    provider = _provider(sdk, stand_in, api_key)
    try:
        await _collect(provider, sources)
    finally:
        await provider.aclose()
    first, second = stand_in.requests
    assert 0.28 <= second.at - first.at < 2.0


async def test_retry_after_as_an_http_date(
    stand_in: LlmStandIn, api_key: str, sources: list[Source]
) -> None:
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=2), usegmt=True)
    stand_in.script(Fail(429, retry_after=when), Reply("Portal [1]."))
    provider = _provider("groq", stand_in, api_key)
    try:
        await _collect(provider, sources)
    finally:
        await provider.aclose()
    first, second = stand_in.requests
    # The date has whole seconds: the wait is between one and two seconds.
    assert 0.9 <= second.at - first.at <= 2.3


@pytest.mark.parametrize("sdk", SDKS)
async def test_500_twice_then_success(
    sdk: str, stand_in: LlmStandIn, api_key: str, sources: list[Source]
) -> None:
    stand_in.script(Fail(500), Fail(503), Reply("Portal [1]."))
    provider = _provider(sdk, stand_in, api_key)
    try:
        deltas = await _collect(provider, sources)
    finally:
        await provider.aclose()
    assert "".join(d for d, _ in deltas) == "Portal [1]."
    assert len(stand_in.requests) == 3


@pytest.mark.parametrize("sdk", SDKS)
async def test_5xx_beyond_max_retries_is_a_provider_error(
    sdk: str, stand_in: LlmStandIn, api_key: str, sources: list[Source]
) -> None:
    stand_in.script(Fail(500), Fail(500))
    provider = _provider(sdk, stand_in, api_key, max_retries=1)
    try:
        with pytest.raises(ProviderError) as caught:
            await _collect(provider, sources)
    finally:
        await provider.aclose()
    assert caught.value.kind == "server_error"
    assert "HTTP 500" in str(caught.value)
    assert len(stand_in.requests) == 2


@pytest.mark.parametrize("sdk", SDKS)
@pytest.mark.parametrize("stall", [Hang(), Hang(after_chunks=1)], ids=["silent", "mid-stream"])
async def test_hung_connection_ends_within_the_timeout(
    sdk: str, stall: Hang, stand_in: LlmStandIn, api_key: str, sources: list[Source]
) -> None:
    # Retries are allowed, yet the whole answer must still end on time.
    stand_in.script(stall, stall, stall)
    provider = _provider(sdk, stand_in, api_key, timeout_seconds=1.0)
    started = time.monotonic()
    try:
        with pytest.raises(ProviderError) as caught:
            await _collect(provider, sources)
    finally:
        await provider.aclose()
    elapsed = time.monotonic() - started
    assert 0.9 <= elapsed < 1.6
    assert caught.value.kind == "timeout"
    assert caught.value.retryable


@pytest.mark.parametrize("sdk", SDKS)
async def test_401_is_not_retried_and_never_shows_the_key(
    sdk: str, stand_in: LlmStandIn, sources: list[Source], caplog: pytest.LogCaptureFixture
) -> None:
    planted = "gsk_PLANTED_wrong_key_7f3a9c"  # the stand-in quotes it back in its 401 body
    caplog.set_level(logging.DEBUG)  # the SDKs' own debug logs included
    provider = _provider(sdk, stand_in, planted)
    try:
        with pytest.raises(ProviderError) as caught:
            await _collect(provider, sources)
    finally:
        await provider.aclose()

    error = caught.value
    assert error.kind == "auth"
    assert not error.retryable
    assert "401" in str(error)
    assert len(stand_in.requests) == 1
    assert planted in stand_in.requests[0].headers["Authorization"]  # it was really sent
    for text in (str(error), repr(error), caplog.text):
        assert planted not in text
    assert error.__cause__ is None and error.__suppress_context__


@pytest.mark.parametrize("sdk", SDKS)
async def test_server_error_text_is_kept_but_the_key_redacted(
    sdk: str,
    stand_in: LlmStandIn,
    api_key: str,
    sources: list[Source],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    stand_in.script(Fail(400, message=f"model not found for key {api_key}"))
    provider = _provider(sdk, stand_in, api_key)
    try:
        with pytest.raises(ProviderError) as caught:
            await _collect(provider, sources)
    finally:
        await provider.aclose()
    assert caught.value.kind == "bad_request" and not caught.value.retryable
    assert "model not found for key [redacted]" in str(caught.value)
    assert api_key not in str(caught.value) and api_key not in caplog.text
    assert len(stand_in.requests) == 1


@pytest.mark.parametrize("sdk", SDKS)
@pytest.mark.parametrize(
    ("failure", "kind"),
    [
        (
            DieMidStream("Request access in the IT portal [1]. It takes a day.", chunks=4, sent=2),
            "connection",
        ),
        (MalformedChunk("Request "), "malformed"),
        (ErrorEvent("Request "), "server_error"),
    ],
    ids=["died", "malformed", "error-event"],
)
async def test_broken_streams_raise_after_the_text_that_did_arrive(
    sdk: str,
    failure: DieMidStream | MalformedChunk | ErrorEvent,
    kind: str,
    stand_in: LlmStandIn,
    api_key: str,
    sources: list[Source],
) -> None:
    stand_in.script(failure)
    provider = _provider(sdk, stand_in, api_key)
    received: list[str] = []
    try:
        with pytest.raises(ProviderError) as caught:
            async for delta in provider.stream("How do I get VPN access?", sources):
                received.append(delta)
    finally:
        await provider.aclose()
    assert received and "".join(received).startswith("Request")
    assert caught.value.kind == kind


async def test_the_stand_in_rejects_what_the_vendors_reject(
    stand_in: LlmStandIn, api_key: str
) -> None:
    import aiohttp

    async with aiohttp.ClientSession() as http:
        url = stand_in.openai_base_url + "/chat/completions"
        auth = {"Authorization": f"Bearer {api_key}"}
        cases = [
            ({}, {"model": "m", "messages": [{"role": "user", "content": "hi"}]}, 401),
            (auth, {"messages": [{"role": "user", "content": "hi"}]}, 400),
            (auth, {"model": "m", "messages": []}, 400),
            (auth, {"model": "m", "messages": [{"role": "wizard", "content": "hi"}]}, 400),
            (
                auth,
                {"model": "m", "messages": [{"role": "user", "content": "hi"}], "stream": "yes"},
                400,
            ),
            (
                auth,
                {"model": "m", "messages": [{"role": "user", "content": "hi"}], "temperature": 3},
                400,
            ),
        ]
        for headers, body, status in cases:
            async with http.post(url, json=body, headers=headers) as response:
                assert response.status == status, body
                error = (await response.json())["error"]
                assert {"message", "type", "code"} <= set(error)
        async with http.post(
            url, json={"model": "m", "messages": [{"role": "user", "content": "hi"}]}, headers=auth
        ) as response:
            assert response.status == 200
            assert (await response.json())["choices"][0]["message"]["content"]


@pytest.mark.parametrize("sdk", SDKS)
async def test_a_key_rotated_in_the_secret_store_is_used_without_a_restart(
    sdk: str, stand_in: LlmStandIn, api_key: str, sources: list[Source]
) -> None:
    new_key = api_key[:-4] + "rot8"
    stand_in.api_keys = frozenset({api_key, new_key})
    current = [api_key]
    settings = SETTINGS
    if sdk == "groq":
        provider: ChatCompletionsProvider = GroqProvider(
            settings, api_key=api_key, base_url=stand_in.groq_base_url, key_source=lambda: current[0])
    else:
        provider = OpenAICompatProvider(settings, base_url=stand_in.openai_base_url, api_key=api_key,
                                        key_source=lambda: current[0])
    stand_in.script(Reply("Portal [1]."), Reply("Portal [1]."))
    try:
        await _collect(provider, sources)
        current[0] = new_key
        await _collect(provider, sources)
        # a key the store no longer has: a provider error (the answerer falls back), not the old key
        current[0] = ""
        with pytest.raises(ProviderError, match="no longer set") as caught:
            await _collect(provider, sources)
    finally:
        await provider.aclose()
    first, second = stand_in.requests
    assert first.headers["Authorization"] == f"Bearer {api_key}"
    assert second.headers["Authorization"] == f"Bearer {new_key}"
    assert caught.value.kind == "auth" and new_key not in provider.redact(f"x {new_key} y")
