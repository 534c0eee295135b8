"""Short ad-copy generation with SmolLM2-135M-Instruct on onnxruntime-genai (no torch, no transformers).

`Generator.load(model_dir)` opens the directory `make models` writes (`build/models/generator/<version>/`,
or its copy fetched to /tmp on Lambda). `generate` takes either chat messages, which go through the model's
chat template, or a plain string, which is continued as-is. Decoding is greedy when temperature is 0,
otherwise sampled; a seed makes sampling reproducible. Generation ends at the end-of-turn token or a stop
string ("stop"), at max_tokens ("length"), or when the loop guard sees the output repeating ("loop"): a
135M model easily falls into "A Daily Grind: A Daily Grind: ..." and would otherwise spend the whole budget.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import onnxruntime_genai as og

FinishReason = Literal["stop", "length", "loop"]
Prompt = str | Sequence[Mapping[str, str]]


@dataclass(frozen=True)
class LoopGuard:
    """Stops generation when the output ends in one block of tokens repeated back to back.

    A block of `period` tokens (1..max_period) counts as a loop once it has been repeated at least
    `min_repeats` times and the repeats cover at least `min_span` tokens, so "!!!" or "very very" are
    not loops but a slogan said three times is.
    """

    max_period: int = 16
    min_repeats: int = 3
    min_span: int = 12

    def is_looping(self, tokens: Sequence[int]) -> bool:
        return self.loop_period(tokens) is not None

    def loop_period(self, tokens: Sequence[int]) -> int | None:
        """The length of the repeated block the tokens end with, or None."""
        for period in range(1, self.max_period + 1):
            repeats = max(self.min_repeats, math.ceil(self.min_span / period))
            span = period * repeats
            if span > len(tokens):
                continue
            tail = list(tokens[-span:])
            if tail == tail[:period] * repeats:
                return period
        return None


DEFAULT_LOOP_GUARD = LoopGuard()
NO_LOOP_GUARD = LoopGuard(max_period=0)


@dataclass(frozen=True)
class Generation:
    text: str
    token_ids: list[int]
    finish_reason: FinishReason
    prompt_tokens: int
    prefill_ms: float
    decode_ms: float

    @property
    def tokens_per_second(self) -> float:
        return len(self.token_ids) / (self.decode_ms / 1000) if self.decode_ms > 0 else 0.0


@dataclass
class Generator:
    model: og.Model
    tokenizer: og.Tokenizer
    load_seconds: float
    eos_token_ids: frozenset[int] = field(default_factory=frozenset)

    @classmethod
    def load(cls, model_dir: Path, *, threads: int | None = None) -> Generator:
        """Opens the model directory. `threads` caps onnxruntime's intra-op threads (1 = one core)."""
        started = time.perf_counter()
        config = og.Config(str(model_dir))
        if threads is not None:
            options = {"intra_op_num_threads": threads, "inter_op_num_threads": 1}
            config.overlay(json.dumps({"model": {"decoder": {"session_options": options}}}))
        model = og.Model(config)
        tokenizer = og.Tokenizer(model)
        return cls(
            model=model,
            tokenizer=tokenizer,
            load_seconds=time.perf_counter() - started,
            eos_token_ids=frozenset(int(token) for token in tokenizer.eos_token_ids),
        )

    def prompt_ids(self, prompt: Prompt) -> list[int]:
        """Token ids of a plain string as-is, or of chat messages with the chat template applied."""
        if isinstance(prompt, str):
            text = prompt
        else:
            messages = [{"role": message["role"], "content": message["content"]} for message in prompt]
            text = self.tokenizer.apply_chat_template(json.dumps(messages), add_generation_prompt=True)
        return self.tokenizer.encode(text).tolist()

    def decode(self, token_ids: Sequence[int]) -> str:
        return self.tokenizer.decode(
            np.array([t for t in token_ids if t not in self.eos_token_ids], np.int32)
        )

    def generate(
        self,
        prompt: Prompt,
        *,
        max_tokens: int = 48,
        temperature: float = 0.0,
        top_p: float = 1.0,
        top_k: int = 50,
        repetition_penalty: float = 1.0,
        stop: Sequence[str] = (),
        seed: int | None = None,
        loop_guard: LoopGuard = DEFAULT_LOOP_GUARD,
    ) -> Generation:
        if max_tokens < 1:
            raise ValueError("max_tokens must be at least 1")
        prompt_ids = self.prompt_ids(prompt)
        params = og.GeneratorParams(self.model)
        params.set_search_options(
            max_length=len(prompt_ids) + max_tokens,
            do_sample=temperature > 0,
            temperature=temperature if temperature > 0 else 1.0,
            top_p=top_p,
            top_k=top_k,
            repetition_penalty=repetition_penalty,
            random_seed=-1 if seed is None else seed,
        )
        generator = og.Generator(self.model, params)
        started = time.perf_counter()
        generator.append_tokens(prompt_ids)
        prefilled = time.perf_counter()
        token_ids, finish_reason, text = self._decode_loop(generator, max_tokens, stop, loop_guard)
        return Generation(
            text=text,
            token_ids=token_ids,
            finish_reason=finish_reason,
            prompt_tokens=len(prompt_ids),
            prefill_ms=(prefilled - started) * 1000,
            decode_ms=(time.perf_counter() - prefilled) * 1000,
        )

    def _decode_loop(
        self, generator: og.Generator, max_tokens: int, stop: Sequence[str], loop_guard: LoopGuard
    ) -> tuple[list[int], FinishReason, str]:
        token_ids: list[int] = []
        while len(token_ids) < max_tokens and not generator.is_done():
            generator.generate_next_token()
            token = int(generator.get_next_tokens()[0])
            token_ids.append(token)
            if token in self.eos_token_ids:
                return token_ids, "stop", self.decode(token_ids)
            if stop:
                text = self.decode(token_ids)
                cut = min((text.find(s) for s in stop if s in text), default=-1)
                if cut >= 0:
                    return token_ids, "stop", text[:cut]
            if loop_guard.is_looping(token_ids):
                return token_ids, "loop", self.decode(token_ids)
        return token_ids, "length", self.decode(token_ids)
