"""`python -m generators.compare` (in the models venv; `make evaluate` runs it): trains the three in-house
generators on the same real headlines and compares all four families, the pretrained small LM included, on
the same held-out pairs: quality (fluency as perplexity under the pretrained LM, novelty against the library,
diversity, admission, whether samples tag into the tags they were asked for), serving (one core: tokens/s,
cold start, artifact size), which family to serve by a stated rule, and a click simulator's verdict on
generated vs human copy.

Three caches under build/generators/: the trained models (train-<key>: training code, settings and data),
the samples (samples-<key>: the trained models' key, sampling code and settings, the LM's version) and the
report (<key>: the samples' key, the served tagger's artifacts and every module here). Writes
out/generation/report.json.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import re
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch

from generators import (
    char_model_serving,
    click_simulator,
    fluency,
    intended_tags,
    pretrained_lm_serving,
    serving_choice,
)
from generators import data as data_module
from generators.data import Pair, load_pairs, split
from generators.metrics import family_figures, nearest_cosine, passes_admission_form, score_samples
from generators.models import CharVocab
from generators.sampling import Sample, draw_samples, lm_prompts, sampling_key, vae_leaders
from generators.settings import Settings
from generators.training import load_or_train
from infra.paths import BUILD_DIR, MODELS_BUILD_DIR, OUT_DIR

HERE = Path(__file__).parent
FAMILIES = ("pretrained_lm", "seq2seq_attention", "vae", "gan")
LEGACY_NAMES = {"pretrained_lm": "smollm2_few_shot"}  # the `generators` section's older name
HUMAN = "human_held_out"


def _report_key(s: Settings, samples_key: str) -> str:
    digest = hashlib.sha256(json.dumps(asdict(s), sort_keys=True).encode())
    digest.update(samples_key.encode())
    digest.update(intended_tags.tagger_key().encode())
    for module in sorted(HERE.glob("*.py")):
        digest.update(module.name.encode() + module.read_bytes())
    return digest.hexdigest()[:16]


def _text_encoder():
    from creative.inference.text_encoder import TextEncoder

    return TextEncoder(sorted((MODELS_BUILD_DIR / "text-encoder").glob("*"))[-1], threads=1)


def quality(
    samples: dict[str, list[Sample]], asks: list[Pair], train: list[Pair], log
) -> tuple[dict[str, dict], dict]:
    """Per sample: perplexity, nearest library cosine, admission; with the human held-out lines' too."""
    started = time.perf_counter()
    scorer = fluency.load_scorer()
    texts = {name: [x.text for x in rows] for name, rows in samples.items()} | {
        HUMAN: [p.headline for p in asks]
    }
    perplexity = {name: fluency.perplexities(t, *scorer) for name, t in texts.items()}
    del scorer
    log(f"perplexity: {time.perf_counter() - started:.0f} s")
    started = time.perf_counter()
    encoder = _text_encoder()
    library = encoder.encode([p.headline for p in train])
    embeddings = {name: encoder.encode(t) for name, t in texts.items()}
    log(f"embeddings: {time.perf_counter() - started:.0f} s")
    rows = {
        name: {
            "text": texts[name],
            "domain": [x.domain for x in samples[name]] if name in samples else [p.domain for p in asks],
            "perplexity": perplexity[name],
            "nearest": nearest_cosine(embeddings[name], library).tolist(),
            "admitted": [passes_admission_form(t) for t in texts[name]],
            "embedding": embeddings[name],
        }
        for name in texts
    }
    return rows, {"encoder": encoder, "library": library}


def _figures(rows: dict, keep=lambda domain: True) -> dict:
    chosen = [i for i, d in enumerate(rows["domain"]) if keep(d)]
    return family_figures(
        [rows["text"][i] for i in chosen],
        [rows["perplexity"][i] for i in chosen],
        [rows["nearest"][i] for i in chosen],
        [rows["admitted"][i] for i in chosen],
    )


def serving_decision(rows: dict, families: dict[str, dict]) -> dict:
    human = rows[HUMAN]
    overall = serving_choice.choose(families, _figures(human)["perplexity"])
    by_line = {}
    for line in sorted(set(human["domain"])):
        figures = {
            name: _figures(rows[name], lambda d, line=line: d is None or d == line) for name in families
        }
        by_line[line] = (figures, _figures(human, lambda d, line=line: d == line)["perplexity"])
    return serving_choice.serving_section(overall, serving_choice.choose_per_line(overall, by_line))


def ctr_simulation(rows: dict, test: list[Pair], train: list[Pair], encoder, library, s: Settings) -> dict:
    rng = np.random.default_rng(s.seed)
    scrambled = encoder.encode([click_simulator.scramble(p.headline, rng) for p in train])
    probe, probe_figures = click_simulator.fit_legibility_probe(library, scrambled, s.seed)
    held_out = [p.headline for p in test if passes_admission_form(p.headline)]
    human = encoder.encode(held_out)
    generated = {
        name: rows[name]["embedding"][click_simulator.admitted_rows(rows[name]["admitted"])]
        for name in FAMILIES
    }
    races = click_simulator.generated_vs_human(
        probe,
        library,
        human,
        generated,
        runs=s.racer_runs,
        pool=s.racer_pool,
        impressions=s.racer_impressions,
        seed=s.seed,
    )
    groups = {HUMAN: human, **generated, "scrambled_training_headlines": scrambled}
    return {
        "simulator": click_simulator.SIMULATOR,
        "settings": {
            "races_per_family": s.racer_runs,
            "pool_per_side": s.racer_pool,
            "impressions_per_race": s.racer_impressions,
            "human_lines": f"the {len(held_out)} held-out headlines passing admission's form",
            "base_ctr": click_simulator.BASE_CTR,
            "taste_sd": click_simulator.TASTE_SD,
            "taste_clip_sd": click_simulator.TASTE_CLIP,
            "legibility_weight": click_simulator.LEGIBILITY_WEIGHT,
        },
        **probe_figures,
        "hidden_model_view": click_simulator.hidden_view(probe, library, groups, s.racer_runs, s.seed),
        "families": races,
        "verdict": click_simulator.verdicts(races),
    }


def serving_figures(trained, asks: list[Pair], train: list[Pair], vocab: CharVocab, s: Settings, cache: Path):
    n = s.timed_generations + 1
    checks = asks[:4]
    out = {
        "pretrained_lm": pretrained_lm_serving.measure(lm_prompts(train, asks, s.seed)[:n], s.lm_temperature)
    }
    noise = np.random.default_rng(s.seed).standard_normal((n, trained.gan.noise)).astype(np.float32)
    conditions = {
        "seq2seq_attention": [p.source_text for p in asks[:n]],
        "vae": [p.headline for p in vae_leaders(asks)][:n],
        "gan": [row[None, :] for row in noise],
    }
    models = {"seq2seq_attention": trained.seq2seq, "vae": trained.vae, "gan": trained.gan}
    for name, model in models.items():
        sources = (
            [p.source_text for p in checks] if name == "seq2seq_attention" else [p.headline for p in checks]
        )
        out[name] = char_model_serving.measure(
            name,
            model,
            vocab,
            cache / "onnx" / name,
            conditions[name],
            s.temperature,
            ([p.headline for p in checks], sources),
        )
    return out


def run(s: Settings, log=print) -> dict:
    torch.set_num_threads(1)  # small models: a second thread mostly adds contention; serving has one core
    pairs = load_pairs(s.seed)
    train, test = split(pairs)
    vocab = CharVocab([p.headline for p in pairs] + [p.source_text for p in pairs])
    trained = load_or_train(s, pairs, train, test, vocab, log)
    asks = random.Random(s.seed + 1).sample(test, s.samples)
    samples, sample_seconds = draw_samples(trained, train, asks, vocab, s, log)
    key = _report_key(s, sampling_key(s, trained))
    cache = BUILD_DIR / "generators" / key
    if (cache / "report.json").is_file():
        log(f"cached: {cache}")
        return json.loads((cache / "report.json").read_text())
    cache.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    report = legacy_sections(s, pairs, train, test, asks, samples, trained, sample_seconds)

    rows, encoding = quality(samples, asks, train, log)
    tags, report["intended_tags"] = intended_tags.tag_figures(
        {name: rows[name]["text"] for name in rows},
        intended_tags.intended_lines(samples, asks, HUMAN, s.seed),
        [p.headline for p in train],
        HUMAN,
        log,
    )
    stage = time.perf_counter()
    serving = serving_figures(trained, asks, train, vocab, s, cache)
    log(f"serving figures: {time.perf_counter() - stage:.0f} s")
    families = {}
    for name in FAMILIES:
        families[name] = {**_figures(rows[name]), **tags[name], **serving[name]}
        legacy = report["generators"][LEGACY_NAMES.get(name, name)]
        for extra in (
            "keyword_hit",
            "known_word_share",
            "mean_chars",
            "held_out_nats_per_char",
            "held_out_bound_nats_per_char",
            "held_out_kl_nats_per_line",
        ):
            if extra in legacy:
                families[name][extra] = legacy[extra]
    report["families"] = families
    report["reference"] = {HUMAN: {**_figures(rows[HUMAN]), **tags[HUMAN]}}
    report["serving"] = serving_decision(rows, {name: families[name] for name in FAMILIES})
    stage = time.perf_counter()
    report["ctr_generated_vs_human"] = ctr_simulation(
        rows, test, train, encoding["encoder"], encoding["library"], s
    )
    log(f"click simulation: {time.perf_counter() - stage:.0f} s")
    report["definitions"] = DEFINITIONS
    report["measurement_seconds"] = round(time.perf_counter() - started, 1)
    (cache / "samples.json").write_text(
        json.dumps({k: [x.text for x in v] for k, v in samples.items()}, indent=1) + "\n"
    )
    (cache / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    return report


DEFINITIONS = {
    "perplexity": "median over samples of exp(mean NLL per token) under SmolLM2-135M (the GGUF the served "
    "artifact is built from, de-quantized by transformers), each line scored as plain text after "
    "<|endoftext|>; perplexity_mean is the mean. The LM's own samples are favoured by construction.",
    "novelty": "share of samples whose MiniLM (all-MiniLM-L6-v2) cosine to every training headline is < 0.9",
    "distinct_1, distinct_2": "unique word uni-/bigrams over all word uni-/bigrams of the samples",
    "admission_pass_rate": "share passing admission's model-free copy rules (metrics.passes_admission_form)",
    "intended_tag_share": "share of samples whose tags include at least one tag of the line they were asked "
    "to imitate, over the samples whose line has any tag (intended_tag_samples); tags as the tagging Lambda "
    "gives them (the served tagger's selling-point heads and IAB zero-shot, ancestors included, on the int8 "
    "MiniLM). The line to imitate, per family, is in intended_tags.intended_line: the asked pair's held-out "
    "headline (pretrained_lm, seq2seq_attention), the leader decoded around (vae), none for the "
    "unconditional gan (null), and for human_held_out another held-out headline of the same business line "
    "(the share the business line alone gives)",
    "tagged_share": "share of samples the served copy tagger gives any tag",
    "common_tag_share": "share of samples carrying at least one of the training headlines' most common tags "
    "(intended_tags.training_common_tags): the tag figure the unconditional gan can have",
    "tokens_per_s": "decoding on one core (one intra-op thread): SmolLM2 tokens for pretrained_lm (prefill "
    "apart); characters for the in-house models (tokens are characters, the end mark included), one line "
    "at a time through their ONNX graphs on onnxruntime",
    "cold_start_s": "sessions loaded from local disk + the first line generated, one core",
    "artifact_mb": "pretrained_lm: its model directory under build/models/generator/; in-house: its ONNX "
    "graphs (float32) and vocabulary",
}


def legacy_sections(s, pairs, train, test, asks, samples, trained, sample_seconds) -> dict:
    """The report's original sections (data, settings, generators, reference, seconds, examples)."""
    vocabulary = {w for p in pairs for w in re.findall(r"[a-z]+", p.headline.lower())}
    training_text = [p.headline for p in train]
    keywords = [p.keywords for p in asks]
    texts = {name: [x.text for x in rows] for name, rows in samples.items()}
    generators = {
        "seq2seq_attention": {
            **trained.figures["seq2seq_attention"],
            **score_samples(texts["seq2seq_attention"], training_text, vocabulary, keywords),
        },
        "vae": {**trained.figures["vae"], **score_samples(texts["vae"], training_text, vocabulary)},
        "gan": {**trained.figures["gan"], **score_samples(texts["gan"], training_text, vocabulary)},
        "smollm2_few_shot": score_samples(texts["pretrained_lm"], training_text, vocabulary, keywords),
    }
    seconds = {
        LEGACY_NAMES.get(name, name): round(trained.seconds.get(name, 0.0) + sample_seconds[name], 1)
        for name in ("seq2seq_attention", "vae", "gan", "pretrained_lm")
    }
    return {
        "data": {
            "pairs": len(pairs),
            "train": len(train),
            "held_out": len(test),
            "domains": {
                d: sum(p.domain == d for p in pairs) for d in sorted(set(data_module.DOMAINS.values()))
            },
        },
        "settings": asdict(s),
        "generators": generators,
        "reference_held_out_headlines": score_samples(
            [p.headline for p in asks], training_text, vocabulary, keywords
        ),
        "seconds": seconds,
        "training_seconds": trained.seconds,
        "sampling_seconds": sample_seconds,
        "examples": {LEGACY_NAMES.get(name, name): rows[:10] for name, rows in texts.items()},
    }


def _log(message: str) -> None:
    print(message, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a few epochs and steps: a smoke test")
    args = parser.parse_args()
    started = time.perf_counter()
    report = run(Settings.quick() if args.quick else Settings(), _log)
    out = OUT_DIR / "generation"
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    summary = {k: report[k] for k in ("families", "serving") if k in report}
    summary["ctr_generated_vs_human"] = report.get("ctr_generated_vs_human", {}).get("families")
    print(json.dumps(summary, indent=1)[:6000])
    print(f"{time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
