"""What the Groq and OpenAI-compatible providers share: both speak the OpenAI chat-completions
protocol through Stainless-generated SDKs with the same streaming shape and the same error
classes (in different packages).

Retries: both SDKs retry 408/409/429/5xx and connection errors ``max_retries`` times, waiting
what ``retry-after-ms`` / ``Retry-After`` (seconds or an HTTP date) asks for when it is
reasonable (groq: up to 60 s, openai: up to 120 s), exponential backoff with jitter otherwise
(``_base_client._calculate_retry_timeout``). We rely on that. What the SDKs do not give is a
bound on the whole answer: their timeout applies per attempt and per read, so a server that
trickles bytes or keeps failing could hold a user for ``(max_retries + 1) x timeout`` plus the
waits. Here every await on the SDK runs under one deadline, ``timeout_seconds`` from the start,
and ends in :class:`ProviderError` when it passes.

Errors: every failure becomes a :class:`ProviderError` whose message is built here from the
status and the server's error text (none for 401/403), with the API key redacted; the SDK's
exception is not chained, so no traceback carries a request or a key.
"""

from __future__ import annotations

import abc
import asyncio
import json
import logging
from collections.abc import AsyncGenerator, Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

from core.config import LlmConfig
from core.secrets import SecretStoreError
from retrieval.answer.base import AnswerProvider, ProviderError, Source
from retrieval.answer.prompt import Message, build_messages, build_rewrite_messages

log = logging.getLogger(__name__)

REWRITE_TIMEOUT_SECONDS = 3.0
REWRITE_MAX_TOKENS = 80
_DETAIL_CHARS = 200
_REDACTED = "[redacted]"


@dataclass(frozen=True)
class ChatSettings:
    model: str
    timeout_seconds: float
    connect_timeout_seconds: float
    max_retries: int
    max_tokens: int
    temperature: float

    @classmethod
    def from_config(cls, config: LlmConfig) -> ChatSettings:
        return cls(
            model=config.model,
            timeout_seconds=config.timeout_seconds,
            connect_timeout_seconds=config.connect_timeout_seconds,
            max_retries=config.max_retries,
            max_tokens=config.max_tokens,
            temperature=config.temperature,
        )


class _Delta(Protocol):
    @property
    def content(self) -> str | None: ...


class _Choice(Protocol):
    @property
    def delta(self) -> _Delta: ...


class ChatChunk(Protocol):
    @property
    def choices(self) -> Sequence[_Choice]: ...


class ChunkStream(Protocol):
    """The SDKs' ``AsyncStream[ChatCompletionChunk]``, as far as we use it."""

    async def __anext__(self) -> ChatChunk: ...

    async def close(self) -> None: ...


@dataclass(frozen=True)
class SdkErrors:
    """One SDK's exception classes (the two SDKs have the same hierarchy)."""

    api: type[Exception]  # base of everything the SDK raises about a request
    status: type[Exception]  # HTTP 4xx/5xx, has .status_code and .body
    timeout: type[Exception]
    connection: type[Exception]
    # The HTTP library's errors that escape the SDK while a stream is read (groq lets
    # httpx's through; openai wraps them in its connection error).
    transport: tuple[type[Exception], ...] = ()


class ChatCompletionsProvider(AnswerProvider, abc.ABC):
    """Streams an answer from a chat-completions endpoint. The groq and openai SDKs share the
    shape of ``client.chat.completions.create``: a subclass only builds its client and names
    its token-limit parameter; everything about calls, deadlines and errors lives here."""

    name: str  # set by each subclass
    errors: ClassVar[SdkErrors]
    tokens_param: ClassVar[str]  # "max_completion_tokens" (Groq) or "max_tokens"
    _client: Any  # the SDK's async client, built by the subclass

    def __init__(self, settings: ChatSettings, *, secrets: Sequence[str] = (),
                 key_source: Callable[[], str | None] | None = None,
                 outbound: Callable[[str], str] | None = None) -> None:
        self.settings = settings
        # What the asker wrote goes through this before it leaves for the provider: a secret
        # Lore holds (the store's redactor knows it), pasted into a question, stays here.
        self._outbound = outbound if outbound is not None else (lambda text: text)
        self._secrets = tuple(s for s in secrets if s)
        # Read before each request (the secret store caches it): a key rotated in the vault is
        # used without a restart. None: the key given at construction is used for good.
        self._key_source = key_source

    async def _current_key(self) -> None:
        if self._key_source is None:
            return
        key = await asyncio.to_thread(self._key_source)  # a cache refresh may call the vault
        if not key:
            raise ProviderError(f"{self.name}: the API key secret is no longer set", kind="auth")
        if key != self._client.api_key:
            self._client.api_key = key
            self._secrets = (key, *self._secrets[:3])  # the old ones may still be in flight

    async def _open_stream(self, messages: list[dict[str, str]]) -> ChunkStream:
        """Send the request with ``stream=True``; the SDK retries before this returns."""
        await self._current_key()
        stream: ChunkStream = await self._client.chat.completions.create(
            model=self.settings.model,
            messages=messages,
            stream=True,
            temperature=self.settings.temperature,
            **{self.tokens_param: self.settings.max_tokens},
        )
        return stream

    async def _complete(self, messages: list[dict[str, str]], *, max_tokens: int) -> str | None:
        """One non-streaming completion with no retries: the content of the first choice."""
        await self._current_key()
        response = await self._client.with_options(max_retries=0).chat.completions.create(
            model=self.settings.model,
            messages=messages,
            temperature=0.0,
            **{self.tokens_param: max_tokens},
        )
        content: str | None = response.choices[0].message.content if response.choices else None
        return content

    async def aclose(self) -> None:
        await self._client.close()

    async def stream(self, question: str, sources: Sequence[Source]) -> AsyncGenerator[str, None]:
        messages = _as_dicts(build_messages(self._outbound(question), sources))
        timeout = self.settings.timeout_seconds
        # Deadline per await, not one `asyncio.timeout` around the generator: a timeout spanning
        # a `yield` would cancel whatever the consumer awaits between deltas.
        deadline = asyncio.get_running_loop().time() + timeout
        try:
            async with asyncio.timeout_at(deadline):
                chunks = await self._open_stream(messages)
        except Exception as exc:  # noqa: BLE001 - every SDK/transport failure maps to one type
            raise self._error(exc, timeout) from None
        try:
            while True:
                try:
                    async with asyncio.timeout_at(deadline):
                        chunk = await chunks.__anext__()
                except StopAsyncIteration:
                    return
                except Exception as exc:  # noqa: BLE001 - see above
                    raise self._error(exc, timeout) from None
                text = _content(chunk)
                if text:
                    yield text
        finally:
            await self._close_quietly(chunks)

    async def rewrite(self, question: str, earlier_questions: Sequence[str]) -> str:
        messages = _as_dicts(build_rewrite_messages(self._outbound(question),
                                                    [self._outbound(q) for q in earlier_questions]))
        timeout = min(REWRITE_TIMEOUT_SECONDS, self.settings.timeout_seconds)
        try:
            async with asyncio.timeout(timeout):
                text = await self._complete(messages, max_tokens=REWRITE_MAX_TOKENS)
        except Exception as exc:  # noqa: BLE001 - see above
            raise self._error(exc, timeout) from None
        if not text or not text.strip():
            raise ProviderError(f"{self.name}: empty rewrite", kind="malformed")
        return text.strip()

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, _REDACTED)
        return text

    def _error(self, exc: Exception, timeout: float) -> ProviderError:
        name, errors = self.name, self.errors
        if isinstance(exc, ProviderError):
            return exc
        if isinstance(exc, SecretStoreError):  # the vault is down and the cached key expired
            return ProviderError(f"{name}: the API key cannot be read ({type(exc).__name__})", kind="auth")
        if isinstance(exc, TimeoutError):
            return ProviderError(f"{name}: no complete answer within {timeout:g} s", kind="timeout")
        if isinstance(exc, errors.timeout):
            return ProviderError(f"{name}: request timed out", kind="timeout")
        if isinstance(exc, errors.status):
            status = int(getattr(exc, "status_code", 0))
            return self._status_error(status, getattr(exc, "body", None))
        if isinstance(exc, errors.connection):
            return ProviderError(f"{name}: connection to the API failed", kind="connection")
        if isinstance(exc, errors.api):
            # An error event inside the stream (the server gave up mid-answer).
            detail = self._detail(getattr(exc, "body", None))
            return ProviderError(f"{name}: error in stream{detail}", kind="server_error")
        if isinstance(exc, errors.transport):
            return ProviderError(
                f"{name}: connection broke off ({type(exc).__name__})", kind="connection"
            )
        if isinstance(exc, (json.JSONDecodeError, ValueError, TypeError, AttributeError)):
            return ProviderError(
                f"{name}: malformed response ({type(exc).__name__})", kind="malformed"
            )
        return ProviderError(f"{name}: failed ({type(exc).__name__})")

    def _status_error(self, status: int, body: object) -> ProviderError:
        name = self.name
        if status in (401, 403):
            # The server's text may quote the key (OpenAI echoes part of it): leave it out.
            return ProviderError(
                f"{name}: HTTP {status}, the API key was refused (check the secret)",
                retryable=False,
                kind="auth",
            )
        detail = self._detail(body)
        if status == 429:
            return ProviderError(f"{name}: rate limited (HTTP 429){detail}", kind="rate_limited")
        if status >= 500:
            return ProviderError(
                f"{name}: server error (HTTP {status}){detail}", kind="server_error"
            )
        return ProviderError(
            f"{name}: request refused (HTTP {status}){detail}", retryable=False, kind="bad_request"
        )

    def _detail(self, body: object) -> str:
        message: object = body
        if isinstance(body, dict):
            inner = body.get("error", body)
            message = inner.get("message") if isinstance(inner, dict) else inner
        if not isinstance(message, str) or not message.strip():
            return ""
        text = self.redact(" ".join(message.split()))
        if len(text) > _DETAIL_CHARS:
            text = text[:_DETAIL_CHARS] + "…"
        return f": {text}"

    async def _close_quietly(self, chunks: ChunkStream) -> None:
        try:
            async with asyncio.timeout(1.0):
                await chunks.close()
        except Exception as exc:  # noqa: BLE001 - closing a broken stream may fail again
            log.debug("%s: closing the stream failed (%s)", self.name, type(exc).__name__)


def _as_dicts(messages: Sequence[Message]) -> list[dict[str, str]]:
    return [{"role": m.role, "content": m.content} for m in messages]


def _content(chunk: ChatChunk) -> str | None:
    # Groq's last chunk and some servers' keep-alive chunks have no choices.
    return chunk.choices[0].delta.content if chunk.choices else None
