"""Trains the CTR model with LightGBM and exports it to ONNX. Only the retraining function imports this."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field

import lightgbm
import numpy as np
import onnxmltools
from onnxmltools.convert.common.data_types import FloatTensorType

from creative.errors import CorruptModel
from creative.racing.ctr_model import SPEC_KEY, VERSION_KEY, OnnxCtrModel
from creative.racing.features import FeatureSpec, LoggedImpression

# Small and regularised: a few thousand clicks is a typical training set, and select scores 100
# candidates per request with it. Categorical splits need evidence (min_data_per_group) before they fire.
DEFAULT_PARAMS = {
    "n_estimators": 150,
    "learning_rate": 0.05,
    "num_leaves": 15,
    "min_data_in_leaf": 40,
    "min_data_per_group": 40,
    "cat_smooth": 20.0,
    "max_cat_to_onehot": 8,
    "lambda_l2": 1.0,
    "bagging_fraction": 0.8,
    "bagging_freq": 1,
    "feature_fraction": 0.9,
    "num_threads": 1,
    "verbose": -1,
}
# ONNX and LightGBM compute the same trees in float32 vs float64; beyond this they disagree.
PARITY_TOLERANCE = 1e-4


@dataclass(frozen=True)
class TrainedCtrModel:
    spec: FeatureSpec
    artifact: bytes
    version: str
    metrics: dict[str, float] = field(default_factory=dict)

    def scorer(self) -> OnnxCtrModel:
        return OnnxCtrModel(self.artifact)


def train_ctr_model(
    rows: Sequence[LoggedImpression], *, seed: int = 0, params: dict | None = None
) -> TrainedCtrModel:
    """Fits the feature spec and the classifier, exports to ONNX, and checks the export scores alike."""
    labels = np.array([r.clicked for r in rows], dtype=np.int32)
    if len(rows) == 0 or labels.min() == labels.max():
        raise ValueError("training needs both clicks and non-clicks")
    spec = FeatureSpec.fit(rows)
    features = spec.encode_rows(rows)
    # The Booster API, not LGBMClassifier: the sklearn wrapper needs scikit-learn, which the training
    # layer leaves out to stay under Lambda's 250 MB (onnxmltools converts a Booster without it).
    settings = {**DEFAULT_PARAMS, **(params or {})}
    rounds = settings.pop("n_estimators")
    dataset = lightgbm.Dataset(features, labels, categorical_feature=spec.categorical_columns or "auto")
    booster = lightgbm.train(
        {**settings, "objective": "binary", "seed": seed}, dataset, num_boost_round=rounds
    )
    onnx_model = onnxmltools.convert_lightgbm(
        booster,
        initial_types=[("features", FloatTensorType([None, len(spec.columns)]))],
        zipmap=False,
        target_opset=15,
    )
    # The converter names the graph with a random UUID; a fixed name makes the same data give the same
    # artifact, so a retried retraining run recognises the model it already promoted.
    onnx_model.graph.name = "ctr"
    digest = hashlib.sha256(onnx_model.SerializeToString()).hexdigest()[:12]
    version = f"ctr-{digest}"
    for key, value in ((SPEC_KEY, spec.model_dump_json()), (VERSION_KEY, version)):
        entry = onnx_model.metadata_props.add()
        entry.key, entry.value = key, value
    artifact = onnx_model.SerializeToString()
    expected = booster.predict(features)
    actual = OnnxCtrModel(artifact).predict_encoded(features)
    gap = float(np.max(np.abs(expected - actual)))
    if gap > PARITY_TOLERANCE:
        raise CorruptModel(f"the ONNX export disagrees with LightGBM by {gap:.2e}")
    return TrainedCtrModel(
        spec=spec,
        artifact=artifact,
        version=version,
        metrics={
            "rows": float(len(rows)),
            "clicks": float(labels.sum()),
            "train_logloss": _logloss(labels, expected),
            "onnx_parity_max_abs": gap,
            "artifact_bytes": float(len(artifact)),
        },
    )


def _logloss(labels: np.ndarray, predicted: np.ndarray) -> float:
    p = np.clip(predicted, 1e-7, 1 - 1e-7)
    return float(-np.mean(labels * np.log(p) + (1 - labels) * np.log(1 - p)))
