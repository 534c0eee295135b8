"""Element-level racing against per-combination racing, on MovieLens users.

A line with `movies` creatives (MovieLens movies as the image × headline pairing: each user's true click
log-odds for each is the simulator's click model) and `phrases` phrases, each with a hidden additive effect
on the log-odds drawn from N(0, PHRASE_EFFECT_SD²). A request is a MovieLens user (by activity) with its
demographic features; a combination's true click probability is sigmoid(movie logit + phrase effect).

Two racers serve the same users and the same click dice (common random numbers):
- element: the select service with the movies as creatives and the phrases in the line's phrase bank (each
  phrase slot raced on its own);
- per_combination: the select service with every (movie, phrase) pair as its own creative and no phrases,
  every pair a candidate (MAX_CANDIDATES = the number of pairs).
Uniform random choice and the oracle (the best combination for each user) bound them. Reports expected CTR
and cumulative expected regret after day 1 and after the last day.

A second scenario ("template", `run_template_seed`) is the issue's large line: `images` movies as images
(each user's click log-odds for the movie), 200 headlines, 20 phrases and 5 calls to action, each with a
hidden additive effect, so 30 × 200 × 20 × 5 = 600,000 combinations. It races the line's template both ways:
- elements: every slot per element (`racing: elements`), the space never enumerated;
- creatives: the composed creatives the product would have (`composition.plan_creatives` under the default
  cap of 100 per line) raced as creatives with their user × creative learning, phrases and CTAs per element.
Writes out/evaluation/elements.json. Seeds run in parallel worker processes (`--workers`).

Default traffic and seeds per scenario: one seed's lift varies by about 25 points (a user's best movie is
hard to find in a week of 1,000 requests), so the phrases scenario runs 15 seeds to resolve a 10% effect;
the template scenario runs 3 seeds of 2,000 requests a day.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import time
import zlib
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime, timedelta
from functools import partial

import numpy as np
from creative.composition import plan_creatives
from creative.creatives import Creative
from creative.line_templates import TEMPLATE_SETTING, LineTemplate
from creative.materials import Material, MaterialKind, MaterialStatus, SourceObject
from creative.phrase_banks import Phrase, PhraseBank
from creative.racing.active_model import ActiveModel
from creative.racing.racer import ContextualRacer
from creative.racing.schemas import FeedbackRequest, RequestContext, SelectRequest, UserContext
from creative.racing.service import PHRASES_SETTING, FeedbackService, RacingService
from in_memory.adapters import (
    InMemoryCreativeRepository,
    InMemoryImpressionLog,
    InMemoryModelRegistry,
    InMemoryObjectStore,
    InMemoryRacingState,
)

from evaluation import click_model, movielens
from infra.paths import OUT_DIR

PHRASE_EFFECT_SD = 0.3  # log-odds; a good phrase against a poor one is worth about 1.8x the clicks
PLACEMENT = "story"  # image, headline and one phrase slot
LINE = "movies"
START = datetime(2026, 3, 2, tzinfo=UTC)


def _creative(creative_id: str, headline: str, genres: tuple[str, ...]) -> Creative:
    stamp = "2026-03-01T00:00:00.000000Z"
    return Creative(
        creative_id=creative_id,
        business_line=LINE,
        category=genres[0],
        image_material_id="img_" + creative_id,
        copy_material_id="copy_" + creative_id,
        image_bucket="b",
        image_key=f"served/{creative_id}.jpg",
        headline=headline[:90],
        tags=[f"iab:g{zlib.crc32(g.encode()) % 1000}" for g in genres],
        created_at=stamp,
        updated_at=stamp,
    )


def _service(
    creatives: list[Creative],
    bank: PhraseBank | None,
    seed: int,
    max_candidates: int,
    template: LineTemplate | None = None,
):
    repository = InMemoryCreativeRepository()
    repository.put_new(creatives)
    state = InMemoryRacingState()
    if bank is not None:
        state.save_setting(LINE, PHRASES_SETTING, bank.model_dump(mode="json"), expected_version=0)
    if template is not None:
        state.save_setting(LINE, TEMPLATE_SETTING, template.model_dump(mode="json"), expected_version=0)
    log = InMemoryImpressionLog(repository, state)
    racing = RacingService(
        repository,
        state,
        log,
        InMemoryObjectStore(),
        ActiveModel(InMemoryModelRegistry()),
        ContextualRacer(),
        np.random.default_rng(seed),
        max_candidates=max_candidates,
        cache_ttl_s=2.0,
    )
    return racing, FeedbackService(log)


def _window(expected: dict[str, np.ndarray], policy: str, end: int) -> dict:
    """A policy's expected CTR over the first `end` requests, and its regret against the oracle."""
    values = expected[policy][:end]
    return {
        "expected_ctr": float(values.mean()),
        "regret_per_1000": float((expected["oracle"][:end] - values).mean() * 1000),
    }


def run_seed(data, model, seed: int, movies: int, phrases: int, days: int, per_day: int) -> dict:
    rng = np.random.default_rng(seed)
    chosen_movies = rng.choice(click_model.catalogue(data), size=movies, replace=False)
    phrase_effect = rng.normal(0.0, PHRASE_EFFECT_SD, phrases)
    activity = click_model.user_activity(data)
    n = days * per_day
    users = rng.choice(len(data.users), size=n, p=activity)
    dice = rng.random(n)
    movie_logit = model.logit(np.unique(users), chosen_movies)  # users x movies
    row_of = {u: i for i, u in enumerate(np.unique(users))}
    titles = [data.movies[m] for m in chosen_movies]
    movie_ids = [f"cr_m{m.item_id}" for m in titles]

    bank = PhraseBank(business_line=LINE, phrases=[Phrase(text=f"Phrase number {j}") for j in range(phrases)])
    phrase_index = {p.phrase_id: j for j, p in enumerate(bank.phrases)}
    element, element_feedback = _service(
        [_creative(movie_ids[i], m.title, m.genres) for i, m in enumerate(titles)], bank, seed + 1, movies
    )
    pairs = [
        _creative(f"{movie_ids[i]}_p{j}", f"{m.title} | {j}", m.genres)
        for i, m in enumerate(titles)
        for j in range(phrases)
    ]
    per_pair, pair_feedback = _service(pairs, None, seed + 2, len(pairs))
    movie_of = {mid: i for i, mid in enumerate(movie_ids)}

    def truth(user_row: int, movie: int, phrase: int) -> float:
        return float(1.0 / (1.0 + np.exp(-(movie_logit[user_row, movie] + phrase_effect[phrase]))))

    expected = {
        "element": np.zeros(n),
        "per_combination": np.zeros(n),
        "uniform": np.zeros(n),
        "oracle": np.zeros(n),
    }
    started = {"element": 0.0, "per_combination": 0.0}
    best_phrase = int(np.argmax(phrase_effect))
    for r in range(n):
        at = START + timedelta(seconds=r * 86400 / per_day)
        user = data.users[users[r]]
        row = row_of[users[r]]
        features = {k: v for k, v in user.features().items() if k != "age"}
        request = SelectRequest(
            business_line=LINE,
            placement=PLACEMENT,
            user=UserContext(id=user.user_id, features=features),
            context=RequestContext(),
        )
        t = time.perf_counter()
        served = element.select(request, at)
        started["element"] += time.perf_counter() - t
        m, p = movie_of[served.creative.creative_id], phrase_index[served.phrases[0].phrase_id]
        expected["element"][r] = truth(row, m, p)
        if dice[r] < expected["element"][r]:
            element_feedback.record(FeedbackRequest(impression_id=served.impression_id, event="click"), at)

        t = time.perf_counter()
        served = per_pair.select(request, at)
        started["per_combination"] += time.perf_counter() - t
        mid, _, j = served.creative.creative_id.rpartition("_p")
        expected["per_combination"][r] = truth(row, movie_of[mid], int(j))
        if dice[r] < expected["per_combination"][r]:
            pair_feedback.record(FeedbackRequest(impression_id=served.impression_id, event="click"), at)

        expected["uniform"][r] = truth(row, int(rng.integers(movies)), int(rng.integers(phrases)))
        expected["oracle"][r] = truth(row, int(np.argmax(movie_logit[row])), best_phrase)

    return {
        "seed": seed,
        "ms_per_select": {k: v * 1000 / n for k, v in started.items()},
        "day_1": {p: _window(expected, p, per_day) for p in expected},
        f"day_{days}": {p: _window(expected, p, n) for p in expected},
    }


TEMPLATE_PLACEMENT = "home_feed"  # image, headline, phrase and CTA
HEADLINE_EFFECT_SD, CTA_EFFECT_SD = 0.3, 0.2


def _material(
    material_id: str, kind: MaterialKind, genre: str, created_at: str, text: str | None
) -> Material:
    return Material(
        material_id=material_id,
        kind=kind,
        status=MaterialStatus.ADMITTED,
        business_line=LINE,
        category=genre,
        source=SourceObject(bucket="b", key=f"uploads/{LINE}/{genre}/{material_id}"),
        text=text,
        created_at=created_at,
    )


def run_template_seed(
    data, model, seed: int, images: int, headlines: int, phrases: int, ctas: int, days: int, per_day: int
) -> dict:
    """The large line raced as elements and as composed creatives, on the same users and click dice."""
    rng = np.random.default_rng(seed)
    chosen_movies = rng.choice(click_model.catalogue(data), size=images, replace=False)
    effects = {
        "headline": rng.normal(0.0, HEADLINE_EFFECT_SD, headlines),
        "phrase": rng.normal(0.0, PHRASE_EFFECT_SD, phrases),
        "cta": rng.normal(0.0, CTA_EFFECT_SD, ctas),
    }
    n = days * per_day
    users = rng.choice(len(data.users), size=n, p=click_model.user_activity(data))
    dice = rng.random(n)
    unique_users = np.unique(users)
    movie_logit = model.logit(unique_users, chosen_movies)  # users x images
    row_of = {u: i for i, u in enumerate(unique_users)}
    titles = [data.movies[m] for m in chosen_movies]
    # Images (newest first in the library) and headlines as admitted materials; composition pairs them.
    image_materials = [
        _material(
            f"img_m{m.item_id}",
            MaterialKind.IMAGE,
            m.genres[0],
            f"2026-03-01T00:{i // 60:02d}:{i % 60:02d}Z",
            None,
        )
        for i, m in enumerate(titles)
    ]
    genres = [m.genres[0] for m in titles]
    headline_materials = [
        _material(
            f"copy_h{j}",
            MaterialKind.COPY,
            genres[j % images],
            f"2026-03-01T01:{j // 60:02d}:{j % 60:02d}Z",
            f"Headline {j}",
        )
        for j in range(headlines)
    ]
    image_index = {m.material_id: i for i, m in enumerate(image_materials)}
    headline_index = {m.material_id: j for j, m in enumerate(headline_materials)}
    genres_of = {m.material_id: titles[i].genres for i, m in enumerate(image_materials)}

    def as_creative(image: Material, copy: Material, creative_id: str) -> Creative:
        made = _creative(creative_id, copy.text or "", genres_of[image.material_id])
        return made.model_copy(
            update={
                "image_material_id": image.material_id,
                "copy_material_id": copy.material_id,
                "element_tags": {"image": made.tags, "headline": []},
            }
        )

    stamp = "2026-03-01T02:00:00Z"
    composed = [
        as_creative(
            image_materials[image_index[c.image_material_id]],
            headline_materials[headline_index[c.copy_material_id]],
            c.creative_id,
        )
        for c in plan_creatives(image_materials, headline_materials, [], cap=100, now=stamp)
    ]
    # Element racing needs every element in some creative: image i % images with headline i.
    covering = [
        as_creative(image_materials[j % images], headline_materials[j], f"cr_cover{j}")
        for j in range(headlines)
    ]
    bank = PhraseBank(
        business_line=LINE,
        phrases=[Phrase(text=f"Phrase number {j}") for j in range(phrases)]
        + [Phrase(text=f"Action {j}", slot="cta") for j in range(ctas)],
    )
    slot_index = {p.phrase_id: j for j, p in enumerate(bank.phrases[:phrases])}
    slot_index |= {p.phrase_id: j for j, p in enumerate(bank.phrases[phrases:])}
    elements_racer, elements_feedback = _service(
        covering, bank, seed + 1, len(covering), LineTemplate(business_line=LINE, racing="elements")
    )
    creatives_racer, creatives_feedback = _service(composed, bank, seed + 2, 100)

    def truth(row: int, image: int, headline: int, phrase: int, cta: int) -> float:
        logit = (
            movie_logit[row, image]
            + effects["headline"][headline]
            + effects["phrase"][phrase]
            + effects["cta"][cta]
        )
        return float(1.0 / (1.0 + np.exp(-logit)))

    def served_truth(row: int, served) -> float:
        chosen = {p.slot: slot_index[p.phrase_id] for p in served.phrases}
        return truth(
            row,
            image_index[served.creative.image_material_id],
            headline_index[served.creative.copy_material_id],
            chosen["phrase"],
            chosen["cta"],
        )

    expected = {name: np.zeros(n) for name in ("elements", "creatives", "uniform", "oracle")}
    seconds = {"elements": 0.0, "creatives": 0.0}
    best = {slot: int(np.argmax(e)) for slot, e in effects.items()}
    for r in range(n):
        at = START + timedelta(seconds=r * 86400 / per_day)
        user = data.users[users[r]]
        row = row_of[users[r]]
        request = SelectRequest(
            business_line=LINE,
            placement=TEMPLATE_PLACEMENT,
            user=UserContext(
                id=user.user_id, features={k: v for k, v in user.features().items() if k != "age"}
            ),
            context=RequestContext(),
        )
        for name, racer, feedback in (
            ("elements", elements_racer, elements_feedback),
            ("creatives", creatives_racer, creatives_feedback),
        ):
            t = time.perf_counter()
            served = racer.select(request, at)
            seconds[name] += time.perf_counter() - t
            expected[name][r] = served_truth(row, served)
            if dice[r] < expected[name][r]:
                feedback.record(FeedbackRequest(impression_id=served.impression_id, event="click"), at)
        expected["uniform"][r] = truth(
            row,
            int(rng.integers(images)),
            int(rng.integers(headlines)),
            int(rng.integers(phrases)),
            int(rng.integers(ctas)),
        )
        expected["oracle"][r] = truth(
            row, int(np.argmax(movie_logit[row])), best["headline"], best["phrase"], best["cta"]
        )

    return {
        "seed": seed,
        "composed_creatives": len(composed),
        "ms_per_select": {k: v * 1000 / n for k, v in seconds.items()},
        "day_1": {p: _window(expected, p, per_day) for p in expected},
        f"day_{days}": {p: _window(expected, p, n) for p in expected},
    }


def _summary(runs: list[dict], days: int, challenger: str, champion: str) -> dict:
    summary: dict = {}
    for window in ("day_1", f"day_{days}"):
        summary[window] = {
            policy: {
                key: float(np.mean([r[window][policy][key] for r in runs]))
                for key in ("expected_ctr", "regret_per_1000")
            }
            for policy in runs[0][window]
        }
        lifts = [
            r[window][challenger]["expected_ctr"] / r[window][champion]["expected_ctr"] - 1 for r in runs
        ]
        summary[window][f"{challenger}_lift_over_{champion}"] = {
            "mean": float(np.mean(lifts)),
            "per_seed": [round(x, 4) for x in lifts],
        }
    return summary


PHRASES_DEFAULTS = {"seeds": list(range(11, 26)), "per_day": 1000}
TEMPLATE_DEFAULTS = {"seeds": [11, 12, 13], "per_day": 2000}

_world: tuple | None = None  # a worker's MovieLens data and click model, loaded once per process


def _run_in_worker(scenario: str, settings: tuple, seed: int) -> dict:
    global _world
    if _world is None:
        data = movielens.load()
        _world = (data, click_model.fit(data))
    run = run_seed if scenario == "phrases" else run_template_seed
    return run(*_world, seed, *settings)


def _run_seeds(scenario: str, seeds: list[int], settings: tuple, workers: int) -> list[dict]:
    """One run per seed, in seed order. Spawned workers, not forked: the parent's numpy threads must not be
    copied mid-flight."""
    run = partial(_run_in_worker, scenario, settings)
    if workers <= 1:
        return [run(seed) for seed in seeds]
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(min(workers, len(seeds)), mp_context=context) as pool:
        return list(pool.map(run, seeds))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, nargs="+", help="both scenarios' (default: each scenario's own)")
    parser.add_argument("--movies", type=int, default=50)
    parser.add_argument("--phrases", type=int, default=20)
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--per-day", type=int, help="requests a day (default: each scenario's own)")
    parser.add_argument("--workers", type=int, default=2, help="seeds run at once, one process each")
    parser.add_argument(
        "--scenarios", nargs="+", default=["phrases", "template"], choices=["phrases", "template"]
    )
    parser.add_argument("--images", type=int, default=30)
    parser.add_argument("--headlines", type=int, default=200)
    parser.add_argument("--ctas", type=int, default=5)
    args = parser.parse_args()
    out = OUT_DIR / "evaluation"
    out.mkdir(parents=True, exist_ok=True)
    path = out / "elements.json"
    # A run of one scenario keeps the other's last figures.
    report = json.loads(path.read_text()) if path.is_file() else {}
    if "phrases" in args.scenarios:
        seeds = args.seeds or PHRASES_DEFAULTS["seeds"]
        per_day = args.per_day or PHRASES_DEFAULTS["per_day"]
        runs = _run_seeds("phrases", seeds, (args.movies, args.phrases, args.days, per_day), args.workers)
        report |= {
            "config": {
                "movies": args.movies,
                "phrases": args.phrases,
                "combinations": args.movies * args.phrases,
                "days": args.days,
                "requests_per_day": per_day,
                "phrase_effect_sd": PHRASE_EFFECT_SD,
                "seeds": seeds,
            },
            "summary": _summary(runs, args.days, "element", "per_combination"),
            "runs": runs,
        }
    if "template" in args.scenarios:
        seeds = args.seeds or TEMPLATE_DEFAULTS["seeds"]
        per_day = args.per_day or TEMPLATE_DEFAULTS["per_day"]
        runs = _run_seeds(
            "template",
            seeds,
            (args.images, args.headlines, args.phrases, args.ctas, args.days, per_day),
            args.workers,
        )
        report["template"] = {
            "config": {
                "images": args.images,
                "headlines": args.headlines,
                "phrases": args.phrases,
                "ctas": args.ctas,
                "combinations": args.images * args.headlines * args.phrases * args.ctas,
                "days": args.days,
                "requests_per_day": per_day,
                "effect_sd": {
                    "headline": HEADLINE_EFFECT_SD,
                    "phrase": PHRASE_EFFECT_SD,
                    "cta": CTA_EFFECT_SD,
                },
                "seeds": seeds,
            },
            "summary": _summary(runs, args.days, "elements", "creatives"),
            "runs": runs,
        }
    path.write_text(json.dumps(report, indent=2) + "\n")
    print(
        json.dumps(
            {
                k: v.get("summary")
                for k, v in {"phrases": report, **{"template": report.get("template", {})}}.items()
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
