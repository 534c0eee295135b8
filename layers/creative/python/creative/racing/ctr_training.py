"""Trains the CTR model with LightGBM and exports it to ONNX. Only the retraining function imports this."""

from __future__ import annotations

import dataclasses
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

# Which user features the model sees, and for how many rounds, is decided on the newest rows: the model is
# fitted on the older 80%, stopped early on the newest 20%, and a user feature (with its crosses) stays only
# if shuffling it across those rows worsens their log loss by at least MIN_IMPORTANCE_Z standard errors.
# The final model is then fitted on every row. Split gain would not do: it rewards exactly the splits on
# a feature that says nothing, which fit the older rows and not the newer ones.
VALIDATION_SHARE = 0.2
MIN_VALIDATION_ROWS = 400
MIN_VALIDATION_CLICKS = 20
EARLY_STOPPING_ROUNDS = 20
PERMUTATION_REPEATS = 3
MIN_IMPORTANCE_Z = 2.0


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
    settings = {**DEFAULT_PARAMS, **(params or {}), "objective": "binary", "seed": seed}
    rounds = settings.pop("n_estimators")
    selection = select_user_features(rows, settings, rounds, seed)
    if selection is not None:
        rounds = selection.rounds
        rows = [
            dataclasses.replace(r, user={k: v for k, v in r.user.items() if k in selection.kept})
            for r in rows
        ]
    spec = FeatureSpec.fit(rows)
    features = spec.encode_rows(rows)
    booster = _fit(spec, features, labels, settings, rounds)
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
            "rounds": float(rounds),
            **(selection.metrics() if selection is not None else {}),
        },
    )


@dataclass(frozen=True)
class FeatureSelection:
    kept: frozenset[str]  # user feature names the final model sees
    rounds: int  # boosting rounds, as early stopping chose them
    importance_z: dict[str, float]  # per user feature: log-loss increase when shuffled, in standard errors
    validation_logloss: float

    def metrics(self) -> dict[str, float]:
        return {
            "validation_logloss": self.validation_logloss,
            "user_features_kept": float(len(self.kept)),
            "user_features_dropped": float(len(self.importance_z) - len(self.kept)),
            **{f"importance_z.{name}": round(float(z), 3) for name, z in sorted(self.importance_z.items())},
        }


def select_user_features(
    rows: Sequence[LoggedImpression], settings: dict, rounds: int, seed: int
) -> FeatureSelection | None:
    """The user features worth keeping and the rounds to train, judged on the newest rows (see
    VALIDATION_SHARE); None when those rows are too few to judge, and the model then sees every feature."""
    ordered = sorted(rows, key=lambda r: r.shown_at)
    cut = int(len(ordered) * (1.0 - VALIDATION_SHARE))
    fit_rows, valid_rows = ordered[:cut], ordered[cut:]
    y_fit = np.array([r.clicked for r in fit_rows], dtype=np.int32)
    y_valid = np.array([r.clicked for r in valid_rows], dtype=np.int32)
    if (
        len(valid_rows) < MIN_VALIDATION_ROWS
        or y_valid.sum() < MIN_VALIDATION_CLICKS
        or y_fit.min() == y_fit.max()
    ):
        return None
    spec = FeatureSpec.fit(fit_rows)
    encoder = spec.encoder()
    x_fit, x_valid = encoder.encode_rows(fit_rows), encoder.encode_rows(valid_rows)
    booster = _fit(spec, x_fit, y_fit, settings, rounds, validation=(x_valid, y_valid))
    best = booster.best_iteration or rounds
    base = _row_losses(y_valid, booster.predict(x_valid, num_iteration=best))
    rng = np.random.default_rng(seed)
    importance_z: dict[str, float] = {}
    for name in spec.user_categorical + spec.user_numeric:
        columns = [
            i for i, c in enumerate(spec.columns) if c == f"user.{name}" or c.startswith(f"cross.{name}.")
        ]
        increase = np.zeros(len(valid_rows))
        for _ in range(PERMUTATION_REPEATS):
            shuffled = x_valid.copy()
            shuffled[:, columns] = x_valid[rng.permutation(len(valid_rows))][:, columns]
            increase += _row_losses(y_valid, booster.predict(shuffled, num_iteration=best)) - base
        increase /= PERMUTATION_REPEATS
        spread = float(np.std(increase, ddof=1)) / np.sqrt(len(increase))
        importance_z[name] = float(np.mean(increase)) / spread if spread > 0 else 0.0
    kept = frozenset(name for name, z in importance_z.items() if z >= MIN_IMPORTANCE_Z)
    return FeatureSelection(kept, int(best), importance_z, float(base.mean()))


def _fit(
    spec: FeatureSpec,
    features: np.ndarray,
    labels: np.ndarray,
    settings: dict,
    rounds: int,
    validation: tuple[np.ndarray, np.ndarray] | None = None,
) -> lightgbm.Booster:
    # The Booster API, not LGBMClassifier: the sklearn wrapper needs scikit-learn, which the training
    # layer leaves out to stay under Lambda's 250 MB (onnxmltools converts a Booster without it).
    categorical = spec.categorical_columns or "auto"
    dataset = lightgbm.Dataset(features, labels, categorical_feature=categorical)
    if validation is None:
        return lightgbm.train(settings, dataset, num_boost_round=rounds)
    valid = lightgbm.Dataset(*validation, categorical_feature=categorical, reference=dataset)
    return lightgbm.train(
        settings,
        dataset,
        num_boost_round=rounds,
        valid_sets=[valid],
        callbacks=[lightgbm.early_stopping(EARLY_STOPPING_ROUNDS, verbose=False)],
    )


def _row_losses(labels: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    p = np.clip(predicted, 1e-7, 1 - 1e-7)
    return -(labels * np.log(p) + (1 - labels) * np.log(1 - p))


def _logloss(labels: np.ndarray, predicted: np.ndarray) -> float:
    return float(_row_losses(labels, predicted).mean())
