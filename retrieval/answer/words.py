"""The words a question and a passage are compared by: lower-case content words, lightly
stemmed (:func:`terms`), shared by the extractive answer and the relevance gate."""

from __future__ import annotations

import re
from collections.abc import Iterable
from itertools import pairwise

_WORD_RE = re.compile(r"[^\W_]+", re.UNICODE)
_COMPOUND_RE = re.compile(r"\b[^\W_]+(?:-[^\W_]+)+\b")

# fmt: off
STOPWORDS = frozenset(
    {
        "a", "about", "above", "after", "again", "against", "all", "am", "an", "and", "any",
        "are", "as", "at", "be", "because", "been", "before", "being", "below", "between",
        "both", "but", "by", "can", "could", "did", "do", "does", "doing", "down", "during",
        "each", "few", "for", "from", "further", "had", "has", "have", "having", "he", "her",
        "here", "hers", "him", "his", "how", "i", "if", "in", "into", "is", "it", "its",
        "itself", "just", "me", "more", "most", "my", "no", "nor", "not", "now", "of", "off",
        "on", "once", "only", "or", "other", "our", "ours", "out", "over", "own", "same",
        "she", "should", "so", "some", "such", "than", "that", "the", "their", "theirs",
        "them", "then", "there", "these", "they", "this", "those", "through", "to", "too",
        "under", "until", "up", "very", "was", "we", "were", "what", "when", "where", "which",
        "while", "who", "whom", "why", "will", "with", "would", "you", "your", "yours", "get",
        "got", "need", "needs", "please", "tell", "know", "want"
    }
)
# fmt: on

# fmt: off
_SUFFIXES = (
    ("ations", ""), ("ation", ""), ("ments", ""), ("ment", ""), ("ing", ""), ("als", ""),
    ("al", ""), ("ies", "y"), ("ied", "y"), ("ed", ""), ("es", ""), ("ly", ""), ("s", ""),
)
# fmt: on


def terms(text: str) -> list[str]:
    """Lower-case content words, lightly stemmed so "requests" meets "request"."""
    return [_stem(w) for w in _WORD_RE.findall(text.lower()) if w not in STOPWORDS]


def _stem(word: str) -> str:
    # Crude on purpose: it only has to bring a question's word and a document's to one form
    # ("carried" / "carry", "approval" / "approves").
    for suffix, replacement in _SUFFIXES:
        if len(word) > len(suffix) + 2 and word.endswith(suffix):
            return word[: -len(suffix)] + replacement
    return word


def matching(text: str) -> list[str]:
    """:func:`terms` for matching a question to a passage, in order: a final "e" dropped, so
    that the stem of "closes" ("clos") meets "close"."""
    return [_without_e(t) for t in terms(text)]


def words(text: str) -> list[str]:
    """:func:`matching`, plus each hyphenated word also written as one ("Wi-Fi" as "wifi",
    "e-mail" as "email"), so that either spelling meets the other."""
    joined = [_stem(m.group(0).replace("-", "").lower()) for m in _COMPOUND_RE.finditer(text)]
    return matching(text) + [_without_e(t) for t in joined]


def _without_e(term: str) -> str:
    return term[:-1] if len(term) > 3 and term.endswith("e") else term


def pairs(sequence: Iterable[str]) -> frozenset[tuple[str, str]]:
    """Adjacent pairs of terms ("api key", "bike room")."""
    return frozenset(pairwise(sequence))
