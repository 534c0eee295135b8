"""The few-shot prompt: the line's best-performing headlines (what wins teaches what to write next), the
category and the tags they carry, as a chat where each example is an earlier answer of the model's own.

A 135M-parameter model follows demonstrated turns far better than a described task: asked in one message
("here are headlines that worked, write one more") SmolLM2 mostly wrote sentences about headlines; shown
three turns of "write one" → a headline, its next turn is a headline too.
"""

from __future__ import annotations

from collections.abc import Sequence

ASK = "Write one short ad headline."


def few_shot_prompt(
    category: str, examples: Sequence[str], tag_names: Sequence[str], variant: int = 0
) -> list[dict[str, str]]:
    """Chat messages asking for one new headline in the style of `examples` (best first). `variant`
    rotates the examples, so successive candidates do not all imitate the same leader."""
    shown = list(examples)[:5]
    if shown:
        k = variant % len(shown)
        shown = shown[k:] + shown[:k]
    about = f" about {', '.join(tag_names[:4])}" if tag_names else ""
    system = (
        f"You write short display-ad headlines for {category.replace('_', ' ')}{about}. "
        "Reply with the headline only: under 60 characters, no quotes, no hashtags."
    )
    messages = [{"role": "system", "content": system}]
    for text in reversed(shown):  # the best example last, nearest the model's own turn
        messages += [{"role": "user", "content": ASK}, {"role": "assistant", "content": text}]
    return [*messages, {"role": "user", "content": ASK}]
