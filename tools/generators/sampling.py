"""The lines each family writes for the comparison, cached under build/generators/samples-<key>/ (the
pretrained LM's 150 answers take minutes): keyed by the trained models' key, this module, the sampling
settings and the served LM's version.

Every sample keeps the business line (domain) it was written for; the GAN's are written for none (it is
conditioned on noise only).
"""

from __future__ import annotations

import hashlib
import json
import random
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from generators.data import Pair
from generators.models import CharVocab
from generators.settings import MAX_LEN, SAMPLING_FIELDS, Settings, subset
from generators.training import Trained
from infra.paths import BUILD_DIR, MODELS_BUILD_DIR

HERE = Path(__file__).parent
VAE_LEADERS = 30  # held-out headlines standing in for a line's best performers
VAE_NOISE_SD = 0.5
SYSTEM = "You write short headlines. Reply with the headline only."


@dataclass(frozen=True)
class Sample:
    text: str
    domain: str | None  # the business line asked for; None when the generator takes no condition


def lm_directory() -> Path:
    """The served generator artifact (the newest version `make models` built)."""
    directories = sorted((MODELS_BUILD_DIR / "generator").glob("*"))
    if not directories:
        raise RuntimeError("no generator artifact under build/models/generator (run `make models`)")
    return directories[-1]


def lm_messages(shown: list[str], keywords: tuple[str, ...]) -> list[dict[str, str]]:
    """Three headlines of the same domain as earlier answers, then the ask with the pair's keywords: how
    generate_copy prompts the model (demonstrated turns)."""
    from creative.generation.prompts import ASK

    messages = [{"role": "system", "content": SYSTEM}]
    for text in shown:
        messages += [{"role": "user", "content": ASK}, {"role": "assistant", "content": text}]
    words = ", ".join(keywords)
    messages.append({"role": "user", "content": f"{ASK} Use the words: {words}." if words else ASK})
    return messages


def lm_prompts(train: list[Pair], asks: list[Pair], seed: int) -> list[list[dict[str, str]]]:
    rng = random.Random(seed)
    by_domain: dict[str, list[str]] = {}
    for p in train:
        by_domain.setdefault(p.domain, []).append(p.headline)
    return [lm_messages(rng.sample(by_domain[pair.domain], 3), pair.keywords) for pair in asks]


LM_OPTIONS = {"max_tokens": 24, "top_p": 0.95, "repetition_penalty": 1.1, "stop": ("\n",)}


def lm_samples(train: list[Pair], asks: list[Pair], s: Settings) -> list[str]:
    from creative.inference.generator import Generator

    model = Generator.load(lm_directory(), threads=2)
    out = []
    for i, messages in enumerate(lm_prompts(train, asks, s.seed)):
        result = model.generate(messages, temperature=s.lm_temperature, seed=i, **LM_OPTIONS)
        out.append(result.text.strip().strip('"'))
    return out


def sampling_key(s: Settings, trained: Trained) -> str:
    digest = hashlib.sha256(json.dumps(subset(s, SAMPLING_FIELDS), sort_keys=True).encode())
    digest.update(trained.key.encode())
    digest.update(lm_directory().name.encode())
    digest.update((HERE / "sampling.py").read_bytes())
    return digest.hexdigest()[:16]


def vae_leaders(asks: list[Pair]) -> list[Pair]:
    return asks[:VAE_LEADERS]


def draw_samples(
    trained: Trained, train: list[Pair], asks: list[Pair], vocab: CharVocab, s: Settings, log
) -> tuple[dict[str, list[Sample]], dict[str, float]]:
    """Every family's samples for the same asks, from the cache when its key matches."""
    key = sampling_key(s, trained)
    cache = BUILD_DIR / "generators" / f"samples-{key}"
    if (cache / "samples.json").is_file():
        log(f"samples cached: {cache}")
        record = json.loads((cache / "samples.json").read_text())
        samples = {name: [Sample(**row) for row in rows] for name, rows in record["samples"].items()}
        return samples, record["seconds"]
    gen = torch.Generator().manual_seed(s.seed)
    samples: dict[str, list[Sample]] = {}
    seconds = {}
    started = time.perf_counter()
    src = vocab.batch([p.source_text for p in asks], MAX_LEN)
    texts = [vocab.decode(ids) for ids in trained.seq2seq.sample(src, MAX_LEN, s.temperature, gen)]
    samples["seq2seq_attention"] = [Sample(t, p.domain) for t, p in zip(texts, asks, strict=True)]
    seconds["seq2seq_attention"] = time.perf_counter() - started

    # "Around the best performers' codes": held-out headlines stand in for a line's winners; each one's
    # posterior mean plus Gaussian noise is decoded samples // VAE_LEADERS times.
    started = time.perf_counter()
    leaders = vae_leaders(asks)
    with torch.no_grad():
        mu, _ = trained.vae.encode(vocab.batch([p.headline for p in leaders], MAX_LEN))
    repeats = s.samples // len(leaders)
    z = mu.repeat_interleave(repeats, 0)
    z = z + VAE_NOISE_SD * torch.randn(z.shape, generator=gen)
    texts = [vocab.decode(ids) for ids in trained.vae.sample(z, MAX_LEN, s.temperature, gen)]
    samples["vae"] = [Sample(t, leaders[i // repeats].domain) for i, t in enumerate(texts)]
    seconds["vae"] = time.perf_counter() - started

    started = time.perf_counter()
    noise = torch.randn(s.samples, trained.gan.noise, generator=gen)
    texts = [vocab.decode(ids) for ids in trained.gan.sample(noise, MAX_LEN, s.temperature, gen)]
    samples["gan"] = [Sample(t, None) for t in texts]
    seconds["gan"] = time.perf_counter() - started

    started = time.perf_counter()
    texts = lm_samples(train, asks, s)
    samples["pretrained_lm"] = [Sample(t, p.domain) for t, p in zip(texts, asks, strict=True)]
    seconds["pretrained_lm"] = time.perf_counter() - started
    log(f"sampled: { {k: round(v, 1) for k, v in seconds.items()} } s")

    seconds = {k: round(v, 1) for k, v in seconds.items()}
    cache.mkdir(parents=True, exist_ok=True)
    record = {"samples": {k: [asdict(x) for x in v] for k, v in samples.items()}, "seconds": seconds}
    (cache / "samples.json").write_text(json.dumps(record, indent=1) + "\n")
    return samples, seconds
