"""A loopback stand-in for Groq's and OpenAI-compatible chat-completions APIs.

Documented behaviour it follows (OpenAI's chat-completions reference, which Groq implements at
``https://api.groq.com/openai/v1``; the groq SDK posts to ``base_url + /openai/v1/chat/completions``,
the openai SDK to ``base_url + /chat/completions`` with ``base_url`` ending in ``/v1``):

- ``POST /openai/v1/chat/completions`` (Groq) and ``POST /v1/chat/completions`` (OpenAI-compatible).
- ``Authorization: Bearer <key>`` is required; a missing or unknown key gets 401 with an
  OpenAI-style body ``{"error": {"message", "type": "invalid_request_error",
  "code": "invalid_api_key"}}`` (the message quotes the key the way OpenAI's does, only more
  fully: a client must never copy it into its own errors).
- The body must be JSON (``Content-Type: application/json``) with a non-empty string ``model``
  and a non-empty ``messages`` list of objects with a known ``role`` and string ``content``;
  ``stream`` must be a boolean, ``max_tokens`` / ``max_completion_tokens`` positive integers,
  ``temperature`` a number in [0, 2]. Anything else: 400 ``invalid_request_error`` naming the
  parameter.
- Without ``stream``: a ``chat.completion`` object, the text in ``choices[0].message.content``.
- With ``stream: true``: server-sent events, one ``data: {chat.completion.chunk}`` per piece, the
  text in ``choices[0].delta.content`` (the first delta also carries ``role``), a last chunk with
  an empty delta and ``finish_reason: "stop"``, then ``data: [DONE]``. On the Groq path the first
  and last chunks carry ``x_groq`` as Groq's do.
- 429 with ``retry-after`` in seconds (Groq documents this header on rate limits) and optionally
  ``retry-after-ms`` (which both SDKs read first), plus ``x-ratelimit-*`` headers; 500/503 with an
  error body.

Scripted failures, one behaviour per request in queue order (an unscripted request gets the
default reply): :class:`Reply` (text in N chunks, per-chunk delay, first-token latency),
:class:`Fail` (any status, optional Retry-After), :class:`Hang` (never answers, or stalls after
some chunks), :class:`DieMidStream` (closes the connection after some chunks),
:class:`MalformedChunk` (a chunk that is not JSON), :class:`ErrorEvent` (an ``error`` object in
the stream, as servers send when they give up mid-answer). Every request is recorded (path,
headers, body, arrival time) before it is judged, so tests can count retries and measure waits.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections import deque
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.fakes.loopback import serving

GROQ_PATH = "/openai/v1/chat/completions"
OPENAI_PATH = "/v1/chat/completions"
ROLES = frozenset({"system", "developer", "user", "assistant", "tool"})


@dataclass(frozen=True)
class Reply:
    text: str
    chunks: int = 3
    chunk_delay: float = 0.0  # seconds between chunks
    first_token_delay: float = 0.0  # seconds before the first byte of the response


@dataclass(frozen=True)
class Fail:
    status: int
    retry_after: str | None = None  # the Retry-After header, verbatim (seconds or HTTP date)
    retry_after_ms: str | None = None
    message: str = ""


def rate_limited(seconds: int, *, retry_after_ms: str | None = None) -> Fail:
    return Fail(429, retry_after=str(seconds), retry_after_ms=retry_after_ms)


@dataclass(frozen=True)
class Hang:
    """Never finish: answer nothing at all, or stall after ``after_chunks`` stream chunks."""

    after_chunks: int | None = None
    text: str = "This answer stalls part way through and never ends."


@dataclass(frozen=True)
class DieMidStream:
    text: str
    chunks: int = 4
    sent: int = 2  # chunks sent before the connection is closed


@dataclass(frozen=True)
class MalformedChunk:
    text_before: str = "Partial "


@dataclass(frozen=True)
class ErrorEvent:
    text_before: str = "Partial "
    message: str = "The server had an error while processing your request."


Behaviour = Reply | Fail | Hang | DieMidStream | MalformedChunk | ErrorEvent


@dataclass(frozen=True)
class RecordedRequest:
    path: str
    headers: dict[str, str]
    body: Any  # parsed JSON, or the raw text when it was not JSON
    at: float  # time.monotonic() on arrival

    @property
    def messages(self) -> list[dict[str, Any]]:
        if isinstance(self.body, dict) and isinstance(self.body.get("messages"), list):
            return list(self.body["messages"])
        return []


@dataclass
class LlmStandIn:
    api_keys: frozenset[str]
    default_reply: Reply = field(default_factory=lambda: Reply("The stand-in's answer [1]."))
    requests: list[RecordedRequest] = field(default_factory=list)
    port: int = 0
    _queue: deque[Behaviour] = field(default_factory=deque)
    _stopping: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def base_url(self) -> str:
        """The root: the groq SDK's ``base_url`` (it appends ``/openai/v1/...``)."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def groq_base_url(self) -> str:
        return self.base_url

    @property
    def openai_base_url(self) -> str:
        return f"{self.base_url}/v1"

    def script(self, *behaviours: Behaviour) -> None:
        self._queue.extend(behaviours)

    @property
    def unused(self) -> int:
        """Scripted behaviours no request has consumed yet."""
        return len(self._queue)

    @classmethod
    @asynccontextmanager
    async def running(cls, api_keys: Iterable[str]) -> AsyncIterator[LlmStandIn]:
        stand_in = cls(api_keys=frozenset(api_keys))
        app = web.Application()
        app.router.add_post(GROQ_PATH, stand_in._handle)
        app.router.add_post(OPENAI_PATH, stand_in._handle)
        async with serving(app) as stand_in.port:
            try:
                yield stand_in
            finally:
                stand_in._stopping.set()  # releases hanging handlers

    # -- the API ---------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        raw = await request.text()
        try:
            body: Any = json.loads(raw)
        except ValueError:
            body = raw
        self.requests.append(
            RecordedRequest(request.path, dict(request.headers), body, time.monotonic())
        )
        auth = request.headers.get("Authorization", "")
        key = auth.removeprefix("Bearer ").strip() if auth.startswith("Bearer ") else ""
        if key not in self.api_keys:
            shown = key or "(none)"
            return _error(
                401,
                f"Incorrect API key provided: {shown}.",
                "invalid_request_error",
                "invalid_api_key",
            )
        if not request.content_type.startswith("application/json"):
            return _error(400, "Content-Type must be application/json", "invalid_request_error")
        problem = _validate(body)
        if problem:
            return _error(400, problem, "invalid_request_error")
        behaviour = self._queue.popleft() if self._queue else self.default_reply
        return await self._perform(request, body, behaviour)

    async def _perform(
        self, request: web.Request, body: dict[str, Any], b: Behaviour
    ) -> web.StreamResponse:
        streaming = bool(body.get("stream", False))
        model = str(body["model"])
        groq = request.path == GROQ_PATH
        if isinstance(b, Fail):
            headers = {}
            if b.retry_after is not None:
                headers["retry-after"] = b.retry_after
            if b.retry_after_ms is not None:
                headers["retry-after-ms"] = b.retry_after_ms
            if b.status == 429:
                headers.update(
                    {"x-ratelimit-limit-requests": "30", "x-ratelimit-remaining-requests": "0"}
                )
            kind, code, default = _FAILURES.get(b.status, _FAILURES[500])
            return _error(b.status, b.message or default, kind, code, headers)
        if isinstance(b, Hang) and (b.after_chunks is None or not streaming):
            await self._stopping.wait()
            raise web.HTTPServiceUnavailable()
        if isinstance(b, Reply) and b.first_token_delay:
            await asyncio.sleep(b.first_token_delay)
        if not streaming:
            if isinstance(b, (DieMidStream, MalformedChunk)):
                return web.Response(
                    status=200, text='{"id": "chatcmpl-', content_type="application/json"
                )
            text = b.text if isinstance(b, Reply) else ""
            return web.json_response(_completion(model, text))

        response = web.StreamResponse(
            status=200, headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
        )
        await response.prepare(request)
        chunks = _Chunks(model, groq)
        if isinstance(b, Reply):
            for i, piece in enumerate(_split(b.text, b.chunks)):
                if i and b.chunk_delay:
                    await asyncio.sleep(b.chunk_delay)
                await response.write(chunks.data(piece, first=i == 0))
        elif isinstance(b, Hang):
            for i, piece in enumerate(
                _split(b.text, max(b.after_chunks or 0, 1) * 2)[: b.after_chunks]
            ):
                await response.write(chunks.data(piece, first=i == 0))
            await self._stopping.wait()
            return response
        elif isinstance(b, DieMidStream):
            for i, piece in enumerate(_split(b.text, b.chunks)[: b.sent]):
                await response.write(chunks.data(piece, first=i == 0))
            # Close without the terminating chunk: the client sees an incomplete body.
            if request.transport is not None:
                request.transport.close()
            return response
        elif isinstance(b, MalformedChunk):
            await response.write(chunks.data(b.text_before, first=True))
            await response.write(
                b'data: {"id": "chatcmpl-x", "choices": [{"delta": {"content": \n\n'
            )
            return await _end(response)
        elif isinstance(b, ErrorEvent):
            await response.write(chunks.data(b.text_before, first=True))
            payload = {"error": {"message": b.message, "type": "internal_server_error"}}
            await response.write(f"data: {json.dumps(payload)}\n\n".encode())
            return await _end(response)
        await response.write(chunks.last())
        await response.write(b"data: [DONE]\n\n")
        return await _end(response)


# OpenAI-style error type, code and message per status (Groq uses the same shapes).
_FAILURES = {
    400: ("invalid_request_error", None, "Invalid request."),
    403: ("permission_error", "permission_denied", "You do not have access to this model."),
    404: ("invalid_request_error", "model_not_found", "The model does not exist."),
    429: ("tokens", "rate_limit_exceeded", "Rate limit reached. Please try again later."),
    500: ("internal_server_error", None, "The server had an error processing your request."),
    503: ("service_unavailable", None, "The service is temporarily overloaded."),
}


async def _end(response: web.StreamResponse) -> web.StreamResponse:
    with suppress(ConnectionError):
        await response.write_eof()
    return response


def _error(
    status: int,
    message: str,
    kind: str,
    code: str | None = None,
    headers: dict[str, str] | None = None,
) -> web.Response:
    body = {"error": {"message": message, "type": kind, "code": code}}
    return web.json_response(body, status=status, headers=headers)


def _validate(body: Any) -> str | None:
    if not isinstance(body, dict):
        return "We could not parse the JSON body of your request."
    model = body.get("model")
    if not isinstance(model, str) or not model.strip():
        return "'model' is a required property and must be a non-empty string"
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return "'messages' must be a non-empty array"
    for i, message in enumerate(messages):
        if not isinstance(message, dict):
            return f"'messages.{i}' must be an object"
        if message.get("role") not in ROLES:
            return f"'messages.{i}.role' must be one of {sorted(ROLES)}"
        if not isinstance(message.get("content"), str):
            return f"'messages.{i}.content' must be a string"
    if "stream" in body and not isinstance(body["stream"], bool):
        return "'stream' must be a boolean"
    for name in ("max_tokens", "max_completion_tokens"):
        value = body.get(name)
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int) or value < 1
        ):
            return f"'{name}' must be a positive integer"
    temperature = body.get("temperature")
    if temperature is not None and (
        isinstance(temperature, bool)
        or not isinstance(temperature, (int, float))
        or not 0 <= temperature <= 2
    ):
        return "'temperature' must be a number between 0 and 2"
    return None


def _split(text: str, pieces: int) -> list[str]:
    """``text`` in ``pieces`` parts cut at character positions (so markers like "[1]" may be
    cut in two, as a tokenizer can)."""
    if not text:
        return [""]
    size = max(1, math.ceil(len(text) / max(pieces, 1)))
    return [text[i : i + size] for i in range(0, len(text), size)]


def _completion(model: str, text: str) -> dict[str, Any]:
    return {
        "id": "chatcmpl-standin",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20},
    }


@dataclass
class _Chunks:
    model: str
    groq: bool

    def _chunk(self, delta: dict[str, Any], finish: str | None) -> dict[str, Any]:
        return {
            "id": "chatcmpl-standin",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": self.model,
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
        }

    def data(self, text: str, *, first: bool) -> bytes:
        delta: dict[str, Any] = {"content": text}
        if first:
            delta = {"role": "assistant", **delta}
        chunk = self._chunk(delta, None)
        if first and self.groq:
            chunk["x_groq"] = {"id": "req_standin"}
        return f"data: {json.dumps(chunk)}\n\n".encode()

    def last(self) -> bytes:
        chunk = self._chunk({}, "stop")
        if self.groq:
            chunk["x_groq"] = {"id": "req_standin", "usage": {"completion_tokens": 10}}
        return f"data: {json.dumps(chunk)}\n\n".encode()
