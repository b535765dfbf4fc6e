"""Answers from any OpenAI-compatible chat-completions endpoint (Ollama, vLLM, Azure OpenAI,
OpenAI itself) through the ``openai`` SDK; ``base_url`` is the API root, e.g.
``http://localhost:11434/v1``."""

from __future__ import annotations

from collections.abc import Callable

import openai

from retrieval.answer.chat import ChatCompletionsProvider, ChatSettings, SdkErrors

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
    # max_tokens rather than max_completion_tokens: it is the one Ollama and vLLM accept.
    tokens_param = "max_tokens"

    def __init__(
        self, settings: ChatSettings, *, base_url: str, api_key: str | None = None,
        key_source: Callable[[], str | None] | None = None,
        outbound: Callable[[str], str] | None = None,
    ) -> None:
        super().__init__(settings, secrets=(api_key,) if api_key else (), key_source=key_source,
                         outbound=outbound)
        self._client = openai.AsyncOpenAI(
            api_key=api_key or UNUSED_KEY,
            base_url=base_url,
            timeout=openai.Timeout(
                settings.timeout_seconds, connect=settings.connect_timeout_seconds
            ),
            max_retries=settings.max_retries,
        )
