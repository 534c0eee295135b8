"""Near-duplicates within a business line, found without reading every material of the line.

Each material gets a fingerprint: a unit embedding (MiniLM's for copy, EfficientNet-lite0's for images) and a
second, exact measure that catches what the embedding misses: for images a 64-bit perceptual hash, for copy
the set of its canonical words (see `CopyCanonicaliser`: "Affordable coffee, delivered fast!" and
"delivered quickly, affordable coffee" have the same set). The index files each fingerprint under a few
keys: the bands of a locality-sensitive hash of the embedding (random-hyperplane signs of the embedding
minus the space's mean, in `bands` bands of `bits` bits: two vectors at angle t share one band with
probability (1 - t/pi)^bits, so near-duplicates meet in at least one band while unrelated material rarely
does) and, for images, the perceptual hash cut in eight 8-bit bands (a Hamming distance of 7 or less always
leaves one band equal); for copy, a digest of the canonical word set. A lookup reads the buckets of the new
material's keys and compares those candidates exactly: its cost follows the bucket sizes, not the number of
materials in the line.

A space (`SimilaritySpace`) names the encoder, hyperplanes, centre and synonyms its fingerprints were made
with; index keys carry its name, so a new encoder never compares its embeddings with an old one's.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from PIL import Image, ImageOps

from creative.materials import ReasonCode
from creative.quality.policy import QualityPolicy
from creative.quality.verdicts import Finding, Verdict, graded

PHASH_BANDS = 8
_WORD = re.compile(r"[a-z0-9]+(?:['’-][a-z0-9]+)*")
_DIGIT_SEPARATOR = re.compile(r"(?<=\d)[.,\s](?=\d)")  # 1,500.00 and 1500.00 and 150000 read alike


@dataclass(frozen=True)
class Fingerprint:
    vector: np.ndarray  # unit length, float32
    phash: int | None = None  # images only
    words: frozenset[str] | None = None  # copy only: its canonical words


@dataclass(frozen=True)
class IndexedFingerprint:
    material_id: str
    fingerprint: Fingerprint


@dataclass(frozen=True)
class Neighbour:
    material_id: str
    cosine: float
    phash_distance: int | None = None
    word_overlap: float | None = None  # Jaccard of the canonical word sets


@dataclass(frozen=True)
class Match:
    finding: Finding
    neighbour: Neighbour
    entry: IndexedFingerprint


class SimilarityIndex(Protocol):
    """Fingerprints filed under keys, per scope (a business line in one space)."""

    def candidates(self, scope: str, keys: Sequence[str]) -> list[IndexedFingerprint]:
        """Every fingerprint filed under any of the keys (a material may appear once per shared key)."""

    def add(self, scope: str, keys: Sequence[str], entry: IndexedFingerprint) -> None: ...

    def remove(self, scope: str, keys: Sequence[str], material_id: str) -> None: ...


class CopyCanonicaliser:
    """The form copy is fingerprinted in: case and accents folded, punctuation and digit grouping dropped, every word or
    phrase of a synonym group replaced by the group's representative ("budget-friendly" and "affordable"
    read the same). Groups join the synonym lists transitively; that only ever makes two lines look closer,
    and only for near-duplicate detection, never for tagging."""

    def __init__(self, synonyms: dict[str, list[str]]):
        parent: dict[tuple[str, ...], tuple[str, ...]] = {}

        def root(phrase: tuple[str, ...]) -> tuple[str, ...]:
            parent.setdefault(phrase, phrase)
            while parent[phrase] != phrase:
                parent[phrase] = parent[parent[phrase]]
                phrase = parent[phrase]
            return phrase

        for word, alternatives in synonyms.items():
            for alternative in alternatives:
                parent[root(tuple(words(alternative)))] = root(tuple(words(word)))
        groups: dict[tuple[str, ...], list[tuple[str, ...]]] = {}
        for phrase in list(parent):
            groups.setdefault(root(phrase), []).append(phrase)
        self._canonical = {
            phrase: min(members, key=lambda m: (len(m), m))
            for members in groups.values()
            for phrase in members
        }
        self._longest = max((len(p) for p in self._canonical), default=1)

    def __call__(self, text: str) -> str:
        tokens, out, i = words(text), [], 0
        while i < len(tokens):
            for length in range(min(self._longest, len(tokens) - i), 0, -1):
                phrase = tuple(tokens[i : i + length])
                if phrase in self._canonical:
                    out.extend(self._canonical[phrase])
                    i += length
                    break
            else:
                out.append(tokens[i])
                i += 1
        return " ".join(out)


def copy_fingerprint(embedding: np.ndarray, text: str, canonical: CopyCanonicaliser) -> Fingerprint:
    """The line's own embedding (the one its tags come from: no second encoder pass) and its canonical
    words, which catch the case, punctuation, word-order and listed-synonym variants the embedding scores
    below the cuts (docs/decisions.md)."""
    return Fingerprint(embedding, words=frozenset(canonical(text).split()))


def words(text: str) -> list[str]:
    folded = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    return _WORD.findall(_DIGIT_SEPARATOR.sub("", folded.casefold()))


class SimilaritySpace:
    """One kind's fingerprints: where they hash to and how far apart they are."""

    def __init__(self, name: str, planes: np.ndarray, centre: np.ndarray):
        self.name = name
        self._planes = planes.astype(np.float32)  # (bands, bits, dim)
        self._centre = centre.astype(np.float32)

    @classmethod
    def generated(
        cls, kind: str, encoder_version: str, centre: np.ndarray, *, bands: int, bits: int, seed: int
    ) -> SimilaritySpace:
        """Hyperplanes drawn from `seed`: the artifact ships the seed, not the planes."""
        planes = np.random.default_rng(seed).standard_normal((bands, bits, centre.shape[0]))
        digest = hashlib.sha256(f"{encoder_version}|{bands}|{bits}|{seed}".encode())
        digest.update(np.ascontiguousarray(centre, dtype=np.float32).tobytes())
        return cls(f"{kind}-{digest.hexdigest()[:10]}", planes, centre)

    def keys(self, fingerprint: Fingerprint) -> list[str]:
        bits = (np.einsum("bkd,d->bk", self._planes, fingerprint.vector - self._centre) >= 0).astype(np.int64)
        codes = bits @ (1 << np.arange(bits.shape[1]))
        keys = [f"lsh{band}:{int(code)}" for band, code in enumerate(codes)]
        if fingerprint.phash is not None:
            keys += [f"ph{band}:{(fingerprint.phash >> (8 * band)) & 0xFF}" for band in range(PHASH_BANDS)]
        if fingerprint.words:
            digest = hashlib.sha256(" ".join(sorted(fingerprint.words)).encode()).hexdigest()[:16]
            keys.append(f"words:{digest}")
        return keys


def _dct_matrix(size: int) -> np.ndarray:
    k = np.arange(size)
    matrix = np.cos(np.pi * (2 * k[None, :] + 1) * k[:, None] / (2 * size)) * np.sqrt(2.0 / size)
    matrix[0] /= np.sqrt(2.0)
    return matrix


_DCT32 = _dct_matrix(32)


def perceptual_hash(image: Image.Image) -> int:
    """pHash: the signs, against their median, of the 8x8 lowest frequencies (DC excluded) of the DCT of a
    32x32 greyscale thumbnail. Robust to rescaling, re-encoding and small brightness changes."""
    grey = ImageOps.exif_transpose(image).convert("L").resize((32, 32), Image.Resampling.LANCZOS)
    low = (_DCT32 @ np.asarray(grey, dtype=np.float64) @ _DCT32.T)[:8, :8].flatten()[1:]
    bits = low > np.median(low)
    return int(sum(1 << i for i, bit in enumerate(bits) if bit))


def hamming(a: int, b: int) -> int:
    return (a ^ b).bit_count()


def compare(material_id: str, fingerprint: Fingerprint, other: Fingerprint) -> Neighbour:
    cosine = float(np.dot(fingerprint.vector, other.vector))
    distance = (
        None if fingerprint.phash is None or other.phash is None else hamming(fingerprint.phash, other.phash)
    )
    overlap = None
    if fingerprint.words and other.words:
        overlap = len(fingerprint.words & other.words) / len(fingerprint.words | other.words)
    return Neighbour(material_id, cosine, distance, overlap)


def near_duplicate_finding(neighbour: Neighbour, is_image: bool, policy: QualityPolicy) -> Finding | None:
    """The worse verdict of the neighbour's similarity: embedding cosine and, for images, hash distance; for
    copy, the share of canonical words in common."""
    cuts = policy.image_similarity if is_image else policy.copy_similarity
    verdict = graded(neighbour.cosine, *cuts)
    detail = f"{neighbour.cosine:.3f} cosine"
    if is_image and neighbour.phash_distance is not None:
        by_hash = graded(neighbour.phash_distance, *policy.phash_distance, higher_is_worse=False)
        verdict = max(verdict, by_hash)
        detail += f", perceptual hash {neighbour.phash_distance} bits apart"
    if not is_image and neighbour.word_overlap is not None:
        verdict = max(verdict, graded(neighbour.word_overlap, *policy.copy_word_overlap))
        detail += f", {neighbour.word_overlap:.0%} of canonical words shared"
    if verdict is Verdict.PASS:
        return None
    score = round(neighbour.cosine, 4)
    return Finding(ReasonCode.NEAR_DUPLICATE, verdict, f"like {neighbour.material_id}: {detail}", score)


class NearDuplicates:
    """Lookups and filing in one business line's index, for one space per material kind."""

    def __init__(self, index: SimilarityIndex, spaces: dict[str, SimilaritySpace]):
        self._index = index
        self._spaces = spaces

    def matches(
        self,
        business_line: str,
        kind: str,
        material_id: str,
        fingerprint: Fingerprint,
        policy: QualityPolicy,
    ) -> list[Match]:
        """Every indexed material of the line this one is a near-duplicate of, worst first (itself excluded:
        a replay finds its own entry)."""
        space = self._spaces[kind]
        seen: set[str] = {material_id}
        found = []
        for entry in self._index.candidates(self._scope(business_line, space), space.keys(fingerprint)):
            if entry.material_id in seen:
                continue
            seen.add(entry.material_id)
            neighbour = compare(entry.material_id, fingerprint, entry.fingerprint)
            finding = near_duplicate_finding(neighbour, kind == "image", policy)
            if finding is not None:
                found.append(Match(finding, neighbour, entry))
        return sorted(found, key=lambda match: (-match.finding.verdict, -match.neighbour.cosine))

    def remember(self, business_line: str, kind: str, material_id: str, fingerprint: Fingerprint) -> None:
        space = self._spaces[kind]
        self._index.add(
            self._scope(business_line, space),
            space.keys(fingerprint),
            IndexedFingerprint(material_id, fingerprint),
        )

    def forget(self, business_line: str, kind: str, entries: Iterable[IndexedFingerprint]) -> None:
        space = self._spaces[kind]
        for entry in entries:
            self._index.remove(
                self._scope(business_line, space), space.keys(entry.fingerprint), entry.material_id
            )

    @staticmethod
    def _scope(business_line: str, space: SimilaritySpace) -> str:
        return f"{business_line}#{space.name}"
