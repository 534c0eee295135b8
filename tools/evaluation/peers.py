"""Baselines and peer bandit libraries under the simulator's Policy protocol.

Every peer sees what the racer sees: the request (user features, candidate creatives with category and
tags) and the same delayed feedback. Configurations (why each is fair) are documented on each class and in
docs/evaluation-simulator.md; the few knobs that were swept were swept on tuning seeds that the evaluation
never uses (`python -m evaluation.simulator_report --sweep`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from mabwiser.mab import MAB, LearningPolicy
from vowpalwabbit import Workspace

from evaluation.movielens_traffic import Decision, Feedback, Request

USER_FIELDS = ("age_bucket", "gender", "occupation")
_PLACEHOLDER = "__no_creative_yet__"


class Uniform:
    """Uniformly random among the candidates: the floor every learner must beat. Propensity 1/K."""

    name = "uniform"

    def __init__(self, seed: int):
        self._rng = np.random.default_rng(seed)
        self.last_distribution: np.ndarray | None = None

    def choose(self, request: Request) -> Decision:
        k = len(request.candidates)
        self.last_distribution = np.full(k, 1.0 / k)
        return Decision(int(self._rng.integers(k)), 1.0 / k)

    def feedback(self, events: Sequence[Feedback]) -> None:
        pass

    def end_of_hour(self, now: float) -> None:
        pass


class ContextFreeThompson:
    """Beta(1, 1)-Bernoulli Thompson sampling per creative, no context: what select ran before the racer.

    The decision is the winner of one joint posterior sample; its propensity is the share of `draws`
    further, independent joint samples that the chosen creative wins (unbiased; floored at 1/(draws + 1)
    when it wins none). An impression counts when its label arrives, so a pending one is never taken for a
    non-click."""

    name = "ts_context_free"

    def __init__(self, seed: int, draws: int = 200):
        self._rng = np.random.default_rng(seed)
        self._draws = draws
        self._impressions: dict[str, int] = {}
        self._clicks: dict[str, int] = {}

    def choose(self, request: Request) -> Decision:
        ids = [c.creative_id for c in request.candidates]
        clicks = np.array([self._clicks.get(i, 0) for i in ids], dtype=float)
        misses = np.array([self._impressions.get(i, 0) for i in ids], dtype=float) - clicks
        samples = self._rng.beta(1.0 + clicks, 1.0 + misses, size=(self._draws + 1, len(ids)))
        winners = samples.argmax(axis=1)
        chosen = int(winners[0])
        wins = int(np.count_nonzero(winners[1:] == chosen))
        return Decision(chosen, max(wins, 1) / (self._draws + (wins == 0)))

    def feedback(self, events: Sequence[Feedback]) -> None:
        for event in events:
            creative_id = event.request.candidates[event.index].creative_id
            self._impressions[creative_id] = self._impressions.get(creative_id, 0) + 1
            self._clicks[creative_id] = self._clicks.get(creative_id, 0) + int(event.clicked)

    def end_of_hour(self, now: float) -> None:
        pass


class UserOneHot:
    """One-hot of the user's age bucket, gender and occupation over a fixed vocabulary (the data's schema)."""

    def __init__(self, vocabulary: Mapping[str, Sequence[str]]):
        self._column = {}
        for name in USER_FIELDS:
            for value in vocabulary[name]:
                self._column[(name, str(value))] = len(self._column)

    @property
    def size(self) -> int:
        return len(self._column)

    def encode(self, user: Mapping[str, object]) -> np.ndarray:
        row = np.zeros(self.size)
        for name in USER_FIELDS:
            column = self._column.get((name, str(user.get(name))))
            if column is not None:
                row[column] = 1.0
        return row


class _MabwiserBatch:
    """Shared plumbing for MABWiser: arms are creative ids, a new creative is added with `add_arm` when it
    first appears among the candidates, feedback is buffered and `partial_fit` once per hour (the batch
    update). Until its first batch it has no model and picks uniformly. MABWiser exposes no propensity."""

    name = "mabwiser"

    def __init__(self, seed: int, learning_policy, encoder: UserOneHot | None):
        self._rng = np.random.default_rng(seed)
        # MABWiser wants at least one arm up front; the placeholder goes once real creatives are added.
        self._mab = MAB(arms=[_PLACEHOLDER], learning_policy=learning_policy, seed=seed)
        self._encoder = encoder
        self._buffer: list[Feedback] = []
        self._fitted = False

    def _context(self, request: Request) -> np.ndarray | None:
        return None if self._encoder is None else self._encoder.encode(request.user)[None, :]

    def choose(self, request: Request) -> Decision:
        for candidate in request.candidates:
            if candidate.creative_id not in self._mab.arms:
                self._mab.add_arm(candidate.creative_id)
        if _PLACEHOLDER in self._mab.arms:
            self._mab.remove_arm(_PLACEHOLDER)
        if not self._fitted:
            return Decision(int(self._rng.integers(len(request.candidates))), None)
        context = self._context(request)
        expectations = (
            self._mab.predict_expectations() if context is None else self._mab.predict_expectations(context)
        )
        scores = np.array([expectations[c.creative_id] for c in request.candidates])
        best = np.flatnonzero(scores == scores.max())
        return Decision(int(self._rng.choice(best)), None)

    def feedback(self, events: Sequence[Feedback]) -> None:
        self._buffer.extend(events)

    def end_of_hour(self, now: float) -> None:
        if not self._buffer:
            return
        decisions = [e.request.candidates[e.index].creative_id for e in self._buffer]
        rewards = [int(e.clicked) for e in self._buffer]
        if self._encoder is None:
            self._mab.partial_fit(decisions, rewards)
        else:
            contexts = np.stack([self._encoder.encode(e.request.user) for e in self._buffer])
            self._mab.partial_fit(decisions, rewards, contexts)
        self._buffer = []
        self._fitted = True


class MabwiserThompson(_MabwiserBatch):
    """MABWiser ThompsonSampling (Beta(1, 1) per arm, no context; it has no parameter to set)."""

    name = "mabwiser_ts"

    def __init__(self, seed: int):
        super().__init__(seed, LearningPolicy.ThompsonSampling(), encoder=None)


# Swept on the tuning seeds over {0.003, 0.01, 0.03, 0.1, 0.3, 1.0} (simulator_sweep.json): MABWiser's
# default 1.0 is scaled for rewards near 0.5, not a 3% CTR, and explores almost uniformly over five days.
LINUCB_ALPHA = 0.003


class MabwiserLinUCB(_MabwiserBatch):
    """MABWiser LinUCB, one ridge model per creative on the user one-hot (l2_lambda = 1, the default)."""

    name = "mabwiser_linucb"

    def __init__(self, seed: int, encoder: UserOneHot, alpha: float = LINUCB_ALPHA):
        super().__init__(seed, LearningPolicy.LinUCB(alpha=alpha, l2_lambda=1.0), encoder=encoder)
        self.name = "mabwiser_linucb" if alpha == LINUCB_ALPHA else f"mabwiser_linucb_a{alpha:g}"


def _vw_token(value: object) -> str:
    return str(value).replace(" ", "_").replace(":", "_").replace("|", "_")


# The explorers of `--cb_explore_adf` compared. The one knob of epsilon-greedy and SquareCB was swept on the
# tuning seeds (simulator_sweep.json); everything else is VW's default.
VW_EXPLORERS = {
    "epsilon": "--epsilon 0.01",  # swept over {0.01, 0.05 (default), 0.1}
    "squarecb": "--squarecb --gamma_scale 100",  # swept over {1, 10 (default), 100, 1000}; gamma_exponent 0.5
    "bag": "--bag 5",  # bootstrap ensemble of 5 (not swept), greedy within each bag
}


class VowpalCbAdf:
    """Vowpal Wabbit contextual bandit with action-dependent features (`--cb_explore_adf`).

    Shared features: the user's age bucket, gender and occupation (namespace U). Action features: the
    creative's id, category and tags (namespace A). `-q UA` crosses them, so it can learn per-segment
    preferences for a creative and, through the tags, for creatives it has never shown. Cost is -1 for a
    click and 0 otherwise; it learns each labelled impression as it arrives, with the probability VW gave
    the chosen action, which is also the logged propensity."""

    def __init__(self, seed: int, explorer: str = "epsilon", explorer_args: str | None = None):
        self.name = f"vw_{explorer}"
        args = explorer_args or VW_EXPLORERS[explorer]
        self._vw = Workspace(f"--cb_explore_adf -q UA --quiet --random_seed {seed} {args}")
        self._rng = np.random.default_rng(seed)
        self._action_lines: dict[str, str] = {}
        self._logged: dict[str, float] = {}
        self.last_distribution: np.ndarray | None = None

    def _example(self, request: Request) -> list[str]:
        user = " ".join(f"{name}={_vw_token(request.user.get(name))}" for name in USER_FIELDS)
        return [f"shared |U {user}"] + [self._action(c) for c in request.candidates]

    def _action(self, candidate) -> str:
        line = self._action_lines.get(candidate.creative_id)
        if line is None:
            tags = " ".join(f"tag={_vw_token(t)}" for t in candidate.tags)
            line = f"|A id={_vw_token(candidate.creative_id)} category={_vw_token(candidate.category)} {tags}"
            self._action_lines[candidate.creative_id] = line
        return line

    def choose(self, request: Request) -> Decision:
        pmf = np.asarray(self._vw.predict(self._example(request)), dtype=float)
        pmf = pmf / pmf.sum()
        index = int(self._rng.choice(len(pmf), p=pmf))
        self.last_distribution = pmf
        self._logged[request.request_id] = float(pmf[index])
        return Decision(index, float(pmf[index]))

    def feedback(self, events: Sequence[Feedback]) -> None:
        for event in events:
            probability = self._logged.pop(event.request.request_id)
            lines = self._example(event.request)
            cost = -1.0 if event.clicked else 0.0
            lines[event.index + 1] = f"0:{cost}:{probability} {lines[event.index + 1]}"
            self._vw.learn(lines)

    def end_of_hour(self, now: float) -> None:
        pass

    def close(self) -> None:
        self._vw.finish()
