"""A self-contained PyTorch transformer core that records every intermediate.

    import model_core
    m = model_core.load_bundled("encoder")
    enc = model_core.encode(m, "the cat sat on the mat")
    out = m(enc.input_ids, enc.attention_mask, enc.token_type_ids, record=("blocks.*.attn.pattern",))
    out.trace["blocks.0.attn.pattern"]      # [batch, head, query_pos, key_pos]

No Streamlit in here; `transformers` is used only to read tokenizers and configs.
"""
from .base import InputError, ModelConfig, ModelOutput, ModelUnavailable, TransformerModel
from .convert import from_hf
from .decoder import Decoder, DecoderConfig
from .encoder import Encoder, EncoderConfig
from .layers import (
    attention_pattern,
    causal_allowed,
    gelu_exact,
    gelu_tanh,
    mask_scores,
    padding_allowed,
    raw_scores,
    scale_scores,
    sinusoidal_table,
    weighted_values,
)
from .loading import load_bundled, load_pretrained, tiny_random
from .text import Encoded, encode, fill_mask, greedy_continue, next_token
from .trace import Recorder, Trace
from .weights import head_weights, position_table, token_embedding

__all__ = [
    "InputError", "ModelConfig", "ModelOutput", "ModelUnavailable", "TransformerModel",
    "from_hf", "Decoder", "DecoderConfig", "Encoder", "EncoderConfig",
    "attention_pattern", "causal_allowed", "gelu_exact", "gelu_tanh", "mask_scores", "padding_allowed",
    "raw_scores", "scale_scores", "sinusoidal_table", "weighted_values",
    "load_bundled", "load_pretrained", "tiny_random",
    "Encoded", "encode", "fill_mask", "greedy_continue", "next_token",
    "Recorder", "Trace", "head_weights", "position_table", "token_embedding",
]
