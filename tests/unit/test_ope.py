"""Off-policy estimators on synthetic logs whose true policy values are known exactly."""

from dataclasses import dataclass

import numpy as np
import pytest
from creative.racing.ope import BanditLog, dr, estimate, improvement_probability, ipw, on_policy, snipw

N_CONTEXTS, N_ACTIONS = 8, 5


@dataclass(frozen=True)
class World:
    """Contexts drawn uniformly; click probability ctr[x, a]; softmax logging and target policies."""

    ctr: np.ndarray
    logging: np.ndarray
    target: np.ndarray

    @property
    def true_target_value(self) -> float:
        return float(np.mean(np.sum(self.target * self.ctr, axis=1)))


def softmax(scores: np.ndarray) -> np.ndarray:
    exp = np.exp(scores - scores.max(axis=1, keepdims=True))
    return exp / exp.sum(axis=1, keepdims=True)


def make_world(seed: int = 0) -> World:
    rng = np.random.default_rng(seed)
    ctr = rng.uniform(0.2, 0.8, size=(N_CONTEXTS, N_ACTIONS))
    logging = softmax(rng.normal(size=(N_CONTEXTS, N_ACTIONS)))
    # The target leans towards each context's best actions, so it differs clearly from the logger.
    target = softmax(3.0 * ctr + rng.normal(scale=0.3, size=ctr.shape))
    return World(ctr=ctr, logging=logging, target=target)


@dataclass(frozen=True)
class Logged:
    log: BanditLog
    contexts: np.ndarray
    expected_rewards: np.ndarray


def log_from(world: World, n: int, rng: np.random.Generator, noisy: bool = True) -> Logged:
    contexts = rng.integers(0, N_CONTEXTS, size=n)
    cumulative = world.logging[contexts].cumsum(axis=1)
    actions = (rng.random(n)[:, None] > cumulative).sum(axis=1)
    expected = world.ctr[contexts, actions]
    rewards = (rng.random(n) < expected).astype(float) if noisy else expected
    log = BanditLog(actions=actions, rewards=rewards, propensities=world.logging[contexts, actions])
    return Logged(log=log, contexts=contexts, expected_rewards=expected)


@pytest.mark.parametrize("method", ["ipw", "snipw", "dr"])
def test_each_estimators_interval_covers_the_true_value_about_95_percent_of_the_time(method):
    # Given many independent logs of one world, and a deliberately poor reward model for DR
    world, rng = make_world(), np.random.default_rng(1)
    q_constant = np.full((N_CONTEXTS, N_ACTIONS), 0.5)
    covered, replications = 0, 60
    for _ in range(replications):
        logged = log_from(world, 1500, rng)
        # When each log gets its own 95% bootstrap interval
        result = estimate(
            method,
            logged.log,
            world.target[logged.contexts],
            q_constant[logged.contexts],
            n_boot=300,
            rng=rng,
        )
        covered += result.ci_low <= world.true_target_value <= result.ci_high
    # Then the intervals cover the truth at close to their nominal rate
    assert 0.85 <= covered / replications <= 1.0


def test_dr_with_the_true_reward_model_is_exact_when_rewards_carry_no_noise():
    # Given a log whose rewards are the expected rewards themselves
    world, rng = make_world(), np.random.default_rng(2)
    logged = log_from(world, 3000, rng, noisy=False)
    q_true = world.ctr[logged.contexts]
    # When DR uses the true reward model
    value = dr(logged.log, world.target[logged.contexts], q_true)
    # Then it equals the target's value on exactly these contexts
    assert value == pytest.approx(np.mean(np.sum(world.target[logged.contexts] * q_true, axis=1)), abs=1e-12)


def test_dr_with_the_true_reward_model_is_close_and_tighter_than_ipw():
    # Given a noisy log
    world, rng = make_world(), np.random.default_rng(3)
    logged = log_from(world, 5000, rng)
    target, q_true = world.target[logged.contexts], world.ctr[logged.contexts]
    # When DR (true q) and IPW are both estimated with intervals
    dr_estimate = estimate("dr", logged.log, target, q_true, n_boot=500, rng=rng)
    ipw_estimate = estimate("ipw", logged.log, target, n_boot=500, rng=rng)
    # Then DR is within a small margin of the truth and its interval is narrower (only reward noise is left)
    assert abs(dr_estimate.value - world.true_target_value) < 0.01
    dr_width = dr_estimate.ci_high - dr_estimate.ci_low
    ipw_width = ipw_estimate.ci_high - ipw_estimate.ci_low
    assert dr_width < 0.9 * ipw_width


def test_snipw_of_the_logging_policy_is_the_logged_mean_reward():
    # Given a log and the logging policy's own action distribution
    world, rng = make_world(), np.random.default_rng(4)
    logged = log_from(world, 2000, rng)
    # When SNIPW evaluates the logging policy
    value = snipw(logged.log, world.logging[logged.contexts])
    # Then every weight is one and the estimate is the logged mean
    assert value == pytest.approx(logged.log.rewards.mean(), abs=1e-12)
    assert ipw(logged.log, world.logging[logged.contexts]) == pytest.approx(logged.log.rewards.mean())


def test_estimate_reports_the_full_sample_value_inside_its_interval():
    world, rng = make_world(), np.random.default_rng(5)
    logged = log_from(world, 2000, rng)
    result = estimate("snipw", logged.log, world.target[logged.contexts], n_boot=200, rng=rng)
    assert result.method == "snipw" and result.n == 2000
    assert result.value == pytest.approx(snipw(logged.log, world.target[logged.contexts]))
    assert result.ci_low < result.value < result.ci_high


@pytest.mark.parametrize(
    ("actions", "rewards", "propensities"),
    [
        ([0, 1], [1.0, 0.0], [0.5, 0.0]),  # zero propensity
        ([0, 1], [1.0, 0.0], [0.5, 1.5]),  # propensity above one
        ([0, 1, 2], [1.0, 0.0], [0.5, 0.5]),  # lengths differ
        ([0, -1], [1.0, 0.0], [0.5, 0.5]),  # negative action
        ([0.0, 1.0], [1.0, 0.0], [0.5, 0.5]),  # actions not integers
        ([], [], []),  # empty
    ],
)
def test_an_invalid_log_is_rejected(actions, rewards, propensities):
    with pytest.raises(ValueError):
        BanditLog(actions=np.array(actions), rewards=np.array(rewards), propensities=np.array(propensities))


def test_invalid_policies_and_reward_models_are_rejected():
    # Given a valid two-row log over three actions
    log = BanditLog(actions=np.array([0, 2]), rewards=np.array([1.0, 0.0]), propensities=np.array([0.5, 0.5]))
    uniform = np.full((2, 3), 1 / 3)
    rng = np.random.default_rng(0)
    # Then rows that do not sum to one, too few actions, wrong q shapes and unknown methods all fail
    with pytest.raises(ValueError, match="sum to 1"):
        ipw(log, np.full((2, 3), 0.5))
    with pytest.raises(ValueError, match="actions"):
        ipw(log, np.full((2, 2), 0.5))
    with pytest.raises(ValueError, match="shape"):
        ipw(log, np.full((3, 3), 1 / 3))
    with pytest.raises(ValueError, match="q_hat"):
        dr(log, uniform, np.zeros((2, 2)))
    with pytest.raises(ValueError, match="q_hat"):
        estimate("dr", log, uniform, n_boot=10, rng=rng)
    with pytest.raises(ValueError, match="unknown method"):
        estimate("direct", log, uniform, n_boot=10, rng=rng)
    with pytest.raises(ValueError, match="supports"):
        improvement_probability(log, uniform, uniform, method="ipw", n_boot=10, rng=rng)


@pytest.mark.parametrize("method", ["dr", "snipw"])
def test_a_clearly_better_challenger_wins_almost_every_paired_resample(method):
    # Given a champion that picks each context's worst action and a challenger that picks its best
    world, rng = make_world(), np.random.default_rng(6)
    logged = log_from(world, 3000, rng)
    worst = np.eye(N_ACTIONS)[world.ctr.argmin(axis=1)][logged.contexts]
    best = np.eye(N_ACTIONS)[world.ctr.argmax(axis=1)][logged.contexts]
    q_constant = np.full((logged.log.n, N_ACTIONS), 0.5)
    # When their improvement probability is estimated
    champion, challenger, probability = improvement_probability(
        logged.log, worst, best, q_constant, method=method, n_boot=500, rng=rng
    )
    # Then the challenger is higher and wins nearly every resample
    assert challenger > champion
    assert probability > 0.99


def test_identical_policies_have_an_improvement_probability_of_one_half():
    world, rng = make_world(), np.random.default_rng(7)
    logged = log_from(world, 1000, rng)
    target = world.target[logged.contexts]
    champion, challenger, probability = improvement_probability(
        logged.log, target, target.copy(), world.ctr[logged.contexts], n_boot=300, rng=rng
    )
    assert champion == challenger
    assert probability == pytest.approx(0.5)


def test_a_slightly_different_policy_is_not_declared_a_winner():
    # Given a challenger that differs from the champion only by a small random perturbation
    world, rng = make_world(), np.random.default_rng(8)
    logged = log_from(world, 2000, rng)
    champion_dist = world.target[logged.contexts]
    challenger_dist = softmax(np.log(world.target) + rng.normal(scale=0.05, size=world.target.shape))
    # When the improvement probability is estimated
    _, _, probability = improvement_probability(
        logged.log,
        champion_dist,
        challenger_dist[logged.contexts],
        world.ctr[logged.contexts],
        n_boot=500,
        rng=rng,
    )
    # Then the evidence is inconclusive either way
    assert 0.05 < probability < 0.95


def test_on_policy_value_is_the_logged_mean_with_an_interval_around_it():
    world, rng = make_world(), np.random.default_rng(9)
    logged = log_from(world, 2000, rng)
    result = on_policy(logged.log, n_boot=300, rng=rng)
    assert result.method == "on-policy"
    assert result.value == pytest.approx(logged.log.rewards.mean())
    assert result.ci_low < result.value < result.ci_high


def test_the_logging_policy_as_champion_is_valued_by_its_logged_mean():
    # Given a log and a challenger that always picks each context's best action
    world, rng = make_world(), np.random.default_rng(10)
    logged = log_from(world, 3000, rng)
    best = np.eye(N_ACTIONS)[world.ctr.argmax(axis=1)][logged.contexts]
    q_hat = world.ctr[logged.contexts]
    # When the champion is the logging policy itself (no distribution given)
    champion, challenger, probability = improvement_probability(
        logged.log, None, best, q_hat, n_boot=400, rng=rng
    )
    # Then the champion's value is the logged mean and the best-action policy clearly beats it
    assert champion == pytest.approx(logged.log.rewards.mean())
    assert challenger > champion and probability > 0.99


def test_a_required_improvement_ratio_the_challenger_does_not_reach_is_not_reported_as_won():
    # Given a challenger clearly better than the logging policy
    world, rng = make_world(), np.random.default_rng(11)
    logged = log_from(world, 5000, rng)
    best = np.eye(N_ACTIONS)[world.ctr.argmax(axis=1)][logged.contexts]
    q_hat = world.ctr[logged.contexts]
    champion, challenger, beats = improvement_probability(logged.log, None, best, q_hat, n_boot=400, rng=rng)
    ratio = challenger / champion
    # When the required ratio is set well above the observed one
    *_, beats_by_far_more = improvement_probability(
        logged.log, None, best, q_hat, n_boot=400, rng=rng, min_ratio=ratio * 1.15
    )
    # Then the challenger still beats the champion, but not by the required ratio
    assert beats > 0.99
    assert beats_by_far_more < 0.05


def confident_logger_world(seed: int = 0) -> World:
    """A logger like a racer that has settled: each context's favourite action almost always, every other
    one at an exploration floor of 0.5%, so a target that prefers those carries importance weights of ~200."""
    world = make_world(seed)
    logging = np.full((N_CONTEXTS, N_ACTIONS), 0.005)
    logging[np.arange(N_CONTEXTS), world.ctr.argmin(axis=1)] = 1.0 - 0.005 * (N_ACTIONS - 1)
    return World(ctr=world.ctr, logging=logging, target=world.target)


def test_clipped_dr_is_the_plain_dr_while_every_weight_is_below_the_clip():
    world, rng = make_world(), np.random.default_rng(11)
    logged = log_from(world, 1000, rng)
    target, q = world.target[logged.contexts], np.full((logged.log.n, N_ACTIONS), 0.5)
    largest = float(np.max(target[np.arange(logged.log.n), logged.log.actions] / logged.log.propensities))
    plain = improvement_probability(logged.log, None, target, q, n_boot=50, rng=np.random.default_rng(1))
    clipped = improvement_probability(
        logged.log, None, target, q, n_boot=50, rng=np.random.default_rng(1), max_weight=largest + 1e-9
    )
    assert clipped == plain


def test_clipping_the_weights_of_a_confident_loggers_log_steadies_the_gates_estimate():
    # Given logs from a logger that all but always plays one action, and a target that prefers the others
    world = confident_logger_world()
    plain, clipped = [], []
    for seed in range(40):
        logged = log_from(world, 800, np.random.default_rng(100 + seed))
        target, q = world.target[logged.contexts], np.full((logged.log.n, N_ACTIONS), 0.5)
        # When the target is valued with plain and with clipped DR
        for values, clip in ((plain, None), (clipped, 20.0)):
            _, value, _ = improvement_probability(
                logged.log, None, target, q, n_boot=1, rng=np.random.default_rng(seed), max_weight=clip
            )
            values.append(value)
    # Then clipping more than halves the spread from log to log, and stays near the true value
    assert np.std(clipped) < np.std(plain) / 2
    assert abs(np.mean(clipped) - world.true_target_value) < 0.1
