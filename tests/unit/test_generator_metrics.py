"""The measures every copy generator is compared on (tools/generators/metrics.py), on lines whose answer is
known."""

import random

from generators.data import Pair, keywords_of, split
from generators.metrics import distinct_n, passes_admission_form, score_samples


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
