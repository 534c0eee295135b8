"""The regime table's file keeps the datasets a run did not cover (`evaluation.tagging_regimes`)."""

from evaluation.tagging_regimes import _keeping_other_datasets


def _table(seeds, **datasets):
    return {
        "datasets": {name: {"examples": n} for name, n in datasets.items()},
        "seeds": seeds,
        "regimes": {"setfit": {name: {"all": {"micro_f1": n / 1000}} for name, n in datasets.items()}},
    }


def test_a_run_of_one_dataset_keeps_the_others_and_replaces_its_own():
    previous = _table([0, 1, 2], ad_copy=583, dslabs=1)
    merged = _keeping_other_datasets(previous, _table([0, 1, 2], dslabs=9066))
    assert merged["datasets"] == {"ad_copy": {"examples": 583}, "dslabs": {"examples": 9066}}
    assert merged["regimes"]["setfit"] == {
        "ad_copy": {"all": {"micro_f1": 0.583}},
        "dslabs": {"all": {"micro_f1": 9.066}},
    }


def test_figures_from_other_seeds_are_not_mixed_in():
    result = _table([0], dslabs=9066)
    assert _keeping_other_datasets(_table([0, 1, 2], ad_copy=583), result) == result
