"""CTR models at serving time: onnxruntime only (select must not import lightgbm, scipy or scikit-learn).

A model artifact is one ONNX file; its feature spec and version travel in the file's metadata, so the
features a model was trained on can never be paired with another model's encoder.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np

from creative.errors import CorruptModel
from creative.racing.features import CreativeFeatures, FeatureSpec, UserFeatures

SPEC_KEY = "creative.feature_spec"
VERSION_KEY = "creative.model_version"


class CtrModel(Protocol):
    version: str
    trained: bool  # False for the constant prior: the racer then trusts its prediction less

    def predict(self, user: UserFeatures, creatives: Sequence[CreativeFeatures], now: float) -> np.ndarray:
        """The predicted click probability of each creative for this user at `now`."""


class ConstantCtrModel:
    """The prior before any model is promoted: one CTR for every creative, so the racer starts uniform."""

    trained = False

    def __init__(self, ctr: float = 0.02, version: str = "constant"):
        self.ctr = ctr
        self.version = version

    def predict(self, user: UserFeatures, creatives: Sequence[CreativeFeatures], now: float) -> np.ndarray:
        return np.full(len(creatives), self.ctr)


class OnnxCtrModel:
    trained = True

    def __init__(self, artifact: bytes):
        import onnxruntime as ort  # here, not at import: a function with no promoted model never pays it

        options = ort.SessionOptions()
        options.intra_op_num_threads = 1  # one request, one core; Lambda's vCPUs serve other work
        options.inter_op_num_threads = 1
        options.log_severity_level = 3  # the LightGBM converter's label output warns on every batch
        try:
            self._session = ort.InferenceSession(artifact, options, providers=["CPUExecutionProvider"])
            metadata = self._session.get_modelmeta().custom_metadata_map
            self.spec = FeatureSpec.model_validate_json(metadata[SPEC_KEY])
            self.version = metadata[VERSION_KEY]
        except Exception as exc:  # onnxruntime raises its own exception types; all mean the same here
            raise CorruptModel(f"the CTR model artifact cannot be loaded: {exc}") from exc
        self._input = self._session.get_inputs()[0].name
        self._output = "probabilities"
        self._encoder = self.spec.encoder()

    def predict(self, user: UserFeatures, creatives: Sequence[CreativeFeatures], now: float) -> np.ndarray:
        if not creatives:
            return np.zeros(0)
        features = self._encoder.encode(user, creatives, now)
        return self.predict_encoded(features)

    def predict_encoded(self, features: np.ndarray) -> np.ndarray:
        (probabilities,) = self._session.run([self._output], {self._input: features})
        return np.asarray(probabilities)[:, 1].astype(np.float64)
