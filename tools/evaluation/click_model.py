"""True click probabilities for the simulator, derived from MovieLens ratings.

Affinity is a rating predictor fitted by least squares on 90% of the real ratings (seeded split; the other
10% measure it), in four additive stages, each fitted on the residual of the ones before:

    affinity(u, i) = mu + b_i                        item: a movie's shrunk mean rating
                   + x_u' W g_i + x_u' D_i           demographic: (age bucket, gender, occupation) x genre,
                                                     then x movie (shrunk means, backfitted)
                   + b_u + p_u' q_i                  individual: user bias + rank-8 factorisation (ALS)

x_u is the one-hot of the user's age bucket, gender and occupation, g_i the movie's genres normalised to sum
to one, W a ridge regression and D_i per-movie shrunk means of what W leaves, so the demographics ->
preference signal comes from the data. The individual stage is taste no feature exposes; no policy that sees only demographics can learn it.

A click is p(u, i, t) = sigmoid(alpha + beta * (affinity(u, i) - mu) + drift_i(t)); alpha and beta are
calibrated on the catalogue the simulator draws creatives from, with users weighted by activity, so that
  - the mean click probability is MEAN_CTR (a few percent, as for display creatives), and
  - for the median user, the item at the 90th percentile of p is SPREAD_P90_P10 times as clickable as the
    item at the 10th (the spread between good and bad creatives for one person).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse

from evaluation.movielens import MovieLens

MEAN_CTR = 0.03
SPREAD_P90_P10 = 3.0
MIN_RATINGS_IN_CATALOGUE = 50
RANK = 8
FIT_SEED = 0
HOLDOUT_SHARE = 0.1
ITEM_SHRINK = 10.0
USER_SHRINK = 10.0
DEMOGRAPHIC_RIDGE = 50.0
DEMOGRAPHIC_ITEM_SHRINK = 100.0
BACKFIT_SWEEPS = 4
FACTOR_RIDGE = 10.0
ALS_ITERATIONS = 12


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def demographic_onehot(data: MovieLens) -> tuple[np.ndarray, list[str]]:
    names = sorted({f"age_bucket={u.age_bucket}" for u in data.users})
    names += sorted({f"gender={u.gender}" for u in data.users})
    names += sorted({f"occupation={u.occupation}" for u in data.users})
    column = {n: j for j, n in enumerate(names)}
    onehot = np.zeros((len(data.users), len(names)))
    for i, u in enumerate(data.users):
        for name in (f"age_bucket={u.age_bucket}", f"gender={u.gender}", f"occupation={u.occupation}"):
            onehot[i, column[name]] = 1.0
    return onehot, names


def genre_weights(data: MovieLens) -> np.ndarray:
    column = {g: j for j, g in enumerate(data.genres)}
    weights = np.zeros((len(data.movies), len(column)))
    for i, movie in enumerate(data.movies):
        for g in movie.genres:
            weights[i, column[g]] = 1.0 / len(movie.genres)
    return weights


@dataclass(frozen=True)
class Affinity:
    """The fitted rating predictor; `parts` splits it into the stages above."""

    mean: float
    item_bias: np.ndarray
    demographic_movie: np.ndarray  # W g_i + D_i for every movie: demographics x movies
    user_bias: np.ndarray
    user_factors: np.ndarray
    item_factors: np.ndarray
    user_onehot: np.ndarray
    holdout_rmse: dict[str, float]

    def parts(self, users: np.ndarray, movies: np.ndarray) -> dict[str, np.ndarray]:
        """Each stage as a users x movies matrix (without the global mean)."""
        item = np.broadcast_to(self.item_bias[movies][None, :], (len(users), len(movies)))
        demographic = self.user_onehot[users] @ self.demographic_movie[:, movies]
        individual = self.user_bias[users][:, None] + self.user_factors[users] @ self.item_factors[movies].T
        return {"item": item, "demographic": demographic, "individual": individual}

    def predict(self, users: np.ndarray, movies: np.ndarray) -> np.ndarray:
        return self.mean + sum(self.parts(users, movies).values())

    def predict_pairs(self, users: np.ndarray, movies: np.ndarray) -> np.ndarray:
        demographic = np.einsum("nd,dn->n", self.user_onehot[users], self.demographic_movie[:, movies])
        individual = self.user_bias[users] + np.einsum(
            "nk,nk->n", self.user_factors[users], self.item_factors[movies]
        )
        return self.mean + self.item_bias[movies] + demographic + individual


def _shrunk_means(index: np.ndarray, residual: np.ndarray, size: int, shrink: float) -> np.ndarray:
    return np.bincount(index, residual, minlength=size) / (np.bincount(index, minlength=size) + shrink)


def _demographic_genre(
    onehot: np.ndarray, genres: np.ndarray, users: np.ndarray, movies: np.ndarray, residual: np.ndarray
) -> np.ndarray:
    """Ridge regression of the residual on the outer product x_u (x) g_i, via sparse normal equations."""
    rows = _row_kron(sparse.csr_matrix(onehot[users]), sparse.csr_matrix(genres[movies]))
    gram = (rows.T @ rows).toarray() + DEMOGRAPHIC_RIDGE * np.eye(rows.shape[1])
    weights = np.linalg.solve(gram, rows.T @ residual)
    return weights.reshape(onehot.shape[1], genres.shape[1])


def _row_kron(x: sparse.csr_matrix, g: sparse.csr_matrix) -> sparse.csr_matrix:
    """Row-wise Kronecker product: row r is kron(x[r], g[r]), built from every pair of nonzeros in row r."""
    xc, gc = x.tocoo(), g.tocoo()
    # Pair every nonzero of x with every nonzero of g, then keep the pairs that share a row.
    x_order, g_order = np.argsort(xc.row, kind="stable"), np.argsort(gc.row, kind="stable")
    x_start = np.searchsorted(xc.row[x_order], np.arange(x.shape[0] + 1))
    g_start = np.searchsorted(gc.row[g_order], np.arange(g.shape[0] + 1))
    x_count, g_count = np.diff(x_start), np.diff(g_start)
    pairs_per_row = x_count * g_count
    row = np.repeat(np.arange(x.shape[0]), pairs_per_row)
    offset = np.arange(len(row)) - np.repeat(np.cumsum(pairs_per_row) - pairs_per_row, pairs_per_row)
    xi = x_order[x_start[row] + offset // g_count[row]]
    gi = g_order[g_start[row] + offset % g_count[row]]
    cols = xc.col[xi] * g.shape[1] + gc.col[gi]
    return sparse.csr_matrix(
        (xc.data[xi] * gc.data[gi], (row, cols)), shape=(x.shape[0], x.shape[1] * g.shape[1])
    )


def _demographic_movie(
    onehot: np.ndarray, users: np.ndarray, movies: np.ndarray, residual: np.ndarray, n_movies: int
) -> np.ndarray:
    """Per (demographic value, movie) shrunk means, backfitted across the three one-hot blocks."""
    columns = np.argwhere(onehot > 0)[:, 1].reshape(len(onehot), -1)  # the user's 3 one-hot columns
    effect = np.zeros((onehot.shape[1], n_movies))
    for _ in range(BACKFIT_SWEEPS):
        for block in range(columns.shape[1]):
            own = columns[users, block]
            others = sum(effect[columns[users, b], movies] for b in range(columns.shape[1]) if b != block)
            cell = own * n_movies + movies
            size = onehot.shape[1] * n_movies
            means = _shrunk_means(cell, residual - others, size, DEMOGRAPHIC_ITEM_SHRINK)
            block_columns = np.unique(columns[:, block])
            effect[block_columns] = means.reshape(onehot.shape[1], n_movies)[block_columns]
    return effect


def _als(
    users: np.ndarray, movies: np.ndarray, residual: np.ndarray, n_users: int, n_movies: int
) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(FIT_SEED)
    user_factors = rng.normal(0.0, 0.1, (n_users, RANK))
    item_factors = rng.normal(0.0, 0.1, (n_movies, RANK))
    by_user = [np.flatnonzero(users == u) for u in range(n_users)]
    by_movie = [np.flatnonzero(movies == m) for m in range(n_movies)]
    ridge = FACTOR_RIDGE * np.eye(RANK)
    for _ in range(ALS_ITERATIONS):
        for u, rows in enumerate(by_user):
            q = item_factors[movies[rows]]
            user_factors[u] = np.linalg.solve(q.T @ q + ridge, q.T @ residual[rows])
        for m, rows in enumerate(by_movie):
            p = user_factors[users[rows]]
            item_factors[m] = np.linalg.solve(p.T @ p + ridge, p.T @ residual[rows])
    return user_factors, item_factors


def fit_affinity(data: MovieLens) -> Affinity:
    rng = np.random.default_rng(FIT_SEED)
    holdout = rng.random(len(data.rating)) < HOLDOUT_SHARE
    users, movies, rating = data.rating_user[~holdout], data.rating_movie[~holdout], data.rating[~holdout]
    n_users, n_movies = len(data.users), len(data.movies)
    onehot, _ = demographic_onehot(data)
    genres = genre_weights(data)

    mean = float(rating.mean())
    item_bias = _shrunk_means(movies, rating - mean, n_movies, ITEM_SHRINK)
    residual = rating - mean - item_bias[movies]
    w = _demographic_genre(onehot, genres, users, movies, residual) @ genres.T
    residual = residual - np.einsum("nd,dn->n", onehot[users], w[:, movies])
    w = w + _demographic_movie(onehot, users, movies, residual, n_movies)
    residual = rating - mean - item_bias[movies] - np.einsum("nd,dn->n", onehot[users], w[:, movies])
    user_bias = _shrunk_means(users, residual, n_users, USER_SHRINK)
    user_factors, item_factors = _als(users, movies, residual - user_bias[users], n_users, n_movies)

    zero_w, zero_u = np.zeros_like(w), np.zeros(n_users)
    zero_f = np.zeros_like(user_factors)
    stages = {
        "global_mean": (np.zeros(n_movies), zero_w, zero_u, zero_f),
        "+item": (item_bias, zero_w, zero_u, zero_f),
        "+demographic": (item_bias, w, zero_u, zero_f),
        "+individual": (item_bias, w, user_bias, user_factors),
    }
    test_users, test_movies = data.rating_user[holdout], data.rating_movie[holdout]
    rmse = {}
    for stage, (ib, dw, ub, uf) in stages.items():
        model = Affinity(mean, ib, dw, ub, uf, item_factors, onehot, {})
        error = model.predict_pairs(test_users, test_movies) - data.rating[holdout]
        rmse[stage] = round(float(np.sqrt(np.mean(error**2))), 4)
    return Affinity(mean, item_bias, w, user_bias, user_factors, item_factors, onehot, rmse)


def catalogue(data: MovieLens) -> np.ndarray:
    """Movies the simulator may use as creatives: enough ratings that their affinity is measured."""
    counts = np.bincount(data.rating_movie, minlength=len(data.movies))
    return np.flatnonzero(counts >= MIN_RATINGS_IN_CATALOGUE)


def user_activity(data: MovieLens) -> np.ndarray:
    counts = np.bincount(data.rating_user, minlength=len(data.users)).astype(float)
    return counts / counts.sum()


@dataclass(frozen=True)
class ClickModel:
    affinity: Affinity
    alpha: float
    beta: float
    calibration: dict

    def logit(self, users: np.ndarray, movies: np.ndarray) -> np.ndarray:
        return self.alpha + self.beta * (self.affinity.predict(users, movies) - self.affinity.mean)

    def p(self, users: np.ndarray, movies: np.ndarray) -> np.ndarray:
        return sigmoid(self.logit(users, movies))


def _spread(logits: np.ndarray) -> float:
    p = sigmoid(logits)
    return float(np.median(np.quantile(p, 0.9, axis=1) / np.quantile(p, 0.1, axis=1)))


def _intercept_for_mean(centred: np.ndarray, weight: np.ndarray, beta: float) -> float:
    """Newton's method on alpha: the weighted mean of sigmoid(alpha + beta * centred) is increasing in it."""
    alpha = float(np.log(MEAN_CTR / (1 - MEAN_CTR)))
    for _ in range(50):
        p = sigmoid(alpha + beta * centred)
        gap = float(weight @ p.mean(axis=1)) - MEAN_CTR
        if abs(gap) < 1e-9:
            break
        alpha -= gap / float(weight @ (p * (1 - p)).mean(axis=1))
    return alpha


def calibrate(affinity: Affinity, users: np.ndarray, movies: np.ndarray, weight: np.ndarray) -> ClickModel:
    """Bisection on beta (spread) with alpha solved for the mean at every step."""
    centred = affinity.predict(users, movies) - affinity.mean
    low, high = 0.01, 10.0
    for _ in range(30):
        beta = (low + high) / 2
        alpha = _intercept_for_mean(centred, weight, beta)
        low, high = (beta, high) if _spread(alpha + beta * centred) < SPREAD_P90_P10 else (low, beta)
    beta = (low + high) / 2
    alpha = _intercept_for_mean(centred, weight, beta)
    model = ClickModel(affinity, alpha, beta, {})
    return ClickModel(affinity, alpha, beta, describe(model, users, movies, weight))


def describe(model: ClickModel, users: np.ndarray, movies: np.ndarray, weight: np.ndarray) -> dict:
    """Calibration figures, and how much of the logit each stage explains (what a policy could learn)."""
    logits = model.logit(users, movies)
    p = sigmoid(logits)
    parts = model.affinity.parts(users, movies)
    within_user = {name: float(weight @ np.var(model.beta * part, axis=1)) for name, part in parts.items()}
    return {
        "target_mean_ctr": MEAN_CTR,
        "target_spread_p90_p10": SPREAD_P90_P10,
        "alpha": round(model.alpha, 4),
        "beta": round(model.beta, 4),
        "mean_ctr": round(float(weight @ p.mean(axis=1)), 5),
        "median_user_spread_p90_p10": round(_spread(logits), 3),
        "p_quantiles": {q: round(float(np.quantile(p, q)), 5) for q in (0.01, 0.1, 0.5, 0.9, 0.99)},
        "mean_best_item_ctr": round(float(weight @ p.max(axis=1)), 5),
        "within_user_logit_variance": {k: round(v, 4) for k, v in within_user.items()},
        "holdout_rating_rmse": model.affinity.holdout_rmse,
        "catalogue_movies": len(movies),
        "users": len(users),
    }


def fit(data: MovieLens) -> ClickModel:
    movies = catalogue(data)
    users = np.arange(len(data.users))
    return calibrate(fit_affinity(data), users, movies, user_activity(data))
