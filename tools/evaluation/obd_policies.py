"""Target policies on the Open Bandit Dataset as position-wise slates (n, K, 3), and the reward model.

Uniform (1/K); Thompson policies rank Beta samples (Monte Carlo, like obp's `compute_batch_action_dist`);
single-slot policies (LinUCB's epsilon-greedy, the racer's probabilities) fill the slate by sampling without
replacement, whose position marginals are computed exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from evaluation.obd_data import SLATE_SIZE, Contexts, ObdLog, obd_creatives, obd_user

THOMPSON_SIMULATIONS = 100_000  # obp's default n_sim for compute_batch_action_dist
LINUCB_ALPHA = 1.0  # width of the confidence bonus, in standard deviations (Li et al. 2010)
LINUCB_EPSILON = 0.1  # share of slates served uniformly at random
REWARD_MODEL_FOLDS = 5
REWARD_MODEL_C = 0.1  # strong L2: a log has 38-69 clicks


def at_logged_positions(slates: np.ndarray, log: ObdLog, contexts: Contexts | None = None) -> np.ndarray:
    """(n, K) pi(. | x_i, position_i) from a policy's slates: (K, 3) context-free or (m, K, 3) per context."""
    if slates.ndim == 2:
        return slates.T[log.positions]
    return slates[contexts.inverse, :, log.positions]


def uniform_slate(n_items: int) -> np.ndarray:
    return np.full((n_items, SLATE_SIZE), 1.0 / n_items)


def beta_thompson_slate(
    alpha: np.ndarray, beta: np.ndarray, rng: np.random.Generator, simulations: int = THOMPSON_SIMULATIONS
) -> np.ndarray:
    """(K, 3) P(item ranked at each position) when items are ranked by one Beta sample each (obp's BTS)."""
    counts = np.zeros((len(alpha), SLATE_SIZE))
    block = 20_000
    for start in range(0, simulations, block):
        samples = rng.beta(alpha, beta, size=(min(block, simulations - start), len(alpha)))
        ranked = np.argsort(-samples, axis=1)[:, :SLATE_SIZE]
        for position in range(SLATE_SIZE):
            counts[:, position] += np.bincount(ranked[:, position], minlength=len(alpha))
    return counts / simulations


def plackett_luce_slate(weights: np.ndarray) -> np.ndarray:
    """(m, K, 3) exact position marginals of sampling 3 items without replacement, proportionally to weights.

    P(a first) = p_a; P(a second) = sum_j p_j p_a / (1 - p_j); P(a third) = sum_{j != l} p_j p_l / (1 - p_j)
    * p_a / (1 - p_j - p_l), with j, l != a. The last is p_a (S - R_a - C_a) with S, R, C the total, row
    and column sums of T[j, l] = p_j p_l / ((1 - p_j)(1 - p_j - p_l)) (diagonal zero), so O(K^2) per context.
    """
    p = np.asarray(weights, dtype=float)
    p = p / p.sum(axis=1, keepdims=True)
    rest = np.maximum(1.0 - p, 1e-300)
    odds = p / rest
    second = p * (odds.sum(axis=1, keepdims=True) - odds)
    rest_two = 1.0 - p[:, :, None] - p[:, None, :]
    pair = odds[:, :, None] * p[:, None, :] / np.where(rest_two > 1e-12, rest_two, np.inf)
    diagonal = np.arange(p.shape[1])
    pair[:, diagonal, diagonal] = 0.0
    third = p * (pair.sum(axis=(1, 2))[:, None] - pair.sum(axis=2) - pair.sum(axis=1))
    return np.stack([p, second, third], axis=2)


def epsilon_greedy_slate(scores: np.ndarray, epsilon: float) -> np.ndarray:
    """(m, K, 3): the top-3 by score in order with probability 1 - epsilon, else a uniformly random slate."""
    m, n_items = scores.shape
    slates = np.full((m, n_items, SLATE_SIZE), epsilon / n_items)
    ranked = np.argsort(-scores, axis=1, kind="stable")[:, :SLATE_SIZE]
    for position in range(SLATE_SIZE):
        slates[np.arange(m), ranked[:, position], position] += 1.0 - epsilon
    return slates


class UserEncoding:
    """One-hot user features with the training log's vocabulary (unseen values encode as all zeros)."""

    def __init__(self, users: np.ndarray):
        self.vocab = [sorted(set(users[:, column])) for column in range(users.shape[1])]
        self.width = sum(len(values) for values in self.vocab)

    def encode(self, users: np.ndarray) -> np.ndarray:
        encoded = np.zeros((len(users), self.width))
        offset = 0
        for column, values in enumerate(self.vocab):
            index = {value: i for i, value in enumerate(values)}
            codes = np.array([index.get(value, -1) for value in users[:, column]])
            seen = codes >= 0
            encoded[np.flatnonzero(seen), offset + codes[seen]] = 1.0
            offset += len(values)
        return encoded


class LinUcb:
    """Disjoint LinUCB (Li et al. 2010) fitted offline on one log, served as an epsilon-greedy slate.

    Per item a, a ridge regression of click on x = [1, one-hot user features, affinity(user, a)] over the
    impressions where a was shown (positions pooled); its score is theta_a . x + alpha sqrt(x' A_a^-1 x).
    A frozen offline policy must be stochastic to be evaluated by importance weighting and to keep
    exploring: it shows the top three items by score with probability 1 - epsilon, else a random slate.
    """

    def __init__(self, n_items: int, alpha: float = LINUCB_ALPHA, ridge: float = 1.0):
        self.n_items, self.alpha, self.ridge = n_items, alpha, ridge

    def fit(self, log: ObdLog) -> LinUcb:
        self.encoding = UserEncoding(log.users)
        x = self._features(log.users, log.affinity[np.arange(log.n), log.items][:, None])[:, 0, :]
        dimension = x.shape[1]
        gram = np.tile(self.ridge * np.eye(dimension), (self.n_items, 1, 1))
        response = np.zeros((self.n_items, dimension))
        for item in range(self.n_items):
            shown = log.items == item
            gram[item] += x[shown].T @ x[shown]
            response[item] = x[shown].T @ log.clicks[shown]
        self.gram_inverse = np.linalg.inv(gram)
        self.theta = np.einsum("kij,kj->ki", self.gram_inverse, response)
        return self

    def scores(self, users: np.ndarray, affinity: np.ndarray) -> np.ndarray:
        x = self._features(users, affinity)  # (m, K, d)
        mean = np.einsum("mkd,kd->mk", x, self.theta)
        variance = np.einsum("mkd,kde,mke->mk", x, self.gram_inverse, x)
        return mean + self.alpha * np.sqrt(np.maximum(variance, 0.0))

    def _features(self, users: np.ndarray, affinity: np.ndarray) -> np.ndarray:
        """(m, K', d) for affinity of shape (m, K'): the user part is shared, the affinity is per item."""
        user = np.hstack([np.ones((len(users), 1)), self.encoding.encode(users)])
        shared = np.broadcast_to(user[:, None, :], (len(users), affinity.shape[1], user.shape[1]))
        return np.concatenate([shared, affinity[:, :, None]], axis=2)


def item_counts(log: ObdLog) -> tuple[np.ndarray, np.ndarray]:
    impressions = np.bincount(log.items, minlength=log.n_items).astype(float)
    clicks = np.bincount(log.items, weights=log.clicks, minlength=log.n_items)
    return impressions, clicks


def cross_fitted_q_hat(log: ObdLog, folds: int = REWARD_MODEL_FOLDS, seed: int = 0) -> np.ndarray:
    """(n, K) predicted click of every item at each row's logged position, by k-fold cross-fitting.

    An L2 logistic regression on one-hot user features, item id, item features and position, plus the
    numeric item feature and the user-item affinity; each row's predictions come from the model fitted on
    the other folds, so DR's reward model never saw the click it corrects.
    """
    from scipy import sparse
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import OneHotEncoder

    n, n_items = log.n, log.n_items
    user_codes = np.stack([pd.factorize(log.users[:, c])[0] for c in range(log.users.shape[1])], axis=1)
    item_table = log.item_features

    def design(rows: np.ndarray, items: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        categorical = np.column_stack(
            [user_codes[rows], items, item_table.iloc[items, 1:].to_numpy(), log.positions[rows]]
        )
        numeric = np.column_stack([item_table["item_feature_0"].to_numpy()[items], log.affinity[rows, items]])
        return categorical, numeric

    every_row = np.repeat(np.arange(n), n_items)
    every_item = np.tile(np.arange(n_items), n)
    all_categorical, all_numeric = design(every_row, every_item)
    encoder = OneHotEncoder(handle_unknown="ignore").fit(all_categorical)
    all_x = sparse.hstack([encoder.transform(all_categorical), sparse.csr_matrix(all_numeric)]).tocsr()
    logged_categorical, logged_numeric = design(np.arange(n), log.items)
    logged_x = sparse.hstack(
        [encoder.transform(logged_categorical), sparse.csr_matrix(logged_numeric)]
    ).tocsr()
    fold_of = np.random.default_rng(seed).permutation(n) % folds
    q_hat = np.empty((n, n_items))
    for fold in range(folds):
        held_out, fitting = fold_of == fold, fold_of != fold
        rows = np.flatnonzero(held_out)
        pairs = (rows[:, None] * n_items + np.arange(n_items)[None, :]).ravel()
        if log.clicks[fitting].min() == log.clicks[fitting].max():
            q_hat[rows] = log.clicks[fitting].mean()  # a fold without clicks (tiny quick runs)
            continue
        model = LogisticRegression(C=REWARD_MODEL_C, max_iter=2000).fit(
            logged_x[fitting], log.clicks[fitting]
        )
        q_hat[rows] = model.predict_proba(all_x[pairs])[:, 1].reshape(len(rows), n_items)
    return q_hat


@dataclass(frozen=True)
class RacerPolicy:
    slates: np.ndarray  # (m, K, 3) per evaluation context
    model_version: str
    model_metrics: dict[str, float]
    mean_prior_ctr: float


def racer_policy(train: ObdLog, evaluate: ObdLog, contexts: Contexts, seed: int) -> RacerPolicy:
    """The product's racer frozen after the training log: the LightGBM CTR prior, and the online learner
    after replaying the training log in time order (every impression and its click, undecayed: the policy is
    frozen). Its single-slot probabilities (with the exploration floor) fill the slate without replacement.
    """
    from creative.racing.ctr_training import train_ctr_model
    from creative.racing.features import LoggedImpression
    from creative.racing.learner import LearnerState, OnlineLearner, fuse, logit, pair_keys, user_terms
    from creative.racing.racer import ContextualRacer, RacerConfig

    creatives = obd_creatives(train)
    rows = [
        LoggedImpression(
            user=obd_user(train, i),
            creative=creatives[train.items[i]],
            shown_at=float(train.timestamps[i]),
            clicked=bool(train.clicks[i]),
            propensity=float(train.propensities[i]),
        )
        for i in range(train.n)
    ]
    model = train_ctr_model(rows, seed=seed)
    scorer = model.scorer()
    racer = ContextualRacer(RacerConfig())
    config = racer.config.learner
    learner = OnlineLearner(config)
    own = [LearnerState() for _ in range(train.n_items)]
    line = LearnerState()
    base = float(logit((train.clicks.sum() + 1.0) / (train.n + 50.0)))
    for i in np.argsort(train.timestamps, kind="stable"):
        terms = user_terms(rows[i].user, config.max_terms)
        keys = pair_keys(terms, creatives[train.items[i]].tags, config)
        learner.learn(base, keys, own[train.items[i]], line, bool(train.clicks[i]))
    now = float(np.median(evaluate.timestamps))
    probabilities = np.empty((len(contexts.representatives), evaluate.n_items))
    priors = np.empty_like(probabilities)
    for j, row in enumerate(contexts.representatives):
        user = obd_user(evaluate, row)
        terms = user_terms(user, config.max_terms)
        scores = learner.score_pairs(base, terms, [c.tags for c in creatives], own, line)
        priors[j] = scorer.predict(user, creatives, now)
        mean, variance = fuse(
            scores, base, logit(priors[j]), racer.config.model_prior_precision, config.creative_precision
        )
        probabilities[j] = racer.probabilities(mean, variance)
    return RacerPolicy(
        slates=plackett_luce_slate(probabilities),
        model_version=model.version,
        model_metrics=model.metrics,
        mean_prior_ctr=float(priors[contexts.inverse].mean()),
    )
