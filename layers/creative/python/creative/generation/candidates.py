"""From a model's raw answer to a candidate line of copy: one line, no decoration, within length, new."""

from __future__ import annotations

import re
from collections.abc import Iterable

from creative.quality.compliance import normal_form

_WORD = re.compile(r"[a-z]{4,}")  # content words: shorter ones are mostly function words
# A candidate with this many words that only other lines' copy uses is about their product, not this line's.
FOREIGN_WORDS_LIMIT = 2
_DECORATION = re.compile(r"^\s*(?:[-*•\d.)]+\s*|headline\s*:\s*)", re.IGNORECASE)
_EMOJI = re.compile("[\U0001f300-\U0001faff\u2600-\u27bf]")


def clean(raw: str, *, min_chars: int, max_chars: int) -> str | None:
    """The first non-empty line without list marks, a "Headline:" label, quotes, hashtags or emoji; None
    when what is left is too short or too long to be copy."""
    for line in raw.splitlines():
        text = _DECORATION.sub("", line).strip()
        text = _EMOJI.sub("", text).replace("#", "").strip().strip("\"'“”‘’").strip()
        text = re.sub(r"\s+", " ", text)
        if text:
            return text if min_chars <= len(text) <= max_chars else None
    return None


# Words of four letters or more that say nothing about a product: any line's copy may use them.
_COMMON = frozenset(
    [
        "about",
        "after",
        "again",
        "also",
        "best",
        "black",
        "code",
        "each",
        "every",
        "even",
        "from",
        "have",
        "here",
        "into",
        "just",
        "like",
        "make",
        "more",
        "most",
        "much",
        "need",
        "never",
        "next",
        "only",
        "other",
        "over",
        "same",
        "save",
        "some",
        "such",
        "take",
        "than",
        "that",
        "their",
        "them",
        "then",
        "there",
        "these",
        "they",
        "this",
        "time",
        "today",
        "very",
        "want",
        "well",
        "were",
        "what",
        "when",
        "where",
        "which",
        "while",
        "white",
        "will",
        "with",
        "would",
        "year",
        "your",
        "yours",
    ]
)


def content_words(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if w not in _COMMON}


def foreign_words(text: str, own: set[str], others: set[str]) -> list[str]:
    """The candidate's words that another line's admitted copy uses and this line's never does: "Crunchy
    kibble your dog will love" written for a coffee line, from a library where only the pets line says
    kibble and dog."""
    return sorted(w for w in content_words(text) if w in others and w not in own)


def novel(candidates: Iterable[str], existing: Iterable[str]) -> list[str]:
    """Candidates whose normal form (case, accents, punctuation, look-alikes) is neither an existing line's
    nor an earlier candidate's. Near-duplicates beyond that are the tagging pass's job, as for uploads."""
    seen = {normal_form(text) for text in existing}
    kept = []
    for text in candidates:
        form = normal_form(text)
        if form and form not in seen:
            seen.add(form)
            kept.append(text)
    return kept
