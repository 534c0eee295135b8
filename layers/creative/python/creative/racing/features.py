"""Features of the CTR model: user context, creative, and explicit user x creative crosses.

One `FeatureSpec` is learned with each model and travels inside the model artifact, so training and
serving encode a (user, creative) pair the same way. Categorical values become integer codes (0 = unseen
or missing) that LightGBM splits on natively; its ONNX export keeps those splits exact.

The crosses are explicit because the seed system reported missing user-creative interactions as its main
weakness: a tree can find `gender=f AND category=shoes` on its own, but a single categorical column
`gender=f|category=shoes` lets one split carry it, which matters with the few clicks a new creative has.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from creative.clock import parse_iso
from creative.creatives import Creative
from creative.deferred_model import DeferredModel

UserFeatures = Mapping[str, bool | int | float | str]

MISSING = 0  # the code of an unseen or absent categorical value
CREATIVE_FIELDS = ("business_line", "category", "image", "copy", "creative_id")
CROSSED_CREATIVE_FIELDS = ("category", "creative_id")
AGE_COLUMN = "creative.age_hours"  # only in specs fitted before 2026-12-02


@dataclass(frozen=True)
class CreativeFeatures:
    creative_id: str
    business_line: str
    category: str
    tags: tuple[str, ...] = ()
    elements: tuple[str, ...] = ()  # element ids: (image material, copy material)
    created_at: float = 0.0  # epoch seconds
    quality: tuple[tuple[str, float], ...] = ()  # (name, value), sorted: the elements' quality measures

    @classmethod
    def of(cls, creative: Creative) -> CreativeFeatures:
        return cls(
            creative_id=creative.creative_id,
            business_line=creative.business_line,
            category=creative.category,
            tags=tuple(creative.tags),
            elements=(creative.image_material_id, creative.copy_material_id),
            created_at=parse_iso(creative.created_at).timestamp(),
            quality=tuple(sorted(creative.quality.items())),
        )

    def field(self, name: str) -> str:
        if name == "image":
            return self.elements[0] if self.elements else ""
        if name == "copy":
            return self.elements[1] if len(self.elements) > 1 else ""
        return getattr(self, name)


@dataclass(frozen=True)
class LoggedImpression:
    """One logged decision joined with its outcome: a training row."""

    user: UserFeatures
    creative: CreativeFeatures
    shown_at: float  # epoch seconds
    clicked: bool
    propensity: float = 1.0


def _is_numeric(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _categorical(value: object) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def _crossed(user_value: str, creative: CreativeFeatures, creative_name: str) -> str:
    """A user x creative cross's value, e.g. "f|shoes": one spelling for fitting, serving and training."""
    return f"{user_value}|{creative.field(creative_name)}"


def _snapped(values: np.ndarray) -> np.ndarray:
    """Numbers rounded to 12 significant bits.

    LightGBM puts split thresholds halfway between neighbouring values, in double precision; ONNX compares in
    float32. For values with at most 12 significant bits the midpoint needs 13, so it is exact in float32 and
    both sides of every split agree. Unsnapped, a value can fall between a double threshold and its float32
    rounding, and the exported model answers differently on it (seen with creative ages in seconds).
    """
    mantissa, exponent = np.frexp(values)
    return np.ldexp(np.round(mantissa * 4096.0) / 4096.0, exponent).astype(np.float32)


def _vocabulary(values: Iterable[str], max_size: int, min_count: int) -> list[str]:
    counts = Counter(values)
    frequent = [v for v, n in counts.most_common() if n >= min_count]
    return sorted(frequent[:max_size])


class FeatureSpec(DeferredModel):
    """Which columns the model sees and how values become numbers; fitted on training rows."""

    user_categorical: list[str]
    user_numeric: list[str]
    crossed_user: list[str]
    vocab: dict[str, list[str]]
    tags: list[str]
    columns: list[str]
    categorical_columns: list[int]
    # Quality measures of the creative's elements, numeric (absent from models trained before them).
    creative_numeric: list[str] = []

    @classmethod
    def fit(
        cls,
        rows: Sequence[LoggedImpression],
        *,
        max_categories: int = 200,
        max_tags: int = 32,
        max_crossed_user: int = 4,
        min_count: int = 3,
    ) -> FeatureSpec:
        kinds: dict[str, Counter] = {}
        for row in rows:
            for name, value in row.user.items():
                kinds.setdefault(name, Counter())["num" if _is_numeric(value) else "cat"] += 1
        user_numeric = sorted(n for n, k in kinds.items() if k["num"] > k["cat"])
        user_categorical = sorted(n for n, k in kinds.items() if k["num"] <= k["cat"])
        vocab = {
            f"user.{n}": _vocabulary(
                (_categorical(r.user[n]) for r in rows if n in r.user), max_categories, min_count
            )
            for n in user_categorical
        }
        for name in CREATIVE_FIELDS:
            vocab[f"creative.{name}"] = _vocabulary(
                (r.creative.field(name) for r in rows), max_categories, min_count
            )
        # Cross the most informative (lowest-cardinality, present) user features with the creative.
        crossed_user = sorted(user_categorical, key=lambda n: (len(vocab[f"user.{n}"]) or 10**9, n))
        crossed_user = [n for n in crossed_user if vocab[f"user.{n}"]][:max_crossed_user]
        for user_name in crossed_user:
            for creative_name in CROSSED_CREATIVE_FIELDS:
                vocab[f"cross.{user_name}.{creative_name}"] = _vocabulary(
                    (
                        _crossed(_categorical(r.user[user_name]), r.creative, creative_name)
                        for r in rows
                        if user_name in r.user
                    ),
                    max_categories * 4,
                    min_count,
                )
        tags = _vocabulary((t for r in rows for t in set(r.creative.tags)), max_tags, min_count)
        creative_numeric = _vocabulary((n for r in rows for n, _ in r.creative.quality), max_tags, min_count)
        # No creative-age column (models trained before 2026-12-02 have one, and still encode with it):
        # where creatives are made together, age is a clock, and every served moment lies past the
        # training window, so the trees' last time split decided every prediction. Drift is the online
        # learner's decay's job.
        columns = (
            [f"user.{n}" for n in user_categorical]
            + [f"user.{n}" for n in user_numeric]
            + [f"creative.{n}" for n in CREATIVE_FIELDS]
            + [f"tag.{t}" for t in tags]
            + [f"quality.{n}" for n in creative_numeric]
            + [f"cross.{u}.{c}" for u in crossed_user for c in CROSSED_CREATIVE_FIELDS]
        )
        categorical = [i for i, c in enumerate(columns) if c in vocab]
        return cls(
            user_categorical=user_categorical,
            user_numeric=user_numeric,
            crossed_user=crossed_user,
            vocab=vocab,
            tags=tags,
            columns=columns,
            categorical_columns=categorical,
            creative_numeric=creative_numeric,
        )

    def encoder(self) -> FeatureEncoder:
        return FeatureEncoder(self)

    def encode_rows(self, rows: Sequence[LoggedImpression]) -> np.ndarray:
        return self.encoder().encode_rows(rows)


@dataclass
class _CandidateBlock:
    """One candidate list's creative columns and creation times, stacked, with its cross codes per user
    value. It holds the list's creatives, so their ids stay theirs while the block lives."""

    creatives: tuple[CreativeFeatures, ...]
    columns: np.ndarray  # (candidates, creative columns)
    created_at: np.ndarray
    crosses: dict[tuple[str, str, str], np.ndarray] = field(default_factory=dict)


@dataclass
class FeatureEncoder:
    """Encodes one request's user against many candidates; per-creative columns are cached, and so is
    each candidate list as a block: a warm select sees the same list (the same objects) request after
    request, so it copies the block instead of gathering 100 rows and crosses again."""

    spec: FeatureSpec
    _codes: dict[str, dict[str, int]] = field(init=False)
    _creative_cache: dict[CreativeFeatures, np.ndarray] = field(init=False, default_factory=dict)
    _blocks: dict[tuple[int, ...], _CandidateBlock] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        self._codes = {name: {v: i + 1 for i, v in enumerate(vs)} for name, vs in self.spec.vocab.items()}
        spec = self.spec
        self._n_user = len(spec.user_categorical) + len(spec.user_numeric)
        # None for specs fitted since the column was dropped; an older artifact keeps its column.
        self._age_column = self._n_user + len(CREATIVE_FIELDS) if AGE_COLUMN in spec.columns else None
        self._cross_start = len(spec.columns) - len(spec.crossed_user) * len(CROSSED_CREATIVE_FIELDS)

    def _code(self, column: str, value: str) -> int:
        return self._codes[column].get(value, MISSING)

    def _creative_columns(self, creative: CreativeFeatures) -> np.ndarray:
        cached = self._creative_cache.get(creative)
        if cached is None:
            tags, quality = set(creative.tags), dict(creative.quality)
            cached = np.array(
                [self._code(f"creative.{n}", creative.field(n)) for n in CREATIVE_FIELDS]
                + ([0.0] if self._age_column is not None else [])  # age: filled per request
                + [1.0 if t in tags else 0.0 for t in self.spec.tags]
                + [quality.get(n, np.nan) for n in self.spec.creative_numeric],
                dtype=np.float32,
            )
            measured = slice(len(cached) - len(self.spec.creative_numeric), len(cached))
            cached[measured] = _snapped(cached[measured])
            if len(self._creative_cache) > 10_000:  # bounded: a warm Lambda lives for hours
                self._creative_cache.clear()
            self._creative_cache[creative] = cached
        return cached

    def _block(self, creatives: Sequence[CreativeFeatures]) -> _CandidateBlock:
        # Keyed by identity: hashing 100 frozen dataclasses (their tags and quality tuples) on every request
        # cost as much as the gather it saves. The block keeps its creatives alive, so an id it is keyed by
        # cannot be reused by another object; a list of equal but new objects only builds a new block.
        key = tuple(map(id, creatives))
        block = self._blocks.get(key)
        if block is None:
            if len(self._blocks) >= 64:  # a few lines per container; bounded whatever callers send
                self._blocks.clear()
            block = self._blocks[key] = _CandidateBlock(
                creatives=tuple(creatives),
                columns=np.stack([self._creative_columns(c) for c in creatives]),
                created_at=np.array([c.created_at for c in creatives]),
            )
        return block

    def _user_columns(self, user: UserFeatures) -> list[float]:
        spec = self.spec
        return [
            self._code(f"user.{n}", _categorical(user[n])) if n in user else MISSING
            for n in spec.user_categorical
        ] + [float(user[n]) if n in user and _is_numeric(user[n]) else np.nan for n in spec.user_numeric]

    def _cross_codes(
        self, block: _CandidateBlock, user_name: str, user_value: str, creative_name: str
    ) -> np.ndarray:
        key = (user_name, user_value, creative_name)
        codes = block.crosses.get(key)
        if codes is None:
            vocabulary = self._codes[f"cross.{user_name}.{creative_name}"]
            codes = np.array(
                [vocabulary.get(_crossed(user_value, c, creative_name), MISSING) for c in block.creatives],
                dtype=np.float32,
            )
            if len(block.crosses) >= 256:  # user values are whatever callers send
                block.crosses.clear()
            block.crosses[key] = codes
        return codes

    def encode(self, user: UserFeatures, creatives: Sequence[CreativeFeatures], now: float) -> np.ndarray:
        """One request: one user against many candidates."""
        spec = self.spec
        block = self._block(creatives)
        out = np.zeros((len(creatives), len(spec.columns)), dtype=np.float32)
        out[:, : self._n_user] = self._user_columns(user)
        numeric = slice(len(spec.user_categorical), self._n_user)
        out[:, numeric] = _snapped(out[:, numeric])
        out[:, self._n_user : self._cross_start] = block.columns
        if self._age_column is not None:
            out[:, self._age_column] = _snapped((now - block.created_at) / 3600.0)
        column = self._cross_start
        for user_name in spec.crossed_user:
            user_value = _categorical(user[user_name]) if user_name in user else None
            for creative_name in CROSSED_CREATIVE_FIELDS:
                if user_value is not None:
                    out[:, column] = self._cross_codes(block, user_name, user_value, creative_name)
                column += 1
        return out

    def encode_rows(self, rows: Sequence[LoggedImpression]) -> np.ndarray:
        """Training rows, each its own user, creative and moment: the same columns `encode` gives each pair,
        filled a column at a time (a block per row would cost more than the row)."""
        spec = self.spec
        out = np.zeros((len(rows), len(spec.columns)), dtype=np.float32)
        if not rows:
            return out
        out[:, : self._n_user] = [self._user_columns(row.user) for row in rows]
        numeric = slice(len(spec.user_categorical), self._n_user)
        out[:, numeric] = _snapped(out[:, numeric])
        out[:, self._n_user : self._cross_start] = np.stack(
            [self._creative_columns(r.creative) for r in rows]
        )
        if self._age_column is not None:
            out[:, self._age_column] = _snapped(
                np.array([(row.shown_at - row.creative.created_at) / 3600.0 for row in rows])
            )
        column = self._cross_start
        for user_name in spec.crossed_user:
            for creative_name in CROSSED_CREATIVE_FIELDS:
                codes = self._codes[f"cross.{user_name}.{creative_name}"]
                out[:, column] = [
                    codes.get(
                        _crossed(_categorical(row.user[user_name]), row.creative, creative_name), MISSING
                    )
                    if user_name in row.user
                    else MISSING
                    for row in rows
                ]
                column += 1
        return out
