"""The OBD evaluation's reading, slate and estimation code on a tiny synthetic wheel in OBD's format (offline)."""

import json
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from creative.racing.ope import estimate
from evaluation import obd, obd_data, obd_policies

N_ITEMS, ROWS = 6, 1200
ITEM_CTR = np.array([0.02, 0.04, 0.06, 0.08, 0.10, 0.12])
# A fixed BTS-like logging distribution: P(item at position), each column a distribution.
BTS_SLATE = np.array(
    [
        [0.40, 0.20, 0.10],
        [0.25, 0.25, 0.15],
        [0.15, 0.2, 0.2],
        [0.1, 0.15, 0.2],
        [0.06, 0.1, 0.2],
        [0.04, 0.1, 0.15],
    ]
)


def _log_csv(policy: str, rng: np.random.Generator) -> str:
    positions = rng.integers(1, 4, size=ROWS)
    if policy == "random":
        items = rng.integers(0, N_ITEMS, size=ROWS)
        propensities = np.full(ROWS, 1 / N_ITEMS)
    else:
        items = np.array([rng.choice(N_ITEMS, p=BTS_SLATE[:, p - 1]) for p in positions])
        propensities = BTS_SLATE[items, positions - 1]
    data = pd.DataFrame(
        {
            # Written out of time order: the reader must sort.
            "timestamp": pd.date_range("2019-11-24", periods=ROWS, freq="7min", tz="UTC")[::-1].astype(str),
            "item_id": items,
            "position": positions,
            "click": (rng.random(ROWS) < ITEM_CTR[items]).astype(int),
            "propensity_score": propensities,
            **{f"user_feature_{i}": rng.choice([f"u{i}a", f"u{i}b", f"u{i}c"], size=ROWS) for i in range(4)},
            **{f"user-item_affinity_{k}": np.zeros(ROWS) for k in range(N_ITEMS)},
        }
    )
    return data.to_csv()


def _item_context_csv(salt: str) -> str:
    """Each logging policy's file hashes the same categories with its own salt, as in the real wheel."""
    groups = [[0, 0, 1, 1, 2, 2], [0, 1, 0, 1, 0, 1], [0, 0, 0, 1, 1, 1]]
    table = pd.DataFrame(
        {
            "item_id": range(N_ITEMS),
            "item_feature_0": np.linspace(-1, 1, N_ITEMS),
            **{f"item_feature_{f + 1}": [f"{salt}{f}{g}" for g in groups[f]] for f in range(3)},
        }
    )
    return table.to_csv()


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("wheels") / obd_data.WHEEL_NAME
    rng = np.random.default_rng(0)
    with zipfile.ZipFile(path, "w") as archive:
        for policy in obd_data.LOGGING_POLICIES:
            folder = f"{obd_data.DATA_PREFIX}/{policy}/men"
            archive.writestr(f"{folder}/men.csv", _log_csv(policy, rng))
            archive.writestr(f"{folder}/item_context.csv", _item_context_csv(salt=policy))
        prior = {"men": {"alpha": [2.0] * N_ITEMS, "beta": [40.0 + 5 * k for k in range(N_ITEMS)]}}
        archive.writestr(obd_data.BTS_PRIOR_PATH, yaml.safe_dump(prior))
    return path


def test_a_log_is_read_in_time_order_with_zero_based_positions_and_comparable_item_codes(wheel):
    # When both logs of a campaign are read
    random_log, bts_log = (obd_data.read_log(wheel, policy, "men") for policy in obd_data.LOGGING_POLICIES)
    # Then rows are in time order, positions are 0..2, and differently salted item hashes agree as codes
    assert np.all(np.diff(random_log.timestamps) > 0)
    assert set(random_log.positions) == {0, 1, 2}
    assert random_log.item_features.equals(bts_log.item_features)
    assert random_log.affinity.shape == (ROWS, N_ITEMS)
    assert bts_log.bandit_log().n == ROWS


def test_plackett_luce_marginals_match_sampling_without_replacement():
    # Given skewed single-slot weights
    rng = np.random.default_rng(1)
    weights = np.array([[0.5, 0.2, 0.1, 0.1, 0.05, 0.05]])
    # When slates are sampled by Gumbel-top-3 (equivalent to sampling without replacement)
    ranked = np.argsort(-(np.log(weights[0]) + rng.gumbel(size=(200_000, N_ITEMS))), axis=1)[:, :3]
    sampled = np.stack([np.bincount(ranked[:, k], minlength=N_ITEMS) / len(ranked) for k in range(3)], axis=1)
    # Then the exact marginals agree, and every position is a distribution
    exact = obd_policies.plackett_luce_slate(weights)[0]
    assert np.abs(exact - sampled).max() < 0.005
    assert np.allclose(exact.sum(axis=0), 1.0)


def test_thompson_and_epsilon_greedy_slates_are_position_wise_distributions():
    rng = np.random.default_rng(2)
    thompson = obd_policies.beta_thompson_slate(
        np.full(N_ITEMS, 2.0), np.arange(10.0, 10.0 + N_ITEMS), rng, 20_000
    )
    greedy = obd_policies.epsilon_greedy_slate(np.array([[0.1, 0.5, 0.3, 0.0, 0.2, 0.4]]), epsilon=0.1)[0]
    assert np.allclose(thompson.sum(axis=0), 1.0) and np.allclose(greedy.sum(axis=0), 1.0)
    # The best-scored items fill positions 1..3 in order, apart from the epsilon share
    assert [int(greedy[:, k].argmax()) for k in range(3)] == [1, 5, 2]
    assert greedy[1, 0] == pytest.approx(0.9 + 0.1 / N_ITEMS)


def test_uniform_policy_estimated_from_the_skewed_log_brackets_its_true_value(wheel):
    # Given the synthetic BTS-like log, whose items have known click rates
    log = obd_data.read_log(wheel, "bts", "men")
    dist = obd_policies.at_logged_positions(obd_policies.uniform_slate(N_ITEMS), log)
    q_hat = obd_policies.cross_fitted_q_hat(log, folds=3)
    # When the uniform policy is estimated from it
    rng = np.random.default_rng(3)
    results = [estimate(m, log.bandit_log(), dist, q_hat, n_boot=300, rng=rng) for m in obd.METHODS]
    # Then every estimator's interval contains the uniform policy's true CTR
    for result in results:
        assert result.ci_low <= ITEM_CTR.mean() <= result.ci_high, result


def test_the_whole_evaluation_writes_its_json_and_plot(wheel, tmp_path):
    # When the evaluation runs end to end on the synthetic wheel (racer included)
    report = obd.main(
        ["--campaigns", "men", "--n-boot", "50", "--wheel", str(wheel), "--out-dir", str(tmp_path)]
    )
    # Then both outputs exist, both validations and both training directions are reported
    written = json.loads((tmp_path / "obd.json").read_text())
    assert (tmp_path / "obd.png").stat().st_size > 0
    assert len(written["validation"]) == 2 * len(obd.METHODS)
    assert {(c["train_on"], c["evaluate_on"]) for c in written["comparison"]} == {
        ("random", "bts"),
        ("bts", "random"),
    }
    policies = {r["policy"] for r in report["results"]}
    assert policies == {"uniform", "thompson", "linucb", "bts_prior", "racer", "bts_logged"}
