"""Simulated clicks on generated and human copy: no real click data exists for copy text, so a hidden click
model of a line's MiniLM embedding stands in for an audience, and the project's racer shows a pool mixing
human and generated lines to it.

The assumption, stated once (the report's `simulator` field repeats it):

    CTR(line) = sigmoid(logit(BASE_CTR) + TASTE_SD * taste(e) + LEGIBILITY_WEIGHT * (legible(e) - 1))

where e is the line's MiniLM embedding (unit length),
- taste(e): the projection of e on a hidden direction drawn at random, standardised over the human training
  headlines: what one audience happens to like, which neither the people who wrote the human lines nor any
  generator knows. Every race has an audience of its own (a new direction), so no single arbitrary taste
  decides the verdict: a random direction can sit for or against a whole family's style, and averaged over
  races that favours neither side. The direction is orthogonal to the legibility probe's (readability is
  the other term's job) and the score is clipped to +-TASTE_CLIP (a linear taste says nothing of lines far
  outside what people write);
- legible(e): a logistic probe on e, fitted to tell real training headlines from the same headlines with a
  quarter of their letters replaced (each by a letter of the same line): a reader does not click what does
  not read as words. Fully legible lines lose nothing; a line the probe calls scrambled loses up to
  LEGIBILITY_WEIGHT on the log-odds (its CTR about x0.37).

Human held-out headlines and every family's samples are scored by this same model. Only lines that pass
admission's form reach the race, as in production. The racer is `creative.racing.racer.ContextualRacer`
(Thompson quadrature plus its exploration floor); each line's log-odds posterior comes from its own Beta
counts (prior Beta(1, 32): a 3% CTR worth 33 impressions), recomputed every DECISION_BATCH impressions. The
online learner's tag and user keys are not simulated: there are no users here, only lines.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from creative.racing.learner import LearnerConfig
from creative.racing.racer import ContextualRacer, RacerConfig

BASE_CTR = 0.03  # display copy's few percent, as the demo's and the MovieLens simulator's
TASTE_SD = 0.6  # spread of the hidden appeal on the log-odds, as the demo's headline appeal (APPEAL_SD)
TASTE_CLIP = 3.0  # in human standard deviations: a linear taste says nothing of lines far outside them
LEGIBILITY_WEIGHT = 1.0
SCRAMBLE_SHARE = 0.25
PRIOR_CLICKS, PRIOR_MISSES = 1.0, 32.0
DECISION_BATCH = 100
PROBE_L2 = 1.0

SIMULATOR = (
    "No real CTR exists for copy text; clicks come from a hidden model of each line's MiniLM embedding e: "
    f"CTR = sigmoid(logit({BASE_CTR}) + {TASTE_SD} * taste(e) + {LEGIBILITY_WEIGHT} * (legible(e) - 1)). "
    "taste is the projection on a random direction (orthogonal to the legibility probe's), standardised over "
    f"human headlines and clipped to +-{TASTE_CLIP:g}, drawn anew for every race (an audience's taste that "
    "neither side knows); legible is a logistic probe fitted to tell training "
    f"headlines from copies with {SCRAMBLE_SHARE:.0%} of their letters replaced (readers do not click what "
    "does not read as words). Human held-out headlines and each family's samples are scored by the same "
    "model; only lines passing admission's form race. Each race: the project's racer (ContextualRacer: "
    "Thompson quadrature, 1% exploration floor) over a pool of human and generated lines, each line's "
    f"log-odds posterior from its Beta counts (prior Beta({PRIOR_CLICKS:g}, {PRIOR_MISSES:g})), decisions "
    f"recomputed every {DECISION_BATCH} impressions; no user features. Assumed, not measured: it says how "
    "the racer would treat generated lines if readers liked copy this way, not what readers do."
)


def logit(p: float) -> float:
    return float(np.log(p / (1.0 - p)))


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def scramble(text: str, rng: np.random.Generator, share: float = SCRAMBLE_SHARE) -> str:
    """The line with about `share` of its letters replaced, each by a letter drawn from the same line (so the
    letters' mix stays the line's own; only the words break)."""
    letters = [c for c in text if c.isalpha()]
    if not letters:
        return text
    out = []
    for c in text:
        if c.isalpha() and rng.random() < share:
            r = letters[int(rng.integers(len(letters)))]
            out.append(r.upper() if c.isupper() else r.lower())
        else:
            out.append(c)
    return "".join(out)


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float = PROBE_L2, iterations: int = 25):
    """L2-regularised logistic regression by Newton's method (few dimensions, a few thousand rows)."""
    design = np.hstack([x, np.ones((len(x), 1))])
    w = np.zeros(design.shape[1])
    penalty = np.full(design.shape[1], l2)
    penalty[-1] = 0.0  # the intercept is not shrunk
    for _ in range(iterations):
        p = sigmoid(design @ w)
        gradient = design.T @ (p - y) + penalty * w
        hessian = (design * (p * (1 - p))[:, None]).T @ design + np.diag(penalty)
        step = np.linalg.solve(hessian, gradient)
        w -= step
        if np.abs(step).max() < 1e-6:
            break
    return w[:-1], float(w[-1])


@dataclass(frozen=True)
class LegibilityProbe:
    weights: np.ndarray
    bias: float

    def legible(self, embeddings: np.ndarray) -> np.ndarray:
        return sigmoid(embeddings @ self.weights + self.bias)


def fit_legibility_probe(human: np.ndarray, scrambled: np.ndarray, seed: int) -> tuple[LegibilityProbe, dict]:
    """The probe from human headlines' embeddings and their scrambled copies' (row for row), and its accuracy
    on a fifth of the pairs it was not fitted on."""
    test = np.random.default_rng(seed).random(len(human)) < 0.2
    x = np.vstack([human[~test], scrambled[~test]])
    y = np.concatenate([np.ones((~test).sum()), np.zeros((~test).sum())])
    probe = LegibilityProbe(*fit_logistic(x, y))
    accuracy = ((probe.legible(human[test]) > 0.5).mean() + (probe.legible(scrambled[test]) < 0.5).mean()) / 2
    return probe, {
        "legibility_probe_held_out_accuracy": round(float(accuracy), 4),
        "probe_pairs": int((~test).sum()),
    }


@dataclass(frozen=True)
class HiddenClickModel:
    """One audience: the shared legibility probe and a taste of its own."""

    probe: LegibilityProbe
    taste_direction: np.ndarray
    taste_mean: float
    taste_sd: float

    def taste(self, embeddings: np.ndarray) -> np.ndarray:
        z = (embeddings @ self.taste_direction - self.taste_mean) / self.taste_sd
        return np.clip(z, -TASTE_CLIP, TASTE_CLIP)

    def ctr(self, embeddings: np.ndarray) -> np.ndarray:
        return sigmoid(
            logit(BASE_CTR)
            + TASTE_SD * self.taste(embeddings)
            + LEGIBILITY_WEIGHT * (self.probe.legible(embeddings) - 1.0)
        )


def audience(probe: LegibilityProbe, human: np.ndarray, seed) -> HiddenClickModel:
    """A hidden click model with a taste direction drawn from `seed` (orthogonal to the probe's: readability
    is the other term's job), standardised over `human` lines."""
    direction = np.random.default_rng(seed).standard_normal(human.shape[1])
    readable = probe.weights / np.linalg.norm(probe.weights)
    direction -= (direction @ readable) * readable
    direction /= np.linalg.norm(direction)
    projection = human @ direction
    return HiddenClickModel(probe, direction, float(projection.mean()), float(projection.std()))


def racer_for_counts() -> ContextualRacer:
    """The production racer; its posterior_scale (0.05: it corrects summed per-key variances) is 1 here,
    where each line's variance is its own Beta posterior's."""
    return ContextualRacer(RacerConfig(learner=LearnerConfig(posterior_scale=1.0)))


def race(
    ctr: np.ndarray, impressions: int, rng: np.random.Generator, racer: ContextualRacer | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Impressions and clicks per line after the racer has shown the pool `impressions` times."""
    racer = racer or racer_for_counts()
    shown, clicks = np.zeros(len(ctr)), np.zeros(len(ctr))
    for start in range(0, impressions, DECISION_BATCH):
        a, b = PRIOR_CLICKS + clicks, PRIOR_MISSES + shown - clicks
        p = racer.probabilities(np.log(a / b), 1.0 / a + 1.0 / b)
        chosen = rng.choice(len(ctr), size=min(DECISION_BATCH, impressions - start), p=p / p.sum())
        np.add.at(shown, chosen, 1)
        np.add.at(clicks, chosen, rng.random(len(chosen)) < ctr[chosen])
    return shown, clicks


def generated_vs_human(
    probe: LegibilityProbe,
    library: np.ndarray,
    human: np.ndarray,
    generated: Mapping[str, np.ndarray],
    runs: int,
    pool: int,
    impressions: int,
    seed: int,
) -> dict:
    """Per family: `runs` races, each with an audience of its own (taste drawn per run, standardised over the
    `library` of human headlines), over `pool` human lines and up to `pool` of the family's lines (drawn
    afresh per run; run r's audience and human lines are the same for every family), and what the racer
    made of them. Rows of `human` and `generated` are embeddings of lines that passed admission's form."""
    audiences = [audience(probe, library, [seed, run]) for run in range(runs)]
    out = {}
    for index, (family, embeddings) in enumerate(generated.items()):
        if len(embeddings) == 0:
            out[family] = {"generated_lines": 0, "note": "no sample passed admission's form"}
            continue
        totals = np.zeros(4)  # generated impressions, generated clicks, human impressions, human clicks
        hidden_gen, hidden_human, best_generated = [], [], 0
        for run, model in enumerate(audiences):
            picked = np.random.default_rng([seed, run]).choice(
                len(human), min(pool, len(human)), replace=False
            )
            rng = np.random.default_rng([seed, run, index + 1])
            mine = rng.choice(len(embeddings), min(pool, len(embeddings)), replace=False)
            humans, ours = model.ctr(human[picked]), model.ctr(embeddings[mine])
            shown, clicks = race(np.concatenate([humans, ours]), impressions, rng)
            k = len(humans)
            totals += [shown[k:].sum(), clicks[k:].sum(), shown[:k].sum(), clicks[:k].sum()]
            hidden_gen.append(ours.mean())
            hidden_human.append(humans.mean())
            best_generated += ours.max() > humans.max()
        ctr_gen = totals[1] / totals[0] if totals[0] else None
        ctr_human = totals[3] / totals[2] if totals[2] else None
        out[family] = {
            "generated_lines": int(len(embeddings)),
            "ctr_generated": _round(ctr_gen),
            "ctr_human": _round(ctr_human),
            "ctr_ratio_generated_to_human": _round(ctr_gen / ctr_human if ctr_gen and ctr_human else None, 3),
            "generated_impression_share": _round(totals[0] / (totals[0] + totals[2]), 4),
            "generated_impressions": int(totals[0]),
            "hidden_ctr_generated_mean": _round(float(np.mean(hidden_gen))),
            "hidden_ctr_human_mean": _round(float(np.mean(hidden_human))),
            "best_line_generated_share": _round(best_generated / runs, 4),
        }
    return out


def verdicts(families: Mapping[str, dict]) -> dict[str, str]:
    """One sentence per family, from the figures: who won the clicks and the impressions."""
    out = {}
    for family, f in families.items():
        if not f.get("generated_lines"):
            out[family] = "no line reached the race"
            continue
        side = "loses to" if f["ctr_generated"] < f["ctr_human"] else "beats"
        out[family] = (
            f"generated copy {side} human copy: CTR {f['ctr_generated']:.4f} vs {f['ctr_human']:.4f} "
            f"(x{f['ctr_ratio_generated_to_human']}), {f['generated_impression_share']:.0%} of impressions; "
            f"the pool's best line was generated in {f['best_line_generated_share']:.0%} of races"
        )
    return out


def _round(x: float | None, digits: int = 5) -> float | None:
    return None if x is None else round(float(x), digits)


def hidden_view(
    probe: LegibilityProbe, library: np.ndarray, groups: Mapping[str, np.ndarray], runs: int, seed: int
) -> dict:
    """The hidden model's view of each group of lines before any race: mean legibility, and mean CTR and
    taste averaged over the races' audiences."""
    audiences = [audience(probe, library, [seed, run]) for run in range(runs)]
    return {
        name: {
            "lines": int(len(e)),
            "mean_legible": _round(float(probe.legible(e).mean()), 4),
            "mean_ctr": _round(float(np.mean([m.ctr(e).mean() for m in audiences]))),
            "mean_taste_z": _round(float(np.mean([m.taste(e).mean() for m in audiences])), 4),
        }
        for name, e in groups.items()
        if len(e)
    }


def admitted_rows(admitted: Sequence[bool]) -> np.ndarray:
    return np.flatnonzero(np.asarray(admitted, dtype=bool))
