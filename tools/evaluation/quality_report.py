"""`out/quality/report.json`: how well the quality checks judge real material, and how fast admission is.

    .venv/bin/python -m evaluation.quality_report

- `spam_auc`: the spam head refitted on 70% of the SpamAssassin mails (and of the real non-spam ad copy, as
  the served head is trained) and scored on the other 30% of the mails; beside it, the share of held-out
  honest ad copy the served cut-offs would send to review or reject.
- per image check (`image_checks.<check>`): precision and recall of the check's verdict (review or reject)
  on the quality photos of `corpora.photos` and degraded copies of them. Blur: Gaussian blur of 2 and 4 px
  (at 512 px) are positives; the originals labelled sharp and their noisy, darkened, brightened and JPEG-10
  copies are negatives. Exposure: darkened to 30% and brightened 2.5x are positives; originals labelled
  well exposed and their blurred, noisy and JPEG-10 copies negatives. Resolution: copies shrunk below every
  placement's minimum or squeezed to a 10:1 strip are positives, copies resized to each placement's size
  negatives.
- `near_duplicate.image`: half the photos (one per near-duplicate group of the inventory) are indexed in one
  business line through the served `NearDuplicates` and an in-memory index; their crops to 90%, halvings,
  JPEG-30 copies, brightness +-20% and 5 degree rotations are the positives (each must find its own source),
  the other half of the photos and their copies the negatives (any flag is a false positive).
- `near_duplicate.copy`: the same with ad copy. The corpus is first thinned so no two kept lines share more
  than half their canonical words (its listings repeat themselves: "Mario Kart Wii (Wii)" ten ways); half
  is indexed, and its case/punctuation variants, clause or word-order swaps and synonym swaps must find
  their source (and synonym swaps written without punctuation), while the other half must find nothing. Synonym swaps draw from the shipped synonym list;
  `unlisted_synonym_recall` swaps with words of the list's held-out half, folded by a canonicaliser built
  from the other half only: what MiniLM catches beyond the list. `at_scale` indexes 10,000+ film titles beside the
  copy and reports the entries one lookup reads.
- `admission_images_per_s`: `bench.admission` (one core, every quality check).
"""

from __future__ import annotations

import argparse
import io
import json
import random
import re
import statistics
from collections.abc import Callable

import numpy as np
from corpora import ad_copy, movielens_titles, photos, spam_assassin
from PIL import Image, ImageEnhance, ImageFilter
from pretrained_models import tag_heads, tagger

from evaluation.tagging_report import served_taggers
from infra.paths import OUT_DIR

OUT = OUT_DIR / "quality"
LINE = "food"
SPLIT_SEED = 0


def _auc(labels: np.ndarray, scores: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    return round(float(roc_auc_score(labels, scores)), 4)


def spam() -> dict:
    from creative.quality.policy import DEFAULT_POLICY

    encoder = served_taggers().encoder
    mails = spam_assassin.load()
    legit = [r["text"] for r in ad_copy.load_labelled() if not r["source"].startswith("spamassassin_spam")]
    mail_x = encoder.encode([m["text"] for m in mails])
    mail_y = np.array([m["spam"] for m in mails], dtype=np.int8)
    legit_x = encoder.encode(legit)
    rng = np.random.default_rng(SPLIT_SEED)
    mail_test = rng.random(len(mails)) < 0.3
    legit_test = rng.random(len(legit)) < 0.3
    x = np.vstack([mail_x[~mail_test], legit_x[~legit_test]])
    y = np.r_[mail_y[~mail_test], np.zeros((~legit_test).sum(), dtype=np.int8)]
    weights = np.r_[np.ones((~mail_test).sum()), np.full((~legit_test).sum(), tagger.LEGIT_COPY_WEIGHT)]
    head = tag_heads.fit_binary_head(x, y, weights)
    mail_scores = head.probabilities(mail_x[mail_test])[:, 0]
    legit_scores = head.probabilities(legit_x[legit_test])[:, 0]
    review, reject = DEFAULT_POLICY.spam
    test_y = mail_y[mail_test]
    return {
        "spam_auc": _auc(test_y, mail_scores),
        "test_mails": int(mail_test.sum()),
        "test_spam": int(test_y.sum()),
        "auc_with_honest_copy_as_ham": _auc(
            np.r_[test_y, np.zeros(len(legit_scores), dtype=np.int8)], np.r_[mail_scores, legit_scores]
        ),
        "honest_copy_test_lines": len(legit_scores),
        "honest_copy_to_review": round(float((legit_scores >= review).mean()), 4),
        "honest_copy_rejected": round(float((legit_scores >= reject).mean()), 4),
        "spam_mails_to_review_or_rejected": round(float((mail_scores[test_y == 1] >= review).mean()), 4),
        "cuts": {"review": review, "reject": reject},
    }


# Image checks ----------------------------------------------------------------------------------------


def _scaled_blur(image: Image.Image, px_at_512: float) -> Image.Image:
    return image.filter(ImageFilter.GaussianBlur(px_at_512 * max(image.size) / 512))


def _noisy(image: Image.Image) -> Image.Image:
    pixels = np.asarray(image, dtype=np.float32)
    noise = np.random.default_rng(SPLIT_SEED).normal(0, 25, pixels.shape)
    return Image.fromarray(np.clip(pixels + noise, 0, 255).astype(np.uint8))


def _jpeg(image: Image.Image, quality: int) -> Image.Image:
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, "JPEG", quality=quality)
    return Image.open(io.BytesIO(buffer.getvalue()))


def _precision_recall(predicted: list[bool], actual: list[bool]) -> dict:
    tp = sum(p and a for p, a in zip(predicted, actual, strict=True))
    fp = sum(p and not a for p, a in zip(predicted, actual, strict=True))
    positives = sum(actual)
    return {
        "precision": round(tp / (tp + fp), 4) if tp + fp else None,
        "recall": round(tp / positives, 4) if positives else None,
        "positives": positives,
        "negatives": len(actual) - positives,
        "false_positives": fp,
        "missed": positives - tp,
    }


def _check_cases(
    image: Image.Image, labels: dict, placements: list
) -> list[tuple[str, Image.Image, bool, bool]]:
    """(check, image, is JPEG, should be flagged) for one photo and its degraded copies."""
    blurred = {"blur2": _scaled_blur(image, 2), "blur4": _scaled_blur(image, 4)}
    lit = {
        "dark": ImageEnhance.Brightness(image).enhance(0.3),
        "bright": ImageEnhance.Brightness(image).enhance(2.5),
    }
    noisy, jpeg10 = _noisy(image), _jpeg(image, 10)
    cases = []
    if labels.get("sharp"):
        cases += [("blur", i, False, False) for i in (image, noisy, *lit.values())] + [
            ("blur", jpeg10, True, False)
        ]
        cases += [("blur", i, False, True) for i in blurred.values()]
    if labels.get("well_exposed"):
        cases += [("exposure", i, False, False) for i in (image, noisy, blurred["blur2"])]
        cases += [("exposure", jpeg10, True, False)] + [("exposure", i, False, True) for i in lit.values()]
    smallest = min(min(p.min_width, p.min_height) for p in placements)
    cases += [
        ("resolution", image.resize((smallest // 2, smallest // 2)), False, True),
        ("resolution", image.resize((1500, 150)), False, True),  # 10:1, wider than any placement
    ]
    cases += [("resolution", image.resize((p.min_width, p.min_height)), False, False) for p in placements]
    return cases


def image_checks() -> dict:
    from creative.materials import ReasonCode
    from creative.placements import PLACEMENTS
    from creative.quality.image_checks import image_findings
    from creative.quality.policy import DEFAULT_POLICY
    from creative.quality.verdicts import Verdict

    codes = {
        "blur": {ReasonCode.IMAGE_BLURRY},
        "exposure": {ReasonCode.IMAGE_UNDEREXPOSED, ReasonCode.IMAGE_OVEREXPOSED},
        "resolution": {ReasonCode.NO_PLACEMENT_FITS},
    }
    rows: dict[str, tuple[list[bool], list[bool]]] = {check: ([], []) for check in codes}
    quality_photos = photos.fetch(use_for="quality")
    for photo in quality_photos:
        image = Image.open(photo.path).convert("RGB")
        for check, case, is_jpeg, positive in _check_cases(
            image, photo.entry.get("quality", {}), list(PLACEMENTS.values())
        ):
            findings, _, _ = image_findings(case, case.width, case.height, is_jpeg, DEFAULT_POLICY)
            rows[check][0].append(any(f.code in codes[check] and f.verdict > Verdict.PASS for f in findings))
            rows[check][1].append(positive)
    return {
        "photos": len(quality_photos),
        **{check: _precision_recall(predicted, actual) for check, (predicted, actual) in rows.items()},
    }


# Near-duplicates -------------------------------------------------------------------------------------


def _near_duplicates(spaces: dict | None = None):
    from creative.quality.near_duplicates import NearDuplicates
    from in_memory.adapters import InMemorySimilarityIndex

    index = InMemorySimilarityIndex()
    return NearDuplicates(index, spaces or served_taggers().spaces), index


def _score(
    queries: list[tuple[str | None, str, object]], lookup: Callable[[str, object], str | None]
) -> dict:
    """queries: (source id or None for an unrelated query, variant kind, fingerprint)."""
    tp = fp = 0
    by_kind: dict[str, list[bool]] = {}
    for i, (source, kind, fingerprint) in enumerate(queries):
        found = lookup(f"query-{i}", fingerprint)
        if source is None:
            fp += found is not None
            by_kind.setdefault("unrelated_flagged", []).append(found is not None)
            continue
        hit = found == source
        tp += hit
        fp += found is not None and not hit
        by_kind.setdefault(kind, []).append(hit)
    positives = sum(1 for q in queries if q[0] is not None)
    return {
        "precision": round(tp / (tp + fp), 4) if tp + fp else None,
        "recall": round(tp / positives, 4),
        "positives": positives,
        "negatives": len(queries) - positives,
        "false_positives": fp,
        "by_variant": {k: round(statistics.fmean(v), 4) for k, v in sorted(by_kind.items())},
    }


def _image_variants(image: Image.Image) -> dict[str, bytes]:
    w, h = image.size
    crop = image.crop((w // 20, h // 20, w - w // 20, h - h // 20))
    variants = {
        "crop90": crop,
        "half": image.resize((w // 2, h // 2), Image.Resampling.LANCZOS),
        "brighter20": ImageEnhance.Brightness(image).enhance(1.2),
        "darker20": ImageEnhance.Brightness(image).enhance(0.8),
        "rotate5": image.rotate(5, resample=Image.Resampling.BICUBIC, expand=False),
    }
    encoded = {name: _encoded(v, 92) for name, v in variants.items()}
    encoded["jpeg30"] = _encoded(image, 30)
    return encoded


def _encoded(image: Image.Image, quality: int) -> bytes:
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


def near_duplicate_images() -> dict:
    from creative.quality.policy import DEFAULT_POLICY

    taggers = served_taggers()
    every = photos.fetch(include_optional=True)
    groups = photos.inventory()["meta"]["near_duplicate_groups"]
    group_of = {member: group for group, members in groups.items() for member in members}
    seen_groups: set[str] = set()
    unique = []
    for photo in every:
        group = group_of.get(photo.id, photo.id)
        if group not in seen_groups:
            seen_groups.add(group)
            unique.append(photo)
    rng = random.Random(SPLIT_SEED)
    rng.shuffle(unique)
    indexed, unrelated = unique[: len(unique) // 2], unique[len(unique) // 2 :]
    near, index = _near_duplicates()
    for photo in indexed:
        near.remember(LINE, "image", photo.id, taggers.tag_image(photo.path.read_bytes()).fingerprint)
    queries = []
    for source, group in ((p.id, p) for p in indexed):
        image = Image.open(group.path).convert("RGB")
        for kind, data in _image_variants(image).items():
            queries.append((source, kind, taggers.tag_image(data).fingerprint))
    for photo in unrelated:
        queries.append((None, "unrelated", taggers.tag_image(photo.path.read_bytes()).fingerprint))
        for data in _image_variants(Image.open(photo.path).convert("RGB")).values():
            queries.append((None, "unrelated", taggers.tag_image(data).fingerprint))

    def lookup(query_id: str, fingerprint) -> str | None:
        matches = near.matches(LINE, "image", query_id, fingerprint, DEFAULT_POLICY)
        return matches[0].neighbour.material_id if matches else None

    index.lookups.clear()
    result = _score(queries, lookup)
    in_packages = _pairs_in_packages({p.id: p for p in every}, groups, taggers)
    return result | {
        "indexed_photos": len(indexed),
        "entries_read_per_lookup": round(statistics.fmean(index.lookups), 1),
        "pairs_shipped_in_packages": in_packages,
    }


def _pairs_in_packages(by_id: dict, groups: dict[str, list[str]], taggers) -> list[dict]:
    """The same photo as two packages ship it (resized, re-encoded, a stereo pair): what the served rule
    says of each such pair in the inventory."""
    from creative.quality.near_duplicates import compare, near_duplicate_finding
    from creative.quality.policy import DEFAULT_POLICY

    pairs = []
    for group, members in sorted(groups.items()):
        if len(members) < 2 or not all(m in by_id for m in members[:2]):
            continue
        a, b = by_id[members[0]], by_id[members[1]]
        fa = taggers.tag_image(a.path.read_bytes()).fingerprint
        fb = taggers.tag_image(b.path.read_bytes()).fingerprint
        neighbour = compare(b.id, fa, fb)
        finding = near_duplicate_finding(neighbour, True, DEFAULT_POLICY)
        pairs.append(
            {
                "group": group,
                "photos": [a.id, b.id],
                "cosine": round(neighbour.cosine, 3),
                "phash_distance": neighbour.phash_distance,
                "verdict": finding.verdict.name if finding else "PASS",
            }
        )
    return pairs


def _case_punct(text: str, rng: random.Random) -> str:
    variant = re.sub(
        r"[!?.,:;]+(?=\s|$)", "", text
    ).lower()  # as a writer drops it: "great, look" -> "great look"
    return variant if variant != text else text.upper()


def _word_order(text: str, rng: random.Random) -> str | None:
    parts = re.split(r"\s*[,:;–-]\s+", text, maxsplit=1)
    if len(parts) == 2 and all(parts):
        return f"{parts[1]}, {parts[0]}"
    words = text.split()
    if len(words) < 3:
        return None
    i = rng.randrange(len(words) - 1)
    words[i], words[i + 1] = words[i + 1], words[i]
    return " ".join(words)


def _synonym_swap(
    synonyms: dict[str, list[str]], stop: set[str]
) -> Callable[[str, random.Random], str | None]:
    def swap(text: str, rng: random.Random) -> str | None:
        words = text.split()
        spots = [
            i
            for i, w in enumerate(words)
            if (core := w.lower().strip(".,!?")) in synonyms and core not in stop
        ]
        if not spots:
            return None
        for i in rng.sample(spots, min(2, len(spots))):
            core = words[i].lower().strip(".,!?")
            replacement = rng.choice(synonyms[core])
            if words[i][0].isupper():
                replacement = replacement.capitalize()
            words[i] = words[i].lower().replace(core, replacement)
        return " ".join(words)

    return swap


def _thinned_copy(canonical) -> list[str]:
    """Ad copy lines no two of which share more than half their canonical words (Jaccard)."""
    kept: list[tuple[str, set[str]]] = []
    for text in dict.fromkeys(r["text"] for r in ad_copy.load_labelled()):
        words = set(canonical(text).split())
        if words and all(len(words & other) / len(words | other) <= 0.5 for _, other in kept):
            kept.append((text, words))
    return [text for text, _ in kept]


def _copy_variants(
    indexed: list[str], synonym_swap: Callable[[str, random.Random], str | None]
) -> list[tuple[str, str, str]]:
    """(source id, variant kind, text) for each indexed line's variants."""
    rng = random.Random(SPLIT_SEED)
    makers = {"case_punctuation": _case_punct, "word_order": _word_order, "synonym": synonym_swap}
    variants = []
    for i, text in enumerate(indexed):
        for kind, make in makers.items():
            variant = make(text, rng)
            if variant and variant != text:
                variants.append((f"copy-{i}", kind, variant))
    # Both at once: a synonym swap written without the punctuation (its own draws, so the variants above
    # stay as they were).
    combined_rng = random.Random(SPLIT_SEED + 1)
    for i, text in enumerate(indexed):
        swapped = synonym_swap(text, combined_rng)
        if swapped and (variant := _case_punct(swapped, combined_rng)) != text:
            variants.append((f"copy-{i}", "synonym_and_case_punctuation", variant))
    return variants


def near_duplicate_copy() -> dict:
    from creative.quality.near_duplicates import CopyCanonicaliser, copy_fingerprint
    from creative.quality.policy import DEFAULT_POLICY

    taggers = served_taggers()
    synonyms = json.loads(tagger.SYNONYMS_FILE.read_text())
    stop = set(synonyms.pop("_stopwords", []))
    lines = _thinned_copy(taggers.canonical_copy)
    rng = random.Random(SPLIT_SEED)
    rng.shuffle(lines)
    indexed, unrelated = lines[: len(lines) // 2], lines[len(lines) // 2 :]

    def run(
        canonical, swap_words: dict[str, list[str]], extra_index: list[str] = ()
    ) -> tuple[dict, list[int]]:
        def fingerprints(texts: list[str]) -> list:
            embeddings = taggers.encoder.encode(texts)
            return [copy_fingerprint(e, t, canonical) for e, t in zip(embeddings, texts, strict=True)]

        near, index = _near_duplicates()
        for i, fingerprint in enumerate(fingerprints(indexed)):
            near.remember(LINE, "copy", f"copy-{i}", fingerprint)
        for i, fingerprint in enumerate(fingerprints(list(extra_index))):
            near.remember(LINE, "copy", f"title-{i}", fingerprint)
        pending = _copy_variants(indexed, _synonym_swap(swap_words, stop))
        pending += [(None, "unrelated", text) for text in unrelated]
        queries = [
            (source, kind, fp)
            for (source, kind, _), fp in zip(pending, fingerprints([q[2] for q in pending]), strict=True)
        ]

        def lookup(query_id: str, fingerprint) -> str | None:
            matches = near.matches(LINE, "copy", query_id, fingerprint, DEFAULT_POLICY)
            return matches[0].neighbour.material_id if matches else None

        index.lookups.clear()
        return _score(queries, lookup), list(index.lookups)

    served, lookups = run(taggers.canonical_copy, synonyms)
    # Unlisted synonyms: fold with half the list, swap with words only the other half knows.
    keys = sorted(synonyms)
    random.Random(SPLIT_SEED).shuffle(keys)
    known, held_out = keys[: len(keys) // 2], keys[len(keys) // 2 :]
    half_canonical = CopyCanonicaliser({k: synonyms[k] for k in known})
    unlisted, _ = run(half_canonical, {k: synonyms[k] for k in held_out})
    titles = [r["text"] for r in movielens_titles.ml100k()] + [r["text"] for r in movielens_titles.dslabs()]
    at_scale, scale_lookups = run(taggers.canonical_copy, synonyms, extra_index=titles)
    return served | {
        "indexed_lines": len(indexed),
        "corpus_lines_after_thinning": len(lines),
        "entries_read_per_lookup": round(statistics.fmean(lookups), 1),
        "unlisted_synonym_recall": unlisted["by_variant"].get("synonym"),
        "unlisted_synonym_and_case_punctuation_recall": unlisted["by_variant"].get(
            "synonym_and_case_punctuation"
        ),
        "at_scale": {
            "indexed": len(indexed) + len(titles),
            "precision": at_scale["precision"],
            "recall": at_scale["recall"],
            "entries_read_per_lookup_mean": round(statistics.fmean(scale_lookups), 1),
            "entries_read_per_lookup_p95": float(np.percentile(scale_lookups, 95)),
        },
    }


def admission_speed() -> dict:
    from bench.admission import main as bench_admission

    return bench_admission([])


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.parse_args(argv)
    speed = admission_speed()
    report = {
        **spam(),
        "image_checks": image_checks(),
        "near_duplicate": {"image": near_duplicate_images(), "copy": near_duplicate_copy()},
        "admission_images_per_s": speed["admission_images_per_s"],
        "admission_bench": speed,
        "policy": _policy(),
    }
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))
    return report


def _policy() -> dict:
    from creative.quality.policy import DEFAULT_POLICY

    return DEFAULT_POLICY.model_dump(mode="json")


if __name__ == "__main__":
    main()
