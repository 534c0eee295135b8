"""The CTR model: features with user x creative crosses, LightGBM training, and its ONNX twin."""

import numpy as np
import pytest
from creative.racing.ctr_training import train_ctr_model
from creative.racing.features import MISSING, CreativeFeatures, FeatureSpec, LoggedImpression

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
    assert encoded[0, spec.columns.index("creative.age_hours")] == pytest.approx(2.0)


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
