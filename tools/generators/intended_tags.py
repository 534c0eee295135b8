"""Whether each family's samples tag into the tags they were meant to carry, tagged as the tagging Lambda tags
copy: the served `tagger` heads and IAB zero-shot on the int8 MiniLM (`creative.tagging.taggers.Taggers`,
loaded from the artifacts `make models` built and the manifest names).

What a sample was meant to carry is the tags of the line it was asked to imitate (`INTENDED` says which line,
per family). The human held-out headlines are asked for nothing; their own tags would score 1 by
construction, so they are scored against another held-out headline of the same business line: the share
that knowing the business line alone gives, the floor a generator following its ask should clear.
"""

from __future__ import annotations

import time
from pathlib import Path

from generators.data import Pair
from generators.metrics import intended_tag_share, most_common_tags, same_line_partners
from generators.sampling import Sample, vae_leaders
from infra.paths import MODELS_BUILD_DIR

SERVED_ARTIFACTS = ("tagger", "text-encoder-int8", "image-model")  # Taggers loads all three; copy uses two
COMMON_TAGS = 5  # the training headlines' most common tags: the only tag figure an unconditional GAN has
INTENDED = {
    "pretrained_lm": "the held-out headline of the pair it was asked for (the prompt gives that pair's "
    "keywords after three training headlines of its business line)",
    "seq2seq_attention": "the held-out headline of the pair it was asked for (its input is that pair's "
    "business line and keywords)",
    "vae": "the held-out leader whose posterior mean it was decoded around",
    "gan": "none: it is conditioned on noise only, so its intended_tag_share is null (see common_tag_share)",
}
HUMAN_INTENDED = (
    "another held-out headline of the same business line (a seeded rotation within each line): what "
    "knowing only the business line gives; a line's own tags would score 1 by construction"
)


def served_artifact_dirs() -> list[Path]:
    from creative.inference.artifacts import Manifest

    manifest = Manifest.read(MODELS_BUILD_DIR / "manifest.json")
    return [MODELS_BUILD_DIR / manifest.get(name).prefix for name in SERVED_ARTIFACTS]


def tagger_key() -> str:
    """The served artifacts' versions: a new tagger re-measures the report."""
    return "|".join(directory.name for directory in served_artifact_dirs())


def intended_lines(
    samples: dict[str, list[Sample]], asks: list[Pair], human: str, seed: int
) -> dict[str, list[str | None]]:
    """Per family (and the human reference, named `human`), each sample's line to imitate, None for none."""
    leaders = vae_leaders(asks)
    repeats = len(samples["vae"]) // len(leaders)  # as sampling decodes each leader's code `repeats` times
    vae = [leaders[i // repeats] for i in range(len(samples["vae"]))]
    if [p.domain for p in vae] != [x.domain for x in samples["vae"]]:
        raise RuntimeError("the VAE's samples are not in the order of their leaders (sampling changed?)")
    partners = same_line_partners([p.domain for p in asks], seed)
    return {
        "pretrained_lm": [p.headline for p in asks],
        "seq2seq_attention": [p.headline for p in asks],
        "vae": [p.headline for p in vae],
        "gan": [None] * len(samples["gan"]),
        human: [None if j is None else asks[j].headline for j in partners],
    }


def tag_figures(
    texts: dict[str, list[str]], intended: dict[str, list[str | None]], training: list[str], human: str, log
) -> tuple[dict[str, dict], dict]:
    """Per group of lines: the share tagged at all, the share carrying an intended tag and the share carrying
    one of the training headlines' COMMON_TAGS most common tags; and the report's `intended_tags` section."""
    from creative.tagging.taggers import Taggers

    started = time.perf_counter()
    taggers = Taggers(*served_artifact_dirs(), max_pixels=40_000_000)
    wanted = {line for group in intended.values() for line in group if line}
    lines = list(dict.fromkeys([*training, *wanted, *(t for group in texts.values() for t in group if t)]))
    tagged = {"": set()} | {
        line: {tag.tag for tag in result.tags}
        for line, result in zip(lines, taggers.tag_copy(lines), strict=True)
    }
    common = most_common_tags([tagged[line] for line in training], COMMON_TAGS)
    figures = {}
    for name, group in texts.items():
        tags = [tagged[t] for t in group]
        figures[name] = {
            "tagged_share": round(sum(bool(t) for t in tags) / len(tags), 4) if tags else 0.0,
            **intended_tag_share(tags, [tagged[line] if line else set() for line in intended[name]]),
            "common_tag_share": intended_tag_share(tags, [common] * len(tags))["intended_tag_share"],
        }
    log(f"tagging ({len(lines)} lines): {time.perf_counter() - started:.0f} s")
    names = taggers.names()
    section = {
        "tagger": taggers.source,
        "text_encoder": served_artifact_dirs()[1].name,
        "training_common_tags": {tag: names[tag] for tag in common},
        "training_tagged_share": round(sum(bool(tagged[line]) for line in training) / len(training), 4),
        "intended_line": INTENDED | {human: HUMAN_INTENDED},
    }
    return figures, section
