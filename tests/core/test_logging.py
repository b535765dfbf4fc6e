from __future__ import annotations

import asyncio
import io
import json
import logging
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from core.logging import (
    JsonFormatter,
    bind_request_id,
    configure_logging,
    current_request_id,
    request_context,
    reset_request_id,
)
from core.secrets import REDACTED, EnvSecretStore, Redactor
from core.sections import LogLevel

STORE_SECRET = "Zk3!vault-handed-out-Qp9$"  # no well-known shape: only the registry catches it
SLACK = "xoxb-2222222222-3333333333-NotARealTokenAbCd"
GROQ = "gsk_ThisIsAFakeGroqKey0123456789abcdef"
OPENAI = "sk-proj-FakeOpenAiKey0123456789abcdEF"
JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJib2IifQ.ZmFrZS1zaWduYXR1cmU"
URL_PASSWORD = "pg-Passw0rd-xyz"
BEARER = "opaque.Bearer-Token_123"
PLANTED = [STORE_SECRET, SLACK, GROQ, OPENAI, JWT, URL_PASSWORD, BEARER, "eyJzdWIiOiJib2IifQ"]


@pytest.fixture
def restore_root() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
            handler.close()
    for handler in handlers:
        if handler not in root.handlers:
            root.addHandler(handler)
    root.setLevel(level)


@pytest.fixture
def capture(restore_root: None) -> Callable[..., tuple[io.StringIO, Redactor]]:
    def setup(
        level: LogLevel = "DEBUG", redactor: Redactor | None = None
    ) -> tuple[io.StringIO, Redactor]:
        stream = io.StringIO()
        redactor = redactor if redactor is not None else Redactor()
        configure_logging(level, redactor, stream=stream)
        return stream, redactor

    return setup


def lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_one_json_object_per_line_with_the_fields(capture: Callable[..., Any]) -> None:
    stream, _ = capture()
    log = logging.getLogger("lore.test")
    before = datetime.now(UTC)
    log.info("hello %s", "world", extra={"user": "alice", "count": 3, "ratio": 0.5, "ok": True})
    log.debug("multi\nline")
    first, second = lines(stream)
    assert first["message"] == "hello world"
    assert first["level"] == "INFO" and first["logger"] == "lore.test"
    assert first["request_id"] is None
    assert first["user"] == "alice" and first["count"] == 3 and first["ratio"] == 0.5
    assert first["ok"] is True
    assert "exc" not in first
    assert first["ts"].endswith("Z")
    ts = datetime.fromisoformat(first["ts"])
    assert ts.tzinfo is not None and abs((ts - before).total_seconds()) < 5
    assert second["message"] == "multi\nline" and second["level"] == "DEBUG"


def test_level_filters(capture: Callable[..., Any]) -> None:
    stream, _ = capture("WARNING")
    logging.getLogger("lore.test").info("quiet")
    logging.getLogger("lore.test").warning("loud")
    assert [e["message"] for e in lines(stream)] == ["loud"]


def test_request_id_from_context(capture: Callable[..., Any]) -> None:
    stream, _ = capture()
    log = logging.getLogger("lore.test")
    with request_context("req-1") as rid:
        assert rid == "req-1" and current_request_id() == "req-1"
        log.info("in")
        with request_context() as inner:
            log.info("nested")
        log.info("back")
    log.info("out")
    token = bind_request_id("req-2")
    log.info("bound")
    reset_request_id(token)
    ids = [e["request_id"] for e in lines(stream)]
    assert ids == ["req-1", inner, "req-1", None, "req-2"]
    assert len(inner) == 32


async def test_request_ids_do_not_cross_concurrent_tasks(capture: Callable[..., Any]) -> None:
    stream, _ = capture()
    log = logging.getLogger("lore.test")

    async def handle(rid: str) -> None:
        with request_context(rid):
            for step in range(3):
                await asyncio.sleep(0)
                log.info("step", extra={"expected": rid, "step": step})

    await asyncio.gather(*(handle(f"r{i}") for i in range(5)))
    entries = lines(stream)
    assert len(entries) == 15
    assert all(e["request_id"] == e["expected"] for e in entries)


def test_extras_cannot_overwrite_fixed_fields(capture: Callable[..., Any]) -> None:
    stream, _ = capture()
    logging.getLogger("lore.test").info("x", extra={"level": "fake", "request_id": "forged"})
    (entry,) = lines(stream)
    assert entry["level"] == "INFO" and entry["level_"] == "fake"
    assert entry["request_id"] is None and entry["request_id_"] == "forged"


def test_unserialisable_extras_become_strings(capture: Callable[..., Any]) -> None:
    class Thing:
        def __str__(self) -> str:
            return f"thing with {GROQ}"

    class Broken:
        def __str__(self) -> str:
            raise RuntimeError("no")

    stream, _ = capture()
    logging.getLogger("lore.test").info(
        "x", extra={"thing": Thing(), "broken": Broken(), "b": b"by"}
    )
    (entry,) = lines(stream)
    assert entry["thing"] == f"thing with {REDACTED}"
    assert entry["broken"] == "<unprintable Broken>"
    assert entry["b"] == "b'by'"


def test_configure_is_idempotent_and_replaces_plain_stream_handlers(restore_root: None) -> None:
    root = logging.getLogger()
    plain = io.StringIO()
    basic = logging.StreamHandler(plain)  # what logging.basicConfig installs: unredacted
    root.addHandler(basic)
    first, second = io.StringIO(), io.StringIO()
    configure_logging("INFO", None, stream=first)
    configure_logging("INFO", None, stream=second)
    logging.getLogger("lore.test").info("once %s", GROQ)
    assert basic not in root.handlers
    assert first.getvalue() == "" and plain.getvalue() == ""
    assert len(lines(second)) == 1
    assert sum(1 for h in root.handlers if type(h).__name__ == "_LoreHandler") == 1


def test_planted_secrets_never_reach_the_output(capture: Callable[..., Any]) -> None:
    redactor = Redactor()
    store = EnvSecretStore({"LORE_SECRET_VAULT_TOKEN": STORE_SECRET}, redactor=redactor)
    stream, _ = capture(redactor=redactor)
    assert store.get("vault-token") == STORE_SECRET
    log = logging.getLogger("lore.test")
    url = f"postgresql://lore:{URL_PASSWORD}@db.internal/lore"
    everything = (
        f"{STORE_SECRET} {SLACK} {GROQ} {OPENAI} {JWT} {url} Authorization: Bearer {BEARER}"
    )

    log.info("message %s", everything)
    log.warning(
        "extras",
        extra={
            "detail": everything,
            "nested": {"headers": {"X-Debug": STORE_SECRET}, "list": [SLACK, (GROQ,)], JWT: 1},
            "api_key": "no-recognisable-shape-at-all",
            "client_secret": ["also", "hidden"],
        },
    )
    with request_context(STORE_SECRET):
        log.info("in request")

    def connect(token: str) -> None:
        raise ConnectionError(f"could not connect to {url} with {token}")

    try:
        try:
            connect(STORE_SECRET)
        except ConnectionError as exc:
            raise RuntimeError(f"sync failed: {everything}") from exc
    except RuntimeError:
        log.exception("boom %s", SLACK, extra={"token": OPENAI})
    log.error("stack", stack_info=True, extra={"x": GROQ})

    output = stream.getvalue()
    for secret in PLANTED + ["no-recognisable-shape-at-all"]:
        assert secret not in output, secret
    entries = lines(stream)
    message, extras, in_request, failure, stack = entries
    assert message["message"].count(REDACTED) >= 7
    assert "postgresql://lore:[REDACTED]@db.internal/lore" in message["message"]
    assert extras["api_key"] == REDACTED and extras["client_secret"] == REDACTED
    assert extras["nested"]["headers"]["X-Debug"] == REDACTED
    assert extras["nested"]["list"] == [REDACTED, [REDACTED]]
    assert in_request["request_id"] == REDACTED
    assert "Traceback" in failure["exc"] and "ConnectionError" in failure["exc"]
    assert "RuntimeError: sync failed" in failure["exc"] and REDACTED in failure["exc"]
    assert failure["token"] == REDACTED
    assert "test_planted_secrets_never_reach_the_output" in stack["stack"]


def test_patterns_apply_without_a_store_redactor(capture: Callable[..., Any]) -> None:
    stream = io.StringIO()
    configure_logging("INFO", None, stream=stream)
    logging.getLogger("lore.test").info("token %s", SLACK)
    assert SLACK not in stream.getvalue() and REDACTED in stream.getvalue()


def test_formatter_leaves_no_unredacted_exc_text_cache_for_other_handlers() -> None:
    try:
        raise ValueError(GROQ)
    except ValueError:
        record = logging.LogRecord(
            "lore.test", logging.ERROR, __file__, 1, "failed", None, sys.exc_info()
        )
    out = JsonFormatter(Redactor()).format(record)
    assert GROQ not in out and REDACTED in json.loads(out)["exc"]
    assert record.exc_text is None
