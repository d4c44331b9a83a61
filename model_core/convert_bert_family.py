"""BERT's relatives -> the encoder core: RoBERTa, DistilBERT and ALBERT, one conversion per family.

Each family has a config reader (transformers config or its dict -> EncoderConfig, every value read
from the checkpoint) and a state-dict conversion that lists every key it expects, refuses missing or
unknown keys and wrong shapes (convert._take), and checks the MLM decoder's ties instead of trusting them.

- RoBERTa: BERT's layout under "roberta.", positions counted from pad_token_id + 1, one segment type,
  and its own head (`lm_head.dense`, `lm_head.layer_norm`, `lm_head.decoder`, `lm_head.bias`), whose
  activation is always exact GELU, whatever `hidden_act` says.
- DistilBERT: no segment table; `transformer.layer.{i}` blocks (`attention.q_lin`, ..., `sa_layer_norm`,
  `ffn.lin1`, `ffn.lin2`, `output_layer_norm`), post-LN like BERT; head `vocab_transform` ->
  `vocab_layer_norm` -> `vocab_projector`. Its LayerNorm epsilon, 1e-12, is fixed in transformers' code.
- ALBERT: embeddings of width E, `embedding_hidden_mapping_in` to H, ONE layer group of one layer that
  every layer applies (held once, as `blocks.shared`); head dense H -> E, activation, LayerNorm(E),
  decoder tied to the word embeddings.
"""
from __future__ import annotations

import dataclasses

import torch

from .base import ModelUnavailable
from .convert import _activation, _take, encoder_config_from_hf
from .encoder import Encoder, EncoderConfig


def _getter(hf):
    return hf.get if isinstance(hf, dict) else lambda k, d=None: getattr(hf, k, d)


def _absolute_positions(get, family: str) -> None:
    if get("position_embedding_type", "absolute") != "absolute":
        raise ModelUnavailable(f"Only {family} checkpoints with absolute position embeddings are supported.")


# ---------------------------------------------------------------- configs

def roberta_config_from_hf(hf) -> EncoderConfig:
    """A RobertaConfig (or its dict) -> EncoderConfig: BERT's fields, positions offset past the padding id."""
    get = _getter(hf)
    _absolute_positions(get, "RoBERTa")
    if get("is_decoder", False) or get("add_cross_attention", False):
        raise ModelUnavailable("This RoBERTa checkpoint is configured as a causal decoder; only the encoder is supported.")
    pad = get("pad_token_id")
    if pad is None:
        raise ModelUnavailable("This RoBERTa config has no pad_token_id, which its positions are counted from; "
                               "add it to config.json.")
    offset = pad + 1                      # rows 0..pad of the table are never a real token's position
    return dataclasses.replace(encoder_config_from_hf(hf), pad_token_id=pad, pos_offset=offset,
                               n_positions=get("max_position_embeddings") - offset, head_act="gelu")


def distilbert_config_from_hf(hf) -> EncoderConfig:
    """A DistilBertConfig (or its dict) -> EncoderConfig: no segments, sinusoidal or learned positions."""
    get = _getter(hf)
    return EncoderConfig(
        vocab_size=get("vocab_size"),
        n_positions=get("max_position_embeddings"),
        d_model=get("dim"),
        n_layers=get("n_layers"),
        n_heads=get("n_heads"),
        d_mlp=get("hidden_dim"),
        ln_eps=1e-12,                     # fixed in transformers' DistilBERT code, not in the config
        act=_activation(get("activation")),
        pos_kind="sinusoidal" if get("sinusoidal_pos_embds", False) else "learned",
        pad_token_id=get("pad_token_id", 0) or 0,
        n_segments=0,
    )


def albert_config_from_hf(hf) -> EncoderConfig:
    """An AlbertConfig (or its dict) -> EncoderConfig: factorised embeddings, one shared block."""
    get = _getter(hf)
    _absolute_positions(get, "ALBERT")
    groups, inner = get("num_hidden_groups", 1), get("inner_group_num", 1)
    if groups != 1 or inner != 1:
        raise ModelUnavailable(
            f"This ALBERT checkpoint has {groups} layer group(s) of {inner} layer(s); only one group of one "
            "shared layer (num_hidden_groups = inner_group_num = 1, as in albert-base-v2) is supported."
        )
    return dataclasses.replace(encoder_config_from_hf(hf), d_embed=get("embedding_size"), shared_layers=True)


# ---------------------------------------------------------------- blocks

# Our block's parts -> each family's module names inside one layer (every part has a weight and a bias).
ROBERTA_BLOCK = {"q": "attention.self.query", "k": "attention.self.key", "v": "attention.self.value",
                 "attn.out": "attention.output.dense", "ln_1": "attention.output.LayerNorm",
                 "mlp.fc_in": "intermediate.dense", "mlp.fc_out": "output.dense", "ln_2": "output.LayerNorm"}
DISTILBERT_BLOCK = {"q": "attention.q_lin", "k": "attention.k_lin", "v": "attention.v_lin",
                    "attn.out": "attention.out_lin", "ln_1": "sa_layer_norm",
                    "mlp.fc_in": "ffn.lin1", "mlp.fc_out": "ffn.lin2", "ln_2": "output_layer_norm"}
ALBERT_BLOCK = {"q": "attention.query", "k": "attention.key", "v": "attention.value",
                "attn.out": "attention.dense", "ln_1": "attention.LayerNorm",
                "mlp.fc_in": "ffn", "mlp.fc_out": "ffn_output", "ln_2": "full_layer_layer_norm"}


def _part_shapes(D: int, F: int) -> dict[str, tuple[tuple, tuple]]:
    """(weight shape, bias shape) of each block part, for d_model D and d_mlp F."""
    square, norm = ((D, D), (D,)), ((D,), (D,))
    return {"q": square, "k": square, "v": square, "attn.out": square, "ln_1": norm,
            "mlp.fc_in": ((F, D), (F,)), "mlp.fc_out": ((D, F), (D,)), "ln_2": norm}


def _block_keys(theirs: str, names: dict[str, str], D: int, F: int) -> dict[str, tuple]:
    """Every key of one layer, prefixed by ``theirs``, with its shape."""
    keys = {}
    for part, (weight, bias) in _part_shapes(D, F).items():
        keys[f"{theirs}{names[part]}.weight"] = weight
        keys[f"{theirs}{names[part]}.bias"] = bias
    return keys


def _block_to_ours(sd: dict, theirs: str, ours: str, names: dict[str, str]) -> dict:
    """One layer's tensors under our names; W_Q, W_K, W_V stacked into one qkv projection."""
    out = {f"{ours}attn.qkv.{t}": torch.cat([sd[f"{theirs}{names[n]}.{t}"] for n in "qkv"]) for t in ("weight", "bias")}
    for part in ("attn.out", "ln_1", "mlp.fc_in", "mlp.fc_out", "ln_2"):
        for t in ("weight", "bias"):
            out[f"{ours}{part}.{t}"] = sd[f"{theirs}{names[part]}.{t}"]
    return out


def _strip(sd: dict, prefix: str) -> dict:
    """Drop the base model's prefix ("roberta.") that the *ForMaskedLM classes put on the body's keys."""
    return {k[len(prefix):] if k.startswith(prefix) else k: v for k, v in sd.items()}


def _convert(sd: dict, what: str, fixed: dict[str, tuple[str, tuple]], blocks: list[tuple[str, str]],
             names: dict[str, str], cfg: EncoderConfig, ignored: set[str], ties: dict[str, str]) -> dict:
    """Check ``sd`` against ``fixed`` (ours -> (theirs, shape)) and the ``blocks`` ((their prefix, our
    prefix) per layer), check each ``ties`` copy equals its original, and return our state dict."""
    expected = {theirs: shape for theirs, shape in fixed.values()}
    for theirs, _ in blocks:
        expected.update(_block_keys(theirs, names, cfg.d_model, cfg.d_mlp))
    _take(sd, expected, ignored | set(ties), what)
    for copy, original in ties.items():
        if copy in sd and not torch.equal(sd[copy], sd[original]):
            raise ModelUnavailable(f"This {what} checkpoint's {copy} is not tied to {original}; it is not supported.")
    out = {ours: sd[theirs] for ours, (theirs, _) in fixed.items()}
    for theirs, ours in blocks:
        out.update(_block_to_ours(sd, theirs, ours, names))
    return out


# ---------------------------------------------------------------- state dicts

def roberta_state_to_ours(sd: dict, cfg: EncoderConfig, with_head: bool) -> dict:
    """RobertaModel / RobertaForMaskedLM state dict -> Encoder state dict."""
    sd = _strip(sd, "roberta.")
    D, V = cfg.d_model, cfg.vocab_size
    fixed = {
        "embed.tok.weight": ("embeddings.word_embeddings.weight", (V, D)),
        "embed.seg.weight": ("embeddings.token_type_embeddings.weight", (cfg.n_segments, D)),
        "embed.pos.weight": ("embeddings.position_embeddings.weight", (cfg.n_positions + cfg.pos_offset, D)),
        "embed.ln.weight": ("embeddings.LayerNorm.weight", (D,)),
        "embed.ln.bias": ("embeddings.LayerNorm.bias", (D,)),
    }
    ties = {}
    if with_head:
        fixed.update({
            "head.dense.weight": ("lm_head.dense.weight", (D, D)),
            "head.dense.bias": ("lm_head.dense.bias", (D,)),
            "head.ln.weight": ("lm_head.layer_norm.weight", (D,)),
            "head.ln.bias": ("lm_head.layer_norm.bias", (D,)),
            "head.bias": ("lm_head.bias", (V,)),
        })
        # The decoder's weight and bias are copies of the word embeddings and of lm_head.bias.
        ties = {"lm_head.decoder.weight": "embeddings.word_embeddings.weight", "lm_head.decoder.bias": "lm_head.bias"}
    # Dropped on purpose: the pooler (a [CLS] classifier layer this app never shows) and old checkpoints' buffers.
    ignored = {"pooler.dense.weight", "pooler.dense.bias", "embeddings.position_ids", "embeddings.token_type_ids"}
    blocks = [(f"encoder.layer.{i}.", f"blocks.{i}.") for i in range(cfg.n_layers)]
    return _convert(sd, "RoBERTa", fixed, blocks, ROBERTA_BLOCK, cfg, ignored, ties)


def distilbert_state_to_ours(sd: dict, cfg: EncoderConfig, with_head: bool) -> dict:
    """DistilBertModel / DistilBertForMaskedLM state dict -> Encoder state dict (no segment table)."""
    sd = _strip(sd, "distilbert.")
    D, V = cfg.d_model, cfg.vocab_size
    fixed = {
        "embed.tok.weight": ("embeddings.word_embeddings.weight", (V, D)),
        "embed.pos.weight": ("embeddings.position_embeddings.weight", (cfg.n_positions, D)),  # the sinusoidal one too
        "embed.ln.weight": ("embeddings.LayerNorm.weight", (D,)),
        "embed.ln.bias": ("embeddings.LayerNorm.bias", (D,)),
    }
    ties = {}
    if with_head:
        fixed.update({
            "head.dense.weight": ("vocab_transform.weight", (D, D)),
            "head.dense.bias": ("vocab_transform.bias", (D,)),
            "head.ln.weight": ("vocab_layer_norm.weight", (D,)),
            "head.ln.bias": ("vocab_layer_norm.bias", (D,)),
            "head.bias": ("vocab_projector.bias", (V,)),
        })
        ties = {"vocab_projector.weight": "embeddings.word_embeddings.weight"}
    ignored = {"embeddings.position_ids"}       # an old checkpoints' buffer, not a weight
    blocks = [(f"transformer.layer.{i}.", f"blocks.{i}.") for i in range(cfg.n_layers)]
    return _convert(sd, "DistilBERT", fixed, blocks, DISTILBERT_BLOCK, cfg, ignored, ties)


def albert_state_to_ours(sd: dict, cfg: EncoderConfig, with_head: bool) -> dict:
    """AlbertModel / AlbertForMaskedLM state dict -> Encoder state dict, the one shared layer as `blocks.shared`."""
    sd = _strip(sd, "albert.")
    D, E, V = cfg.d_model, cfg.d_input, cfg.vocab_size
    fixed = {
        "embed.tok.weight": ("embeddings.word_embeddings.weight", (V, E)),
        "embed.seg.weight": ("embeddings.token_type_embeddings.weight", (cfg.n_segments, E)),
        "embed.pos.weight": ("embeddings.position_embeddings.weight", (cfg.n_positions, E)),
        "embed.ln.weight": ("embeddings.LayerNorm.weight", (E,)),
        "embed.ln.bias": ("embeddings.LayerNorm.bias", (E,)),
        "embed.proj.weight": ("encoder.embedding_hidden_mapping_in.weight", (D, E)),
        "embed.proj.bias": ("encoder.embedding_hidden_mapping_in.bias", (D,)),
    }
    ties = {}
    if with_head:
        fixed.update({
            "head.dense.weight": ("predictions.dense.weight", (E, D)),
            "head.dense.bias": ("predictions.dense.bias", (E,)),
            "head.ln.weight": ("predictions.LayerNorm.weight", (E,)),
            "head.ln.bias": ("predictions.LayerNorm.bias", (E,)),
            "head.bias": ("predictions.bias", (V,)),
        })
        ties = {"predictions.decoder.weight": "embeddings.word_embeddings.weight", "predictions.decoder.bias": "predictions.bias"}
    ignored = {"pooler.weight", "pooler.bias", "embeddings.position_ids", "embeddings.token_type_ids"}
    blocks = [("encoder.albert_layer_groups.0.albert_layers.0.", "blocks.shared.")]   # one layer, applied n_layers times
    return _convert(sd, "ALBERT", fixed, blocks, ALBERT_BLOCK, cfg, ignored, ties)


# ---------------------------------------------------------------- building

# model_type -> (config reader, state-dict conversion, a key only the MLM head has)
FAMILIES = {
    "roberta": (roberta_config_from_hf, roberta_state_to_ours, "lm_head.dense.weight"),
    "distilbert": (distilbert_config_from_hf, distilbert_state_to_ours, "vocab_transform.weight"),
    "albert": (albert_config_from_hf, albert_state_to_ours, "predictions.dense.weight"),
}
# transformers class name -> (model_type, with the MLM head)
HF_CLASSES = {
    "RobertaModel": ("roberta", False), "RobertaForMaskedLM": ("roberta", True),
    "DistilBertModel": ("distilbert", False), "DistilBertForMaskedLM": ("distilbert", True),
    "AlbertModel": ("albert", False), "AlbertForMaskedLM": ("albert", True),
}


def build_bert_family(model_type: str, sd: dict, hf_config, with_head: bool | None = None) -> Encoder:
    """A RoBERTa, DistilBERT or ALBERT state dict and config -> Encoder (eval).

    ``with_head`` None: keep the MLM head when the state dict has one.
    """
    read_config, to_ours, head_key = FAMILIES[model_type]
    cfg = read_config(hf_config)
    if with_head is None:
        with_head = any(k.endswith(head_key) for k in sd)
    model = Encoder(cfg, with_head=with_head)
    model.load_state_dict({k: v.float() for k, v in to_ours(sd, cfg, with_head).items()}, strict=True)
    return model.eval()
