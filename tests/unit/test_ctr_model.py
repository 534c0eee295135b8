"""The CTR model: features with user x creative crosses, LightGBM training, and its ONNX twin."""

from dataclasses import replace

import numpy as np
import pytest
from creative.racing.ctr_training import train_ctr_model
from creative.racing.features import AGE_COLUMN, MISSING, CreativeFeatures, FeatureSpec, LoggedImpression

from tests.factories import CTR_CREATIVES, logged_rows


def test_the_spec_crosses_user_features_with_the_creative():
    spec = FeatureSpec.fit(logged_rows(2000))
    assert spec.user_categorical == ["gender"] and spec.user_numeric == ["age"]
    assert "cross.gender.category" in spec.columns and "cross.gender.creative_id" in spec.columns
    encoded = spec.encoder().encode({"gender": "f"}, CTR_CREATIVES[:2], 7200.0)
    cross = spec.columns.index("cross.gender.category")
    codes = spec.vocab["cross.gender.category"]
    assert encoded[0, cross] == codes.index("f|shoes") + 1 and encoded[1, cross] == codes.index("f|bags") + 1
    assert np.isnan(encoded[0, spec.columns.index("user.age")])
    assert AGE_COLUMN not in spec.columns  # age is a clock where creatives are made together


def _with_age_column(spec: FeatureSpec) -> FeatureSpec:
    """The spec as models trained before 2026-12-02 stored it: an age column after the creative's fields."""
    at = spec.columns.index("creative.creative_id") + 1
    columns = spec.columns[:at] + [AGE_COLUMN] + spec.columns[at:]
    categorical = [i for i, c in enumerate(columns) if c in spec.vocab]
    return spec.model_copy(update={"columns": columns, "categorical_columns": categorical})


def test_a_spec_stored_with_the_creative_age_column_still_encodes_age_and_every_other_column():
    # Given a spec as an older model artifact carries it, with the creative-age column
    spec = FeatureSpec.fit(logged_rows(2000))
    old = FeatureSpec.model_validate_json(_with_age_column(spec).model_dump_json())
    user, creatives = {"gender": "f", "age": 31}, CTR_CREATIVES[:3]
    # When a request and training rows are encoded with it
    encoded = old.encoder().encode(user, creatives, 7200.0)
    rows = [LoggedImpression(user, c, 7200.0 + 3600.0 * i, clicked=False) for i, c in enumerate(creatives)]
    # Then the age column holds each creative's age in hours at that moment
    age = old.columns.index(AGE_COLUMN)
    assert encoded[:, age].tolist() == pytest.approx([2.0, 2.0, 2.0])
    assert old.encoder().encode_rows(rows)[:, age].tolist() == pytest.approx([2.0, 3.0, 4.0])
    # And every other column is what today's spec encodes
    np.testing.assert_array_equal(
        np.delete(encoded, age, axis=1), spec.encoder().encode(user, creatives, 7200.0)
    )


def test_a_candidate_list_encodes_the_same_request_after_request_as_row_by_row():
    # Given one encoder that sees the same candidate list (the same objects) for several requests
    spec = FeatureSpec.fit(logged_rows(2000))
    encoder = spec.encoder()
    requests = [({"gender": "f", "age": 31}, 7200.0), ({"gender": "m"}, 9000.0), ({"age": 50}, 60.0)]
    requests += [({"gender": "x", "age": 22}, 7200.0), ({"gender": "f", "age": 31}, 86400.0)]
    for user, now in requests:
        encoded = encoder.encode(user, CTR_CREATIVES, now)
        # Then every request's rows are what encoding each creative alone with a fresh encoder gives
        alone = np.vstack([spec.encoder().encode(user, [c], now) for c in CTR_CREATIVES])
        np.testing.assert_array_equal(encoded, alone)
    # And another list of the creatives (new objects, other ages, reversed) encodes as its own list
    others = [replace(c, created_at=3600.0 * i) for i, c in enumerate(CTR_CREATIVES)][::-1]
    alone = np.vstack([spec.encoder().encode({"gender": "m"}, [c], 9000.0) for c in others])
    np.testing.assert_array_equal(encoder.encode({"gender": "m"}, others, 9000.0), alone)


def test_training_rows_encode_as_each_pair_would_at_a_request():
    # Given rows with missing features, unseen values and creatives of other ages
    spec = FeatureSpec.fit(logged_rows(2000))
    rows = logged_rows(300, seed=4)
    rows += [
        LoggedImpression({"gender": "x"}, replace(CTR_CREATIVES[0], created_at=7200.0), 9000.0, True),
        LoggedImpression({}, CreativeFeatures("cr_new", "fashion", "hats", (), ("i", "c"), 0.0), 60.0, False),
    ]
    # Then the rows encoded at once are what a request encodes for each (user, creative, moment)
    one_by_one = np.vstack([spec.encoder().encode(r.user, [r.creative], r.shown_at) for r in rows])
    np.testing.assert_array_equal(spec.encode_rows(rows), one_by_one)
    assert spec.encode_rows([]).shape == (0, len(spec.columns))


def test_unseen_values_encode_as_missing():
    spec = FeatureSpec.fit(logged_rows(2000))
    stranger = CreativeFeatures("cr_new", "fashion", "hats", (), ("img_new", "copy_new"), 0.0)
    encoded = spec.encoder().encode({"gender": "x"}, [stranger], 0.0)[0]
    for column in ("user.gender", "creative.category", "creative.creative_id", "cross.gender.category"):
        assert encoded[spec.columns.index(column)] == MISSING


def test_the_onnx_model_scores_like_lightgbm_and_learns_the_interaction():
    # Given a trained model
    trained = train_ctr_model(logged_rows())
    model = trained.scorer()
    # Then the export agrees with LightGBM (checked at training) and carries its spec and version
    assert trained.metrics["onnx_parity_max_abs"] < 1e-4
    assert model.version == trained.version and model.spec == trained.spec
    # And it ranks by the user x creative interaction in the data
    women = model.predict({"gender": "f", "age": 30}, CTR_CREATIVES[:2], 3600.0)
    men = model.predict({"gender": "m"}, CTR_CREATIVES[:2], 3600.0)
    assert women[0] > 2 * women[1] and men[1] > 2 * men[0]


def test_training_needs_both_outcomes():
    only_misses = [LoggedImpression({"gender": "f"}, CTR_CREATIVES[0], 0.0, False)] * 100
    with pytest.raises(ValueError, match="both clicks and non-clicks"):
        train_ctr_model(only_misses)


def quality_rows(sharpness_pays: bool, n: int = 6000, seed: int = 0) -> list[LoggedImpression]:
    """Twenty creatives of one category, half sharp and half blurry (image.sharpness 0.05 vs 0.008); when
    sharpness pays, sharp ones are clicked 12% of the time and blurry ones 3%, else every one 7%."""
    rng = np.random.default_rng(seed)
    creatives = [
        CreativeFeatures(
            f"cr_{i}",
            "fashion",
            "shoes",
            (),
            (f"img{i}", f"copy{i}"),
            0.0,
            (("copy.spam", 0.05), ("image.sharpness", 0.05 if i % 2 else 0.008)),
        )
        for i in range(20)
    ]
    rows = []
    for _ in range(n):
        creative = creatives[rng.integers(20)]
        sharp = dict(creative.quality)["image.sharpness"] > 0.02
        ctr = (0.12 if sharp else 0.03) if sharpness_pays else 0.07
        rows.append(LoggedImpression({"gender": "f"}, creative, 3600.0, bool(rng.random() < ctr)))
    return rows


def new_creatives() -> list[CreativeFeatures]:
    return [
        CreativeFeatures(
            f"cr_new{i}", "fashion", "shoes", (), (f"i{i}", f"c{i}"), 0.0, (("image.sharpness", s),)
        )
        for i, s in enumerate((0.06, 0.006))
    ]


def test_a_sharp_new_creative_starts_with_a_better_prior_when_the_data_says_sharpness_pays():
    trained = train_ctr_model(quality_rows(sharpness_pays=True))
    assert "quality.image.sharpness" in trained.spec.columns and "quality.copy.spam" in trained.spec.columns
    sharp, blurry = trained.scorer().predict({"gender": "f"}, new_creatives(), 3600.0)
    assert sharp > 2 * blurry


def test_sharpness_earns_nothing_when_the_data_says_it_does_not_pay():
    sharp, blurry = (
        train_ctr_model(quality_rows(sharpness_pays=False))
        .scorer()
        .predict({"gender": "f"}, new_creatives(), 3600.0)
    )
    assert sharp == pytest.approx(blurry, rel=0.25)


def with_noise_features(rows: list[LoggedImpression], seed: int = 1) -> list[LoggedImpression]:
    """Each row's user gains a code of 32 values and a label of 8 that say nothing about clicks."""
    rng = np.random.default_rng(seed)
    return [
        replace(r, user={**r.user, "noise_code": int(rng.integers(32)), "noise_label": f"l{rng.integers(8)}"})
        for r in rows
    ]


def test_user_features_that_say_nothing_about_clicks_are_left_out_of_the_model():
    # Given rows where gender decides the click and age, a code and a label are noise
    trained = train_ctr_model(with_noise_features(logged_rows()))
    # Then the model keeps gender, drops the others, and says why in its metrics
    assert trained.spec.user_categorical == ["gender"] and trained.spec.user_numeric == []
    assert trained.metrics["importance_z.gender"] > 2.0
    assert all(trained.metrics[f"importance_z.{n}"] < 2.0 for n in ("age", "noise_code", "noise_label"))
    assert trained.metrics["user_features_dropped"] == 3.0
    # And it still ranks by the gender x category interaction
    women = trained.scorer().predict({"gender": "f", "noise_code": 7}, CTR_CREATIVES[:2], 3600.0)
    assert women[0] > 2 * women[1]
    # And early stopping ended boosting before the full budget
    assert trained.metrics["rounds"] < 150


def test_too_few_recent_rows_to_judge_keep_every_user_feature():
    # Given 1,500 rows: the newest 20% hold fewer than 400 impressions, too few to judge a feature on
    trained = train_ctr_model(with_noise_features(logged_rows(1500)))
    # Then nothing is dropped and the full boosting budget is used
    assert set(trained.spec.user_categorical) == {"gender", "noise_label"}
    assert set(trained.spec.user_numeric) == {"age", "noise_code"}
    assert trained.metrics["rounds"] == 150 and "user_features_dropped" not in trained.metrics
