"""Parity with Hugging Face transformers (eager attention) on the same weights, to 1e-5."""
from __future__ import annotations

import pytest
import torch
import transformers

import model_core

ATOL = 1e-5


def tiny_bert_config(**overrides):
    values = dict(vocab_size=120, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                  intermediate_size=37, max_position_embeddings=64, type_vocab_size=2,
                  hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    values.update(overrides)
    return transformers.BertConfig(**values)


def tiny_gpt2_config(**overrides):
    values = dict(vocab_size=120, n_embd=32, n_layer=2, n_head=4, n_positions=64,
                  resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0, bos_token_id=1, eos_token_id=2)
    values.update(overrides)
    return transformers.GPT2Config(**values)


def random_weights(module, seed):
    """Move every parameter off its default init, so LayerNorms and biases are tested too."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.add_(torch.randn(p.shape, generator=gen) * 0.1)
    return module.eval()


def batch_of_two():
    """Two sequences of different lengths: the second is padded, so the padding mask is real."""
    gen = torch.Generator().manual_seed(7)
    ids = torch.randint(3, 120, (2, 11), generator=gen)
    mask = torch.ones(2, 11, dtype=torch.long)
    mask[1, 6:] = 0
    ids[1, 6:] = 0
    return ids, mask


def assert_close(ours, theirs, what):
    diff = (ours - theirs).abs().max().item()
    assert diff <= ATOL, f"{what}: max abs difference {diff:.3g} > {ATOL}"


def compare(ours_out, hf_out, n_layers, real, last_hidden_is_final_ln=False):
    """Compare every layer's hidden state and attention pattern at real (unpadded) positions."""
    trace = ours_out.trace
    assert_close(trace["embed.out"][real], hf_out.hidden_states[0][real], "embeddings")
    for i in range(n_layers):
        assert_close(trace[f"blocks.{i}.attn.pattern"], hf_out.attentions[i], f"layer {i} attention pattern")
        hf_hidden = hf_out.hidden_states[i + 1]
        ours_hidden = trace[f"blocks.{i}.resid_post"]
        if last_hidden_is_final_ln and i == n_layers - 1:
            ours_hidden = trace["ln_final.out"]     # transformers' GPT-2 applies ln_f before storing the last one
        assert_close(ours_hidden[real], hf_hidden[real], f"layer {i} hidden state")


def run_both(hf, token_type_ids=None):
    """Convert `hf` (eager attention) and run it and ours on the padded batch of two, recording everything.

    Returns (ours, our output, transformers' output, the real-token mask [batch, pos]).
    """
    hf.config._attn_implementation = "eager"
    ours = model_core.from_hf(hf)
    ids, mask = batch_of_two()
    types = {} if token_type_ids is None else {"token_type_ids": token_type_ids}
    with torch.no_grad():
        ref = hf(input_ids=ids, attention_mask=mask, output_attentions=True, output_hidden_states=True, **types)
    out = ours(ids, mask, token_type_ids, record=("*",))
    return ours, out, ref, mask.bool()


@pytest.mark.parametrize("act", ["gelu", "gelu_new", "relu"])
def test_bert_mlm_matches_transformers(act):
    hf = random_weights(transformers.BertForMaskedLM(tiny_bert_config(hidden_act=act)), seed=1)
    types = torch.zeros(2, 11, dtype=torch.long)
    types[0, 5:] = 1                                       # sentence pair: segment B from position 5
    ours, out, ref, real = run_both(hf, types)
    compare(out, ref, 2, real)
    assert_close(out.logits[real], ref.logits[real], "MLM logits")
    assert ours.config.act == {"gelu": "gelu", "gelu_new": "gelu_tanh", "relu": "relu"}[act]


def test_bert_base_model_matches_transformers():
    hf = random_weights(transformers.BertModel(tiny_bert_config(), add_pooling_layer=True), seed=2)
    ours, out, ref, real = run_both(hf)
    assert not ours.has_lm_head
    assert out.logits is None
    compare(out, ref, 2, real)
    assert_close(out.last_hidden[real], ref.last_hidden_state[real], "last hidden state")


@pytest.mark.parametrize("act", ["gelu_new", "gelu"])
def test_gpt2_lm_matches_transformers(act):
    hf = random_weights(transformers.GPT2LMHeadModel(tiny_gpt2_config(activation_function=act)), seed=3)
    _, out, ref, real = run_both(hf)
    compare(out, ref, 2, real, last_hidden_is_final_ln=True)
    assert_close(out.logits[real], ref.logits[real], "LM logits")
    # Same greedy next tokens, as minGPT's test does.
    assert torch.equal(out.logits[real].argmax(-1), ref.logits[real].argmax(-1))


def test_gpt2_base_model_matches_transformers():
    hf = random_weights(transformers.GPT2Model(tiny_gpt2_config()), seed=4)
    ours, out, ref, real = run_both(hf)
    assert not ours.has_lm_head and out.logits is None
    compare(out, ref, 2, real, last_hidden_is_final_ln=True)
    assert_close(out.last_hidden[real], ref.last_hidden_state[real], "last hidden state")


def test_local_folder_loads_like_transformers(tmp_path, bundled_encoder):
    """load_pretrained on a saved folder (safetensors + tokenizer) gives the same model."""
    hf = random_weights(transformers.BertForMaskedLM(tiny_bert_config(vocab_size=30522)), seed=5)
    hf.save_pretrained(tmp_path, safe_serialization=True)
    bundled_encoder.tokenizer.save_pretrained(tmp_path)
    ours = model_core.load_pretrained(str(tmp_path))
    assert ours.has_lm_head and ours.family == "encoder"
    enc = model_core.encode(ours, ["the cat sat on the mat.", "a dog"])
    hf.config._attn_implementation = "eager"
    with torch.no_grad():
        ref = hf(input_ids=enc.input_ids, attention_mask=enc.attention_mask, output_attentions=True)
    out = ours(enc.input_ids, enc.attention_mask, record=("blocks.*.attn.pattern",))
    real = enc.attention_mask.bool()
    assert_close(out.logits[real], ref.logits[real], "logits from a local folder")
    assert_close(out.trace.stack("attn.pattern"), torch.stack(ref.attentions), "patterns from a local folder")


def hf_bundled_encoder():
    """transformers' own BertForMaskedLM (or BertModel) built from the same package files + shipped delta."""
    from safetensors.torch import load_file

    folder = model_core.loading.minilm_dir()
    delta_path = model_core.loading.BUNDLED_DIR / "encoder" / model_core.loading.ENCODER_DELTA
    if not delta_path.is_file():
        return transformers.BertModel.from_pretrained(str(folder), attn_implementation="eager", local_files_only=True).eval()
    config = transformers.BertConfig.from_pretrained(str(folder))
    config._attn_implementation = "eager"
    hf = transformers.BertForMaskedLM(config)
    sd = {"bert." + k: v for k, v in load_file(str(folder / "model.safetensors")).items()}
    sd.update({k: v.float() for k, v in load_file(str(delta_path)).items()})
    missing, unexpected = hf.load_state_dict(sd, strict=False)
    assert set(missing) <= {"cls.predictions.decoder.weight", "cls.predictions.decoder.bias"}, missing
    assert set(unexpected) <= {"bert.embeddings.position_ids", "bert.pooler.dense.weight", "bert.pooler.dense.bias"}, unexpected
    hf.tie_weights()
    return hf.eval()


def test_bundled_encoder_matches_transformers_bert(bundled_encoder):
    """The real all-MiniLM-L6-v2 weights (plus any shipped MLM delta) through our core and through transformers."""
    hf = hf_bundled_encoder()
    sentences = ["The capital of France is Paris.", "I drank a cup of coffee this morning.",
                 "Attention is all you need"]
    enc = model_core.encode(bundled_encoder, sentences, [None, "It was still hot.", None])
    with torch.no_grad():
        ref = hf(input_ids=enc.input_ids, attention_mask=enc.attention_mask, token_type_ids=enc.token_type_ids,
                 output_attentions=True, output_hidden_states=True)
    out = bundled_encoder(enc.input_ids, enc.attention_mask, enc.token_type_ids,
                          record=("embed.out", "blocks.*.attn.pattern", "blocks.*.resid_post"))
    real = enc.attention_mask.bool()
    compare(out, ref, 6, real)
    if bundled_encoder.has_lm_head:
        assert_close(out.logits[real], ref.logits[real], "bundled MLM logits")
