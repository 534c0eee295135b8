"""The onnxruntime-genai SmolLM2 generator against transformers' greedy tokens, computed at build time.

int8 weights cannot reproduce a float model's choice where the float model itself hesitates: the reference
records transformers' best five tokens and their logits at each step, and at a step where the ONNX model
differs, its token must be one transformers scored within NEAR_TIE logits of its own choice. Everywhere else
the tokens must be equal (the builder's default block size of 32 fails this: it flips choices that
transformers made by 0.25 and 0.5 logits).
"""

import json

import numpy as np
import onnxruntime_genai as og
import pytest
from creative.inference.generator import NO_LOOP_GUARD, Generator, LoopGuard

from tests.models.conftest import artifact_dir

# In logits. Measured on these prompts: this build picks a different token only where transformers' own
# choice won by 0.06, 0.12 and, on a CPU without AVX-512 (AMD EPYC, AVX2 kernels), 0.25 (the headline chat's
# third token, "Uncharted" for "Unleavened"); block size 32 also flips a choice won by 0.50, which must fail.
NEAR_TIE = 0.3
# The decoding mechanics (length, end of turn, stop strings) are checked against this build's own greedy
# answer, not transformers': which of two near-tied tokens int8 picks depends on the CPU's kernels, and that
# is what the tests above judge. Chat 2's greedy answer ends with end-of-turn within 64 tokens.
MECHANICS_CHAT = 2
EXPECTED_STEPS = 16
CASES = range(4)


@pytest.fixture(scope="module")
def generator_dir(manifest):
    try:
        return artifact_dir(manifest.get("generator"))
    except KeyError:
        pytest.skip("the generator artifact is absent: run `make models` to build it")


@pytest.fixture(scope="module")
def generator(generator_dir) -> Generator:
    return Generator.load(generator_dir, threads=1)


@pytest.fixture(scope="module")
def reference(generator_dir) -> dict:
    return json.loads((generator_dir / "reference.json").read_text())


def allowed_at(case: dict, step: int, token: int) -> bool:
    """transformers' token, or one transformers itself scored within NEAR_TIE logits of it at that step."""
    if token == case["tokens"][step]:
        return True
    candidates = dict(zip(case["top_tokens"][step], case["top_logits"][step], strict=True))
    return token in candidates and candidates[token] > case["top_logits"][step][0] - NEAR_TIE


def test_reference_covers_16_steps_of_four_chats(reference):
    # Given the stored transformers reference
    cases = reference["cases"]

    # Then it holds four chats, each 16 greedy steps (or fewer ending in end-of-turn) with their margins
    assert len(cases) == 4
    for case in cases:
        assert len(case["tokens"]) == len(case["top_tokens"]) == len(case["top_logits"])
        assert [top[0] for top in case["top_tokens"]] == case["tokens"]
        assert len(case["tokens"]) == EXPECTED_STEPS or case["tokens"][-1] == 2


@pytest.mark.parametrize("index", CASES)
def test_chat_template_and_tokenizer_match_transformers(generator, reference, index):
    # Given a chat and the prompt ids transformers built from it with its chat template
    case = reference["cases"][index]

    # When the serving tokenizer applies the model's chat template
    prompt_ids = generator.prompt_ids(case["messages"])

    # Then the ids are identical
    assert prompt_ids == case["prompt_ids"]


@pytest.mark.parametrize("index", CASES)
def test_first_16_greedy_tokens_match_transformers(generator, reference, index):
    # Given a chat and transformers' first greedy tokens for it
    case = reference["cases"][index]

    # When the ONNX model decodes greedily for as many tokens
    generation = generator.generate(case["messages"], max_tokens=EXPECTED_STEPS, loop_guard=NO_LOOP_GUARD)

    # Then the tokens are equal to the end, or up to a near-tie where it took another of transformers' best
    tokens = generation.token_ids
    diverged_at = next(
        (i for i, (a, b) in enumerate(zip(tokens, case["tokens"], strict=False)) if a != b), None
    )
    if diverged_at is None:
        assert tokens == case["tokens"]
    else:
        assert allowed_at(case, diverged_at, tokens[diverged_at]), (diverged_at, tokens, case["tokens"])


@pytest.mark.parametrize("index", CASES)
def test_every_next_token_matches_transformers_when_fed_its_tokens(generator, reference, index):
    # Given a chat and transformers' greedy continuation
    case = reference["cases"][index]
    params = og.GeneratorParams(generator.model)
    params.set_search_options(max_length=len(case["prompt_ids"]) + EXPECTED_STEPS + 1, do_sample=False)
    decoder = og.Generator(generator.model, params)
    decoder.append_tokens(case["prompt_ids"])

    # When the ONNX model predicts each next token with transformers' tokens fed back (teacher forcing)
    predicted = []
    for token in case["tokens"]:
        predicted.append(int(np.argmax(decoder.get_logits()[0, -1])))
        decoder.append_tokens([token])

    # Then its choice at every step is transformers' choice, or another of transformers' best at a near-tie
    assert all(allowed_at(case, step, token) for step, token in enumerate(predicted)), (
        predicted,
        case["tokens"],
    )


@pytest.fixture(scope="module")
def greedy_answer(generator, reference):
    """The messages of MECHANICS_CHAT and this build's own greedy answer to them, with room to finish."""
    messages = reference["cases"][MECHANICS_CHAT]["messages"]
    return messages, generator.generate(messages, max_tokens=64, loop_guard=NO_LOOP_GUARD)


def test_max_tokens_ends_generation_with_length(generator, greedy_answer):
    # Given a chat whose greedy answer is longer than 5 tokens
    messages, answer = greedy_answer
    assert len(answer.token_ids) > 5

    # When at most 5 tokens are allowed
    generation = generator.generate(messages, max_tokens=5)

    # Then exactly 5 are generated, the greedy answer's first 5, and the reason is the length
    assert generation.finish_reason == "length"
    assert generation.token_ids == answer.token_ids[:5]


def test_end_of_turn_ends_generation_with_stop(generator, greedy_answer):
    # Given a chat whose greedy answer ends with the end-of-turn token (id 2) well before 64 tokens
    messages, answer = greedy_answer
    assert answer.token_ids[-1] == 2 and len(answer.token_ids) < 64

    # When it is generated with room to spare
    generation = generator.generate(messages, max_tokens=64)

    # Then generation stops at end-of-turn, its last token, which is not part of the text
    assert generation.finish_reason == "stop"
    assert generation.token_ids == answer.token_ids and 2 not in generation.token_ids[:-1]
    assert generation.text == generator.decode(generation.token_ids[:-1])
    assert "<|im_end|>" not in generation.text


def test_stop_strings_cut_the_text_at_the_earliest_match(generator, greedy_answer):
    # Given a greedy answer with a ':' and a word after it
    messages, answer = greedy_answer
    colon = answer.text.index(":")
    later_word = answer.text[colon + 1 :].split()[0]

    # When generating with two stop strings, the later one listed first
    generation = generator.generate(messages, max_tokens=64, stop=[later_word, ":"])

    # Then generation stops as soon as ':' appears and the text ends right before it
    assert generation.finish_reason == "stop"
    assert generation.text == answer.text[:colon]
    assert generator.decode(generation.token_ids).startswith(answer.text[: colon + 1])
    assert len(generation.token_ids) < len(answer.token_ids)


def test_same_seed_gives_the_same_sample_and_seeds_vary_it(generator):
    # Given a sampling configuration
    chat = [{"role": "user", "content": "Write a slogan for a bakery."}]
    settings = {"max_tokens": 24, "temperature": 0.9, "top_p": 0.95, "top_k": 50, "repetition_penalty": 1.1}

    # When sampling twice with seed 7 and once with each of four other seeds
    first = generator.generate(chat, seed=7, **settings)
    second = generator.generate(chat, seed=7, **settings)
    others = {tuple(generator.generate(chat, seed=seed, **settings).token_ids) for seed in (1, 2, 3, 4)}

    # Then seed 7 gives the same tokens both times, and the other seeds do not all agree with it
    assert first.token_ids == second.token_ids
    assert first.text == second.text
    assert len(others | {tuple(first.token_ids)}) > 1


def test_loop_guard_stops_a_greedy_answer_that_repeats_itself(generator, reference):
    # Given the coffee-shop chat, whose greedy answer repeats "Daily Grind: A" (transformers' too)
    case = reference["cases"][1]

    # When it is generated with a budget of 64 tokens, with and without the loop guard
    guarded = generator.generate(case["messages"], max_tokens=64)
    unguarded = generator.generate(case["messages"], max_tokens=64, loop_guard=NO_LOOP_GUARD)

    # Then the guard stops it after three repeats of the 5-token block; unguarded it uses all 64 tokens
    assert guarded.finish_reason == "loop"
    assert guarded.token_ids == case["tokens"][:16]
    assert LoopGuard().loop_period(guarded.token_ids) == 5
    assert unguarded.finish_reason == "length"
    assert len(unguarded.token_ids) == 64
    assert unguarded.token_ids[:16] == guarded.token_ids


@pytest.mark.parametrize(
    ("tokens", "period"),
    [
        ([5, 6, 7] * 3, None),  # 3 repeats cover only 9 tokens: under the 12-token span
        ([5, 6, 7] * 4, 3),
        ([9, 1, 5, 6, 7, 8, 5, 6, 7, 8, 5, 6, 7, 8], 4),  # a loop after an ordinary start
        ([4] * 11, None),  # short runs of one token ("!!!") are not loops
        ([4] * 12, 1),
        (list(range(40)), None),
        ([1, 2, 3, 1, 2, 3, 1, 2, 4] * 2, None),  # near-repeats are not loops
    ],
)
def test_loop_guard_recognises_a_repeated_tail(tokens, period):
    # Given a token sequence
    # When the default guard inspects it
    found = LoopGuard().loop_period(tokens)

    # Then it finds the repeated block, if there is one
    assert found == period


def test_the_copywriter_answers_one_line_of_copy_reproducibly_per_seed(generator_dir):
    from creative.generation.candidates import clean
    from creative.generation.prompts import few_shot_prompt
    from creative.generation.smollm import SmolLMCopyWriter

    writer = SmolLMCopyWriter.load(generator_dir)
    prompt = few_shot_prompt("coffee", ["Fresh roast every morning", "Your cup, your way"], ["Food & Drink"])
    first, again = writer.write(prompt, seed=7), writer.write(prompt, seed=7)
    other = writer.write(prompt, seed=8)
    assert first == again and "\n" not in first
    assert writer.version == generator_dir.name
    # Two seeds sample two answers, and at least one is usable copy after cleaning
    assert first != other
    assert any(clean(text, min_chars=4, max_chars=90) for text in (first, other))
