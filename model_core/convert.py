"""One explicit conversion per checkpoint family: Hugging Face names and shapes -> ours.

Each conversion lists every key it expects, refuses missing or unknown keys and
wrong shapes, and says why anything is dropped. `transformers` is only needed
for `from_hf` (a live module); the conversions read plain state dicts.
"""
from __future__ import annotations

import torch

from .base import ModelUnavailable
from .decoder import Decoder, DecoderConfig
from .encoder import Encoder, EncoderConfig
from .layers import HF_ACTIVATIONS
from .seq2seq import Seq2Seq, Seq2SeqConfig


def _activation(name: str) -> str:
    if name not in HF_ACTIVATIONS:
        raise ModelUnavailable(f"This checkpoint uses the activation {name!r}, which Attention Explorer does not implement.")
    return HF_ACTIVATIONS[name]


# ---------------------------------------------------------------- configs

def encoder_config_from_hf(hf) -> EncoderConfig:
    """A transformers BertConfig (or its dict) -> EncoderConfig, every value read from the checkpoint."""
    get = hf.get if isinstance(hf, dict) else lambda k, d=None: getattr(hf, k, d)
    if get("position_embedding_type", "absolute") != "absolute":
        raise ModelUnavailable("Only BERT checkpoints with absolute position embeddings are supported.")
    return EncoderConfig(
        vocab_size=get("vocab_size"),
        n_positions=get("max_position_embeddings"),
        d_model=get("hidden_size"),
        n_layers=get("num_hidden_layers"),
        n_heads=get("num_attention_heads"),
        d_mlp=get("intermediate_size"),
        ln_eps=get("layer_norm_eps"),
        act=_activation(get("hidden_act")),
        pad_token_id=get("pad_token_id", 0) or 0,
        n_segments=get("type_vocab_size"),
    )


def decoder_config_from_hf(hf) -> DecoderConfig:
    """A transformers GPT2Config (or its dict) -> DecoderConfig; refuses options this core does not implement."""
    get = hf.get if isinstance(hf, dict) else lambda k, d=None: getattr(hf, k, d)
    if not get("scale_attn_weights", True) or get("scale_attn_by_inverse_layer_idx", False):
        raise ModelUnavailable("This GPT-2 checkpoint scales attention differently from 1/sqrt(d_head); it is not supported.")
    d_model = get("n_embd")
    return DecoderConfig(
        vocab_size=get("vocab_size"),
        n_positions=get("n_positions"),
        d_model=d_model,
        n_layers=get("n_layer"),
        n_heads=get("n_head"),
        d_mlp=get("n_inner") or 4 * d_model,
        ln_eps=get("layer_norm_epsilon"),
        act=_activation(get("activation_function")),
        pad_token_id=get("pad_token_id") or 0,
        bos_token_id=get("attention_explorer_bos_token_id"),
    )


def seq2seq_config_from_hf(hf) -> Seq2SeqConfig:
    """A transformers MarianConfig or BartConfig (or its dict) -> Seq2SeqConfig; refuses what this core does not implement.

    The two differ only in the embeddings: Marian adds the fixed sinusoidal table (sines first, then
    cosines); BART a learned table whose first two rows are never used, then a LayerNorm.
    """
    get = hf.get if isinstance(hf, dict) else lambda k, d=None: getattr(hf, k, d)
    bart = get("model_type") == "bart"
    if get("encoder_attention_heads") != get("decoder_attention_heads") or get("encoder_ffn_dim") != get("decoder_ffn_dim"):
        raise ModelUnavailable("This Marian checkpoint has different encoder and decoder widths; it is not supported.")
    if get("normalize_before", False) or get("add_final_layer_norm", False):
        raise ModelUnavailable("This Marian checkpoint normalises before each sublayer (pre-LN); only post-LN is supported.")
    d_model = get("d_model")
    vocab = get("vocab_size")
    target_vocab = get("decoder_vocab_size") or vocab
    shared = bool(get("share_encoder_decoder_embeddings", True))
    if shared and target_vocab != vocab:
        raise ModelUnavailable("This Marian checkpoint shares embeddings across vocabularies of different sizes.")
    return Seq2SeqConfig(
        vocab_size=vocab,
        n_positions=get("max_position_embeddings"),
        d_model=d_model,
        n_layers=get("encoder_layers"),
        n_heads=get("encoder_attention_heads"),
        d_mlp=get("encoder_ffn_dim"),
        ln_eps=1e-5,                         # Marian's LayerNorms use torch's default epsilon
        act=_activation(get("activation_function")),
        pos_kind="learned" if bart else "sinusoidal_halves",
        pad_token_id=get("pad_token_id") or 0,
        n_decoder_layers=get("decoder_layers"),
        target_vocab_size=0 if target_vocab == vocab else target_vocab,
        shared_embeddings=shared,
        embed_scale=float(d_model) ** 0.5 if get("scale_embedding", False) else 1.0,
        decoder_start_token_id=get("decoder_start_token_id"),
        eos_token_id=get("eos_token_id"),
        pos_offset=2 if bart else 0,
        embed_ln=bart,
    )


# ---------------------------------------------------------------- state dicts

def _take(sd: dict, expected: dict[str, tuple], ignored: set[str], what: str) -> None:
    """Check that `sd` has exactly the expected keys (plus known ignorable ones) with the expected shapes."""
    missing = sorted(set(expected) - set(sd))
    unknown = sorted(set(sd) - set(expected) - ignored)
    if missing or unknown:
        raise ModelUnavailable(
            f"The {what} weights do not match the expected layout: "
            f"missing {missing[:5]}{'...' if len(missing) > 5 else ''}, "
            f"unexpected {unknown[:5]}{'...' if len(unknown) > 5 else ''}."
        )
    for key, shape in expected.items():
        if tuple(sd[key].shape) != shape:
            raise ModelUnavailable(f"{what} weight {key} has shape {tuple(sd[key].shape)}, expected {shape}.")


def bert_state_to_ours(sd: dict, cfg: EncoderConfig, with_head: bool) -> dict:
    """BertModel / BertForMaskedLM state dict (with or without the "bert." prefix) -> Encoder state dict."""
    prefix = "bert." if any(k.startswith("bert.") for k in sd) else ""
    sd = {k[len(prefix):] if k.startswith(prefix) else k: v for k, v in sd.items()}
    D, F, V = cfg.d_model, cfg.d_mlp, cfg.vocab_size
    expected = {
        "embeddings.word_embeddings.weight": (V, D),
        "embeddings.position_embeddings.weight": (cfg.n_positions, D),
        "embeddings.token_type_embeddings.weight": (cfg.n_segments, D),
        "embeddings.LayerNorm.weight": (D,),
        "embeddings.LayerNorm.bias": (D,),
    }
    for i in range(cfg.n_layers):
        p = f"encoder.layer.{i}."
        for name in ("query", "key", "value"):
            expected[p + f"attention.self.{name}.weight"] = (D, D)
            expected[p + f"attention.self.{name}.bias"] = (D,)
        expected.update({
            p + "attention.output.dense.weight": (D, D),
            p + "attention.output.dense.bias": (D,),
            p + "attention.output.LayerNorm.weight": (D,),
            p + "attention.output.LayerNorm.bias": (D,),
            p + "intermediate.dense.weight": (F, D),
            p + "intermediate.dense.bias": (F,),
            p + "output.dense.weight": (D, F),
            p + "output.dense.bias": (D,),
            p + "output.LayerNorm.weight": (D,),
            p + "output.LayerNorm.bias": (D,),
        })
    if with_head:
        expected.update({
            "cls.predictions.transform.dense.weight": (D, D),
            "cls.predictions.transform.dense.bias": (D,),
            "cls.predictions.transform.LayerNorm.weight": (D,),
            "cls.predictions.transform.LayerNorm.bias": (D,),
            "cls.predictions.bias": (V,),
        })
    # Dropped on purpose: the pooler (a [CLS] classifier layer this app never shows),
    # the position_ids buffer, and the decoder copies that are tied to the word
    # embeddings and to cls.predictions.bias (checked below, not trusted).
    ignored = {"pooler.dense.weight", "pooler.dense.bias", "embeddings.position_ids",
               "cls.predictions.decoder.weight", "cls.predictions.decoder.bias"}
    _take(sd, expected, ignored, "BERT")
    if with_head and "cls.predictions.decoder.weight" in sd:
        if not torch.equal(sd["cls.predictions.decoder.weight"], sd["embeddings.word_embeddings.weight"]):
            raise ModelUnavailable("This BERT checkpoint's MLM decoder is not tied to its word embeddings; it is not supported.")

    out = {
        "embed.tok.weight": sd["embeddings.word_embeddings.weight"],
        "embed.seg.weight": sd["embeddings.token_type_embeddings.weight"],
        "embed.pos.weight": sd["embeddings.position_embeddings.weight"],
        "embed.ln.weight": sd["embeddings.LayerNorm.weight"],
        "embed.ln.bias": sd["embeddings.LayerNorm.bias"],
    }
    for i in range(cfg.n_layers):
        p, o = f"encoder.layer.{i}.", f"blocks.{i}."
        att = p + "attention.self."
        out[o + "attn.qkv.weight"] = torch.cat([sd[att + n + ".weight"] for n in ("query", "key", "value")])
        out[o + "attn.qkv.bias"] = torch.cat([sd[att + n + ".bias"] for n in ("query", "key", "value")])
        pairs = {
            "attn.out": "attention.output.dense",
            "ln_1": "attention.output.LayerNorm",
            "mlp.fc_in": "intermediate.dense",
            "mlp.fc_out": "output.dense",
            "ln_2": "output.LayerNorm",
        }
        for ours, theirs in pairs.items():
            out[o + ours + ".weight"] = sd[p + theirs + ".weight"]
            out[o + ours + ".bias"] = sd[p + theirs + ".bias"]
    if with_head:
        out.update({
            "head.dense.weight": sd["cls.predictions.transform.dense.weight"],
            "head.dense.bias": sd["cls.predictions.transform.dense.bias"],
            "head.ln.weight": sd["cls.predictions.transform.LayerNorm.weight"],
            "head.ln.bias": sd["cls.predictions.transform.LayerNorm.bias"],
            "head.bias": sd["cls.predictions.bias"],
        })
    return out


def gpt2_state_to_ours(sd: dict, cfg: DecoderConfig) -> dict:
    """GPT2Model / GPT2LMHeadModel state dict -> Decoder state dict.

    GPT-2 stores its projections as Conv1D with weight [in, out]; nn.Linear wants
    [out, in], so every matrix is transposed here.
    """
    prefix = "transformer." if any(k.startswith("transformer.") for k in sd) else ""
    sd = {k[len(prefix):] if k.startswith(prefix) else k: v for k, v in sd.items()}
    D, F, V = cfg.d_model, cfg.d_mlp, cfg.vocab_size
    expected = {"wte.weight": (V, D), "wpe.weight": (cfg.n_positions, D), "ln_f.weight": (D,), "ln_f.bias": (D,)}
    for i in range(cfg.n_layers):
        p = f"h.{i}."
        expected.update({
            p + "ln_1.weight": (D,), p + "ln_1.bias": (D,),
            p + "attn.c_attn.weight": (D, 3 * D), p + "attn.c_attn.bias": (3 * D,),
            p + "attn.c_proj.weight": (D, D), p + "attn.c_proj.bias": (D,),
            p + "ln_2.weight": (D,), p + "ln_2.bias": (D,),
            p + "mlp.c_fc.weight": (D, F), p + "mlp.c_fc.bias": (F,),
            p + "mlp.c_proj.weight": (F, D), p + "mlp.c_proj.bias": (D,),
        })
    # lm_head.weight is tied to wte (checked below); old checkpoints carry causal-mask buffers.
    ignored = {"lm_head.weight"} | {f"h.{i}.attn.{b}" for i in range(cfg.n_layers) for b in ("bias", "masked_bias")}
    _take(sd, expected, ignored, "GPT-2")
    if "lm_head.weight" in sd and not torch.equal(sd["lm_head.weight"], sd["wte.weight"]):
        raise ModelUnavailable("This GPT-2 checkpoint's LM head is not tied to its token embeddings; it is not supported.")

    out = {"embed.tok.weight": sd["wte.weight"], "embed.pos.weight": sd["wpe.weight"],
           "ln_final.weight": sd["ln_f.weight"], "ln_final.bias": sd["ln_f.bias"]}
    for i in range(cfg.n_layers):
        p, o = f"h.{i}.", f"blocks.{i}."
        for ours, theirs in {"ln_1": "ln_1", "ln_2": "ln_2"}.items():
            out[o + ours + ".weight"] = sd[p + theirs + ".weight"]
            out[o + ours + ".bias"] = sd[p + theirs + ".bias"]
        for ours, theirs in {"attn.qkv": "attn.c_attn", "attn.out": "attn.c_proj",
                             "mlp.fc_in": "mlp.c_fc", "mlp.fc_out": "mlp.c_proj"}.items():
            out[o + ours + ".weight"] = sd[p + theirs + ".weight"].t().contiguous()   # Conv1D [in, out] -> Linear [out, in]
            out[o + ours + ".bias"] = sd[p + theirs + ".bias"]
    return out


def seq2seq_state_to_ours(sd: dict, cfg: Seq2SeqConfig) -> dict:
    """MarianMTModel or BartForConditionalGeneration state dict -> Seq2Seq state dict.

    The token tables (`model.shared`, each stack's `embed_tokens`, `lm_head`) are one tensor in a
    shared-embedding checkpoint: whichever copies are present must be equal (checked, not trusted).
    Marian's sinusoidal position tables are taken from the checkpoint when it stores them; BART's
    learned ones and its `layernorm_embedding` must be there.
    """
    D, F, V, VT, P = cfg.d_model, cfg.d_mlp, cfg.vocab_size, cfg.target_vocab, cfg.n_positions + cfg.pos_offset
    expected = {"final_logits_bias": (1, VT)}
    if cfg.embed_ln:
        for side in ("encoder", "decoder"):
            expected.update({f"model.{side}.layernorm_embedding.weight": (D,),
                             f"model.{side}.layernorm_embedding.bias": (D,),
                             f"model.{side}.embed_positions.weight": (P, D)})
    for side, n_layers in (("encoder", cfg.n_layers), ("decoder", cfg.n_decoder_layers)):
        attentions = ("self_attn", "encoder_attn") if side == "decoder" else ("self_attn",)
        for i in range(n_layers):
            p = f"model.{side}.layers.{i}."
            for att in attentions:
                for proj in ("q_proj", "k_proj", "v_proj", "out_proj"):
                    expected[p + f"{att}.{proj}.weight"] = (D, D)
                    expected[p + f"{att}.{proj}.bias"] = (D,)
                expected[p + f"{att}_layer_norm.weight"] = (D,)
                expected[p + f"{att}_layer_norm.bias"] = (D,)
            expected.update({p + "fc1.weight": (F, D), p + "fc1.bias": (F,), p + "fc2.weight": (D, F),
                             p + "fc2.bias": (D,), p + "final_layer_norm.weight": (D,), p + "final_layer_norm.bias": (D,)})
    tables = {"model.shared.weight": (V, D), "model.encoder.embed_tokens.weight": (V, D),
              "model.decoder.embed_tokens.weight": (VT, D), "lm_head.weight": (VT, D)}
    positions = {"model.encoder.embed_positions.weight": (P, D), "model.decoder.embed_positions.weight": (P, D)}
    optional = {k: v for k, v in {**tables, **positions}.items() if k in sd}
    _take(sd, {**expected, **optional}, set(), "BART" if cfg.embed_ln else "Marian")
    source = sd.get("model.encoder.embed_tokens.weight", sd.get("model.shared.weight"))
    target = sd.get("model.decoder.embed_tokens.weight", sd.get("model.shared.weight") if cfg.shared_embeddings else None)
    if source is None or target is None:
        raise ModelUnavailable("The weights have no token embedding table; the checkpoint is incomplete.")
    copies = [sd[k] for k in tables if k in sd] if cfg.shared_embeddings else [target, sd.get("lm_head.weight", target)]
    if any(not torch.equal(t, copies[0]) for t in copies):
        raise ModelUnavailable("This checkpoint's token tables are not tied to one another; it is not supported.")

    out = {"encoder.embed.tok.weight": source, "decoder.embed.tok.weight": target,
           "final_logits_bias": sd["final_logits_bias"].reshape(VT)}
    for side in ("encoder", "decoder"):
        key = f"model.{side}.embed_positions.weight"
        if key in sd:
            out[f"{side}.embed.pos.weight"] = sd[key]
        if cfg.embed_ln:
            out[f"{side}.embed.ln.weight"] = sd[f"model.{side}.layernorm_embedding.weight"]
            out[f"{side}.embed.ln.bias"] = sd[f"model.{side}.layernorm_embedding.bias"]
    for side, n_layers in (("encoder", cfg.n_layers), ("decoder", cfg.n_decoder_layers)):
        for i in range(n_layers):
            p, o = f"model.{side}.layers.{i}.", f"{side}.blocks.{i}."
            att = p + "self_attn."
            out[o + "attn.qkv.weight"] = torch.cat([sd[att + f"{n}_proj.weight"] for n in "qkv"])
            out[o + "attn.qkv.bias"] = torch.cat([sd[att + f"{n}_proj.bias"] for n in "qkv"])
            pairs = {"attn.out": "self_attn.out_proj", "ln_1": "self_attn_layer_norm", "mlp.fc_in": "fc1",
                     "mlp.fc_out": "fc2", "ln_2": "final_layer_norm"}
            if side == "decoder":
                cross = p + "encoder_attn."
                out[o + "cross_attn.kv.weight"] = torch.cat([sd[cross + f"{n}_proj.weight"] for n in "kv"])
                out[o + "cross_attn.kv.bias"] = torch.cat([sd[cross + f"{n}_proj.bias"] for n in "kv"])
                pairs.update({"cross_attn.q": "encoder_attn.q_proj", "cross_attn.out": "encoder_attn.out_proj",
                              "ln_cross": "encoder_attn_layer_norm"})
            for ours, theirs in pairs.items():
                out[o + ours + ".weight"] = sd[p + theirs + ".weight"]
                out[o + ours + ".bias"] = sd[p + theirs + ".bias"]
    return out


def build_seq2seq(sd: dict, cfg: Seq2SeqConfig) -> Seq2Seq:
    model = Seq2Seq(cfg)
    ours = {k: v.float() for k, v in seq2seq_state_to_ours(sd, cfg).items()}
    # A tied table is one parameter with two names: both names get the same tensor.
    # Position tables the checkpoint leaves out keep the formula's values.
    missing, unexpected = model.load_state_dict(ours, strict=False)
    allowed_missing = set() if cfg.embed_ln else {f"{side}.embed.pos.weight" for side in ("encoder", "decoder")}
    if unexpected or set(missing) - allowed_missing:
        raise ModelUnavailable(f"Internal conversion error: missing {missing}, unexpected {unexpected}.")
    return model.eval()


def build_encoder(sd: dict, cfg: EncoderConfig, with_head: bool) -> Encoder:
    model = Encoder(cfg, with_head=with_head)
    model.load_state_dict({k: v.float() for k, v in bert_state_to_ours(sd, cfg, with_head).items()}, strict=True)
    return model.eval()


def build_decoder(sd: dict, cfg: DecoderConfig, with_head: bool) -> Decoder:
    model = Decoder(cfg, with_head=with_head)
    model.load_state_dict({k: v.float() for k, v in gpt2_state_to_ours(sd, cfg).items()}, strict=True)
    return model.eval()


def from_hf(hf_module, tokenizer=None):
    """An eval() transformers BertModel, BertForMaskedLM, GPT2Model, GPT2LMHeadModel, MarianMTModel or
    BartForConditionalGeneration, or a RoBERTa, DistilBERT or ALBERT model (convert_bert_family.HF_CLASSES)
    -> ours, same weights."""
    from .convert_bert_family import HF_CLASSES, build_bert_family   # imported here: it builds on this module

    kind = type(hf_module).__name__
    sd = {k: v.detach() for k, v in hf_module.state_dict().items()}
    if kind in ("BertModel", "BertForMaskedLM"):
        model = build_encoder(sd, encoder_config_from_hf(hf_module.config), with_head=kind == "BertForMaskedLM")
    elif kind in HF_CLASSES:
        model_type, with_head = HF_CLASSES[kind]
        model = build_bert_family(model_type, sd, hf_module.config, with_head=with_head)
    elif kind in ("GPT2Model", "GPT2LMHeadModel"):
        model = build_decoder(sd, decoder_config_from_hf(hf_module.config), with_head=kind == "GPT2LMHeadModel")
    elif kind in ("MarianMTModel", "BartForConditionalGeneration"):
        model = build_seq2seq(sd, seq2seq_config_from_hf(hf_module.config))
    else:
        raise ModelUnavailable(
            f"{kind} is not supported: Attention Explorer reads BertModel, BertForMaskedLM, "
            f"{', '.join(HF_CLASSES)}, GPT2Model, GPT2LMHeadModel, MarianMTModel and BartForConditionalGeneration."
        )
    model.tokenizer = tokenizer
    model.name = getattr(hf_module.config, "_name_or_path", "") or kind
    return model
