"""A click simulator with hidden per-creative click-through rates, for the demo.

Each image and each headline has a hidden appeal drawn once from a seeded normal; a creative's CTR is
sigmoid(logit(base) + image appeal + headline appeal). The racer never sees these numbers: it learns them
only through the clicks this simulator reports, exactly as it would from real users.
"""

from __future__ import annotations

import hashlib
import math

import numpy as np

BASE_CTR = 0.03
APPEAL_SD = 0.6


def _appeal(seed: int, material_id: str) -> float:
    digest = hashlib.sha256(f"{seed}:{material_id}".encode()).digest()
    return float(np.random.default_rng(int.from_bytes(digest[:8], "big")).normal(0.0, APPEAL_SD))


class ClickSimulator:
    def __init__(self, seed: int = 2026):
        self.seed = seed

    def ctr(self, image_material_id: str, copy_material_id: str) -> float:
        logit = math.log(BASE_CTR / (1 - BASE_CTR))
        logit += _appeal(self.seed, image_material_id) + _appeal(self.seed, copy_material_id)
        return 1.0 / (1.0 + math.exp(-logit))

    def clicked(self, image_material_id: str, copy_material_id: str, rng: np.random.Generator) -> bool:
        return bool(rng.random() < self.ctr(image_material_id, copy_material_id))
