"""MovieLens-100K as shipped in the recbole 1.2.1 wheel, read straight from the zip.

recbole keeps the full ml-100k in RecBole's "atomic file" format: tab-separated, a header of `name:type`
columns, `token_seq` fields separated by spaces. The wheel is fetched once (`corpora.archives`) and never
installed; only the three atomic files are read.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from corpora.movielens_titles import RECBOLE

ATOMIC_PREFIX = "recbole/dataset_example/ml-100k/ml-100k"

# Age buckets as the original MovieLens-1M documentation groups ages (ml-100k has exact ages).
AGE_BUCKETS = ((18, "under-18"), (25, "18-24"), (35, "25-34"), (45, "35-44"), (50, "45-49"), (56, "50-55"))
OLDEST_BUCKET = "56+"


@dataclass(frozen=True)
class User:
    user_id: str
    age: int
    age_bucket: str
    gender: str
    occupation: str

    def features(self) -> dict[str, str | int]:
        return {
            "age": self.age,
            "age_bucket": self.age_bucket,
            "gender": self.gender,
            "occupation": self.occupation,
        }


@dataclass(frozen=True)
class Movie:
    item_id: str
    title: str
    year: int | None
    genres: tuple[str, ...]


@dataclass(frozen=True)
class MovieLens:
    users: tuple[User, ...]
    movies: tuple[Movie, ...]
    # Ratings as parallel arrays of indices into users / movies (not ids) and the 1-5 star rating.
    rating_user: np.ndarray
    rating_movie: np.ndarray
    rating: np.ndarray
    source: str

    @property
    def genres(self) -> tuple[str, ...]:
        return tuple(sorted({g for m in self.movies for g in m.genres}))


def age_bucket(age: int) -> str:
    for upper, name in AGE_BUCKETS:
        if age < upper:
            return name
    return OLDEST_BUCKET


def read_atomic(text: str) -> list[dict[str, str]]:
    """Rows of an atomic file keyed by field name (the `:type` suffix of the header is dropped)."""
    lines = [line for line in text.splitlines() if line.strip()]
    header = [column.split(":", 1)[0] for column in lines[0].split("\t")]
    return [dict(zip(header, line.split("\t"), strict=True)) for line in lines[1:]]


def parse(inter: str, user: str, item: str, source: str = "inline") -> MovieLens:
    users = tuple(
        User(r["user_id"], int(r["age"]), age_bucket(int(r["age"])), r["gender"], r["occupation"])
        for r in read_atomic(user)
    )
    movies = tuple(
        Movie(
            item_id=r["item_id"],
            title=r["movie_title"],
            year=int(r["release_year"]) if r.get("release_year", "").isdigit() else None,
            genres=tuple(r["class"].split()),
        )
        for r in read_atomic(item)
    )
    user_index = {u.user_id: i for i, u in enumerate(users)}
    movie_index = {m.item_id: i for i, m in enumerate(movies)}
    rows = [r for r in read_atomic(inter) if r["user_id"] in user_index and r["item_id"] in movie_index]
    return MovieLens(
        users=users,
        movies=movies,
        rating_user=np.array([user_index[r["user_id"]] for r in rows], dtype=np.int32),
        rating_movie=np.array([movie_index[r["item_id"]] for r in rows], dtype=np.int32),
        rating=np.array([float(r["rating"]) for r in rows], dtype=np.float64),
        source=source,
    )


def load(wheel: Path | None = None) -> MovieLens:
    wheel = wheel or RECBOLE.fetch()
    with zipfile.ZipFile(wheel) as archive:
        text = {
            kind: archive.read(f"{ATOMIC_PREFIX}.{kind}").decode("utf-8")
            for kind in ("inter", "user", "item")
        }
    return parse(text["inter"], text["user"], text["item"], source=f"{wheel.name}:{ATOMIC_PREFIX}.*")
