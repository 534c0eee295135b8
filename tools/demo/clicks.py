"""A click simulator with hidden per-creative click-through rates, for the demo.

Each image (by its upload key) and each headline (by its text) has a hidden appeal drawn from a normal
seeded by that identity, so every run of the demo faces the same truth; a creative's CTR is
sigmoid(logit(base) + image appeal + headline appeal + the appeal of each phrase served with it). The racer never sees these numbers: it learns them
only through the clicks this simulator reports, exactly as it would from real users.
"""

from __future__ import annotations

import hashlib
import math

import numpy as np

BASE_CTR = 0.03
APPEAL_SD = 0.6
PHRASE_APPEAL_SD = 0.4


def _appeal(seed: int, identity: str, sd: float = APPEAL_SD) -> float:
    digest = hashlib.sha256(f"{seed}:{identity}".encode()).digest()
    return float(np.random.default_rng(int.from_bytes(digest[:8], "big")).normal(0.0, sd))


class ClickSimulator:
    def __init__(self, seed: int = 2026):
        self.seed = seed

    def ctr(self, creative: dict, phrase_ids: tuple[str, ...] = ()) -> float:
        """The hidden CTR of a creative as the API lists it (its image key and headline), with the phrases
        served beside it (each phrase element has an appeal of its own)."""
        logit = math.log(BASE_CTR / (1 - BASE_CTR))
        logit += _appeal(self.seed, "image:" + creative["image_key"]) + _appeal(
            self.seed, "copy:" + creative["headline"]
        )
        logit += sum(_appeal(self.seed, "phrase:" + p, PHRASE_APPEAL_SD) for p in phrase_ids)
        return 1.0 / (1.0 + math.exp(-logit))

    def clicked(self, creative: dict, rng: np.random.Generator, phrase_ids: tuple[str, ...] = ()) -> bool:
        return bool(rng.random() < self.ctr(creative, phrase_ids))
