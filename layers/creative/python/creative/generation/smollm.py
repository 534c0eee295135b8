"""The pretrained small LM as a copywriter: SmolLM2-135M-Instruct on onnxruntime-genai, sampled with a seed,
one line per answer."""

from __future__ import annotations

from pathlib import Path

from creative.inference.generator import Generator

GENERATOR_ARTIFACT = "generator"


class SmolLMCopyWriter:
    name = "smollm2-135m-instruct"

    def __init__(
        self,
        generator: Generator,
        version: str,
        *,
        max_tokens: int = 24,
        temperature: float = 0.9,
        top_p: float = 0.95,
        repetition_penalty: float = 1.1,
    ):
        self._generator = generator
        self.version = version
        self._options = {
            "max_tokens": max_tokens,
            "temperature": temperature,
            "top_p": top_p,
            "repetition_penalty": repetition_penalty,
        }

    @classmethod
    def load(cls, model_dir: Path, **options) -> SmolLMCopyWriter:
        # One intra-op thread: the function is sized for one vCPU's worth of memory, and a second thread
        # on a shared core only adds contention.
        return cls(Generator.load(model_dir, threads=1), model_dir.name, **options)

    def write(self, messages: list[dict[str, str]], *, seed: int) -> str:
        return self._generator.generate(messages, stop=("\n",), seed=seed, **self._options).text
