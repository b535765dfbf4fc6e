"""The contract between the conversation service and the answer providers.

A provider turns a question plus numbered sources into a stream of text deltas. It never sees a
source the asker may not read: the sources come from an ACL-filtered search. What the provider
says is then checked (:mod:`retrieval.answer.citations`): citations to numbers that are not
sources are removed, and only cited sources are shown.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from retrieval.errors import RetrievalError
from retrieval.index.base import Hit

NO_SOURCES_ANSWER = "I couldn't find this in documents you can access."


class ProviderError(RetrievalError, RuntimeError):
    """The provider failed (timeout, HTTP error, malformed stream). The message never contains
    credentials; ``retryable`` says whether the caller may fall back or retry."""

    def __init__(self, message: str, *, retryable: bool = True, kind: str = "error") -> None:
        super().__init__(message)
        self.retryable = retryable
        # A short, fixed vocabulary for logs and metric labels: timeout, rate_limited,
        # server_error, auth, bad_request, connection, malformed, error.
        self.kind = kind


@dataclass(frozen=True)
class Source:
    """One retrieved, permitted chunk as the provider sees it: numbered from 1."""

    number: int
    hit: Hit

    @property
    def title(self) -> str:
        return self.hit.title

    @property
    def url(self) -> str:
        return self.hit.url

    @property
    def text(self) -> str:
        return self.hit.text


@dataclass(frozen=True)
class Exchange:
    """An earlier question in the same thread (answers are not replayed into prompts)."""

    question: str


@dataclass(frozen=True)
class Citation:
    number: int  # as shown to the user: renumbered 1..n in order of first citation
    title: str
    url: str
    source_id: str
    heading_path: tuple[str, ...] = ()
    document_id: str = ""
    updated_at: datetime | None = None  # when the source last changed, if the caller knows it


@dataclass(frozen=True)
class FinalAnswer:
    text: str  # with citation markers [n] renumbered to match ``citations``
    citations: tuple[Citation, ...]
    provider: str  # name of the provider that produced the text
    fell_back: bool = False  # the configured LLM failed and the extractive provider answered
    found_sources: bool = True  # False: the honest "couldn't find" answer
    removed_citations: tuple[int, ...] = field(default=())  # numbers the model made up


class AnswerProvider(Protocol):
    """``aclose`` has a default, which a provider that subclasses this protocol inherits."""

    name: str

    def stream(self, question: str, sources: Sequence[Source]) -> AsyncGenerator[str, None]:
        """Text deltas of an answer that cites sources as [n]. Raises ProviderError. The
        caller closes the generator however its loop ends (an open one keeps its HTTP
        response open until garbage collection)."""
        ...

    async def aclose(self) -> None:
        """Release the provider's HTTP client. Default: nothing to release."""
        return


class QuestionRewriter(Protocol):
    async def rewrite(self, question: str, earlier_questions: Sequence[str]) -> str:
        """A standalone version of a follow-up question, from earlier *questions* only (never
        document text). Raises ProviderError."""
        ...


# What the conversation service receives from ``Answerer.answer``, in order:
# Delta* (Reset Delta*)* Done. ``Done.final.text`` is authoritative; it always equals the
# deltas since the last Reset joined together.


@dataclass(frozen=True)
class Delta:
    text: str


@dataclass(frozen=True)
class Reset:
    """The text streamed so far is void (the LLM failed, or its answer could not be used):
    the client must discard what it showed; the replacement follows as new deltas."""

    reason: str


@dataclass(frozen=True)
class Timings:
    first_token_ms: float | None  # None: nothing was streamed (e.g. no sources)
    total_ms: float


@dataclass(frozen=True)
class Done:
    final: FinalAnswer
    timings: Timings
    # Why the extractive provider answered instead of the configured LLM (a ProviderError
    # kind, or "uncited"); None when it did not.
    fallback_reason: str | None = None


AnswerEvent = Delta | Reset | Done
