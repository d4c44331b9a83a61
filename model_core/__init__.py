"""A small PyTorch transformer core for inference that records every intermediate.

Three families, each written out top to bottom: the encoder (BERT layout,
encoder.py; RoBERTa, DistilBERT and ALBERT convert into it too, convert_bert_family.py),
the decoder (GPT-2 layout, decoder.py) and the encoder-decoder (the original
Transformer as Marian writes it, seq2seq.py). The first two have one module tree:
`embed.tok`, `embed.pos` (the encoder adds `embed.seg` and `embed.ln`),
`blocks.{i}.attn`, `blocks.{i}.mlp`, then `ln_final` (decoder) or the MLM `head`
(encoder); the encoder-decoder has the same under `encoder.` and `decoder.`, with
`decoder.blocks.{i}.cross_attn`. A forward pass writes what `record` asks for into
a Trace, a flat mapping of dotted names (`embed.sum`, `blocks.3.attn.pattern`,
`decoder.blocks.0.cross_attn.pattern`, `logits`).

    import model_core
    m = model_core.load_bundled("encoder")
    enc = model_core.encode(m, "the cat sat on the mat")
    out = m(enc.input_ids, enc.attention_mask, enc.token_type_ids, record=("blocks.*.attn.pattern",))
    out.trace["blocks.0.attn.pattern"]      # [batch, head, query_pos, key_pos]

    d = model_core.load_bundled("decoder")
    model_core.generate(d, "once upon a time", strategy="sample", top_p=0.9, seed=0)  # greedy by default

    t = model_core.load_bundled("translator")
    model_core.translate(t, "The file could not be saved.")   # greedy; num_beams=4 for beam search

Inference only: forward runs without gradients. Training is done in
`transformers` (scripts/ train there and export), and convert.py turns those
checkpoints into this tree, checking every key and shape. No Streamlit in here;
`transformers` is used only to read tokenizers and configs.
"""
from .base import InputError, ModelConfig, ModelOutput, ModelUnavailable, TransformerModel
from .convert import from_hf
from .decoder import Decoder, DecoderConfig
from .encoder import Encoder, EncoderConfig
from .layers import (
    attend,
    attention_pattern,
    causal_allowed,
    gelu_exact,
    gelu_tanh,
    mask_scores,
    padding_allowed,
    raw_scores,
    scale_scores,
    sinusoidal_halves,
    sinusoidal_table,
    weighted_values,
)
from .loading import load_bundled, load_pretrained, tiny_random
from .objectives import OBJECTIVES, check_order, objective_masks
from .seq2seq import Seq2Seq, Seq2SeqConfig, Seq2SeqOutput
from .generation import (DEFAULT_DECODING, STRATEGIES, Decoding, Generation, Step, generate, generate_steps,
                         greedy_continue)
from .text import Encoded, encode, fill_mask, next_token, top_tokens
from .trace import Recorder, Trace
from .translation import Translation, generate_ids, translate, translate_full
from .weights import head_weights, position_table

__all__ = [
    "InputError", "ModelConfig", "ModelOutput", "ModelUnavailable", "TransformerModel",
    "from_hf", "Decoder", "DecoderConfig", "Encoder", "EncoderConfig", "Seq2Seq", "Seq2SeqConfig", "Seq2SeqOutput",
    "attend", "attention_pattern", "causal_allowed", "gelu_exact", "gelu_tanh", "mask_scores", "padding_allowed",
    "raw_scores", "scale_scores", "sinusoidal_halves", "sinusoidal_table", "weighted_values",
    "load_bundled", "load_pretrained", "tiny_random", "OBJECTIVES", "check_order", "objective_masks",
    "DEFAULT_DECODING", "STRATEGIES", "Decoding", "Generation", "Step", "generate", "generate_steps", "greedy_continue",
    "Encoded", "encode", "fill_mask", "next_token", "top_tokens",
    "Recorder", "Trace", "head_weights", "position_table",
    "Translation", "generate_ids", "translate", "translate_full",
]
