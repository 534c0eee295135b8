"""Copy near-duplicates: the line's embedding, or its canonical words, whichever says closer."""

import numpy as np
import pytest
from creative.quality.near_duplicates import (
    CopyCanonicaliser,
    SimilaritySpace,
    compare,
    copy_fingerprint,
    near_duplicate_finding,
)
from creative.quality.policy import DEFAULT_POLICY
from creative.quality.verdicts import Verdict

CANONICAL = CopyCanonicaliser({"affordable": ["budget-friendly", "cheap"], "fast": ["quickly", "quick"]})


def unit(*values: float) -> np.ndarray:
    vector = np.zeros(8, dtype=np.float32)
    vector[: len(values)] = values
    return vector / np.linalg.norm(vector)


def verdict(a: str, b: str, cosine: float) -> Verdict:
    """The finding for two lines whose embeddings are `cosine` apart."""
    first = copy_fingerprint(unit(1.0), a, CANONICAL)
    second = copy_fingerprint(unit(cosine, np.sqrt(1 - cosine**2)), b, CANONICAL)
    finding = near_duplicate_finding(compare("mat_1", first, second), False, DEFAULT_POLICY)
    return Verdict.PASS if finding is None else finding.verdict


def test_the_canonical_form_folds_case_accents_punctuation_digit_grouping_and_listed_synonyms():
    assert (
        CANONICAL("Budget-friendly CAFÉ, delivered QUICKLY: 1,500 cups!")
        == "affordable cafe delivered fast 1500 cups"
    )


@pytest.mark.parametrize(
    "variant",
    [
        "affordable coffee delivered fast",  # case and punctuation
        "Delivered fast: affordable coffee!",  # clause order
        "Cheap coffee, delivered quickly!",  # listed synonyms
    ],
)
def test_the_same_canonical_words_are_the_same_line_whatever_the_embedding_says(variant):
    assert verdict("Affordable coffee, delivered fast!", variant, cosine=0.5) is Verdict.REJECT


def test_most_words_shared_goes_to_review_and_fewer_leave_it_to_the_embedding():
    four_of_five = ("Affordable coffee delivered fast daily", "Affordable coffee delivered fast")
    assert verdict(*four_of_five, cosine=0.5) is Verdict.REVIEW
    three_of_five = ("Affordable coffee delivered fast", "Affordable tea delivered fast")
    assert verdict(*three_of_five, cosine=0.5) is Verdict.PASS
    assert verdict(*three_of_five, cosine=0.93) is Verdict.REVIEW
    assert verdict(*three_of_five, cosine=0.98) is Verdict.REJECT


def test_lines_with_the_same_canonical_words_share_an_index_key_and_others_do_not():
    space = SimilaritySpace("copy-test", np.random.default_rng(0).standard_normal((4, 6, 8)), np.zeros(8))

    def words_keys(text: str, vector: np.ndarray) -> set[str]:
        return {k for k in space.keys(copy_fingerprint(vector, text, CANONICAL)) if k.startswith("words:")}

    # far-apart embeddings: only the words key can bring the two together
    original = words_keys("Affordable coffee, delivered fast!", unit(1.0))
    assert len(original) == 1
    assert words_keys("cheap coffee delivered quickly", unit(0.0, 1.0)) == original
    assert words_keys("Affordable tea, delivered fast!", unit(1.0)) != original
    assert words_keys("!!!", unit(1.0)) == set()  # no words, no key
