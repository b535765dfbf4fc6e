"""Answers from Groq through the official ``groq`` SDK (``POST /openai/v1/chat/completions``)."""

from __future__ import annotations

from collections.abc import Callable

import groq
import httpx

from retrieval.answer.chat import ChatCompletionsProvider, ChatSettings, SdkErrors

DEFAULT_BASE_URL = "https://api.groq.com"


class GroqProvider(ChatCompletionsProvider):
    name = "groq"
    errors = SdkErrors(
        api=groq.APIError,
        status=groq.APIStatusError,
        timeout=groq.APITimeoutError,
        connection=groq.APIConnectionError,
        transport=(httpx.TransportError,),
    )
    tokens_param = "max_completion_tokens"

    def __init__(self, settings: ChatSettings, *, api_key: str, base_url: str = "",
                 key_source: Callable[[], str | None] | None = None,
                 outbound: Callable[[str], str] | None = None) -> None:
        super().__init__(settings, secrets=(api_key,), key_source=key_source, outbound=outbound)
        # The base URL is always passed so that a stray GROQ_BASE_URL in the environment cannot
        # redirect questions (and the key) somewhere the config does not say.
        self._client = groq.AsyncGroq(
            api_key=api_key,
            base_url=base_url or DEFAULT_BASE_URL,
            timeout=groq.Timeout(
                settings.timeout_seconds, connect=settings.connect_timeout_seconds
            ),
            max_retries=settings.max_retries,
        )
