"""The scheduled copy generation of every business line: per line and window, at most `per_line_cap` new
headlines, written as one copy file under the line's uploads prefix, so they take exactly the path uploaded
copy takes (admission with its quality checks, tagging, review where the line asks for it) and nothing
generated reaches select without passing admission.

Idempotent per (business line, window): the file's key is derived from both, and a window whose file
exists is left alone, so a retried or repeated schedule writes nothing new. Bounded: a cap per line and
window, a time budget (lines left when it runs out are reported, not started), and no generation for a line
whose review queue already holds `max_pending_review` materials. A provenance record (generator and
version, prompt, seeds, the examples it learned from) is written beside, outside the uploads prefix.
"""

from __future__ import annotations

import json
import zlib
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, Protocol

from creative.creatives import Creative, CreativeStatus
from creative.generation.candidates import FOREIGN_WORDS_LIMIT, clean, content_words, foreign_words, novel
from creative.generation.prompts import few_shot_prompt
from creative.impressions import BetaPosterior
from creative.materials import GENERATED_PREFIX, Material, MaterialKind, MaterialStatus
from creative.ports import (
    ComplianceStore,
    CreativeRepository,
    MaterialRepository,
    ObjectStore,
    RacingStateStore,
)
from creative.quality.compliance import ALL_LINES, compliance_findings
from creative.uploads import GENERATED_FILE_PREFIX, UPLOAD_PREFIX


class CopyWriter(Protocol):
    """A text generator behind the generation service (SmolLM2 on onnxruntime-genai in Lambda)."""

    name: str
    version: str

    def write(self, messages: list[dict[str, str]], *, seed: int) -> str:
        """One answer to the chat messages, reproducible for a seed."""


@dataclass(frozen=True)
class GenerationRules:
    per_line_cap: int = 8  # new headlines per line per window
    attempts_per_line: int = 16  # generations tried to find them (duplicates and misfits are dropped)
    max_pending_review: int = 50  # a line with this many materials waiting for review gets none
    # A line with fewer admitted lines gets none: three is the fewest a few-shot prompt can show without
    # every answer imitating one example (the prompt rotates them).
    min_examples: int = 3
    examples: int = 5
    window_hours: int = 6
    min_chars: int = 4
    max_chars: int = 90


Outcome = Literal[
    "written", "already_written", "no_admitted_copy", "review_queue_full", "out_of_time", "nothing_new"
]


@dataclass
class LineGeneration:
    business_line: str
    outcome: Outcome
    key: str | None = None
    written: list[str] = field(default_factory=list)
    attempts: int = 0


def window_of(at: datetime, hours: int) -> str:
    """The window an instant falls in, named by its start: "20261130T12" for 12:00-18:00 at 6 hours."""
    return f"{at:%Y%m%d}T{at.hour - at.hour % hours:02d}"


def best_performers(creatives: Sequence[Creative], totals: dict, limit: int) -> list[Creative]:
    """Active creatives by posterior mean CTR (Beta(1, 1) prior), shown ones before unseen ones."""

    def score(creative: Creative) -> tuple[bool, float]:
        t = totals.get(creative.creative_id)
        shown = bool(t and t.impressions)
        return shown, BetaPosterior.of(t.impressions, t.clicks).mean if shown else 0.0

    active = [c for c in creatives if c.status is CreativeStatus.ACTIVE]
    return sorted(active, key=score, reverse=True)[:limit]


class CopyGeneration:
    def __init__(
        self,
        materials: MaterialRepository,
        creatives: CreativeRepository,
        racing_state: RacingStateStore,
        objects: ObjectStore,
        writer: Callable[[], CopyWriter],
        *,
        uploads_bucket: str,
        rules: GenerationRules | None = None,
        compliance: ComplianceStore | None = None,
    ):
        self._materials = materials
        self._creatives = creatives
        self._state = racing_state
        self._objects = objects
        self._writer = writer  # loaded on first use: a run where every line is skipped loads no model
        self._bucket = uploads_bucket
        self.rules = rules or GenerationRules()
        self._compliance = compliance

    def run(
        self, at: datetime, seconds_left: Callable[[], float], *, reserve_s: float = 30.0
    ) -> list[LineGeneration]:
        window = window_of(at, self.rules.window_hours)
        # Each line's admitted copy, read once per run: what a line imitates, and the words that are
        # another line's product (`_own_product`).
        copy_of = {
            line: [m for m in self._materials.admitted(line) if m.kind is MaterialKind.COPY and m.text]
            for line in self._materials.business_lines()
        }
        words_of = {
            line: set().union(*(content_words(m.text or "") for m in copies))
            for line, copies in copy_of.items()
        }
        reports = []
        for line, copies in copy_of.items():
            if seconds_left() < reserve_s:
                reports.append(LineGeneration(line, "out_of_time"))
                continue
            others = set().union(*(words for other, words in words_of.items() if other != line))
            reports.append(
                self._generate(
                    line, copies, words_of[line], others, window, at, lambda: seconds_left() - reserve_s
                )
            )
        return reports

    def _generate(
        self,
        line: str,
        copies: list[Material],
        own_words: set[str],
        other_words: set[str],
        window: str,
        at: datetime,
        budget: Callable[[], float],
    ) -> LineGeneration:
        if not copies:
            return LineGeneration(line, "no_admitted_copy")
        if len(copies) < self.rules.min_examples:
            return LineGeneration(line, "too_few_examples")
        category = Counter(m.category for m in copies).most_common(1)[0][0]
        key = f"{UPLOAD_PREFIX}{line}/{category}/{GENERATED_FILE_PREFIX}{window}.txt"
        if self._objects.exists(self._bucket, key, None):
            return LineGeneration(line, "already_written", key)
        if self._pending_review(line) >= self.rules.max_pending_review:
            return LineGeneration(line, "review_queue_full")
        examples, tag_names = self._examples(line, copies)
        writer = self._writer()
        raw, seeds = [], []
        for attempt in range(self.rules.attempts_per_line):
            if budget() <= 0:
                break
            seed = zlib.crc32(f"{line}|{window}|{attempt}".encode()) % 2**31  # the sampler takes an int32
            text = clean(
                writer.write(few_shot_prompt(category, examples, tag_names, attempt), seed=seed),
                min_chars=self.rules.min_chars,
                max_chars=self.rules.max_chars,
            )
            seeds.append(seed)
            if text:
                raw.append(text)
            if len(novel(raw, [m.text or "" for m in copies])) >= self.rules.per_line_cap:
                break
        written = _own_product(
            self._compliant(line, novel(raw, [m.text or "" for m in copies])), own_words, other_words
        )
        written = written[: self.rules.per_line_cap]
        report = LineGeneration(line, "written" if written else "nothing_new", key, written, len(seeds))
        if not written:
            return report if budget() > 0 else LineGeneration(line, "out_of_time", attempts=len(seeds))
        provenance = {
            "business_line": line,
            "window": window,
            "generated_at": at.isoformat(),
            "generator": f"{writer.name}@{writer.version}",
            "prompt": few_shot_prompt(category, examples, tag_names),
            "seeds": seeds,
            "examples": examples,
            "copy_key": key,
            "lines": written,
        }
        # The record first, then the file whose upload event starts admission: a crash between the two
        # leaves a record without a file, and the retried window writes both again (same seeds, same text).
        self._objects.write(
            self._bucket,
            f"{GENERATED_PREFIX}{line}/{window}.json",
            json.dumps(provenance, indent=1).encode(),
            "application/json",
        )
        self._objects.write(
            self._bucket, key, ("\n".join(written) + "\n").encode(), "text/plain; charset=utf-8"
        )
        return report

    def _compliant(self, line: str, candidates: list[str]) -> list[str]:
        """Drops what the line's or every line's compliance lists flag (banned claims, regulated terms,
        competitors' names) before anything is written: admission would stop them anyway, but generated copy
        should not fill the review queue with them."""
        if self._compliance is None:
            return candidates
        lists = [self._compliance.current(line), self._compliance.current(ALL_LINES)]
        return [text for text in candidates if not compliance_findings(text, lists)]

    def _pending_review(self, line: str) -> int:
        page = self._materials.list(
            business_line=line,
            status=MaterialStatus.NEEDS_REVIEW,
            limit=self.rules.max_pending_review,
            next_token=None,
        )
        return len(page.items)

    def _examples(self, line: str, copies: Sequence[Material]) -> tuple[list[str], list[str]]:
        """The best performers' headlines (newest admitted copy where nothing has been shown yet), and the
        names of the tags they carry most."""
        creatives = self._creatives.for_business_line(line)
        totals = self._state.totals([c.creative_id for c in creatives])
        headlines = list(
            dict.fromkeys(c.headline for c in best_performers(creatives, totals, 20) if c.headline)
        )
        newest = sorted(copies, key=lambda m: m.created_at, reverse=True)
        headlines += [m.text for m in newest if m.text and m.text not in headlines]
        examples = headlines[: self.rules.examples]
        by_text = {m.text: m for m in copies}
        tags = Counter(t.name for text in examples if text in by_text for t in by_text[text].tags)
        return examples, [name for name, _ in tags.most_common(6)]


def _own_product(candidates: list[str], own_words: set[str], other_words: set[str]) -> list[str]:
    """Drops a candidate that restates another line's product: `FOREIGN_WORDS_LIMIT` or more of its words
    appear in other lines' admitted copy and never in this line's (a small model prompted with one line's
    copy still borrows from what it read elsewhere)."""
    return [
        text for text in candidates if len(foreign_words(text, own_words, other_words)) < FOREIGN_WORDS_LIMIT
    ]
