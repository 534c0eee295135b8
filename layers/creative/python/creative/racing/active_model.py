"""The CTR model select scores with: the promoted one, re-checked every so often, never a broken one."""

from __future__ import annotations

import logging

from creative.errors import CorruptModel, NotFound
from creative.ports import ModelRef, ModelRegistry
from creative.racing.ctr_model import ConstantCtrModel, CtrModel, OnnxCtrModel

CTR_MODEL = "ctr"
logger = logging.getLogger(__name__)


class ActiveModel:
    """Follows the registry's pointer with one cheap read per `refresh_s`, loading a version only once.

    Until a model is promoted, and whenever a new artifact fails its hash or cannot be loaded, select
    keeps serving what it had (at first the constant prior): a bad artifact must never take select down.
    """

    def __init__(
        self,
        registry: ModelRegistry,
        *,
        name: str = CTR_MODEL,
        refresh_s: float = 60.0,
        fallback: CtrModel | None = None,
    ):
        self._registry = registry
        self._name = name
        self._refresh_s = refresh_s
        self._model: CtrModel = fallback or ConstantCtrModel()
        self._ref: ModelRef | None = None
        self._rejected: set[str] = set()
        self._checked_at: float | None = None

    def current(self, now: float) -> CtrModel:
        if self._checked_at is None or now - self._checked_at >= self._refresh_s:
            self._checked_at = now
            try:
                self._follow(self._registry.active(self._name))
            except Exception as exc:  # throttling, a timeout: serve what we have, look again next refresh
                logger.warning("model registry unavailable, keeping %s: %s", self._model.version, exc)
        return self._model

    def _follow(self, ref: ModelRef | None) -> None:
        if ref is None or ref == self._ref or ref.sha256 in self._rejected:
            return
        try:
            model = OnnxCtrModel(self._registry.read(ref))
        except (CorruptModel, NotFound) as exc:  # this artifact will not get better: never retry it
            self._rejected.add(ref.sha256)
            logger.error("keeping model %s: %s is unusable: %s", self._model.version, ref.version, exc)
            return
        self._model, self._ref = model, ref
