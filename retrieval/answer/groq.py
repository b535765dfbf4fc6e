"""Answers from Groq through the official ``groq`` SDK (``POST /openai/v1/chat/completions``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

import groq
import httpx

from retrieval.answer.chat import ChatCompletionsProvider, ChatSettings, ChunkStream, SdkErrors

if TYPE_CHECKING:
    from groq.types.chat import ChatCompletionMessageParam

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

    def __init__(self, settings: ChatSettings, *, api_key: str, base_url: str = "") -> None:
        super().__init__(settings, secrets=(api_key,))
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

    async def _open_stream(self, messages: list[dict[str, str]]) -> ChunkStream:
        return await self._client.chat.completions.create(
            model=self.settings.model,
            messages=cast("list[ChatCompletionMessageParam]", messages),
            stream=True,
            max_completion_tokens=self.settings.max_tokens,
            temperature=self.settings.temperature,
        )

    async def _complete(self, messages: list[dict[str, str]], *, max_tokens: int) -> str | None:
        response = await self._client.with_options(max_retries=0).chat.completions.create(
            model=self.settings.model,
            messages=cast("list[ChatCompletionMessageParam]", messages),
            max_completion_tokens=max_tokens,
            temperature=0.0,
        )
        return response.choices[0].message.content if response.choices else None

    async def aclose(self) -> None:
        await self._client.close()
