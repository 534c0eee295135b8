"""Plots of the Open Bandit Dataset evaluation: validation of the estimators and the policy comparison."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    pass


POLICY_LABELS = {
    "uniform": "uniform",
    "thompson": "context-free TS",
    "linucb": "LinUCB (eps-greedy)",
    "bts_prior": "BTS (prior reconstr.)",
    "racer": "racer",
}


def plot(report: dict, path: Path, target_ratio: float) -> None:
    """Top: validation (each logging policy estimated from the other's log). Bottom: DR of every policy."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    campaigns = report["config"]["campaigns"]
    figure, axes = plt.subplots(2, len(campaigns), figsize=(5.4 * len(campaigns), 10), squeeze=False)
    for column, name in enumerate(campaigns):
        _plot_validation(axes[0][column], [r for r in report["validation"] if r["campaign"] == name], name)
        _plot_results(
            axes[1][column], [r for r in report["results"] if r["campaign"] == name], name, target_ratio
        )
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


def _plot_results(axis, rows: list[dict], campaign: str, target_ratio: float) -> None:
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
            target_ratio * logged[0]["value"], color="k", ls=":", lw=1, label=f"{target_ratio}x logged BTS"
        )
    axis.set_yticks(range(len(names)), [POLICY_LABELS[n] for n in names])
    axis.set_xlabel("DR estimate of CTR per slot, 95% bootstrap CI")
    axis.set_title(f"{campaign}: policies")
    axis.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=2)
