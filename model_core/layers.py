"""Pieces both families share: activations, position tables, masks, attention, feed-forward.

The attention math is a chain of pure functions, one per named step, so a test
(or a teaching page) can call each on its own:

    q, k, v -> raw_scores = q k^T -> scores = raw_scores / sqrt(d_head)
            -> allowed (bool) -> masked_scores -> pattern = softmax -> z = pattern v
            -> out = concat(z) W_O + b_O
"""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .trace import Recorder


# ---------------------------------------------------------------- activations

def gelu_exact(x: torch.Tensor) -> torch.Tensor:
    """GELU(x) = x * Phi(x), with the Gaussian CDF written through erf."""
    return F.gelu(x)


def gelu_tanh(x: torch.Tensor) -> torch.Tensor:
    """The tanh approximation of GELU used by the original BERT and GPT-2 code."""
    return F.gelu(x, approximate="tanh")


ACTIVATIONS = {"gelu": gelu_exact, "gelu_tanh": gelu_tanh, "relu": F.relu, "silu": F.silu}

# Hugging Face `hidden_act` / `activation_function` names -> ours. Anything not
# listed is refused at conversion time rather than approximated.
HF_ACTIVATIONS = {
    "gelu": "gelu",
    "gelu_new": "gelu_tanh",
    "gelu_pytorch_tanh": "gelu_tanh",
    "gelu_fast": "gelu_tanh",
    "relu": "relu",
    "silu": "silu",          # x * sigmoid(x), which Marian's opus-mt models call "swish"
    "swish": "silu",
}


# ---------------------------------------------------------------- positions

def sinusoidal_table(n_positions: int, d_model: int) -> np.ndarray:
    """PE[pos, 2i] = sin(pos / 10000^(2i/d_model)), PE[pos, 2i+1] = cos(same); shape [pos, d_model]."""
    if n_positions < 1 or d_model < 2:
        raise ValueError(f"need n_positions >= 1 and d_model >= 2, got {n_positions} and {d_model}")
    pos = np.arange(n_positions, dtype=np.float64)[:, None]             # [pos, 1]
    two_i = np.arange(0, d_model, 2, dtype=np.float64)[None, :]         # [1, ceil(d_model/2)]
    angle = pos / np.power(10000.0, two_i / d_model)                    # [pos, ceil(d_model/2)]
    table = np.zeros((n_positions, d_model), dtype=np.float64)
    table[:, 0::2] = np.sin(angle)
    table[:, 1::2] = np.cos(angle[:, : d_model // 2])
    return table.astype(np.float32)


def sinusoidal_halves(n_positions: int, d_model: int) -> np.ndarray:
    """The same sines and cosines with the columns regrouped as Marian stores them: every sin column
    first (PE[:, 0::2]), then every cos column (PE[:, 1::2]). A fixed permutation of the dimensions,
    so dot products between positions are those of the paper's table."""
    table = sinusoidal_table(n_positions, d_model)
    return np.concatenate([table[:, 0::2], table[:, 1::2]], axis=1)


POSITION_TABLES = {"sinusoidal": sinusoidal_table, "sinusoidal_halves": sinusoidal_halves}


def position_embedding(n_positions: int, d_model: int, kind: str) -> nn.Embedding:
    """A learned [n_positions, d_model] table, or a fixed sinusoidal one held as a frozen embedding."""
    table = nn.Embedding(n_positions, d_model)
    if kind in POSITION_TABLES:
        table.weight.data.copy_(torch.from_numpy(POSITION_TABLES[kind](n_positions, d_model)))
        table.weight.requires_grad_(False)
    return table


# ---------------------------------------------------------------- masks

def padding_allowed(attention_mask: torch.Tensor) -> torch.Tensor:
    """[batch, pos] 1/0 mask -> allowed[batch, query_pos, key_pos]: any query may look at every real key.

    A [batch, query_pos, key_pos] mask is already an allowed matrix (a what-if mask) and is returned as is.
    """
    if attention_mask.dim() == 3:
        return attention_mask.bool()
    keys = attention_mask.bool()[:, None, :]                            # [batch, 1, key_pos]
    return keys.expand(-1, attention_mask.shape[1], -1)                 # [batch, query_pos, key_pos]


def causal_allowed(n_pos: int, device=None) -> torch.Tensor:
    """[query_pos, key_pos]: position t may look only at positions <= t."""
    return torch.ones(n_pos, n_pos, dtype=torch.bool, device=device).tril()


# ---------------------------------------------------------------- attention steps

def split_heads(x: torch.Tensor, n_heads: int) -> torch.Tensor:
    """[batch, pos, d_model] -> [batch, head, pos, d_head]."""
    batch, pos, d_model = x.shape
    return x.view(batch, pos, n_heads, d_model // n_heads).transpose(1, 2)


def merge_heads(z: torch.Tensor) -> torch.Tensor:
    """[batch, head, pos, d_head] -> [batch, pos, d_model]: the heads concatenated."""
    batch, n_heads, pos, d_head = z.shape
    return z.transpose(1, 2).reshape(batch, pos, n_heads * d_head)


def raw_scores(q: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """q k^T for every query/key pair: [batch, head, query_pos, key_pos]."""
    return q @ k.transpose(-1, -2)


def scale_scores(raw: torch.Tensor, d_head: int) -> torch.Tensor:
    """Divide by sqrt(d_head) so the scores' variance does not grow with d_head."""
    return raw * (1.0 / math.sqrt(d_head))


def mask_scores(scores: torch.Tensor, allowed: torch.Tensor) -> torch.Tensor:
    """Disallowed cells get the dtype's minimum (not -inf), so a fully masked row never becomes NaN."""
    return scores.masked_fill(~allowed, torch.finfo(scores.dtype).min)


def attention_pattern(masked: torch.Tensor) -> torch.Tensor:
    """softmax over keys: each query's row is a distribution; disallowed cells come out exactly 0."""
    return masked.softmax(dim=-1)


def weighted_values(pattern: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """z = pattern v: each query's weighted average of the values, [batch, head, query_pos, d_head]."""
    return pattern @ v


def attend(name: str, q, k, v, allowed, rec: Recorder, head_mask=None, mask_needed=True) -> torch.Tensor:
    """The named steps from q, k, v (each [batch, head, pos, d_head]) to z [batch, head, query_pos, d_head].

    Self-attention and cross-attention differ only in where q, k and v come from; from here on
    they are the same chain, recorded under `name` (e.g. "blocks.3.attn", "decoder.blocks.0.cross_attn").
    `allowed` is [batch, query_pos, key_pos].
    """
    rec(f"{name}.q", q)
    rec(f"{name}.k", k)
    rec(f"{name}.v", v)
    raw = raw_scores(q, k)                                                # [batch, head, query_pos, key_pos]
    rec(f"{name}.raw_scores", raw)
    scores = scale_scores(raw, q.shape[-1])
    rec(f"{name}.scores", scores)
    rec(f"{name}.allowed", allowed)                                       # [batch, query_pos, key_pos]
    # With nothing disallowed (an unpadded encoder input) the mask changes nothing: skip the copy.
    masked = mask_scores(scores, allowed[:, None]) if mask_needed else scores
    rec(f"{name}.masked_scores", masked)
    pattern = attention_pattern(masked)
    if head_mask is not None:
        # A switched-off head (0) contributes nothing; the trace shows the weights actually used.
        pattern = pattern * head_mask.to(pattern.dtype)[None, :, None, None]
    rec(f"{name}.pattern", pattern)
    z = weighted_values(pattern, v)                                       # [batch, head, query_pos, d_head]
    rec(f"{name}.z", z)
    return z


class SelfAttention(nn.Module):
    """Multi-head self-attention; W_Q, W_K, W_V stored as one [3 d_model, d_model] projection."""

    def __init__(self, d_model: int, n_heads: int, name: str):
        super().__init__()
        if d_model % n_heads:
            raise ValueError(f"d_model {d_model} is not divisible by n_heads {n_heads}")
        self.n_heads = n_heads
        self.d_head = d_model // n_heads
        self.name = name                                   # e.g. "blocks.3.attn": a fixed label, not state
        self.qkv = nn.Linear(d_model, 3 * d_model)         # rows: W_Q, then W_K, then W_V
        self.out = nn.Linear(d_model, d_model)             # W_O

    def forward(self, x, allowed, rec: Recorder, head_mask=None, mask_needed=True, name=None, cache=None):
        """``name`` overrides the fixed label for this call: a block shared by every layer (ALBERT) is
        recorded under each layer's name in turn. ``cache`` (incremental decoding, a dict the caller owns):
        the keys and values of the earlier positions, extended here by those of ``x``'s positions."""
        name = name or self.name
        rec(f"{name}.input", x)
        q, k, v = self.qkv(x).chunk(3, dim=-1)                                # each [batch, pos, d_model]
        q, k, v = (split_heads(t, self.n_heads) for t in (q, k, v))           # each [batch, head, pos, d_head]
        if cache is not None:
            if "k" in cache:
                k, v = torch.cat([cache["k"], k], dim=2), torch.cat([cache["v"], v], dim=2)
            cache["k"], cache["v"] = k, v
        z = attend(name, q, k, v, allowed, rec, head_mask, mask_needed)
        out = self.out(merge_heads(z))                                        # [batch, pos, d_model]
        rec(f"{name}.out", out)
        return out


class CrossAttention(nn.Module):
    """Encoder-decoder attention: queries from the decoder, keys and values from the encoder's output.

    W_Q is [d_model, d_model]; W_K and W_V are stored as one [2 d_model, d_model] projection.
    """

    def __init__(self, d_model: int, n_heads: int, name: str):
        super().__init__()
        if d_model % n_heads:
            raise ValueError(f"d_model {d_model} is not divisible by n_heads {n_heads}")
        self.n_heads = n_heads
        self.name = name                                   # e.g. "decoder.blocks.0.cross_attn"
        self.q = nn.Linear(d_model, d_model)               # W_Q, applied to the decoder's stream
        self.kv = nn.Linear(d_model, 2 * d_model)          # rows: W_K, then W_V, applied to the encoder output
        self.out = nn.Linear(d_model, d_model)             # W_O

    def forward(self, x, memory, allowed, rec: Recorder, head_mask=None, mask_needed=True, cache=None):
        """x [batch, target_pos, d_model], memory [batch, source_pos, d_model], allowed [batch, target_pos, source_pos].

        ``cache`` (incremental decoding): the encoder's keys and values, computed on the first call only."""
        rec(f"{self.name}.input", x)
        q = split_heads(self.q(x), self.n_heads)                              # [batch, head, target_pos, d_head]
        if cache is not None and "k" in cache:
            k, v = cache["k"], cache["v"]
        else:
            k, v = (split_heads(t, self.n_heads) for t in self.kv(memory).chunk(2, dim=-1))  # [batch, head, source_pos, d_head]
            if cache is not None:
                cache["k"], cache["v"] = k, v
        z = attend(self.name, q, k, v, allowed, rec, head_mask, mask_needed)
        out = self.out(merge_heads(z))                                        # [batch, target_pos, d_model]
        rec(f"{self.name}.out", out)
        return out


class FeedForward(nn.Module):
    """Position-wise feed-forward: d_model -> d_mlp -> activation -> d_model."""

    def __init__(self, d_model: int, d_mlp: int, act: str, name: str):
        super().__init__()
        self.name = name
        self.fc_in = nn.Linear(d_model, d_mlp)
        self.fc_out = nn.Linear(d_mlp, d_model)
        self.act = ACTIVATIONS[act]

    def forward(self, x, rec: Recorder, name=None):
        """``name`` overrides the fixed label for this call, as in SelfAttention."""
        name = name or self.name
        pre = self.fc_in(x)                          # [batch, pos, d_mlp]
        rec(f"{name}.pre", pre)
        post = self.act(pre)
        rec(f"{name}.post", post)
        out = self.fc_out(post)                      # [batch, pos, d_model]
        rec(f"{name}.out", out)
        return out
