"""The measures every copy generator is compared on (tools/generators/metrics.py), the serving rule and the
click simulator, on lines and figures whose answer is known (no torch, no model files)."""

import random

import numpy as np
from generators.click_simulator import (
    audience,
    fit_legibility_probe,
    generated_vs_human,
    race,
    scramble,
    verdicts,
)
from generators.data import Pair, keywords_of, split
from generators.metrics import (
    distinct_n,
    family_figures,
    intended_tag_share,
    most_common_tags,
    nearest_cosine,
    passes_admission_form,
    same_line_partners,
    score_samples,
)
from generators.serving_choice import choose, choose_per_line, serving_section


def test_admission_form_is_admissions_own_rules():
    assert passes_admission_form("Fresh roast, every morning")
    assert not passes_admission_form("FREE FREE FREE CLICK NOW")  # capitals
    assert not passes_admission_form("Buy now!!!!")  # repeated punctuation
    assert not passes_admission_form("ok")  # too short
    assert not passes_admission_form("x" * 120)  # too long
    assert not passes_admission_form("Visit www.example.com today")  # a URL


def test_diversity_novelty_and_keywords():
    assert distinct_n(["a b c", "a b c"], 2) == 0.5 and distinct_n([], 1) == 0.0
    report = score_samples(
        ["Fresh roast today", "fresh roast today!", "Cold brew wins"],
        training=["Fresh roast today"],
        vocabulary={"fresh", "roast", "today", "cold", "brew"},
        keywords=[("roast",), ("brew",), ("brew",)],
    )
    assert report["novel"] == round(
        1 / 3, 4
    )  # the first two are the training line up to case and punctuation
    assert report["unique"] == round(2 / 3, 4)
    assert report["keyword_hit"] == round(2 / 3, 4)
    assert report["known_word_share"] == round(8 / 9, 4)


def test_keywords_are_content_words_and_the_split_is_stable():
    assert set(keywords_of("The Best Coffee in Town for You", random.Random(0))) == {"coffee", "best", "town"}
    pairs = [Pair("food", (), f"Headline number {i}") for i in range(500)]
    train, test = split(pairs)
    assert 20 < len(test) < 80 and not {p.headline for p in train} & {p.headline for p in test}
    assert split(list(reversed(pairs)))[1] == list(reversed(test))


def test_family_figures_median_perplexity_novelty_and_admission():
    figures = family_figures(
        ["Fresh roast today", "Cold brew wins", ""],
        perplexity=[10.0, 30.0, None],  # an empty line is not scored
        nearest=[0.95, 0.5, 0.1],  # the first is an existing line again
        admitted=[True, True, False],
    )
    assert figures["perplexity"] == 20.0 and figures["perplexity_unscored"] == 1
    assert figures["novelty"] == round(2 / 3, 4)
    assert figures["admission_pass_rate"] == round(2 / 3, 4)
    library = np.eye(3)[:2]
    assert nearest_cosine(np.eye(3), library).tolist() == [1.0, 1.0, 0.0]


def test_intended_tag_share_counts_any_shared_tag_over_samples_with_intended_tags():
    # Given samples tagged by the tagger and the tags of the lines they were asked to imitate
    tags = [{"selling:price_discount", "iab:391"}, {"iab:210"}, set(), {"selling:gift"}]
    intended = [{"iab:391"}, {"selling:gift"}, {"iab:210"}, set()]  # the last imitates an untagged line
    # When the share is taken
    figures = intended_tag_share(tags, intended)
    # Then one shared tag is a hit, an untagged sample a miss, and an untagged target is left out
    assert figures == {"intended_tag_share": round(1 / 3, 4), "intended_tag_samples": 3}
    assert intended_tag_share([{"iab:1"}], [set()]) == {"intended_tag_share": None, "intended_tag_samples": 0}


def test_common_tags_and_same_line_partners():
    assert most_common_tags([{"b", "a"}, {"a"}, {"c", "b"}, set()], 2) == ["a", "b"]  # ties by name
    domains = ["food", "movie", "food", "food", "mail"]
    partners = same_line_partners(domains, seed=0)
    assert partners[4] is None  # alone in its business line
    assert partners[1] is None
    food = [0, 2, 3]
    assert sorted(partners[i] for i in food) == food  # a rotation: every food line is someone's partner
    assert all(partners[i] != i and domains[partners[i]] == "food" for i in food)
    assert same_line_partners(domains, seed=0) == partners


def _row(perplexity, admission=1.0, novelty=1.0, samples=100):
    return {
        "perplexity": perplexity,
        "admission_pass_rate": admission,
        "novelty": novelty,
        "samples": samples,
    }


def test_serving_rule_gates_on_fluency_then_ranks_admission_times_novelty():
    figures = {
        "pretrained_lm": _row(20.0, admission=0.8, novelty=1.0),
        "seq2seq_attention": _row(25.0, admission=0.95, novelty=1.0),  # better score, fluent enough
        "gan": _row(900.0, admission=1.0, novelty=1.0),  # gibberish passes the form: gated out
    }
    decision = choose(figures, human_perplexity=30.0)
    assert decision["family"] == "seq2seq_attention"
    assert decision["eligible"] == ["pretrained_lm", "seq2seq_attention"]
    assert "gan perplexity 900.0 > 30.0" in decision["why"]
    assert choose(figures, human_perplexity=10.0)["family"] is None  # nobody as fluent as people


def test_serving_rule_per_business_line_needs_samples_of_its_own():
    fluent, clumsy = _row(10.0, admission=0.9), _row(50.0, admission=1.0)
    overall = choose({"pretrained_lm": fluent, "vae": clumsy}, human_perplexity=20.0)
    by_line = choose_per_line(
        overall,
        {
            "food": ({"pretrained_lm": _row(30.0), "vae": _row(12.0)}, 20.0),
            "mail": ({"pretrained_lm": _row(10.0, samples=3), "vae": _row(10.0, samples=3)}, 20.0),
        },
    )
    assert overall["family"] == "pretrained_lm"
    assert by_line["food"]["family"] == "vae"
    assert by_line["mail"]["family"] == "pretrained_lm" and "follows the overall" in by_line["mail"]["why"]
    section = serving_section(overall, by_line)
    assert section["differs_by_business_line"] and section["agrees_with_production"]


def test_scrambling_keeps_the_line_shape_and_the_probe_learns_a_separable_direction():
    rng = np.random.default_rng(0)
    line = scramble("Fresh Roast Every Morning", rng, share=0.5)
    assert len(line) == len("Fresh Roast Every Morning") and line.count(" ") == 3
    assert line != "Fresh Roast Every Morning" and line[0].isupper()
    # Given human lines on one side of a direction and scrambled ones on the other
    human, scrambled = (
        _unit(_AXIS + 0.3 * rng.standard_normal((400, 8))),
        _unit(-_AXIS + 0.3 * rng.standard_normal((400, 8))),
    )
    # When the probe and an audience are built from them
    probe, figures = fit_legibility_probe(human, scrambled, seed=1)
    model = audience(probe, human, seed=2)
    # Then the probe tells them apart, taste is standardised over the human lines, and legible lines click more
    assert figures["legibility_probe_held_out_accuracy"] > 0.95
    assert abs(model.taste(human).mean()) < 1e-6 and abs(model.taste(human).std() - 1) < 1e-6
    assert model.ctr(human).mean() > model.ctr(scrambled).mean()
    assert not np.allclose(audience(probe, human, seed=3).taste_direction, model.taste_direction)


_AXIS = np.eye(8)[0]


def _unit(x):
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_the_racer_shifts_impressions_to_the_better_side():
    # Given human lines the probe reads as legible and generated ones it reads as scrambled
    rng = np.random.default_rng(0)
    human = _unit(_AXIS + 0.1 * rng.standard_normal((40, 8)))
    scrambled = _unit(-_AXIS + 0.1 * rng.standard_normal((40, 8)))
    probe, _ = fit_legibility_probe(human, scrambled, seed=0)
    shown, clicks = race(np.array([0.03] * 5 + [0.01] * 5), 3000, rng)
    assert shown.sum() == 3000 and (clicks <= shown).all() and shown[:5].sum() > shown[5:].sum()
    # When each side races in a few audiences
    result = generated_vs_human(
        probe,
        human,
        human,
        {"weak": scrambled, "none": np.zeros((0, 8))},
        runs=3,
        pool=10,
        impressions=3000,
        seed=0,
    )
    # Then the generated side gets less of the impressions and is reported as losing
    weak = result["weak"]
    assert weak["generated_impression_share"] < 0.5
    assert weak["hidden_ctr_generated_mean"] < weak["hidden_ctr_human_mean"]
    assert result["none"]["generated_lines"] == 0
    assert verdicts(result)["weak"].startswith("generated copy loses to human copy")
