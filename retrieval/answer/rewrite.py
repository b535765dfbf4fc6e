"""Follow-up questions without an LLM: "and on Linux?" after "How do I get VPN access?" is
searched as "VPN access and on Linux?".

A follow-up needs context when it is short or refers back ("it", "that", "they", ...); then the
content words of the most recent earlier question that it lacks are put in front of it. Search
(BM25 and embeddings) cares about the words, not the grammar.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from retrieval.answer.extractive import STOPWORDS

SHORT_QUESTION_WORDS = 6
# fmt: off
REFERRING_WORDS = frozenset(
    {
        "it", "its", "that", "this", "they", "them", "those", "these", "there", "he", "she",
        "him", "her", "his", "their"
    }
)
# fmt: on
_WORD_RE = re.compile(r"[^\W_]+(?:['’][^\W_]+)?")


def needs_context(question: str) -> bool:
    words = [w.lower() for w in _WORD_RE.findall(question)]
    return len(words) <= SHORT_QUESTION_WORDS or any(w in REFERRING_WORDS for w in words)


def heuristic_rewrite(question: str, earlier_questions: Sequence[str]) -> str:
    question = " ".join(question.split())
    earlier = [q for q in earlier_questions if q.strip()]
    if not earlier or not needs_context(question):
        return question
    present = {w.lower() for w in _WORD_RE.findall(question)}
    carried: list[str] = []
    for word in _WORD_RE.findall(earlier[-1]):
        lower = word.lower()
        if lower in STOPWORDS or lower in REFERRING_WORDS or lower in present:
            continue
        if lower not in {c.lower() for c in carried}:
            carried.append(word)
    if not carried:
        return question
    return f"{' '.join(carried)} {question}".strip()
