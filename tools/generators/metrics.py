"""What a generated line is worth, measured the same way for every generator (no torch here)."""

from __future__ import annotations

import random
import re
from collections import Counter
from collections.abc import Collection, Iterable, Sequence

import numpy as np
from creative.admission.copy import split_copy_lines
from creative.admission.limits import AdmissionLimits
from creative.quality.compliance import normal_form
from creative.quality.copy_checks import copy_findings
from creative.quality.policy import DEFAULT_POLICY
from creative.quality.verdicts import Verdict

_WORD = re.compile(r"[a-z]+")


def passes_admission_form(text: str, limits: AdmissionLimits | None = None) -> bool:
    """Admission's rules for a copy line that need no model: length, characters, caps, punctuation, emoji,
    URLs, phone numbers, digits only."""
    lines = split_copy_lines(text, json_lines=False, limits=limits or AdmissionLimits())
    if not isinstance(lines, list) or len(lines) != 1 or lines[0].rejections:
        return False
    findings, _ = copy_findings(lines[0].text, DEFAULT_POLICY)
    return all(f.verdict is Verdict.PASS for f in findings)


def distinct_n(texts: Sequence[str], n: int) -> float:
    """Unique word n-grams over all word n-grams of the samples (1.0: no repetition at all)."""
    grams = [
        tuple(words[i : i + n])
        for t in texts
        for words in [_WORD.findall(t.lower())]
        for i in range(len(words) - n + 1)
    ]
    return len(set(grams)) / len(grams) if grams else 0.0


def score_samples(
    samples: Sequence[str],
    training: Iterable[str],
    vocabulary: set[str],
    keywords: Sequence[Sequence[str]] | None = None,
) -> dict:
    seen = {normal_form(t) for t in training}
    words = [w for s in samples for w in _WORD.findall(s.lower())]
    report = {
        "samples": len(samples),
        "admission_form_pass": sum(passes_admission_form(s) for s in samples) / len(samples),
        "novel": sum(normal_form(s) not in seen for s in samples) / len(samples),
        "unique": len({normal_form(s) for s in samples}) / len(samples),
        "distinct_1": round(distinct_n(samples, 1), 4),
        "distinct_2": round(distinct_n(samples, 2), 4),
        "known_word_share": sum(w in vocabulary for w in words) / len(words) if words else 0.0,
        "mean_chars": sum(len(s) for s in samples) / len(samples),
    }
    if keywords is not None:
        asked = [(k, s.lower()) for ks, s in zip(keywords, samples, strict=True) for k in ks]
        report["keyword_hit"] = sum(k in s for k, s in asked) / len(asked) if asked else 0.0
    return {k: round(v, 4) if isinstance(v, float) else v for k, v in report.items()}


NOVELTY_COSINE = 0.9  # a sample this close (MiniLM cosine) to an existing line is that line again


def nearest_cosine(samples: np.ndarray, library: np.ndarray, chunk: int = 512) -> np.ndarray:
    """Each sample's highest cosine to any library line (both sets of unit-length embeddings)."""
    return (
        np.concatenate(
            [(samples[i : i + chunk] @ library.T).max(axis=1) for i in range(0, len(samples), chunk)]
        )
        if len(samples)
        else np.zeros(0)
    )


def family_figures(
    texts: Sequence[str],
    perplexity: Sequence[float | None],
    nearest: Sequence[float],
    admitted: Sequence[bool],
) -> dict:
    """The comparison's quality columns for one family's samples: fluency (the median and mean of each
    line's perplexity per token; empty lines are not scored), novelty against the library (share of samples
    with cosine < NOVELTY_COSINE to every existing line), diversity and the admission form's pass rate."""
    scored = [p for p in perplexity if p is not None]
    n = len(texts)
    return {
        "samples": n,
        "perplexity": round(float(np.median(scored)), 2) if scored else None,
        "perplexity_mean": round(float(np.mean(scored)), 2) if scored else None,
        "perplexity_unscored": n - len(scored),
        "novelty": round(sum(c < NOVELTY_COSINE for c in nearest) / n, 4) if n else 0.0,
        "distinct_1": round(distinct_n(texts, 1), 4),
        "distinct_2": round(distinct_n(texts, 2), 4),
        "admission_pass_rate": round(sum(admitted) / n, 4) if n else 0.0,
    }


def intended_tag_share(tags: Sequence[Collection[str]], intended: Sequence[Collection[str]]) -> dict:
    """Share of samples whose tags include at least one of the tags they were meant to carry, over the samples
    meant to carry some: a sample asked to imitate a line the tagger leaves untagged can neither hit nor miss,
    so it is left out (`intended_tag_samples` counts the rest). None when no sample has intended tags."""
    asked = [(set(t), set(i)) for t, i in zip(tags, intended, strict=True) if i]
    return {
        "intended_tag_share": round(sum(bool(t & i) for t, i in asked) / len(asked), 4) if asked else None,
        "intended_tag_samples": len(asked),
    }


def most_common_tags(tags: Iterable[Collection[str]], k: int) -> list[str]:
    """The k tags most lines carry (each line counted once per tag; ties by name, so the list is stable)."""
    counts = Counter(tag for line in tags for tag in set(line))
    return sorted(counts, key=lambda tag: (-counts[tag], tag))[:k]


def same_line_partners(domains: Sequence[str], seed: int) -> list[int | None]:
    """For each line, another line of the same business line (a seeded shuffle, each pointing at the next);
    None for a line alone in its business line. Scoring a human line against its partner's tags gives what
    knowing only the business line is worth."""
    rng = random.Random(seed)
    by_line: dict[str, list[int]] = {}
    for i, domain in enumerate(domains):
        by_line.setdefault(domain, []).append(i)
    partners: list[int | None] = [None] * len(domains)
    for line in sorted(by_line):
        rows = by_line[line]
        rng.shuffle(rows)
        if len(rows) > 1:
            for row, partner in zip(rows, rows[1:] + rows[:1], strict=True):
                partners[row] = partner
    return partners
