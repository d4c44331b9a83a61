"""Read-only views of a model's weights as numpy, for the teaching pages."""
from __future__ import annotations

import numpy as np
import torch

from .base import TransformerModel


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().float().cpu().numpy().copy()


def head_weights(model: TransformerModel, layer: int, head: int) -> dict[str, np.ndarray]:
    """One head's slices: W_Q, W_K, W_V [d_model, d_head], b_Q, b_K, b_V [d_head], W_O [d_head, d_model], b_O [d_model].

    With these, q = x W_Q + b_Q for x a row of `blocks.{layer}.attn.input`.
    """
    cfg = model.config
    if not 0 <= layer < cfg.n_layers or not 0 <= head < cfg.n_heads:
        raise IndexError(f"layer {layer}, head {head} is outside {cfg.n_layers} layers x {cfg.n_heads} heads")
    attn = model.blocks[layer].attn
    D, d = cfg.d_model, cfg.d_head
    cols = slice(head * d, (head + 1) * d)
    weight, bias = attn.qkv.weight, attn.qkv.bias                      # [3 d_model, d_model], [3 d_model]
    out = {}
    for i, name in enumerate("QKV"):
        rows = slice(i * D + head * d, i * D + (head + 1) * d)
        out[f"W_{name}"] = _np(weight[rows].t())                       # [d_model, d_head]
        out[f"b_{name}"] = _np(bias[rows])                             # [d_head]
    out["W_O"] = _np(attn.out.weight[:, cols].t())                     # [d_head, d_model]
    out["b_O"] = _np(attn.out.bias)                                    # [d_model], shared by all heads
    return out


def position_table(model: TransformerModel) -> np.ndarray:
    """The model's position embeddings, [n_positions, d_model] (an encoder-decoder's: the encoder's,
    which is the same fixed table as its decoder's)."""
    embed = model.encoder.embed if getattr(model, "family", "") == "seq2seq" else model.embed
    return _np(embed.pos.weight[getattr(embed, "offset", 0):])      # BART's two unused rows left out
