"""The evaluation of numbers in the online learner (evaluation.numeric_features): its variants and its worlds."""

import numpy as np
from evaluation import numeric_features


def test_the_variants_make_terms_as_named():
    user = {"age": 34, "score": 0.731, "device": "ios"}
    assert numeric_features.VARIANTS["bins"](user, 16) == ["age=34", "age~31.5", "device=ios", "score~0.63"]
    assert numeric_features.value_terms(user, 16) == ["age=34", "device=ios", "score=0.731"]
    assert numeric_features.bin_only_terms(user, 16) == ["age~31.5", "device=ios", "score~0.63"]


def test_a_world_serves_each_request_and_restores_the_products_terms():
    seed, world, variant, shown = numeric_features.run_one((1, "age_int", "values", 60))
    assert (seed, world, variant, len(shown)) == (1, "age_int", "values", 60)
    assert all(0.0 < p < 1.0 for p in shown)
    # The oracle's pick is at least as clickable as what any policy shows, on the same users
    refs = numeric_features.references("age_int", 1, 60)
    assert refs["uniform"] < refs["oracle"] and np.mean(shown) <= refs["oracle"]
    from creative.racing import service
    from creative.racing.learner import user_terms

    assert service.user_terms is user_terms
