"""The encoder family (BERT layout), read top to bottom: config, block, embeddings, head, model.

Embeddings: token + segment + position (learned, or the sinusoidal table), summed, then LayerNorm.
Blocks are post-LN: x = LN(x + attn(x)); x = LN(x + mlp(x)).
Attention is bidirectional; only padding is masked.
MLM head: dense -> activation -> LayerNorm -> decoder tied to the word embeddings, plus a bias.

BERT's relatives run on the same tree (convert_bert_family.py), each through a config field:
- RoBERTa counts positions from pad_token_id + 1 (`pos_offset`) and has one segment type.
- DistilBERT has no segment table (`n_segments=0`). Its trace still holds `embed.seg`, as zeros, so
  every page reads the same names and `embed.sum == embed.tok + embed.seg + embed.pos` still holds.
- ALBERT embeds in `d_embed` < d_model and maps up to d_model (`embed.proj`, recorded after
  `embed.out`), and applies ONE block n_layers times (`shared_layers`): the tree holds that block
  once, as `blocks.shared`, and `blocks[i]` is that same module for every layer i.
"""
from __future__ import annotations

import operator
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .base import InputError, ModelConfig, TransformerModel
from .layers import ACTIVATIONS, FeedForward, SelfAttention, padding_allowed, position_embedding


@dataclass(frozen=True)
class EncoderConfig(ModelConfig):
    n_segments: int = 2          # segment (token type) ids: 0 for sentence A, 1 for sentence B; 0 = no segment table
    pos_offset: int = 0          # 0: position i reads row i (BERT). pad_token_id + 1 (RoBERTa): see offset_positions;
                                 # the table then has n_positions + pos_offset rows
    d_embed: int = 0             # 0: embeddings are d_model wide. ALBERT's embedding_size E, mapped to d_model by embed.proj
    shared_layers: bool = False  # ALBERT: one block's weights, applied n_layers times
    head_act: str = ""           # the MLM head's activation; "" = act (RoBERTa's head always uses exact GELU)

    def __post_init__(self):
        super().__post_init__()
        if self.n_segments < 0 or self.d_embed < 0:
            raise ValueError(f"n_segments and d_embed must be >= 0, got {self.n_segments} and {self.d_embed}")
        if self.pos_offset not in (0, self.pad_token_id + 1):
            raise ValueError(f"pos_offset must be 0 or pad_token_id + 1 (RoBERTa's), got {self.pos_offset}")
        if self.head_act and self.head_act not in ACTIVATIONS:
            raise ValueError(f"unknown head activation {self.head_act!r}")

    @property
    def d_input(self) -> int:
        """Width of the embedding tables (and of the MLM head's last LayerNorm)."""
        return self.d_embed or self.d_model


def offset_positions(input_ids: torch.Tensor, pad_token_id: int) -> torch.Tensor:
    """RoBERTa's position ids, as transformers' create_position_ids_from_input_ids computes them, [batch, pos].

    The k-th non-pad token of a row (k = 1, 2, ...) reads row pad_token_id + k; every pad token, wherever
    it is, reads row pad_token_id. Positions follow the ids, not the attention mask.
    """
    real = input_ids.ne(pad_token_id).long()                             # [batch, pos]
    return torch.cumsum(real, dim=1) * real + pad_token_id


class EncoderBlock(nn.Module):
    """One post-LN block: x = ln_1(x + attn(x)); x = ln_2(x + mlp(x))."""

    def __init__(self, cfg: ModelConfig, index: int | str, prefix: str = ""):
        super().__init__()
        self.name = f"{prefix}blocks.{index}"            # the encoder-decoder's encoder uses "encoder."
        self.attn = SelfAttention(cfg.d_model, cfg.n_heads, f"{self.name}.attn")
        self.ln_1 = nn.LayerNorm(cfg.d_model, eps=cfg.ln_eps)     # after attention + residual
        self.mlp = FeedForward(cfg.d_model, cfg.d_mlp, cfg.act, f"{self.name}.mlp")
        self.ln_2 = nn.LayerNorm(cfg.d_model, eps=cfg.ln_eps)     # after feed-forward + residual

    def forward(self, x, allowed, rec, head_mask=None, mask_needed=True, name=None):
        """``name`` ("blocks.3") overrides the block's own label: a shared block runs under each layer's."""
        name = name or self.name
        rec(f"{name}.resid_pre", x)
        x = self.ln_1(x + self.attn(x, allowed, rec, head_mask, mask_needed, f"{name}.attn"))  # post-LN: normalise after the add
        rec(f"{name}.resid_mid", x)
        x = self.ln_2(x + self.mlp(x, rec, f"{name}.mlp"))
        rec(f"{name}.resid_post", x)
        return x


class SharedBlocks(nn.Module):
    """ALBERT's cross-layer sharing: one block, applied n_layers times.

    The module tree and the state dict hold the block once (`blocks.shared.*`); `blocks[i]` is that one
    module for every layer i, so code that reads layer i's weights works unchanged.
    """

    def __init__(self, block: EncoderBlock, n_layers: int):
        super().__init__()
        self.shared = block
        self.n_layers = n_layers

    def __len__(self) -> int:
        return self.n_layers

    def __getitem__(self, index) -> EncoderBlock:
        index = operator.index(index)
        if not -self.n_layers <= index < self.n_layers:
            raise IndexError(f"layer {index} is outside this model's {self.n_layers} layers")
        return self.shared

    def __iter__(self):
        return iter([self.shared] * self.n_layers)


class EncoderEmbeddings(nn.Module):
    """Token + segment + position, summed, then LayerNorm (then ALBERT's map up to d_model)."""

    def __init__(self, cfg: EncoderConfig):
        super().__init__()
        width = cfg.d_input
        self.offset = cfg.pos_offset                     # table rows before position 0 (a constant, not state)
        self.pad_token_id = cfg.pad_token_id
        self.tok = nn.Embedding(cfg.vocab_size, width)
        self.seg = nn.Embedding(cfg.n_segments, width) if cfg.n_segments else None
        self.pos = position_embedding(cfg.n_positions + cfg.pos_offset, width, cfg.pos_kind)
        self.ln = nn.LayerNorm(width, eps=cfg.ln_eps)
        self.proj = nn.Linear(width, cfg.d_model) if cfg.d_embed else None

    def forward(self, input_ids, token_type_ids, rec):
        tok = self.tok(input_ids)                                        # [batch, pos, d_embed]
        if self.offset:
            pos = self.pos(offset_positions(input_ids, self.pad_token_id))   # [batch, pos, d_embed]
        else:
            pos = self.pos(torch.arange(input_ids.shape[1], device=input_ids.device))[None].expand_as(tok)
        rec("embed.tok", tok)
        if self.seg is None:
            if rec.wants("embed.seg"):
                rec("embed.seg", torch.zeros_like(tok))                  # no segment table: it adds nothing
            summed = tok + pos
        else:
            seg = self.seg(token_type_ids)                               # [batch, pos, d_embed]
            rec("embed.seg", seg)
            summed = tok + seg + pos                                     # same order of adds as BERT
        rec("embed.pos", pos)
        rec("embed.sum", summed)
        out = self.ln(summed)
        rec("embed.out", out)
        if self.proj is not None:
            out = self.proj(out)                                         # [batch, pos, d_model]
            rec("embed.proj", out)
        return out


class MLMHead(nn.Module):
    """Predicts the token at every position; the output matrix is the word embedding (tied)."""

    def __init__(self, cfg: EncoderConfig):
        super().__init__()
        self.dense = nn.Linear(cfg.d_model, cfg.d_input)                 # ALBERT: back down to the embedding width
        self.act = ACTIVATIONS[cfg.head_act or cfg.act]
        self.ln = nn.LayerNorm(cfg.d_input, eps=cfg.ln_eps)
        self.bias = nn.Parameter(torch.zeros(cfg.vocab_size))

    def forward(self, x, word_embeddings):
        h = self.ln(self.act(self.dense(x)))                             # [batch, pos, d_embed]
        return F.linear(h, word_embeddings, self.bias)                   # [batch, pos, vocab]


class Encoder(TransformerModel):
    family = "encoder"

    def __init__(self, cfg: EncoderConfig, with_head: bool = True):
        shared = EncoderBlock(cfg, "shared") if cfg.shared_layers else None
        super().__init__(cfg, EncoderEmbeddings(cfg), EncoderBlock if shared is None else (lambda _cfg, _i: shared))
        if shared is not None:
            self.blocks = SharedBlocks(shared, cfg.n_layers)     # the base's list held n references to it; hold it once
        self.head = MLMHead(cfg) if with_head else None
        self.has_lm_head = with_head

    def _segments(self, input_ids, token_type_ids):
        """The segment ids to look up (None without a segment table: segment ids then change nothing)."""
        if self.embed.seg is None:
            return None
        if token_type_ids is None:
            return torch.zeros_like(input_ids)
        n_segments = self.config.n_segments
        if token_type_ids.numel() and int(token_type_ids.max()) >= n_segments:
            raise InputError(
                f"The segment ids go up to {int(token_type_ids.max())}, but this model has {n_segments} segment "
                "type(s). Run a single sentence, or choose a model trained on sentence pairs (such as BERT)."
            )
        return token_type_ids

    def _forward(self, input_ids, attention_mask, token_type_ids, rec, head_mask, logits_at=None):
        token_type_ids = self._segments(input_ids, token_type_ids)
        allowed = padding_allowed(attention_mask)                        # [batch, query_pos, key_pos]
        mask_needed = not bool(attention_mask.all())
        x = self.embed(input_ids, token_type_ids, rec)
        for i, block in enumerate(self.blocks):
            x = block(x, allowed, rec, None if head_mask is None else head_mask[i], mask_needed, f"blocks.{i}")
        logits = None
        if self.head is not None:
            rows = x if logits_at is None else x[:, logits_at]             # only the positions asked for
            logits = self.head(rows, self.embed.tok.weight)
            rec("logits", logits)
        return logits, x
