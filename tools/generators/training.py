"""Training the three in-house generators (torch, CPU, one thread), cached under
build/generators/train-<key>/ by what training reads: this module, the models, the data and the training
settings. Measurement code can change freely without retraining (about seven minutes here).

The global torch RNG is consumed in a fixed order (seq2seq, VAE, the VAE's held-out bound, GAN), so a run
from scratch reproduces the cached weights.
"""

from __future__ import annotations

import hashlib
import json
import random
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from torch.nn import functional as F

from generators.data import Pair
from generators.models import EOS, PAD, CharVocab, GanDiscriminator, GanGenerator, Seq2Seq, TextVAE
from generators.settings import MAX_LEN, TRAINING_FIELDS, Settings, subset
from infra.paths import BUILD_DIR

HERE = Path(__file__).parent
WEIGHT_FILES = {"seq2seq_attention": "seq2seq.pt", "vae": "vae.pt", "gan": "gan.pt"}


@dataclass
class Trained:
    seq2seq: Seq2Seq
    vae: TextVAE
    gan: GanGenerator
    figures: dict  # held-out figures and the GAN's adversarial curve
    seconds: dict[str, float]  # training time per model (as measured when the cache was filled)
    key: str


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


def training_key(s: Settings, pairs: list[Pair]) -> str:
    digest = hashlib.sha256(json.dumps(subset(s, TRAINING_FIELDS), sort_keys=True).encode())
    for module in ("models.py", "training.py", "data.py"):
        digest.update((HERE / module).read_bytes())
    for p in pairs:
        digest.update(f"{p.domain}|{' '.join(p.keywords)}|{p.headline}\n".encode())
    return digest.hexdigest()[:16]


def load_or_train(s: Settings, pairs: list[Pair], train: list[Pair], test: list[Pair], vocab: CharVocab, log):
    """The three trained models, from build/generators/train-<key>/ when it holds them, else trained now."""
    key = training_key(s, pairs)
    cache = BUILD_DIR / "generators" / f"train-{key}"
    models = Seq2Seq(len(vocab)), TextVAE(len(vocab)), GanGenerator(len(vocab))
    if (cache / "training.json").is_file():
        log(f"trained models cached: {cache}")
        for model, name in zip(models, WEIGHT_FILES.values(), strict=True):
            model.load_state_dict(torch.load(cache / name, weights_only=True))
            model.eval()
        record = json.loads((cache / "training.json").read_text())
        return Trained(*models, figures=record["figures"], seconds=record["seconds"], key=key)
    torch.manual_seed(s.seed)
    seconds = {}
    started = time.perf_counter()
    seq2seq = train_seq2seq(train, test, vocab, s, log)
    seconds["seq2seq_attention"] = time.perf_counter() - started
    started = time.perf_counter()
    vae = train_vae(train, test, vocab, s, log)
    bound, kl = heldout_vae(vae, test, vocab)
    seconds["vae"] = time.perf_counter() - started
    started = time.perf_counter()
    gan, curve = train_gan(train, vocab, s, log)
    seconds["gan"] = time.perf_counter() - started
    for model in (seq2seq, vae, gan):
        model.eval()
    figures = {
        "seq2seq_attention": {"held_out_nats_per_char": round(heldout_seq2seq(seq2seq, test, vocab), 4)},
        "vae": {"held_out_bound_nats_per_char": round(bound, 4), "held_out_kl_nats_per_line": round(kl, 3)},
        "gan": {"adversarial_curve": curve},
    }
    seconds = {k: round(v, 1) for k, v in seconds.items()}
    cache.mkdir(parents=True, exist_ok=True)
    for model, name in zip((seq2seq, vae, gan), WEIGHT_FILES.values(), strict=True):
        torch.save(model.state_dict(), cache / name)
    (cache / "training.json").write_text(
        json.dumps({"figures": figures, "seconds": seconds}, indent=1) + "\n"
    )
    return Trained(seq2seq, vae, gan, figures=figures, seconds=seconds, key=key)
