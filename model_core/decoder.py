"""The decoder family (GPT-2 layout), read top to bottom: config, embeddings, block, model.

Embeddings: token + position, learned (or the sinusoidal table); no segments, no LayerNorm.
Blocks are pre-LN: x = x + attn(LN(x)); x = x + mlp(LN(x)); a final LayerNorm.
Attention is causal (position t sees positions <= t), combined with padding.
LM head: the word embeddings again (tied), no bias.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn

from .base import ModelConfig, TransformerModel
from .layers import FeedForward, SelfAttention, causal_allowed, padding_allowed, position_embedding


@dataclass(frozen=True)
class DecoderConfig(ModelConfig):
    bos_token_id: Optional[int] = None   # prepended to every text when the model was trained with one


class DecoderEmbeddings(nn.Module):
    """Token + position, summed; no segments and no LayerNorm, so `embed.out` is `embed.sum`."""

    def __init__(self, cfg: DecoderConfig):
        super().__init__()
        self.tok = nn.Embedding(cfg.vocab_size, cfg.d_model)
        self.pos = position_embedding(cfg.n_positions, cfg.d_model, cfg.pos_kind)

    def forward(self, input_ids, rec):
        n_pos = input_ids.shape[1]
        tok = self.tok(input_ids)                                        # [batch, pos, d_model]
        pos = self.pos(torch.arange(n_pos, device=input_ids.device))[None].expand_as(tok)
        rec("embed.tok", tok)
        rec("embed.pos", pos)
        summed = tok + pos
        rec("embed.sum", summed)
        rec("embed.out", summed)
        return summed


class DecoderBlock(nn.Module):
    """One pre-LN block: x = x + attn(ln_1(x)); x = x + mlp(ln_2(x))."""

    def __init__(self, cfg: DecoderConfig, index: int):
        super().__init__()
        self.name = f"blocks.{index}"
        self.ln_1 = nn.LayerNorm(cfg.d_model, eps=cfg.ln_eps)     # before attention
        self.attn = SelfAttention(cfg.d_model, cfg.n_heads, f"{self.name}.attn")
        self.ln_2 = nn.LayerNorm(cfg.d_model, eps=cfg.ln_eps)     # before feed-forward
        self.mlp = FeedForward(cfg.d_model, cfg.d_mlp, cfg.act, f"{self.name}.mlp")

    def forward(self, x, allowed, rec, head_mask=None, mask_needed=True):
        rec(f"{self.name}.resid_pre", x)
        x = x + self.attn(self.ln_1(x), allowed, rec, head_mask, mask_needed)  # pre-LN: normalise the branch input only
        rec(f"{self.name}.resid_mid", x)
        x = x + self.mlp(self.ln_2(x), rec)
        rec(f"{self.name}.resid_post", x)
        return x


class Decoder(TransformerModel):
    family = "decoder"

    def __init__(self, cfg: DecoderConfig, with_head: bool = True):
        super().__init__(cfg, DecoderEmbeddings(cfg), DecoderBlock)
        self.ln_final = nn.LayerNorm(cfg.d_model, eps=cfg.ln_eps)
        self.has_lm_head = with_head

    def _forward(self, input_ids, attention_mask, token_type_ids, rec, head_mask, logits_at=None):
        n_pos = input_ids.shape[1]
        if attention_mask.dim() == 3:
            # A what-if mask (e.g. a prefix LM's) replaces the causal one the model was trained with.
            allowed, mask_needed = attention_mask.bool(), True
        else:
            # Causal AND padding: query t may look at real keys at positions <= t.
            allowed = padding_allowed(attention_mask) & causal_allowed(n_pos, input_ids.device)
            mask_needed = n_pos > 1 or not bool(attention_mask.all())
        x = self.embed(input_ids, rec)
        for i, block in enumerate(self.blocks):
            x = block(x, allowed, rec, None if head_mask is None else head_mask[i], mask_needed)
        x = self.ln_final(x)
        rec("ln_final.out", x)
        logits = None
        if self.has_lm_head:
            rows = x if logits_at is None else x[:, logits_at]             # only the positions asked for
            logits = F.linear(rows, self.embed.tok.weight)               # [batch, pos, vocab], tied
            rec("logits", logits)
        return logits, x
