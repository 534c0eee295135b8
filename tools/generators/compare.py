"""`python -m generators.compare` (in the models venv; `make evaluate` runs it): trains the three in-house
generators on the same real headlines and compares all four families, the pretrained small LM included, on
the same held-out pairs. Cached by its inputs (code, settings, data) under build/generators/<key>/; writes
out/generation/report.json (and the samples beside it).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import re
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch.nn import functional as F

from generators import data as data_module
from generators.data import Pair, load_pairs, split
from generators.metrics import score_samples
from generators.models import EOS, PAD, CharVocab, GanDiscriminator, GanGenerator, Seq2Seq, TextVAE
from infra.paths import BUILD_DIR, MODELS_BUILD_DIR, OUT_DIR

HERE = Path(__file__).parent
MAX_LEN = 52  # characters with the start and end marks: headlines are at most 50 here


@dataclass(frozen=True)
class Settings:
    seed: int = 0
    batch: int = 128
    seq2seq_epochs: int = 10
    vae_epochs: int = 12
    vae_kl_anneal_epochs: int = 6
    vae_word_dropout: float = 0.25
    gan_pretrain_epochs: int = 4
    gan_steps: int = 300
    gan_mle_weight: float = 0.2
    samples: int = 150
    temperature: float = 0.8
    lm_temperature: float = 0.9


def _batches(items, size, rng):
    items = list(items)
    rng.shuffle(items)
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _ce(logits, target):
    return F.cross_entropy(
        logits.reshape(-1, logits.size(-1)), target.reshape(-1), ignore_index=PAD, reduction="sum"
    )


def _step(opt, loss, clipped=None) -> None:
    """One optimiser step on `loss`, its gradients clipped to norm 1 for `clipped`'s parameters if given."""
    opt.zero_grad()
    loss.backward()
    if clipped is not None:
        torch.nn.utils.clip_grad_norm_(clipped.parameters(), 1.0)
    opt.step()


def train_seq2seq(train, test, vocab, s: Settings, log):
    model = Seq2Seq(len(vocab))
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    rng = random.Random(s.seed)
    for epoch in range(s.seq2seq_epochs):
        model.train()
        for chunk in _batches(train, s.batch, rng):
            src, tgt = (
                vocab.batch([p.source_text for p in chunk], MAX_LEN),
                vocab.batch([p.headline for p in chunk], MAX_LEN),
            )
            loss = _ce(model(src, tgt), tgt[:, 1:]) / (tgt[:, 1:] != PAD).sum()
            _step(opt, loss, model)
        log(f"seq2seq epoch {epoch + 1}: held-out {heldout_seq2seq(model, test, vocab):.3f} nats/char")
    return model


@torch.no_grad()
def heldout_seq2seq(model, test, vocab) -> float:
    model.eval()
    total, chars = 0.0, 0
    for i in range(0, len(test), 128):
        chunk = test[i : i + 128]
        src, tgt = (
            vocab.batch([p.source_text for p in chunk], MAX_LEN),
            vocab.batch([p.headline for p in chunk], MAX_LEN),
        )
        total += float(_ce(model(src, tgt), tgt[:, 1:]))
        chars += int((tgt[:, 1:] != PAD).sum())
    return total / chars


def train_vae(train, test, vocab, s: Settings, log):
    model = TextVAE(len(vocab))
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    rng = random.Random(s.seed)
    for epoch in range(s.vae_epochs):
        model.train()
        beta = min(1.0, epoch / s.vae_kl_anneal_epochs)
        for chunk in _batches(train, s.batch, rng):
            x = vocab.batch([p.headline for p in chunk], MAX_LEN)
            logits, kl = model(x, s.vae_word_dropout)
            loss = (_ce(logits, x[:, 1:]) + beta * kl.sum()) / (x[:, 1:] != PAD).sum()
            _step(opt, loss, model)
        bound, kl = heldout_vae(model, test, vocab)
        log(f"vae epoch {epoch + 1}: held-out bound {bound:.3f} nats/char (KL {kl:.2f} nats/line)")
    return model


@torch.no_grad()
def heldout_vae(model, test, vocab) -> tuple[float, float]:
    """The negative ELBO per character (an upper bound on the NLL) with the posterior mean's sample, and the
    mean KL per line (0 would mean the decoder ignores the latent)."""
    model.eval()
    total, chars, kls = 0.0, 0, 0.0
    for i in range(0, len(test), 128):
        x = vocab.batch([p.headline for p in test[i : i + 128]], MAX_LEN)
        logits, kl = model(x)
        total += float(_ce(logits, x[:, 1:]) + kl.sum())
        kls += float(kl.sum())
        chars += int((x[:, 1:] != PAD).sum())
    return total / chars, kls / len(test)


def _mask_after_eos(onehots: torch.Tensor) -> torch.Tensor:
    """Positions after a sequence's first end token become padding, as in real sequences."""
    ended = torch.cumsum(onehots[..., EOS], dim=1) - onehots[..., EOS] > 0
    pad = F.one_hot(torch.full(ended.shape, PAD), onehots.size(-1)).float()
    return torch.where(ended.unsqueeze(-1), pad, onehots)


def train_gan(train, vocab, s: Settings, log) -> tuple[GanGenerator, list[dict]]:
    gen, disc = GanGenerator(len(vocab)), GanDiscriminator(len(vocab))
    g_opt, d_opt = torch.optim.Adam(gen.parameters(), lr=1e-3), torch.optim.Adam(disc.parameters(), lr=2e-4)
    rng = random.Random(s.seed)
    for epoch in range(s.gan_pretrain_epochs):  # maximum likelihood first, as SeqGAN and most text GANs do
        for chunk in _batches(train, s.batch, rng):
            x = vocab.batch([p.headline for p in chunk], MAX_LEN)
            loss = (
                _ce(gen.teacher_forced(x, torch.randn(len(chunk), gen.noise)), x[:, 1:])
                / (x[:, 1:] != PAD).sum()
            )
            _step(g_opt, loss)
        log(f"gan pretraining epoch {epoch + 1}: {float(loss):.3f} nats/char")
    curve = []
    headlines = [p.headline for p in train]
    for step in range(s.gan_steps):
        tau = max(0.3, 1.0 - step / s.gan_steps)
        real_x = vocab.batch(rng.sample(headlines, s.batch), MAX_LEN)[:, 1:]
        real = F.one_hot(real_x, len(vocab)).float()
        fake = _mask_after_eos(gen.soft_sequence(torch.randn(s.batch, gen.noise), real.size(1), tau))
        d_loss = F.binary_cross_entropy_with_logits(
            disc(real), torch.ones(s.batch)
        ) + F.binary_cross_entropy_with_logits(disc(fake.detach()), torch.zeros(s.batch))
        _step(d_opt, d_loss)
        g_adv = F.binary_cross_entropy_with_logits(disc(fake), torch.ones(s.batch))
        x = vocab.batch(rng.sample(headlines, s.batch), MAX_LEN)
        g_mle = (
            _ce(gen.teacher_forced(x, torch.randn(s.batch, gen.noise)), x[:, 1:]) / (x[:, 1:] != PAD).sum()
        )
        g_loss = g_adv + s.gan_mle_weight * g_mle
        _step(g_opt, g_loss)
        if (step + 1) % 100 == 0:
            row = {
                "step": step + 1,
                "d_loss": round(float(d_loss), 4),
                "g_adv": round(float(g_adv), 4),
                "g_mle": round(float(g_mle), 4),
            }
            curve.append(row)
            log(f"gan {row}")
    return gen, curve


def lm_samples(train: list[Pair], asks: list[Pair], s: Settings) -> list[str]:
    """The pretrained small LM, prompted as the generate_copy function prompts it (three headlines of the
    same domain as earlier answers) and asked for one using the pair's keywords."""
    from creative.generation.prompts import ASK
    from creative.inference.generator import Generator

    directories = sorted((MODELS_BUILD_DIR / "generator").glob("*"))
    model = Generator.load(directories[-1], threads=2)
    rng = random.Random(s.seed)
    by_domain: dict[str, list[str]] = {}
    for p in train:
        by_domain.setdefault(p.domain, []).append(p.headline)
    out = []
    for i, pair in enumerate(asks):
        shown = rng.sample(by_domain[pair.domain], 3)
        messages = [{"role": "system", "content": "You write short headlines. Reply with the headline only."}]
        for text in shown:
            messages += [{"role": "user", "content": ASK}, {"role": "assistant", "content": text}]
        words = ", ".join(pair.keywords)
        messages.append({"role": "user", "content": f"{ASK} Use the words: {words}." if words else ASK})
        result = model.generate(
            messages,
            max_tokens=24,
            temperature=s.lm_temperature,
            top_p=0.95,
            repetition_penalty=1.1,
            stop=("\n",),
            seed=i,
        )
        out.append(result.text.strip().strip('"'))
    return out


def _cache_key(s: Settings, pairs: list[Pair]) -> str:
    digest = hashlib.sha256(json.dumps(asdict(s), sort_keys=True).encode())
    for module in ("models.py", "compare.py", "data.py", "metrics.py"):
        digest.update((HERE / module).read_bytes())
    for p in pairs:
        digest.update(f"{p.domain}|{' '.join(p.keywords)}|{p.headline}\n".encode())
    return digest.hexdigest()[:16]


def run(s: Settings, log=print) -> dict:
    torch.manual_seed(s.seed)
    torch.set_num_threads(1)  # small models: a second thread mostly adds contention
    pairs = load_pairs(s.seed)
    train, test = split(pairs)
    key = _cache_key(s, pairs)
    cache = BUILD_DIR / "generators" / key
    if (cache / "report.json").is_file():
        log(f"cached: {cache}")
        return json.loads((cache / "report.json").read_text())
    cache.mkdir(parents=True, exist_ok=True)
    vocab = CharVocab([p.headline for p in pairs] + [p.source_text for p in pairs])
    vocabulary = {w for p in pairs for w in re.findall(r"[a-z]+", p.headline.lower())}
    training_text = [p.headline for p in train]
    rng = random.Random(s.seed + 1)
    asks = rng.sample(test, s.samples)
    gen = torch.Generator().manual_seed(s.seed)
    report: dict = {
        "data": {
            "pairs": len(pairs),
            "train": len(train),
            "held_out": len(test),
            "domains": {
                d: sum(p.domain == d for p in pairs) for d in sorted(set(data_module.DOMAINS.values()))
            },
        },
        "settings": asdict(s),
        "generators": {},
    }
    samples: dict[str, list[str]] = {}
    timings = {}

    started = time.perf_counter()
    seq2seq = train_seq2seq(train, test, vocab, s, log)
    src = vocab.batch([p.source_text for p in asks], MAX_LEN)
    samples["seq2seq_attention"] = [
        vocab.decode(ids) for ids in seq2seq.sample(src, MAX_LEN, s.temperature, gen)
    ]
    timings["seq2seq_attention"] = time.perf_counter() - started
    report["generators"]["seq2seq_attention"] = {
        "held_out_nats_per_char": round(heldout_seq2seq(seq2seq, test, vocab), 4),
        **score_samples(samples["seq2seq_attention"], training_text, vocabulary, [p.keywords for p in asks]),
    }

    started = time.perf_counter()
    vae = train_vae(train, test, vocab, s, log)
    bound, kl = heldout_vae(vae, test, vocab)
    # "Around the best performers' codes": 30 held-out headlines stand in for a line's winners; each one's
    # posterior mean plus Gaussian noise (sd 0.5) is decoded five times.
    leaders = vocab.batch([p.headline for p in asks[:30]], MAX_LEN)
    with torch.no_grad():
        mu, _ = vae.encode(leaders)
    z = mu.repeat_interleave(s.samples // 30, 0)
    z = z + 0.5 * torch.randn(z.shape, generator=gen)
    samples["vae"] = [vocab.decode(ids) for ids in vae.sample(z, MAX_LEN, s.temperature, gen)]
    timings["vae"] = time.perf_counter() - started
    report["generators"]["vae"] = {
        "held_out_bound_nats_per_char": round(bound, 4),
        "held_out_kl_nats_per_line": round(kl, 3),
        **score_samples(samples["vae"], training_text, vocabulary),
    }

    started = time.perf_counter()
    gan, curve = train_gan(train, vocab, s, log)
    noise = torch.randn(s.samples, gan.noise, generator=gen)
    samples["gan"] = [vocab.decode(ids) for ids in gan.sample(noise, MAX_LEN, s.temperature, gen)]
    timings["gan"] = time.perf_counter() - started
    report["generators"]["gan"] = {
        "adversarial_curve": curve,
        **score_samples(samples["gan"], training_text, vocabulary),
    }

    started = time.perf_counter()
    samples["smollm2_few_shot"] = lm_samples(train, asks, s)
    timings["smollm2_few_shot"] = time.perf_counter() - started
    report["generators"]["smollm2_few_shot"] = score_samples(
        samples["smollm2_few_shot"], training_text, vocabulary, [p.keywords for p in asks]
    )
    report["reference_held_out_headlines"] = score_samples(
        [p.headline for p in asks], training_text, vocabulary, [p.keywords for p in asks]
    )
    report["seconds"] = {k: round(v, 1) for k, v in timings.items()}
    report["examples"] = {name: texts[:10] for name, texts in samples.items()}
    (cache / "samples.json").write_text(json.dumps(samples, indent=1) + "\n")
    (cache / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    torch.save(seq2seq.state_dict(), cache / "seq2seq.pt")
    torch.save(vae.state_dict(), cache / "vae.pt")
    torch.save(gan.state_dict(), cache / "gan.pt")
    return report


def _log(message: str) -> None:
    print(message, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a few epochs and steps: a smoke test")
    args = parser.parse_args()
    s = (
        Settings(
            seq2seq_epochs=1,
            vae_epochs=1,
            vae_kl_anneal_epochs=1,
            gan_pretrain_epochs=1,
            gan_steps=100,
            samples=30,
        )
        if args.quick
        else Settings()
    )
    report = run(s, _log)
    out = OUT_DIR / "generation"
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps({k: v for k, v in report.items() if k != "examples"}, indent=1)[:4000])


if __name__ == "__main__":
    main()
