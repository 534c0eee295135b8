"""Three in-house character-level generators in torch (offline only: nothing here runs in a Lambda).

- `Seq2Seq`: keywords → headline; a bidirectional GRU encoder and a GRU decoder with attention over the
  encoder states (Luong's general score, computed for every step at once in training).
- `TextVAE`: a GRU encoder to a Gaussian latent (32 dims) and a GRU decoder conditioned on it at every step
  (Bowman et al.: KL annealing and word dropout keep the decoder from ignoring the latent).
- `TextGAN`: a GRU generator from noise, trained against a convolutional discriminator through the
  Gumbel-softmax relaxation (straight-through), after maximum-likelihood pretraining.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

PAD, BOS, EOS = 0, 1, 2


class CharVocab:
    def __init__(self, texts):
        chars = sorted({c for t in texts for c in t})
        self.itos = ["<pad>", "<s>", "</s>", *chars]
        self.stoi = {c: i for i, c in enumerate(self.itos)}

    def __len__(self) -> int:
        return len(self.itos)

    def encode(self, text: str, max_len: int) -> list[int]:
        return [BOS] + [self.stoi[c] for c in text[: max_len - 2] if c in self.stoi] + [EOS]

    def decode(self, ids) -> str:
        out = []
        for i in ids:
            if i == EOS:
                break
            if i > EOS:
                out.append(self.itos[i])
        return "".join(out)

    def batch(self, texts, max_len: int) -> torch.Tensor:
        seqs = [self.encode(t, max_len) for t in texts]
        width = max(len(s) for s in seqs)
        return torch.tensor([s + [PAD] * (width - len(s)) for s in seqs])


def _sample_step(logits: torch.Tensor, temperature: float, generator: torch.Generator) -> torch.Tensor:
    probs = F.softmax(logits / temperature, dim=-1)
    return torch.multinomial(probs, 1, generator=generator).squeeze(1)


class Seq2Seq(nn.Module):
    """Luong-style: the decoder GRU reads the previous token and the previous attentional state; its output
    attends over the encoder states (general score) and the two are combined before the softmax. Training
    feeds the previous step's context through input feeding only at sampling time; in training the
    decoder runs fused over the whole target (teacher forcing), which keeps a CPU epoch to seconds."""

    def __init__(self, vocab_size: int, emb: int = 48, hidden: int = 128):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, emb, padding_idx=PAD)
        self.encoder = nn.GRU(emb, hidden, batch_first=True, bidirectional=True)
        self.bridge = nn.Linear(2 * hidden, hidden)
        self.decoder = nn.GRU(emb, hidden, batch_first=True)
        self.score = nn.Linear(2 * hidden, hidden, bias=False)
        self.combine = nn.Linear(hidden + 2 * hidden, hidden)
        self.out = nn.Linear(hidden, vocab_size)

    def encode(self, src: torch.Tensor):
        states, _ = self.encoder(self.embed(src))
        mask = src != PAD
        mean = (states * mask.unsqueeze(-1)).sum(1) / mask.sum(1, keepdim=True)
        return states, mask, torch.tanh(self.bridge(mean)).unsqueeze(0)

    def _attend(self, outputs, states, mask):
        scores = torch.bmm(outputs, self.score(states).transpose(1, 2))  # (batch, tgt, src)
        weights = F.softmax(scores.masked_fill(~mask.unsqueeze(1), -1e9), dim=-1)
        context = torch.bmm(weights, states)
        return self.out(torch.tanh(self.combine(torch.cat([outputs, context], -1))))

    def forward(self, src: torch.Tensor, tgt: torch.Tensor) -> torch.Tensor:
        states, mask, hidden = self.encode(src)
        outputs, _ = self.decoder(self.embed(tgt[:, :-1]), hidden)
        return self._attend(outputs, states, mask)

    @torch.no_grad()
    def sample(self, src, max_len: int, temperature: float, generator: torch.Generator) -> list[list[int]]:
        states, mask, hidden = self.encode(src)
        token = torch.full((src.size(0), 1), BOS, dtype=torch.long)
        out = []
        for _ in range(max_len):
            output, hidden = self.decoder(self.embed(token), hidden)
            token = _sample_step(self._attend(output, states, mask)[:, -1], temperature, generator).unsqueeze(
                1
            )
            out.append(token.squeeze(1))
        return torch.stack(out, 1).tolist()


class TextVAE(nn.Module):
    def __init__(self, vocab_size: int, emb: int = 48, hidden: int = 160, latent: int = 32):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, emb, padding_idx=PAD)
        self.encoder = nn.GRU(emb, hidden, batch_first=True, bidirectional=True)
        self.to_mu, self.to_logvar = nn.Linear(2 * hidden, latent), nn.Linear(2 * hidden, latent)
        self.from_z = nn.Linear(latent, hidden)
        self.decoder = nn.GRU(emb + latent, hidden, batch_first=True)
        self.out = nn.Linear(hidden, vocab_size)
        self.latent = latent

    def encode(self, x: torch.Tensor):
        _, last = self.encoder(self.embed(x))
        both = torch.cat([last[0], last[1]], -1)
        return self.to_mu(both), self.to_logvar(both)

    def decode_logits(self, z: torch.Tensor, inputs: torch.Tensor) -> torch.Tensor:
        emb = self.embed(inputs)
        zs = z.unsqueeze(1).expand(-1, emb.size(1), -1)
        states, _ = self.decoder(torch.cat([emb, zs], -1), torch.tanh(self.from_z(z)).unsqueeze(0))
        return self.out(states)

    def forward(self, x: torch.Tensor, word_dropout: float = 0.0):
        mu, logvar = self.encode(x)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        inputs = x[:, :-1].clone()
        if word_dropout > 0:
            drop = (torch.rand(inputs.shape) < word_dropout) & (inputs > EOS)
            inputs[drop] = PAD
        kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp(), dim=1)
        return self.decode_logits(z, inputs), kl

    @torch.no_grad()
    def sample(self, z: torch.Tensor, max_len: int, temperature: float, generator: torch.Generator):
        hidden = torch.tanh(self.from_z(z)).unsqueeze(0)
        token = torch.full((z.size(0), 1), BOS, dtype=torch.long)
        out = []
        for _ in range(max_len):
            emb = torch.cat([self.embed(token), z.unsqueeze(1)], -1)
            state, hidden = self.decoder(emb, hidden)
            token = _sample_step(self.out(state[:, -1]), temperature, generator).unsqueeze(1)
            out.append(token.squeeze(1))
        return torch.stack(out, 1).tolist()


class GanGenerator(nn.Module):
    """A GRU language model whose first hidden state comes from noise; it feeds back either sampled tokens
    (maximum-likelihood pretraining, sampling) or straight-through Gumbel-softmax one-hots (adversarial)."""

    def __init__(self, vocab_size: int, emb: int = 48, hidden: int = 160, noise: int = 32):
        super().__init__()
        self.embed = nn.Linear(vocab_size, emb, bias=False)  # takes one-hots, so soft tokens pass through
        self.from_noise = nn.Linear(noise, hidden)
        self.rnn = nn.GRU(emb, hidden, batch_first=True)
        self.out = nn.Linear(hidden, vocab_size)
        self.vocab_size, self.noise = vocab_size, noise

    def teacher_forced(self, x: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        inputs = self.embed(F.one_hot(x[:, :-1], self.vocab_size).float())
        states, _ = self.rnn(inputs, torch.tanh(self.from_noise(noise)).unsqueeze(0))
        return self.out(states)

    def soft_sequence(self, noise: torch.Tensor, max_len: int, tau: float) -> torch.Tensor:
        hidden = torch.tanh(self.from_noise(noise)).unsqueeze(0)
        token = F.one_hot(torch.full((noise.size(0), 1), BOS), self.vocab_size).float()
        seq = []
        for _ in range(max_len):
            state, hidden = self.rnn(self.embed(token), hidden)
            token = F.gumbel_softmax(self.out(state), tau=tau, hard=True)
            seq.append(token.squeeze(1))
        return torch.stack(seq, 1)

    @torch.no_grad()
    def sample(self, noise: torch.Tensor, max_len: int, temperature: float, generator: torch.Generator):
        hidden = torch.tanh(self.from_noise(noise)).unsqueeze(0)
        token = torch.full((noise.size(0), 1), BOS, dtype=torch.long)
        out = []
        for _ in range(max_len):
            state, hidden = self.rnn(self.embed(F.one_hot(token, self.vocab_size).float()), hidden)
            token = _sample_step(self.out(state[:, -1]), temperature, generator).unsqueeze(1)
            out.append(token.squeeze(1))
        return torch.stack(out, 1).tolist()


class GanDiscriminator(nn.Module):
    def __init__(self, vocab_size: int, emb: int = 48, channels: int = 96):
        super().__init__()
        self.embed = nn.Linear(vocab_size, emb, bias=False)
        self.convs = nn.ModuleList([nn.Conv1d(emb, channels, k, padding=k // 2) for k in (3, 5, 7)])
        self.out = nn.Linear(3 * channels, 1)

    def forward(self, onehots: torch.Tensor) -> torch.Tensor:
        x = self.embed(onehots).transpose(1, 2)
        pooled = [F.relu(conv(x)).max(dim=2).values for conv in self.convs]
        return self.out(torch.cat(pooled, -1)).squeeze(-1)
