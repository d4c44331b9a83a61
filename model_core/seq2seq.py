"""The encoder-decoder family (the original Transformer, as Marian writes it), read top to bottom.

Both stacks start from token embeddings times embed_scale (sqrt(d_model) when the config says so)
plus fixed sinusoidal positions; no LayerNorm on the embeddings. BART is the same but for learned
positions (offset by 2 rows) and a LayerNorm on the summed embeddings.
Encoder blocks are post-LN: x = LN(x + self_attn(x)); x = LN(x + mlp(x)); attention is bidirectional
over the real source tokens.
Decoder blocks are post-LN with three sublayers:
    x = LN(x + masked_self_attn(x))            causal and target padding
    x = LN(x + cross_attn(x, encoder output))  queries from the decoder, keys and values from the encoder
    x = LN(x + mlp(x))
Output: the decoder's last stream times the target embedding matrix (tied), plus final_logits_bias.

Module tree: `encoder.embed.{tok,pos}`, `encoder.blocks.{i}.{attn,ln_1,mlp,ln_2}`,
`decoder.embed.{tok,pos}`, `decoder.blocks.{i}.{attn,ln_1,cross_attn,ln_cross,mlp,ln_2}`,
`final_logits_bias`. With shared embeddings `encoder.embed.tok` and `decoder.embed.tok` are one module.
Trace names are those of the other families under an `encoder.` or `decoder.` prefix, plus
`decoder.blocks.{i}.cross_attn.*` (pattern [batch, head, target_pos, source_pos]),
`decoder.blocks.{i}.resid_cross` (after the cross-attention sublayer), `encoder.out` and `logits`.
`*.embed.tok` is the looked-up row already times embed_scale, so `embed.sum = embed.tok + embed.pos`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Optional, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .base import InputError, ModelConfig, ModelOutput, check_inputs
from .encoder import EncoderBlock
from .layers import CrossAttention, FeedForward, SelfAttention, causal_allowed, padding_allowed, position_embedding
from .trace import Recorder


@dataclass(frozen=True)
class Seq2SeqConfig(ModelConfig):
    n_decoder_layers: int = 6            # n_layers counts the encoder's blocks
    target_vocab_size: int = 0           # 0: the same vocabulary as the source
    shared_embeddings: bool = True       # one token table for source and target
    embed_scale: float = 1.0             # sqrt(d_model) for Marian with scale_embedding
    decoder_start_token_id: int = 0      # the first decoder input (Marian: the pad id; BART: </s>)
    eos_token_id: int = 0                # ends a sentence on both sides
    pos_offset: int = 0                  # learned tables (BART) keep their first rows unused: position p is row p + 2
    embed_ln: bool = False               # a LayerNorm on the summed embeddings (BART's layernorm_embedding)

    @property
    def target_vocab(self) -> int:
        return self.target_vocab_size or self.vocab_size


@dataclass
class Seq2SeqOutput(ModelOutput):
    encoder_hidden: Optional[torch.Tensor] = None   # [batch, source_pos, d_model]: the keys' and values' source


class StackEmbeddings(nn.Module):
    """Token (times embed_scale) + position, summed; then a LayerNorm only for BART (`ln`)."""

    def __init__(self, cfg: Seq2SeqConfig, tok: nn.Embedding, name: str):
        super().__init__()
        self.name = name
        self.tok = tok
        self.pos = position_embedding(cfg.n_positions + cfg.pos_offset, cfg.d_model, cfg.pos_kind)
        self.offset = cfg.pos_offset
        self.scale = cfg.embed_scale
        self.ln = nn.LayerNorm(cfg.d_model, eps=cfg.ln_eps) if cfg.embed_ln else None

    def forward(self, input_ids, rec, start: int = 0):
        """``start``: the position of the first token (incremental decoding feeds one token at a time)."""
        n = self.name
        tok = self.tok(input_ids) * self.scale                           # [batch, pos, d_model]
        positions = torch.arange(start, start + input_ids.shape[1], device=input_ids.device) + self.offset
        pos = self.pos(positions)[None].expand_as(tok)
        rec(f"{n}.tok", tok)
        rec(f"{n}.pos", pos)
        summed = tok + pos
        rec(f"{n}.sum", summed)
        out = summed if self.ln is None else self.ln(summed)
        rec(f"{n}.out", out)
        return out


class DecoderBlock(nn.Module):
    """x = ln_1(x + self_attn(x)); x = ln_cross(x + cross_attn(x, memory)); x = ln_2(x + mlp(x))."""

    def __init__(self, cfg: Seq2SeqConfig, index: int):
        super().__init__()
        self.name = f"decoder.blocks.{index}"
        self.attn = SelfAttention(cfg.d_model, cfg.n_heads, f"{self.name}.attn")
        self.ln_1 = nn.LayerNorm(cfg.d_model, eps=cfg.ln_eps)
        self.cross_attn = CrossAttention(cfg.d_model, cfg.n_heads, f"{self.name}.cross_attn")
        self.ln_cross = nn.LayerNorm(cfg.d_model, eps=cfg.ln_eps)
        self.mlp = FeedForward(cfg.d_model, cfg.d_mlp, cfg.act, f"{self.name}.mlp")
        self.ln_2 = nn.LayerNorm(cfg.d_model, eps=cfg.ln_eps)

    def forward(self, x, memory, self_allowed, cross_allowed, rec, cross_needed=True, cache=None):
        """``cache``: this layer's {"self": {...}, "cross": {...}} keys and values (incremental decoding)."""
        n = self.name
        rec(f"{n}.resid_pre", x)
        self_cache, cross_cache = (None, None) if cache is None else (cache["self"], cache["cross"])
        x = self.ln_1(x + self.attn(x, self_allowed, rec, cache=self_cache))
        rec(f"{n}.resid_mid", x)
        x = self.ln_cross(x + self.cross_attn(x, memory, cross_allowed, rec, mask_needed=cross_needed,
                                              cache=cross_cache))
        rec(f"{n}.resid_cross", x)
        x = self.ln_2(x + self.mlp(x, rec))
        rec(f"{n}.resid_post", x)
        return x


class Stack(nn.Module):
    """One side of the model: `embed` and `blocks`."""

    def __init__(self, embed: nn.Module, blocks: Iterable[nn.Module]):
        super().__init__()
        self.embed = embed
        self.blocks = nn.ModuleList(blocks)


class Seq2Seq(nn.Module):
    """Encoder-decoder Transformer; inference only (forward runs without gradients)."""

    family = "seq2seq"

    def __init__(self, cfg: Seq2SeqConfig):
        super().__init__()
        self.config = cfg
        self.tokenizer = None
        self.name = "seq2seq (random weights)"
        self.has_lm_head = True
        source_tok = nn.Embedding(cfg.vocab_size, cfg.d_model)
        target_tok = source_tok if cfg.shared_embeddings else nn.Embedding(cfg.target_vocab, cfg.d_model)
        self.encoder = Stack(StackEmbeddings(cfg, source_tok, "encoder.embed"),
                             (EncoderBlock(cfg, i, prefix="encoder.") for i in range(cfg.n_layers)))
        self.decoder = Stack(StackEmbeddings(cfg, target_tok, "decoder.embed"),
                             (DecoderBlock(cfg, i) for i in range(cfg.n_decoder_layers)))
        self.final_logits_bias = nn.Parameter(torch.zeros(cfg.target_vocab))

    def new_cache(self) -> dict:
        """An empty incremental-decoding state: per decoder layer the self- and cross-attention keys and values."""
        return {"length": 0, "layers": [{"self": {}, "cross": {}} for _ in self.decoder.blocks]}

    def encode_source(self, input_ids, attention_mask, rec: Recorder) -> torch.Tensor:
        """The encoder stack on checked inputs -> its output [batch, source_pos, d_model]."""
        allowed = padding_allowed(attention_mask)                        # [batch, query_pos, key_pos]
        mask_needed = not bool(attention_mask.all())
        x = self.encoder.embed(input_ids, rec)
        for block in self.encoder.blocks:
            x = block(x, allowed, rec, None, mask_needed)
        rec("encoder.out", x)
        return x

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: Optional[torch.Tensor] = None,
        decoder_input_ids: Optional[torch.Tensor] = None,
        decoder_attention_mask: Optional[torch.Tensor] = None,
        record: Iterable[str] = (),
        logits_at: Optional[Sequence[int]] = None,
        encoder_hidden: Optional[torch.Tensor] = None,
        cache: Optional[dict] = None,
    ) -> Seq2SeqOutput:
        """Source ids [batch, source_pos] and decoder inputs [batch, target_pos] (None: the start token alone)
        -> logits [batch, target_pos, target_vocab]. ``encoder_hidden`` (from an earlier call on the same
        source) skips the encoder: step-by-step decoding runs it once.

        ``cache`` (from ``new_cache()``, owned by the caller): incremental decoding. The decoder inputs are
        then only the new tokens; the earlier positions' keys and values come from the cache, which this
        call extends. No padding on the target side in this mode."""
        input_ids, attention_mask, _ = check_inputs(self.config, input_ids, attention_mask, None)
        if decoder_input_ids is None:
            decoder_input_ids = torch.full((input_ids.shape[0], 1), self.config.decoder_start_token_id,
                                           dtype=torch.long, device=input_ids.device)
        decoder_input_ids, decoder_attention_mask, _ = check_inputs(
            self.config, decoder_input_ids, decoder_attention_mask, None, side="target")
        if decoder_input_ids.shape[0] != input_ids.shape[0]:
            raise InputError(f"There are {input_ids.shape[0]} source rows but {decoder_input_ids.shape[0]} target rows.")
        rec = Recorder(record)
        with torch.inference_mode():         # the core's one no_grad: callers need none of their own
            memory = encoder_hidden if encoder_hidden is not None else self.encode_source(input_ids, attention_mask, rec)
            n_target = decoder_input_ids.shape[1]
            start = 0 if cache is None else cache["length"]
            # Causal AND padding: target position t reads real target positions <= t (with a cache, the
            # new positions also read every earlier one).
            self_allowed = padding_allowed(decoder_attention_mask) & causal_allowed(n_target, input_ids.device)
            if start:
                earlier = torch.ones(self_allowed.shape[0], n_target, start, dtype=torch.bool, device=input_ids.device)
                self_allowed = torch.cat([earlier, self_allowed], dim=2)
            # Every target position reads every real source position.
            cross_allowed = attention_mask.bool()[:, None, :].expand(-1, n_target, -1)
            cross_needed = not bool(attention_mask.all())                # a padded source
            x = self.decoder.embed(decoder_input_ids, rec, start)
            for i, block in enumerate(self.decoder.blocks):
                x = block(x, memory, self_allowed, cross_allowed, rec, cross_needed,
                          None if cache is None else cache["layers"][i])
            if cache is not None:
                cache["length"] = start + n_target
            rows = x if logits_at is None else x[:, torch.as_tensor(logits_at, dtype=torch.long).flatten()]
            logits = F.linear(rows, self.decoder.embed.tok.weight, self.final_logits_bias)  # tied
            rec("logits", logits)
        return Seq2SeqOutput(logits=logits, last_hidden=x, trace=rec.trace, encoder_hidden=memory)
