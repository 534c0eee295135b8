"""The comparison's settings: one record in the report, split by the stage each field feeds, so that changing
how samples are drawn or measured never retrains the models (each stage is cached by its own fields)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

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
    # Serving measurements (one core): generations timed per family, and the click simulator's size.
    timed_generations: int = 20
    racer_runs: int = 20
    racer_pool: int = 20  # lines per side (human, generated) in each simulated race
    racer_impressions: int = 20_000

    @classmethod
    def quick(cls) -> Settings:
        """A smoke run: a few epochs and steps, few samples, short races."""
        return cls(
            seq2seq_epochs=1,
            vae_epochs=1,
            vae_kl_anneal_epochs=1,
            gan_pretrain_epochs=1,
            gan_steps=100,
            samples=30,
            timed_generations=5,
            racer_runs=3,
            racer_pool=10,
            racer_impressions=4_000,
        )


TRAINING_FIELDS = (
    "seed",
    "batch",
    "seq2seq_epochs",
    "vae_epochs",
    "vae_kl_anneal_epochs",
    "vae_word_dropout",
    "gan_pretrain_epochs",
    "gan_steps",
    "gan_mle_weight",
)
SAMPLING_FIELDS = ("seed", "samples", "temperature", "lm_temperature")


def subset(s: Settings, names: tuple[str, ...]) -> dict:
    known = {f.name for f in fields(s)}
    missing = set(names) - known
    if missing:
        raise ValueError(f"unknown settings {sorted(missing)}")
    return {name: value for name, value in asdict(s).items() if name in names}
