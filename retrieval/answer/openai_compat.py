"""Answers from any OpenAI-compatible chat-completions endpoint (Ollama, vLLM, Azure OpenAI,
OpenAI itself) through the ``openai`` SDK; ``base_url`` is the API root, e.g.
``http://localhost:11434/v1``."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

import openai

from retrieval.answer.chat import ChatCompletionsProvider, ChatSettings, ChunkStream, SdkErrors

if TYPE_CHECKING:
    from openai.types.chat import ChatCompletionMessageParam

# Local servers (Ollama, vLLM) take no key, but the SDK refuses to start without one.
UNUSED_KEY = "unused"


class OpenAICompatProvider(ChatCompletionsProvider):
    name = "openai"
    errors = SdkErrors(
        api=openai.APIError,
        status=openai.APIStatusError,
        timeout=openai.APITimeoutError,
        connection=openai.APIConnectionError,
    )

    def __init__(
        self, settings: ChatSettings, *, base_url: str, api_key: str | None = None
    ) -> None:
        super().__init__(settings, secrets=(api_key,) if api_key else ())
        self._client = openai.AsyncOpenAI(
            api_key=api_key or UNUSED_KEY,
            base_url=base_url,
            timeout=openai.Timeout(
                settings.timeout_seconds, connect=settings.connect_timeout_seconds
            ),
            max_retries=settings.max_retries,
        )

    async def _open_stream(self, messages: list[dict[str, str]]) -> ChunkStream:
        # max_tokens rather than max_completion_tokens: it is the one Ollama and vLLM accept.
        return await self._client.chat.completions.create(
            model=self.settings.model,
            messages=cast("list[ChatCompletionMessageParam]", messages),
            stream=True,
            max_tokens=self.settings.max_tokens,
            temperature=self.settings.temperature,
        )

    async def _complete(self, messages: list[dict[str, str]], *, max_tokens: int) -> str | None:
        response = await self._client.with_options(max_retries=0).chat.completions.create(
            model=self.settings.model,
            messages=cast("list[ChatCompletionMessageParam]", messages),
            max_tokens=max_tokens,
            temperature=0.0,
        )
        return response.choices[0].message.content if response.choices else None

    async def aclose(self) -> None:
        await self._client.close()
