"""How an in-house character model would be served: ONNX graphs of its start (the encoder, or the latent
or noise to the first state) and of one decoder step, the sampling loop in numpy over onnxruntime, its
faithfulness to torch, and its speed on one core.

Tokens are characters here (the end mark counts as one). Every graph takes batch 1, as a Lambda answering one
line at a time would (the GRU exporter fixes the batch its initial state was traced with where none is
given); the loop is the same as the torch models' `sample`.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from creative.inference.onnx_session import cpu_session
from torch import nn
from torch.nn import functional as F

from generators.models import BOS, EOS, CharVocab, GanGenerator, Seq2Seq, TextVAE
from generators.settings import MAX_LEN

OPSET = 17


class _Seq2SeqEncoder(nn.Module):
    def __init__(self, model: Seq2Seq):
        super().__init__()
        self.model = model

    def forward(self, src):
        return self.model.encode(src)


class _Seq2SeqStep(nn.Module):
    def __init__(self, model: Seq2Seq):
        super().__init__()
        self.model = model

    def forward(self, token, hidden, states, mask):
        output, hidden = self.model.decoder(self.model.embed(token), hidden)
        return self.model._attend(output, states, mask)[:, -1], hidden


class _VaeEncoder(nn.Module):
    def __init__(self, model: TextVAE):
        super().__init__()
        self.model = model

    def forward(self, x):
        return self.model.encode(x)[0]


class _VaeStart(nn.Module):
    def __init__(self, model: TextVAE):
        super().__init__()
        self.model = model

    def forward(self, z):
        return torch.tanh(self.model.from_z(z)).unsqueeze(0)


class _VaeStep(nn.Module):
    def __init__(self, model: TextVAE):
        super().__init__()
        self.model = model

    def forward(self, token, hidden, z):
        emb = torch.cat([self.model.embed(token), z.unsqueeze(1)], -1)
        state, hidden = self.model.decoder(emb, hidden)
        return self.model.out(state[:, -1]), hidden


class _GanStart(nn.Module):
    def __init__(self, model: GanGenerator):
        super().__init__()
        self.model = model

    def forward(self, noise):
        return torch.tanh(self.model.from_noise(noise)).unsqueeze(0)


class _GanStep(nn.Module):
    def __init__(self, model: GanGenerator):
        super().__init__()
        self.model = model

    def forward(self, token, hidden):
        onehot = F.one_hot(token, self.model.vocab_size).float()
        state, hidden = self.model.rnn(self.model.embed(onehot), hidden)
        return self.model.out(state[:, -1]), hidden


def _export(
    module: nn.Module, args: tuple, path: Path, inputs: list[str], outputs: list[str], dynamic
) -> None:
    torch.onnx.export(
        module.eval(),
        args,
        str(path),
        input_names=inputs,
        output_names=outputs,
        dynamic_axes=dynamic,
        opset_version=OPSET,
        dynamo=False,  # the TorchScript exporter: the dynamo one needs onnxscript, which the venv lacks
    )


def export(family: str, model: nn.Module, vocab: CharVocab, out_dir: Path) -> list[Path]:
    """The family's graphs and its vocabulary under out_dir; returns the files serving would ship."""
    out_dir.mkdir(parents=True, exist_ok=True)
    token = torch.tensor([[BOS]])
    with torch.no_grad():
        if family == "seq2seq_attention":
            src = vocab.batch(["food coffee roast"], MAX_LEN)
            _export(
                _Seq2SeqEncoder(model),
                (src,),
                out_dir / "start.onnx",
                ["src"],
                ["states", "mask", "hidden"],
                {"src": {1: "src_len"}, "states": {1: "src_len"}, "mask": {1: "src_len"}},
            )
            states, mask, hidden = model.encode(src)
            _export(
                _Seq2SeqStep(model),
                (token, hidden, states, mask),
                out_dir / "step.onnx",
                ["token", "hidden", "states", "mask"],
                ["logits", "next_hidden"],
                {"states": {1: "src_len"}, "mask": {1: "src_len"}},
            )
        elif family == "vae":
            x = vocab.batch(["Fresh roast every morning"], MAX_LEN)
            _export(_VaeEncoder(model), (x,), out_dir / "encoder.onnx", ["x"], ["mu"], {"x": {1: "len"}})
            z = torch.zeros(1, model.latent)
            _export(_VaeStart(model), (z,), out_dir / "start.onnx", ["z"], ["hidden"], None)
            hidden = torch.tanh(model.from_z(z)).unsqueeze(0)
            _export(
                _VaeStep(model),
                (token, hidden, z),
                out_dir / "step.onnx",
                ["token", "hidden", "z"],
                ["logits", "next_hidden"],
                None,
            )
        elif family == "gan":
            noise = torch.zeros(1, model.noise)
            _export(_GanStart(model), (noise,), out_dir / "start.onnx", ["noise"], ["hidden"], None)
            hidden = torch.tanh(model.from_noise(noise)).unsqueeze(0)
            _export(
                _GanStep(model),
                (token, hidden),
                out_dir / "step.onnx",
                ["token", "hidden"],
                ["logits", "next_hidden"],
                None,
            )
        else:
            raise ValueError(f"no ONNX export for {family}")
    (out_dir / "vocab.json").write_text(json.dumps(vocab.itos))
    return sorted(out_dir.iterdir())


@dataclass
class CharModelSession:
    """The served form of one family: its sessions and vocabulary, and the numpy sampling loop."""

    family: str
    sessions: dict
    itos: list[str]
    stoi: dict[str, int]

    @classmethod
    def load(cls, family: str, directory: Path) -> CharModelSession:
        sessions = {p.stem: cpu_session(p, threads=1) for p in sorted(directory.glob("*.onnx"))}
        itos = json.loads((directory / "vocab.json").read_text())
        return cls(family, sessions, itos, {c: i for i, c in enumerate(itos)})

    def ids(self, text: str) -> np.ndarray:
        body = [self.stoi[c] for c in text[: MAX_LEN - 2] if c in self.stoi]
        return np.array([[BOS, *body, EOS]], dtype=np.int64)

    def start(self, condition) -> dict[str, np.ndarray]:
        """The decoder's first state and whatever every step also reads (encoder states, latent)."""
        if self.family == "seq2seq_attention":
            states, mask, hidden = self.sessions["start"].run(None, {"src": self.ids(condition)})
            return {"hidden": hidden, "states": states, "mask": mask}
        if self.family == "vae":
            z = condition.astype(np.float32)
            return {"hidden": self.sessions["start"].run(None, {"z": z})[0], "z": z}
        noise = condition.astype(np.float32)
        return {"hidden": self.sessions["start"].run(None, {"noise": noise})[0]}

    def step(self, token: int, feed: dict[str, np.ndarray]) -> np.ndarray:
        """Logits of the next character; feed's hidden state moves on."""
        logits, feed["hidden"] = self.sessions["step"].run(
            None, {**feed, "token": np.array([[token]], dtype=np.int64)}
        )
        return logits[0]

    def encode_leader(self, headline: str) -> np.ndarray:
        return self.sessions["encoder"].run(None, {"x": self.ids(headline)})[0]

    def sample(self, condition, temperature: float, rng: np.random.Generator) -> tuple[str, int]:
        """One line and the number of characters generated (the end mark included)."""
        feed = self.start(condition)
        token, out, steps = BOS, [], 0
        for _ in range(MAX_LEN):
            logits = self.step(token, feed) / temperature
            probs = np.exp(logits - logits.max())
            token = int(rng.choice(len(probs), p=probs / probs.sum()))
            steps += 1
            if token == EOS:
                break
            if token > EOS:
                out.append(self.itos[token])
        return "".join(out), steps


def faithfulness(family: str, model: nn.Module, served: CharModelSession, texts: list[str], sources) -> float:
    """Max |logit difference| between torch (teacher-forced over the whole line) and the ONNX steps fed the
    same characters, over a few held-out lines (and the VAE's encoder means)."""
    worst = 0.0
    rng = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for text, source in zip(texts, sources, strict=True):
            x = torch.from_numpy(served.ids(text))
            if family == "seq2seq_attention":
                reference = model(torch.from_numpy(served.ids(source)), x)[0]
                feed = served.start(source)
            elif family == "vae":
                mu = model.encode(x)[0]
                worst = max(worst, float(np.abs(served.encode_leader(text) - mu.numpy()).max()))
                reference = model.decode_logits(mu, x[:, :-1])[0]
                feed = served.start(mu.numpy())
            else:
                noise = torch.randn(1, model.noise, generator=rng)
                reference = model.teacher_forced(x, noise)[0]
                feed = served.start(noise.numpy())
            steps = np.stack([served.step(int(t), feed) for t in x[0, :-1]])
            worst = max(worst, float(np.abs(steps - reference.numpy()).max()))
    return worst


def measure(
    family: str,
    model: nn.Module,
    vocab: CharVocab,
    out_dir: Path,
    conditions: list,
    temperature: float,
    checks: tuple[list[str], list[str]],
) -> dict:
    """Export, check against torch, then time on one core: cold start (sessions loaded + the first line)
    and characters per second over the following lines, one at a time."""
    files = export(family, model, vocab, out_dir)
    rng = np.random.default_rng(0)
    started = time.perf_counter()
    served = CharModelSession.load(family, out_dir)
    first = conditions[0]
    if family == "vae":  # a line's leader is encoded, then its code is sampled around (serving's path)
        first = served.encode_leader(first) + 0.5 * rng.standard_normal((1, model.latent))
    served.sample(first, temperature, rng)
    cold = time.perf_counter() - started
    chars, decode_s = 0, 0.0
    for condition in conditions[1:]:
        if family == "vae":
            condition = served.encode_leader(condition) + 0.5 * rng.standard_normal((1, model.latent))
        started = time.perf_counter()
        _, steps = served.sample(condition, temperature, rng)
        decode_s += time.perf_counter() - started
        chars += steps
    return {
        "tokens_per_s": round(chars / decode_s, 1),
        "token_unit": "character (the end mark included)",
        "cold_start_s": round(cold, 3),
        "artifact_mb": round(sum(p.stat().st_size for p in files) / 1e6, 3),
        "max_abs_logit_diff_onnx_vs_torch": faithfulness(family, model, served, *checks),
        "onnx_files": [p.name for p in files],
    }
