"""The encoder family (BERT layout), read top to bottom: config, block, embeddings, head, model.

Embeddings: token + segment + position (learned, or the sinusoidal table), summed, then LayerNorm.
Blocks are post-LN: x = LN(x + attn(x)); x = LN(x + mlp(x)).
Attention is bidirectional; only padding is masked.
MLM head: dense -> activation -> LayerNorm -> decoder tied to the word embeddings, plus a bias.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .base import ModelConfig, TransformerModel
from .layers import ACTIVATIONS, FeedForward, SelfAttention, padding_allowed, position_embedding


@dataclass(frozen=True)
class EncoderConfig(ModelConfig):
    n_segments: int = 2          # segment (token type) ids: 0 for sentence A, 1 for sentence B


class EncoderBlock(nn.Module):
    """One post-LN block: x = ln_1(x + attn(x)); x = ln_2(x + mlp(x))."""

    def __init__(self, cfg: ModelConfig, index: int, prefix: str = ""):
        super().__init__()
        self.name = f"{prefix}blocks.{index}"            # the encoder-decoder's encoder uses "encoder."
        self.attn = SelfAttention(cfg.d_model, cfg.n_heads, f"{self.name}.attn")
        self.ln_1 = nn.LayerNorm(cfg.d_model, eps=cfg.ln_eps)     # after attention + residual
        self.mlp = FeedForward(cfg.d_model, cfg.d_mlp, cfg.act, f"{self.name}.mlp")
        self.ln_2 = nn.LayerNorm(cfg.d_model, eps=cfg.ln_eps)     # after feed-forward + residual

    def forward(self, x, allowed, rec, head_mask=None, mask_needed=True):
        rec(f"{self.name}.resid_pre", x)
        x = self.ln_1(x + self.attn(x, allowed, rec, head_mask, mask_needed))  # post-LN: normalise after the add
        rec(f"{self.name}.resid_mid", x)
        x = self.ln_2(x + self.mlp(x, rec))
        rec(f"{self.name}.resid_post", x)
        return x


class EncoderEmbeddings(nn.Module):
    """Token + segment + position, summed, then LayerNorm."""

    def __init__(self, cfg: EncoderConfig):
        super().__init__()
        self.tok = nn.Embedding(cfg.vocab_size, cfg.d_model)
        self.seg = nn.Embedding(cfg.n_segments, cfg.d_model)
        self.pos = position_embedding(cfg.n_positions, cfg.d_model, cfg.pos_kind)
        self.ln = nn.LayerNorm(cfg.d_model, eps=cfg.ln_eps)

    def forward(self, input_ids, token_type_ids, rec):
        n_pos = input_ids.shape[1]
        tok = self.tok(input_ids)                                        # [batch, pos, d_model]
        seg = self.seg(token_type_ids)                                   # [batch, pos, d_model]
        pos = self.pos(torch.arange(n_pos, device=input_ids.device))[None].expand_as(tok)
        rec("embed.tok", tok)
        rec("embed.seg", seg)
        rec("embed.pos", pos)
        summed = tok + seg + pos                                         # same order of adds as BERT
        rec("embed.sum", summed)
        out = self.ln(summed)
        rec("embed.out", out)
        return out


class MLMHead(nn.Module):
    """Predicts the token at every position; the output matrix is the word embedding (tied)."""

    def __init__(self, cfg: EncoderConfig):
        super().__init__()
        self.dense = nn.Linear(cfg.d_model, cfg.d_model)
        self.act = ACTIVATIONS[cfg.act]
        self.ln = nn.LayerNorm(cfg.d_model, eps=cfg.ln_eps)
        self.bias = nn.Parameter(torch.zeros(cfg.vocab_size))

    def forward(self, x, word_embeddings):
        h = self.ln(self.act(self.dense(x)))                             # [batch, pos, d_model]
        return F.linear(h, word_embeddings, self.bias)                   # [batch, pos, vocab]


class Encoder(TransformerModel):
    family = "encoder"

    def __init__(self, cfg: EncoderConfig, with_head: bool = True):
        super().__init__(cfg, EncoderEmbeddings(cfg), EncoderBlock)
        self.head = MLMHead(cfg) if with_head else None
        self.has_lm_head = with_head

    def _forward(self, input_ids, attention_mask, token_type_ids, rec, head_mask, logits_at=None):
        if token_type_ids is None:
            token_type_ids = torch.zeros_like(input_ids)
        allowed = padding_allowed(attention_mask)                        # [batch, query_pos, key_pos]
        mask_needed = not bool(attention_mask.all())
        x = self.embed(input_ids, token_type_ids, rec)
        for i, block in enumerate(self.blocks):
            x = block(x, allowed, rec, None if head_mask is None else head_mask[i], mask_needed)
        logits = None
        if self.head is not None:
            rows = x if logits_at is None else x[:, logits_at]             # only the positions asked for
            logits = self.head(rows, self.embed.tok.weight)
            rec("logits", logits)
        return logits, x
