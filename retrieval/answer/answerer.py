"""Question + permitted hits -> a stream of answer events, with the citation check and the
extractive fallback.

What the user sees, case by case:

- No permitted hit: the honest ``NO_SOURCES_ANSWER``; no LLM is called (nothing to answer from,
  and a model asked anyway would answer from its own knowledge).
- The LLM answers and cites at least one real source: its text, with made-up markers removed and
  the cited sources renumbered 1..k. Uncited sources are not listed.
- The LLM fails (ProviderError before or while streaming): ``Reset`` if anything was shown, then
  the extractive answer; ``fell_back=True``.
- The LLM says the sources do not answer, citing nothing: the fixed ``NO_SOURCES_ANSWER``
  (``found_sources=False``), not the model's own wording, which may carry a guess ("I don't
  know, but usually ...").
- The LLM answers but cites no real source (it forgot to, or it obeyed a document telling it to
  cite [9]): the answer is replaced by the extractive one (``fell_back=True``, reason
  "uncited"). Lore's promise is that every answer can be checked against a page the asker may
  read; an uncited answer cannot be, and it is exactly what a model answering from its own
  knowledge or from injected instructions produces. Showing it without sources would present
  an unverifiable claim with the same authority as a cited one; the extractive answer is
  always quoted from, and linked to, permitted sources.
"""

from __future__ import annotations

import contextlib
import logging
import re
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import replace

from core.config import ConfigError, LlmConfig
from retrieval.answer.base import (
    NO_SOURCES_ANSWER,
    AnswerEvent,
    AnswerProvider,
    Delta,
    Done,
    Exchange,
    FinalAnswer,
    ProviderError,
    QuestionRewriter,
    Reset,
    Source,
    Timings,
)
from retrieval.answer.chat import ChatCompletionsProvider, ChatSettings
from retrieval.answer.citations import CitationChecker
from retrieval.answer.extractive import ExtractiveProvider
from retrieval.answer.rewrite import heuristic_rewrite
from retrieval.index.base import Hit

log = logging.getLogger(__name__)

MAX_REWRITE_CHARS = 300

_REFUSAL_RE = re.compile(
    r"\b(?:couldn['’]?t|could not|can(?:not|['’]?t)|unable to|did(?: not|n['’]?t)|"
    r"do(?: not|n['’]?t)|does(?: not|n['’]?t))\s+(?:find|locate|see|know|answer|contain|cover|"
    r"mention|say|have)\b"
    r"|\bno (?:information|mention|details?|answer)\b"
    r"|\bnot (?:mentioned|covered|found|stated|specified)\b",
    re.IGNORECASE,
)


def is_refusal(text: str) -> bool:
    """The model said the sources do not answer (only asked of text that cites nothing)."""
    return " ".join(text.split()) == NO_SOURCES_ANSWER or bool(_REFUSAL_RE.search(text))


def number_sources(hits: Sequence[Hit]) -> list[Source]:
    return [Source(number, hit) for number, hit in enumerate(hits, 1)]


class Answerer:
    """One per process; holds no per-answer state, so concurrent answers are safe."""

    def __init__(
        self,
        provider: AnswerProvider,
        *,
        fallback: AnswerProvider | None = None,
        rewriter: QuestionRewriter | None = None,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.provider = provider
        self._fallback = fallback
        self._rewriter = rewriter
        self._clock = clock

    @property
    def provider_name(self) -> str:
        return self.provider.name

    async def answer(self, question: str, hits: Sequence[Hit]) -> AsyncIterator[AnswerEvent]:
        watch = _Stopwatch(self._clock)
        if not hits:
            final = FinalAnswer(NO_SOURCES_ANSWER, (), provider="none", found_sources=False)
            watch.output()
            yield Delta(NO_SOURCES_ANSWER)
            yield Done(final, watch.timings())
            return

        sources = number_sources(hits)
        checker = CitationChecker(sources)
        shown = False  # whether the client has text it would have to discard
        reason: str | None = None
        try:
            async with contextlib.aclosing(self.provider.stream(question, sources)) as deltas:
                async for delta in deltas:
                    text = checker.feed(delta)
                    if text:
                        watch.output()
                        shown = True
                        yield Delta(text)
            tail = checker.finish()
            if tail:
                watch.output()
                shown = True
                yield Delta(tail)
        except ProviderError as err:
            if self._fallback is None:
                raise
            reason = err.kind
            log.warning(
                "answer provider %s failed (%s): %s; answering extractively",
                self.provider.name,
                err.kind,
                err,
            )

        if reason is None:
            final = checker.final(provider=self.provider.name)
            if final.citations:
                yield Done(final, watch.timings())
                return
            if is_refusal(final.text) or self._fallback is None:
                if shown and final.text != NO_SOURCES_ANSWER:
                    yield Reset("no_answer")
                honest = replace(final, text=NO_SOURCES_ANSWER, found_sources=False)
                if honest.text != final.text:
                    watch.output()
                    yield Delta(NO_SOURCES_ANSWER)
                yield Done(honest, watch.timings())
                return
            reason = "uncited"
            log.info(
                "answer provider %s cited no source (removed %s); answering extractively",
                self.provider.name,
                list(checker.removed) or "none",
            )

        assert self._fallback is not None  # reason is only set when there is a fallback
        if shown:
            yield Reset(reason)
        backup = CitationChecker(sources)
        async with contextlib.aclosing(self._fallback.stream(question, sources)) as deltas:
            async for delta in deltas:
                text = backup.feed(delta)
                if text:
                    watch.output()
                    yield Delta(text)
        tail = backup.finish()
        if tail:
            watch.output()
            yield Delta(tail)
        final = backup.final(provider=self._fallback.name, fell_back=True)
        # Keep what the model made up, for the audit log and metrics.
        final = replace(final, removed_citations=checker.removed + final.removed_citations)
        if not final.citations:  # sources with no usable text at all
            if final.text:
                yield Reset("no_answer")
            yield Delta(NO_SOURCES_ANSWER)
            final = replace(final, text=NO_SOURCES_ANSWER, found_sources=False)
        yield Done(final, watch.timings(), fallback_reason=reason)

    async def rewrite_question(self, question: str, history: Sequence[Exchange]) -> str:
        """A follow-up turned into a standalone question for search. Only earlier questions are
        used, never answers or document text."""
        earlier = [e.question for e in history if e.question.strip()]
        if not earlier:
            return question
        if self._rewriter is not None:
            try:
                rewritten = _clean_rewrite(await self._rewriter.rewrite(question, earlier))
            except ProviderError as err:
                log.info("question rewrite failed (%s): %s; using the heuristic", err.kind, err)
            else:
                if rewritten:
                    return rewritten
        return heuristic_rewrite(question, earlier)

    async def aclose(self) -> None:
        await self.provider.aclose()
        if self._fallback is not None:
            await self._fallback.aclose()


class _Stopwatch:
    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._start = clock()
        self._first: float | None = None

    def output(self) -> None:
        if self._first is None:
            self._first = self._clock()

    def timings(self) -> Timings:
        first = None if self._first is None else self._ms(self._first)
        return Timings(first_token_ms=first, total_ms=self._ms(self._clock()))

    def _ms(self, t: float) -> float:
        return round((t - self._start) * 1000.0, 1)


def _clean_rewrite(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    if not lines:
        return ""
    line = re.sub(r"^(?:standalone question|question)\s*:\s*", "", lines[0], flags=re.IGNORECASE)
    line = line.strip().strip("\"'“”‘’`").strip()
    return line if len(line) <= MAX_REWRITE_CHARS else ""


def make_answerer(
    config: LlmConfig,
    secret_lookup: Callable[[str], str | None],
    where: Callable[[str], str] | None = None,
    redact: Callable[[str], str] | None = None,
) -> Answerer:
    """The answerer for ``llm.provider``. Secrets are looked up by name; errors name the
    secret and, with ``where`` (the secret store's), where to set it; never a value.
    ``redact`` (the store's redactor): applied to the questions an LLM is sent."""

    def set_it(name: str) -> str:
        return f"; set {where(name)}" if where is not None else ""

    if config.timeout_seconds <= 0 or config.connect_timeout_seconds <= 0:
        raise ConfigError("llm.timeout_seconds and llm.connect_timeout_seconds must be positive")
    if config.max_retries < 0:
        raise ConfigError("llm.max_retries must be 0 or more")
    if config.provider == "extractive":
        return Answerer(ExtractiveProvider())

    settings = ChatSettings.from_config(config)
    llm: ChatCompletionsProvider
    if config.provider in ("groq", "auto"):
        secret = config.groq_api_key_secret
        key = secret_lookup(secret) if secret else None
        if not key:
            if config.provider == "auto":
                log.info("no Groq key (secret %r): answering extractively, without an LLM", secret)
                return Answerer(ExtractiveProvider())
            raise ConfigError(
                f"llm.provider is 'groq' but the secret {secret!r} (llm.groq_api_key_secret) "
                f"is not set in the secret store{set_it(secret)}"
            )
        from retrieval.answer.groq import GroqProvider

        llm = GroqProvider(settings, api_key=key, base_url=config.base_url,
                           key_source=lambda: secret_lookup(secret), outbound=redact)
    else:
        if not config.base_url:
            raise ConfigError(
                "llm.provider is 'openai' but llm.base_url is empty "
                "(the endpoint's API root, e.g. http://localhost:11434/v1)"
            )
        key = None
        if config.api_key_secret:
            key = secret_lookup(config.api_key_secret)
            if not key:
                raise ConfigError(
                    f"llm.api_key_secret names the secret {config.api_key_secret!r}, "
                    f"which is not set in the secret store{set_it(config.api_key_secret)}"
                )
        from retrieval.answer.openai_compat import OpenAICompatProvider

        name = config.api_key_secret
        llm = OpenAICompatProvider(settings, base_url=config.base_url, api_key=key,
                                   key_source=(lambda: secret_lookup(name)) if name else None,
                                   outbound=redact)
    return Answerer(llm, fallback=ExtractiveProvider(), rewriter=llm)
