"""The decoder family (GPT-2 layout), read top to bottom: config, embeddings, block, model.

Embeddings: token + position, learned (or the sinusoidal table); no segments, no LayerNorm.
Blocks are pre-LN: x = x + attn(LN(x)); x = x + mlp(LN(x)); a final LayerNorm.
Attention is causal (position t sees positions <= t), combined with padding.
LM head: the word embeddings again (tied), no bias.
Incremental decoding (``new_cache`` / ``extend``): the keys and values of the positions already read are kept,
so each new token costs one position's pass instead of the whole text's.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn

from .base import InputError, ModelConfig, TransformerModel
from .layers import FeedForward, SelfAttention, causal_allowed, padding_allowed, position_embedding
from .trace import Recorder


@dataclass(frozen=True)
class DecoderConfig(ModelConfig):
    bos_token_id: Optional[int] = None   # prepended to every text when the model was trained with one


class DecoderEmbeddings(nn.Module):
    """Token + position, summed; no segments and no LayerNorm, so `embed.out` is `embed.sum`."""

    def __init__(self, cfg: DecoderConfig):
        super().__init__()
        self.tok = nn.Embedding(cfg.vocab_size, cfg.d_model)
        self.pos = position_embedding(cfg.n_positions, cfg.d_model, cfg.pos_kind)

    def forward(self, input_ids, rec, start: int = 0):
        """``start``: the position of the first of ``input_ids`` (incremental decoding: the positions before
        it are in the cache)."""
        n_pos = input_ids.shape[1]
        tok = self.tok(input_ids)                                        # [batch, pos, d_model]
        pos = self.pos(torch.arange(start, start + n_pos, device=input_ids.device))[None].expand_as(tok)
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

    def forward(self, x, allowed, rec, head_mask=None, mask_needed=True, cache=None):
        rec(f"{self.name}.resid_pre", x)
        # pre-LN: normalise the branch input only
        x = x + self.attn(self.ln_1(x), allowed, rec, head_mask, mask_needed, cache=cache)
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

    def new_cache(self) -> dict:
        """An empty incremental-decoding state: per block the self-attention's keys and values so far."""
        return {"length": 0, "layers": [{} for _ in self.blocks]}

    def extend(self, new_ids: torch.Tensor, cache: dict) -> torch.Tensor:
        """Incremental decoding: read ``new_ids`` [batch, new] after the positions already in ``cache`` (from
        ``new_cache()``, owned by the caller, extended here) -> the next-token logits after the last of them
        [batch, vocab]. The same numbers as ``forward`` on the whole text (no padding in this mode)."""
        if not self.has_lm_head:
            raise InputError("This decoder has no language-model head, so it cannot predict a next token.")
        new_ids = new_ids[None] if new_ids.dim() == 1 else new_ids
        start, n_new = cache["length"], new_ids.shape[1]
        if n_new == 0 or start + n_new > self.config.n_positions:
            raise InputError(f"The text would have {start + n_new} tokens; this model reads 1 to "
                             f"{self.config.n_positions}.")
        # The new positions read every earlier one and, among themselves, the causal triangle.
        allowed = causal_allowed(n_new, new_ids.device)[None].expand(new_ids.shape[0], -1, -1)
        if start:
            earlier = torch.ones(new_ids.shape[0], n_new, start, dtype=torch.bool, device=new_ids.device)
            allowed = torch.cat([earlier, allowed], dim=2)
        rec = Recorder(())
        with torch.no_grad():
            x = self.embed(new_ids, rec, start)
            for block, layer_cache in zip(self.blocks, cache["layers"]):
                x = block(x, allowed, rec, None, n_new > 1, cache=layer_cache)
            cache["length"] = start + n_new
            last = self.ln_final(x[:, -1])
            return F.linear(last, self.embed.tok.weight)                 # [batch, vocab], tied

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
