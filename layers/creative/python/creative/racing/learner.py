"""The online learner: user x creative interactions learned from every impression and click, between retrains.

The click log-odds of showing creative c to user u is a sum of weights, one per key the pair activates:

    logit p(u, c) = b + w[creative c] + sum over c's tags t of w[tag t]
                      + sum over u's terms f of (w[c x f] + sum over t of w[t x f])

with a term per user feature, "name=value" (a number also or instead its bin, "name~edge": `user_terms`).

b is the business line's overall click rate. Each weight has a Gaussian posterior N(w, 1 / (lambda + I)): a
prior precision lambda per family (how large such effects are expected to be, so a key the data says little
about stays near 0) and the Fisher information I the impressions that touched it carry. Noise features are
shrunk by the same rule: their keys see balanced evidence and their weights stay near zero.

Updates follow assumed density filtering for logistic regression (one Newton-like step per impression,
shared among the active keys in proportion to their variance), split in two so that every write is an
atomic ADD and concurrent selects and feedback never race:

- at serve time, as if not clicked: w_k -= s_k p and I_k += p (1 - p);
- on a click: w_k += s_k, the step s_k the serve-time update used (carried by the impression).

The two halves add up to the textbook step s_k (y - p). Every value is written with a time weight
(`Decay`), so old evidence fades with the racer's half-life, and keys are hashed into a bounded number of
buckets, so no item grows without limit whatever features callers send.

Weights on a creative's keys belong to that creative (`creative` scope); tag keys are shared by the
creatives of a line (`line` scope: written with each creative's statistics, summed over the line on read).
"""

from __future__ import annotations

import math
import zlib
from bisect import bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

WEIGHT, INFORMATION = "lw:", "li:"  # attribute prefixes of the two statistics on DynamoDB items
# A line racing elements gives each image and headline a tag of its own ("el:<material id>"): its keys are
# the element's main effect and its interactions with user features, as large a priori as a creative's.
ELEMENT_TAG = "el:"
CREATIVE, LINE = "creative", "line"


@dataclass(frozen=True)
class LearnerConfig:
    # Prior precision per family (1 / the variance of such an effect, on the log-odds scale). MovieLens
    # put the spread of movie effects at a variance of 0.14 and demographic effects at 0.009 in all.
    creative_precision: float = 7.0
    tag_precision: float = 30.0
    creative_x_user_precision: float = 100.0
    tag_x_user_precision: float = 300.0
    # Thompson sampling draws from the posterior with its variance scaled by this: the summed per-key
    # variances overstate the uncertainty of the whole (tuned on the simulator's tuning seeds).
    posterior_scale: float = 0.05
    # ... and never draws narrower than this share of the creative's own key's posterior variance, the
    # variance context-free Thompson sampling would draw with (`floor_at_own_key`); 0 turns it off. On
    # tuning seeds 101 and 102, five days, expected CTR % without / with five noise features: off 5.33 /
    # 5.10 and 7.01 / 7.00; 0.3 5.42 / 5.32 and 7.02 / 6.99; 1.0 5.32 / 5.36 and 6.88 / 6.76.
    own_key_floor: float = 0.3
    creative_buckets: int = 64  # creative x user-feature keys per creative
    line_buckets: int = 1024  # tag and tag x user-feature keys per business line
    # Terms a request may bring into the learner (`user_terms`: an integer's value and bin are two; the
    # features past the bound are ignored).
    max_terms: int = 16
    # Tags a creative (or an element pair) brings into the learner (`learner_tags`). With max_terms this
    # bounds the keys one impression writes, (1 + 6) x (1 + 16) = 119, and so the size of its DynamoDB
    # update: every key adds and removes two counters, and DynamoDB refuses an expression over 4 KB
    # (`creative.adapters.dynamodb_racing_state`); 16 terms and 8 tags had written 5.7 KB.
    max_tags: int = 6
    # A request with more terms than this splits the interaction prior among them (each cross family's
    # precision times terms / reference_terms), so the prior variance of the whole interaction stays what
    # it is at this many terms, whatever callers send: noise features then cost the Thompson draw less
    # exploration. None: every term at full prior variance. On tuning seed 101 with five noise features
    # added to MovieLens's four (one term each then), expected CTR fell 5.3% with None and 2.6% with 4.
    reference_terms: int | None = 4
    # A line racing composed creatives: an image or headline that two or more of its creatives share (any
    # status) also brings its element keys ("el:<material id>", main effect and x user features) into each
    # of them, so what one creative teaches about its image reaches the others at once, and a new creative
    # starts with what its image has shown. An element only one creative has adds none (its keys would only
    # repeat the creative's own, and the summed variances would count that evidence twice).
    shared_element_keys: bool = True

    def precision(self, family: str, terms: int = 0) -> float:
        base = {
            "c": self.creative_precision,
            "t": self.tag_precision,
            "e": self.creative_precision,
            "cu": self.creative_x_user_precision,
            "tu": self.tag_x_user_precision,
            "eu": self.creative_x_user_precision,
        }[family]
        if family in ("cu", "tu", "eu") and self.reference_terms and terms > self.reference_terms:
            return base * terms / self.reference_terms
        return base


@dataclass(frozen=True)
class Key:
    scope: str  # CREATIVE or LINE
    name: str  # the attribute-name stem on the scope's items, e.g. "c", "cu:1f", "t:3a0", "tu:77"
    family: str


def _bucket(text: str, buckets: int) -> str:
    return format(zlib.crc32(text.encode()) % buckets, "x")


def tag_families(tag: str) -> tuple[str, str]:
    """The prior families of a tag's main-effect key and of its user-feature keys: an element's own tag is
    as large a priori as a creative, any other tag as a tag."""
    return ("e", "eu") if tag.startswith(ELEMENT_TAG) else ("t", "tu")


def tag_effect(line_state: LearnerState, tag: str, config: LearnerConfig) -> tuple[float, float]:
    """What the line has learned a tag is worth, whoever sees it: its main-effect key's weight (log-odds
    against the line's rate) and posterior standard deviation."""
    stem = f"t:{_bucket(tag, config.line_buckets)}"
    information = max(line_state.information.get(stem, 0.0), 0.0)
    return line_state.weights.get(stem, 0.0), 1.0 / math.sqrt(
        config.precision(tag_families(tag)[0]) + information
    )


def user_terms(user: Mapping[str, object], max_terms: int) -> list[str]:
    """The learner's terms for the user's features, in a stable order: "name=value" for a string, a boolean
    or an integer, and "name~edge" (`number_bin`) for a number, so that what users of age 34 teach reaches
    those of 36. A float brings only its bin (its exact value rarely comes again); an integer brings its
    value and, from 10 on, where every bin holds several integers, its bin too (an integer may be a code,
    such as a city's id, whose value says what its bin cannot). Features are taken whole, in name order,
    while their terms fit in `max_terms`: a number never keeps its value and loses its bin."""
    terms: list[str] = []
    for name in sorted(user):
        value = user[name]
        if isinstance(value, bool):
            more = [f"{name}={str(value).lower()}"]
        elif isinstance(value, int):
            more = (
                [f"{name}={value}", f"{name}~{number_bin(value)}"]
                if abs(value) >= 10
                else [f"{name}={value}"]
            )
        elif isinstance(value, float):
            more = [f"{name}~{number_bin(value)}"]
        else:
            more = [f"{name}={value}"[:128]]
        if len(terms) + len(more) > max_terms:
            break
        terms += more
    return terms


# ISO 3's preferred numbers, series R10: ten steps a decade, each 25-27% above the one before.
R10 = (1.0, 1.25, 1.6, 2.0, 2.5, 3.15, 4.0, 5.0, 6.3, 8.0)


def number_bin(value: float) -> str:
    """The lower edge of the number's bin, ten bins a decade on a log scale whatever the number's unit, the
    edges R10's preferred numbers (..., 16, 20, 25, 31.5, 40, 50, 63, 80, 100, ...), so that a round number
    opens its bin: 25 and 50 fall in the bins "25" and "50". Exact zero is a bin of its own, and a negative
    number's bin is its magnitude's, signed."""
    if value == 0 or not math.isfinite(value):
        return "0" if value == 0 else str(value)
    # The decimal mantissa and exponent from the float's own text, rounded at 12 digits: exact for every
    # finite float (no log10 rounding across a decade, no 10**e underflow for the smallest ones).
    mantissa, exponent = f"{abs(value):.11e}".split("e")
    edge = R10[bisect_right(R10, float(mantissa)) - 1]
    sign = "-" if value < 0 else ""
    if -300 < int(exponent) < 300:
        return f"{sign}{float(f'{edge * 10.0 ** int(exponent):.3g}'):g}"  # 1000, not 1e+03
    return f"{sign}{edge:g}e{int(exponent)}"


def learner_tags(tags: Iterable[str], max_tags: int) -> tuple[str, ...]:
    """The tags the learner reads: distinct, element tags first (they carry what the line's creatives share),
    then the others by name, at most `max_tags`."""
    return tuple(sorted(set(tags), key=lambda tag: (not tag.startswith(ELEMENT_TAG), tag))[:max_tags])


def pair_keys(terms: Sequence[str], tags: Iterable[str], config: LearnerConfig) -> list[Key]:
    """The keys one (user, creative) pair activates; the creative's id is implicit in its own scope."""
    return list(_pair_keys(tuple(terms), tuple(sorted(learner_tags(tags, config.max_tags))), config))


@lru_cache(maxsize=65536)  # users share feature values and creatives tags: most requests hit the cache
def _pair_keys(terms: tuple[str, ...], tags: tuple[str, ...], config: LearnerConfig) -> tuple[Key, ...]:
    keys = [Key(CREATIVE, "c", "c")]
    keys += [Key(CREATIVE, f"cu:{_bucket(term, config.creative_buckets)}", "cu") for term in terms]
    for tag in sorted(set(tags)):
        main, cross = tag_families(tag)
        keys.append(Key(LINE, f"t:{_bucket(tag, config.line_buckets)}", main))
        keys += [Key(LINE, f"tu:{_bucket(f'{tag}|{term}', config.line_buckets)}", cross) for term in terms]
    return keys


@dataclass(frozen=True)
class Decay:
    """Reads time-weighted statistics: a value written at t with weight 2^((t - t0)/h) (t0 the start of
    its epoch) is worth 2^((t0 - now)/h) times that now; epochs older than the previous one are ignored."""

    half_life_s: float
    epoch_half_lives: int = 32

    @property
    def epoch_s(self) -> float:
        return self.half_life_s * self.epoch_half_lives

    def epoch(self, t: float) -> int:
        return math.floor(t / self.epoch_s)

    def weight(self, t: float) -> float:
        return round(2.0 ** ((t - self.epoch(t) * self.epoch_s) / self.half_life_s), 6)

    def scales(self, now: float) -> dict[int, float]:
        current = self.epoch(now)
        return {e: 2.0 ** ((e * self.epoch_s - now) / self.half_life_s) for e in (current - 1, current)}


def decayed_sums(
    counters: Mapping[str, float], scales: Mapping[int, float], prefixes: Sequence[str]
) -> dict[str, dict[str, float]]:
    """Raw counters named "<prefix><stem>@<epoch>" (3-character prefixes), decayed to the moment of `scales`
    and summed per stem: prefix -> stem -> value. Other names, and epochs `scales` does not hold, are left out."""
    sums: dict[str, dict[str, float]] = {prefix: {} for prefix in prefixes}
    for name, value in counters.items():
        target = sums.get(name[:3])
        if target is None:
            continue
        stem, _, epoch = name[3:].rpartition("@")
        scale = scales.get(int(epoch)) if epoch.lstrip("-").isdigit() else None
        if scale is not None:
            target[stem] = target.get(stem, 0.0) + float(value) * scale
    return sums


@dataclass
class LearnerState:
    """One item's learner statistics, decayed to a moment: stem -> (weight, information)."""

    weights: dict[str, float] = field(default_factory=dict)
    information: dict[str, float] = field(default_factory=dict)
    _creative_table: tuple[int, np.ndarray] | None = field(
        default=None, init=False, repr=False, compare=False
    )

    def creative_table(self, buckets: int) -> np.ndarray:
        """(2, buckets + 1): the weight and the information of the creative-scope keys, bucket b's
        creative x user-feature key in column b and the creative's own key in the last. Made once per state:
        select reads a state once and scores it on many requests; `OnlineLearner.learn` drops it."""
        if self._creative_table is None or self._creative_table[0] != buckets:
            table = np.zeros((2, buckets + 1))
            for row, values in enumerate((self.weights, self.information)):
                for stem, value in values.items():
                    if stem == "c":
                        table[row, buckets] = value
                    elif stem.startswith("cu:") and int(stem[3:], 16) < buckets:
                        table[row, int(stem[3:], 16)] = value
            self._creative_table = (buckets, table)
        return self._creative_table[1]

    @classmethod
    def read(cls, counters: Mapping[str, float], scales: Mapping[int, float]) -> LearnerState:
        """From raw counters named "lw:<stem>@<epoch>" / "li:<stem>@<epoch>" (other names are ignored)."""
        sums = decayed_sums(counters, scales, (WEIGHT, INFORMATION))
        return cls(sums[WEIGHT], sums[INFORMATION])

    def merged(self, other: LearnerState) -> LearnerState:
        """The sum of two shards' statistics (statistics are sums, so shards add up exactly)."""
        weights, information = dict(self.weights), dict(self.information)
        for stem, value in other.weights.items():
            weights[stem] = weights.get(stem, 0.0) + value
        for stem, value in other.information.items():
            information[stem] = information.get(stem, 0.0) + value
        return LearnerState(weights, information)


@dataclass(frozen=True)
class Scores:
    """Per candidate: the online estimate of the log-odds (against the line's base rate) and its variance
    prior and posterior, from which the fused posterior is made (`fuse`)."""

    mean: np.ndarray  # b + sum of weights
    variance: np.ndarray  # sum over keys of 1 / (lambda + I)
    prior_variance: np.ndarray  # sum over keys of 1 / lambda
    own_information: np.ndarray  # I of each creative's own key: how much it has been shown


@dataclass(frozen=True)
class CandidateStates:
    """A candidate list's learner statistics as scoring reads them: each creative's creative-scope keys as
    a row of two tables (`LearnerState.creative_table`), and its tag list as an index into the list's
    distinct tag sets. Select makes it once per read of a line's state and candidate list, and scores it
    on many requests; it copies the tables, so a state learned on afterwards needs a new one."""

    states: tuple[LearnerState, ...]
    tag_lists: tuple[Sequence[str], ...]
    weights: np.ndarray  # (candidates, buckets + 1)
    information: np.ndarray  # the same, clipped at 0
    distinct_tag_lists: tuple[tuple[str, ...], ...]  # each as the learner reads it (`learner_tags`)
    tag_list_of: np.ndarray  # (candidates,) index into distinct_tag_lists

    @classmethod
    def of(
        cls, states: Sequence[LearnerState], tag_lists: Sequence[Sequence[str]], config: LearnerConfig
    ) -> CandidateStates:
        buckets = config.creative_buckets
        tables = (
            np.stack([state.creative_table(buckets) for state in states])
            if states
            else np.zeros((0, 2, buckets + 1))
        )
        distinct: dict[tuple[str, ...], int] = {}
        tag_list_of = np.array(
            [distinct.setdefault(learner_tags(tags, config.max_tags), len(distinct)) for tags in tag_lists],
            dtype=np.intp,
        )
        return cls(
            tuple(states),
            tuple(tag_lists),
            tables[:, 0, :],
            np.maximum(tables[:, 1, :], 0.0),
            tuple(distinct),
            tag_list_of,
        )


class OnlineLearner:
    def __init__(self, config: LearnerConfig | None = None):
        self.config = config or LearnerConfig()

    def score(
        self,
        base_logit: float,
        keys: Sequence[Sequence[Key]],
        creative_states: Sequence[LearnerState],
        line_state: LearnerState,
    ) -> Scores:
        n = len(keys)
        mean, variance, prior_variance = np.full(n, base_logit), np.zeros(n), np.zeros(n)
        own_information = np.array([max(s.information.get("c", 0.0), 0.0) for s in creative_states])
        for i, (pair, own) in enumerate(zip(keys, creative_states, strict=True)):
            terms = sum(key.family == "cu" for key in pair)
            for key in pair:
                state = own if key.scope == CREATIVE else line_state
                precision = self.config.precision(key.family, terms)
                mean[i] += state.weights.get(key.name, 0.0)
                variance[i] += 1.0 / (precision + max(state.information.get(key.name, 0.0), 0.0))
                prior_variance[i] += 1.0 / precision
        return Scores(mean, variance, prior_variance, own_information)

    def score_pairs(
        self,
        base_logit: float,
        terms: Sequence[str],
        tag_lists: Sequence[Sequence[str]],
        creative_states: Sequence[LearnerState],
        line_state: LearnerState,
    ) -> Scores:
        """`score` for one user against many creatives, the same sums without building every pair's keys."""
        candidates = CandidateStates.of(creative_states, tag_lists, self.config)
        return self.score_candidates(base_logit, terms, candidates, line_state)

    def score_candidates(
        self, base_logit: float, terms: Sequence[str], candidates: CandidateStates, line_state: LearnerState
    ) -> Scores:
        """`score_pairs` on a candidate list prepared once (select's hot path): the creative-scope keys are
        gathered from its tables in one step, and a tag's line-scope sums are computed once per request,
        then once per distinct tag list."""
        config = self.config
        buckets = config.creative_buckets
        lam_c, lam_cu = config.creative_precision, config.precision("cu", len(terms))
        user_columns = [int(_bucket(term, buckets), 16) for term in terms]
        weights, information = candidates.weights, candidates.information
        own_information = information[:, buckets]
        mean = base_logit + weights[:, buckets] + weights[:, user_columns].sum(axis=1)
        variance = 1.0 / (lam_c + own_information) + (1.0 / (lam_cu + information[:, user_columns])).sum(
            axis=1
        )
        own_prior = 1.0 / lam_c + len(terms) / lam_cu  # the creative's own keys, the same for every candidate
        line_w, line_i = line_state.weights, line_state.information
        per_tag: dict[str, tuple[float, float, float]] = {}  # tag -> weight, variance, prior variance
        list_sums = np.zeros((len(candidates.distinct_tag_lists), 3))  # the same, summed over a tag list
        for index, tags in enumerate(candidates.distinct_tag_lists):
            m = v = prior = 0.0
            for tag in tags:
                summed = per_tag.get(tag)
                if summed is None:
                    stems = [f"t:{_bucket(tag, config.line_buckets)}"]
                    stems += [f"tu:{_bucket(f'{tag}|{term}', config.line_buckets)}" for term in terms]
                    main, cross = tag_families(tag)
                    lams = [config.precision(main)] + [config.precision(cross, len(terms))] * len(terms)
                    summed = per_tag[tag] = (
                        sum(line_w.get(stem, 0.0) for stem in stems),
                        sum(
                            1.0 / (lam + max(line_i.get(stem, 0.0), 0.0))
                            for stem, lam in zip(stems, lams, strict=True)
                        ),
                        sum(1.0 / lam for lam in lams),
                    )
                m += summed[0]
                v += summed[1]
                prior += summed[2]
            list_sums[index] = (m, v, prior)
        tag_sums = list_sums[candidates.tag_list_of]
        return Scores(
            mean + tag_sums[:, 0], variance + tag_sums[:, 1], own_prior + tag_sums[:, 2], own_information
        )

    def steps(
        self, keys: Sequence[Key], own: LearnerState, line_state: LearnerState, predicted: float
    ) -> list[float]:
        """Each key's share of one impression's update (assumed density filtering): s_k = v_k / (1 + h V)
        with v_k the key's posterior variance, V their sum and h = p (1 - p)."""
        terms = sum(key.family == "cu" for key in keys)
        variances = [
            1.0
            / (
                self.config.precision(key.family, terms)
                + max((own if key.scope == CREATIVE else line_state).information.get(key.name, 0.0), 0.0)
            )
            for key in keys
        ]
        curvature = predicted * (1.0 - predicted)
        total = 1.0 + curvature * sum(variances)
        return [round(v / total, 9) for v in variances]

    def learn(
        self,
        base_logit: float,
        keys: Sequence[Key],
        own: LearnerState,
        line_state: LearnerState,
        clicked: bool,
    ) -> None:
        """One whole update in memory (both halves at once, no decay): for replaying a log offline."""
        predicted = sigmoid(float(self.score(base_logit, [keys], [own], line_state).mean[0]))
        steps = self.steps(keys, own, line_state, predicted)
        residual = (1.0 if clicked else 0.0) - predicted
        own._creative_table = None  # its creative-scope keys change below (the table holds no line key)
        for key, step in zip(keys, steps, strict=True):
            state = own if key.scope == CREATIVE else line_state
            state.weights[key.name] = state.weights.get(key.name, 0.0) + step * residual
            state.information[key.name] = state.information.get(key.name, 0.0) + predicted * (1 - predicted)


def fuse(
    scores: Scores,
    base_logit: float,
    model_logit: np.ndarray,
    model_precision: float,
    creative_precision: float | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The CTR model's prediction as the prior, the online evidence as the likelihood: the online prior
    (the line's base rate) is divided out and the model's put in its place. A new creative therefore
    starts at the model's prediction with the model's uncertainty, and evidence moves it from there.

    The model speaks for a creative the learner knows little about: its precision fades as the creative's
    own key gathers information, lambda / (lambda + I). (The summed variance of the keys never drops below
    what the rarely seen user x tag keys leave, so without the fade a well-tested creative would stay tied
    to the model's guess.)"""
    if creative_precision is not None:
        model_precision = model_precision * creative_precision / (creative_precision + scores.own_information)
    online_precision = 1.0 / scores.variance
    prior_precision = 1.0 / scores.prior_variance
    evidence = np.maximum(online_precision - prior_precision, 0.0)
    precision = model_precision + evidence
    mean = (
        model_logit * model_precision + scores.mean * online_precision - base_logit * prior_precision
    ) / precision
    return mean, 1.0 / precision


def floor_at_own_key(variance: np.ndarray, scores: Scores, config: LearnerConfig) -> np.ndarray:
    """The draw's variance (before `posterior_scale`) floored so that, scaled, it is never below
    `own_key_floor` x the posterior variance of the creative's own key, 1 / (lambda_c + I).

    Why: the scale narrows the summed variance of many keys, which overstates the uncertainty of the
    whole, but it narrows what a creative's own impressions leave uncertain just as much. A creative with
    an unlucky first day was then drawn as if its rate were known twenty times better than its few
    hundred impressions say, was hardly shown again, and so was never seen to become the best after the
    audience drifted (the simulator's seed 1 with five noise features). A well-shown creative's own
    variance is small, so its draw widens little."""
    if config.own_key_floor <= 0:
        return variance
    own = config.own_key_floor / (config.creative_precision + scores.own_information)
    return np.maximum(variance, own / config.posterior_scale)


def logit(p: float | np.ndarray) -> float | np.ndarray:
    p = np.clip(p, 1e-6, 1.0 - 1e-6)
    return np.log(p / (1.0 - p))


def sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))
