"""Which family to serve, computed from the comparison's figures by one stated rule (`RULE`), for all lines
together and for each business line with enough samples of its own.

Fluency gates, then usefulness ranks: a family is eligible when its samples' median perplexity under the
pretrained LM is at most FLUENCY_BOUND times the human held-out headlines' (it reads about as well as the copy
people wrote); among the eligible, the highest admission pass rate x novelty wins (its lines reach the racer
and are not the library again). Ties go to the more fluent. Nothing eligible: nothing is served.
"""

from __future__ import annotations

from collections.abc import Mapping

FLUENCY_BOUND = 1.0
MIN_LINE_SAMPLES = 15  # per family, for a business line to get a decision of its own
PRODUCTION = "pretrained_lm"  # SmolLM2-135M-Instruct few-shot, through functions/generate_copy
RULE = (
    f"eligible: median perplexity per token under SmolLM2-135M <= {FLUENCY_BOUND:g} x the human held-out "
    "headlines' median; served: the eligible family with the highest admission_pass_rate x novelty (ties: "
    "lower perplexity); none eligible: none served"
)


def choose(figures: Mapping[str, Mapping], human_perplexity: float, bound: float = FLUENCY_BOUND) -> dict:
    """The served family (or None) and why, from each family's `perplexity`, `admission_pass_rate` and
    `novelty`."""
    limit = bound * human_perplexity
    scores = {name: round(f["admission_pass_rate"] * f["novelty"], 4) for name, f in figures.items()}
    eligible = [n for n, f in figures.items() if f["perplexity"] is not None and f["perplexity"] <= limit]
    excluded = [n for n in figures if n not in eligible]
    chosen = max(eligible, key=lambda n: (scores[n], -figures[n]["perplexity"])) if eligible else None
    gates = (
        "; ".join(f"{n} perplexity {figures[n]['perplexity']} > {limit:.1f}" for n in excluded)
        or "none excluded"
    )
    if chosen is None:
        why = f"no family reads as fluently as the human headlines (limit {limit:.1f}): {gates}"
    else:
        f = figures[chosen]
        others = ", ".join(f"{n} {scores[n]}" for n in eligible if n != chosen) or "no other eligible family"
        why = (
            f"{chosen}: admission pass {f['admission_pass_rate']} x novelty {f['novelty']} = {scores[chosen]} "
            f"(eligible rivals: {others}); median perplexity {f['perplexity']} within the limit {limit:.1f} "
            f"({bound:g} x human {human_perplexity}); excluded: {gates}"
        )
    return {
        "family": chosen,
        "why": why,
        "perplexity_limit": round(limit, 2),
        "eligible": eligible,
        "scores": scores,
    }


def choose_per_line(
    overall: dict,
    by_line: Mapping[str, tuple[Mapping[str, Mapping], float | None]],
    bound: float = FLUENCY_BOUND,
) -> dict:
    """A decision per business line from its own figures (each family's, and the human median perplexity),
    where every family has MIN_LINE_SAMPLES samples for it; other lines follow the overall decision."""
    out = {}
    for line, (figures, human_perplexity) in sorted(by_line.items()):
        thin = [n for n, f in figures.items() if f["samples"] < MIN_LINE_SAMPLES]
        if thin or human_perplexity is None:
            out[line] = {
                "family": overall["family"],
                "why": f"follows the overall choice: fewer than {MIN_LINE_SAMPLES} samples from {thin}",
            }
        else:
            decision = choose(figures, human_perplexity, bound)
            out[line] = {"family": decision["family"], "why": decision["why"]}
    return out


def serving_section(overall: dict, by_line: dict) -> dict:
    families = {d["family"] for d in by_line.values()} | {overall["family"]}
    return {
        "rule": RULE,
        "family": overall["family"],
        "why": overall["why"],
        "perplexity_limit": overall["perplexity_limit"],
        "eligible": overall["eligible"],
        "scores": overall["scores"],
        "by_business_line": by_line,
        "differs_by_business_line": len(families) > 1,
        "production": f"{PRODUCTION} (SmolLM2-135M-Instruct few-shot, functions/generate_copy)",
        "agrees_with_production": overall["family"] == PRODUCTION,
    }
