"""Bad input and unavailable models end in a sentence, never a stack trace or a network call."""
from __future__ import annotations

import shutil
import time

import pytest
import torch

import model_core
from model_core import InputError, ModelUnavailable


@pytest.mark.parametrize("text", ["", "   ", "\n\t"])
def test_empty_text_is_refused_with_a_sentence(tiny_encoder, text):
    with pytest.raises(InputError, match="empty"):
        model_core.encode(tiny_encoder, text)


def test_too_long_input_is_truncated_and_flagged(tiny_encoder, tiny_decoder):
    text = "word " * 3000
    enc = model_core.encode(tiny_encoder, text)
    assert enc.truncated and enc.input_ids.shape == (1, 512)
    assert enc.tokens[0][0] == "[CLS]" and enc.tokens[0][-1] == "[SEP]"
    dec = model_core.encode(tiny_decoder, text)
    assert dec.truncated and dec.input_ids.shape == (1, 512)
    short = model_core.encode(tiny_encoder, "a few words", max_tokens=3)
    assert short.truncated and short.tokens[0] == ["[CLS]", "a", "[SEP]"]


def test_forward_refuses_more_tokens_than_positions(tiny_encoder):
    with pytest.raises(InputError, match="only 512 positions"):
        tiny_encoder(torch.ones(1, 513, dtype=torch.long))


def test_mismatched_mask_shape(tiny_encoder):
    with pytest.raises(InputError, match="must match"):
        tiny_encoder(torch.ones(2, 5, dtype=torch.long), attention_mask=torch.ones(2, 4, dtype=torch.long))
    with pytest.raises(InputError, match="head mask"):
        tiny_encoder(torch.ones(1, 5, dtype=torch.long), head_mask=torch.ones(3, 4))


@pytest.mark.parametrize("text", ["😀🎉 emoji only", "注意力机制很有用", "مرحبا بالعالم", "<script>alert(1)</script>",
                                  "[MASK] [SEP] [CLS] typed in"])
def test_unusual_text_runs(tiny_encoder, tiny_decoder, text):
    for model in (tiny_encoder, tiny_decoder):
        enc = model_core.encode(model, text)
        out = model(enc.input_ids, enc.attention_mask, enc.token_type_ids, record=("blocks.0.attn.pattern",))
        assert out.trace["blocks.0.attn.pattern"].shape[-1] == len(enc.tokens[0])


def test_fill_mask_needs_a_mask_and_a_head(tiny_encoder, tiny_decoder, bundled_encoder):
    with pytest.raises(InputError, match=r"\[MASK\]"):
        model_core.fill_mask(tiny_encoder, "no blank here")
    with pytest.raises(InputError, match="next-token"):
        model_core.fill_mask(tiny_decoder, "the [MASK] sat")
    if not bundled_encoder.has_lm_head:
        with pytest.raises(InputError, match="no masked-language-model head"):
            model_core.fill_mask(bundled_encoder, "the [MASK] sat")


def test_fill_mask_one_list_per_mask(tiny_encoder):
    preds = model_core.fill_mask(tiny_encoder, "the [MASK] sat on the [MASK].", top_k=3)
    assert len(preds) == 2 and all(len(p) == 3 for p in preds)
    probs = [p for _, p in preds[0]]
    assert probs == sorted(probs, reverse=True) and 0 < sum(probs) <= 1


def test_top_tokens_best_first_and_at_most_the_vocabulary(tiny_encoder):
    tok = tiny_encoder.tokenizer
    probs = torch.tensor([0.1, 0.6, 0.3])
    best = model_core.top_tokens(probs, tok, 2)
    assert [t for t, _ in best] == tok.convert_ids_to_tokens([1, 2])
    assert [p for _, p in best] == pytest.approx([0.6, 0.3]) and all(type(p) is float for _, p in best)
    assert len(model_core.top_tokens(probs, tok, 10)) == 3


def test_next_token_and_greedy(tiny_decoder, tiny_encoder):
    preds = model_core.next_token(tiny_decoder, "once upon a", top_k=4)
    assert len(preds) == 4 and all(isinstance(t, str) for t, _ in preds)
    sharp = model_core.next_token(tiny_decoder, "once upon a", top_k=1, temperature=0.2)
    assert sharp[0][0] == preds[0][0] and sharp[0][1] > preds[0][1]
    assert isinstance(model_core.greedy_continue(tiny_decoder, "once upon a", n_tokens=3), str)
    with pytest.raises(InputError, match="MASK"):
        model_core.next_token(tiny_encoder, "once upon a")
    with pytest.raises(InputError, match="temperature"):
        model_core.next_token(tiny_decoder, "once upon a", temperature=0)


def test_unknown_hub_id_is_a_sentence_not_a_hang(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    start = time.monotonic()
    with pytest.raises(ModelUnavailable, match="local folder"):
        model_core.load_pretrained("no-such-user/no-such-model-xyz")
    assert time.monotonic() - start < 30


def test_missing_folder_and_unsafe_weights_are_refused(tmp_path):
    with pytest.raises(ModelUnavailable, match="no folder"):
        model_core.load_pretrained(str(tmp_path / "missing"))
    (tmp_path / "config.json").write_text('{"model_type": "bert"}')
    (tmp_path / "pytorch_model.bin").write_bytes(b"pickle data is never loaded")
    with pytest.raises(ModelUnavailable, match="safetensors"):
        model_core.load_pretrained(str(tmp_path))
    with pytest.raises(ModelUnavailable, match="Type a"):
        model_core.load_pretrained("  ")


def test_unsupported_architecture_is_refused(tmp_path, tiny_encoder):
    from safetensors.torch import save_file

    (tmp_path / "config.json").write_text('{"model_type": "t5"}')
    save_file({"x": torch.zeros(1)}, str(tmp_path / "model.safetensors"))
    with pytest.raises(ModelUnavailable, match="only BERT, RoBERTa, DistilBERT, ALBERT, GPT-2, Marian and BART"):
        model_core.load_pretrained(str(tmp_path))


def tiny_checkpoint(family: str):
    """A tiny BertForMaskedLM or GPT2LMHeadModel: its state dict, its config, and one of its layer keys."""
    import transformers

    if family == "encoder":
        cfg = transformers.BertConfig(vocab_size=50, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                                      intermediate_size=32, max_position_embeddings=8)
        return transformers.BertForMaskedLM(cfg).state_dict(), cfg, "bert.encoder.layer.0.output.dense.bias"
    cfg = transformers.GPT2Config(vocab_size=50, n_embd=16, n_layer=1, n_head=2, n_positions=8)
    return transformers.GPT2LMHeadModel(cfg).state_dict(), cfg, "transformer.h.0.mlp.c_fc.bias"


def convert_checkpoint(family: str, sd: dict, hf_config):
    """The family's conversion, as load_pretrained runs it on a folder's state dict."""
    from model_core import convert

    if family == "encoder":
        return convert.build_encoder(sd, convert.encoder_config_from_hf(hf_config), with_head=True)
    return convert.build_decoder(sd, convert.decoder_config_from_hf(hf_config), with_head=True)


@pytest.mark.parametrize("family", ["encoder", "decoder"])
@pytest.mark.parametrize("damage, message", [("missing", r"missing \['"), ("unexpected", r"unexpected \['"),
                                             ("shape", r"has shape \(3,\)")])
def test_conversion_checks_every_key_and_shape(family, damage, message):
    sd, hf_config, key = tiny_checkpoint(family)
    assert convert_checkpoint(family, dict(sd), hf_config).embed.tok.weight.shape == (50, 16)
    if damage == "missing":
        del sd[key]
    elif damage == "unexpected":
        sd[key.replace("bias", "extra")] = torch.zeros(1)
    else:
        sd[key] = torch.zeros(3)
    with pytest.raises(ModelUnavailable, match=message):
        convert_checkpoint(family, sd, hf_config)


def test_tampered_minilm_weights_are_refused(tmp_path, monkeypatch):
    src = model_core.loading.minilm_dir()
    fake = tmp_path / "model"
    fake.mkdir()
    for f in ("config.json", "tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json"):
        shutil.copy(src / f, fake / f)
    (fake / "model.safetensors").write_bytes((src / "model.safetensors").read_bytes()[:-1] + b"\0")
    monkeypatch.setattr(model_core.loading, "minilm_dir", lambda: fake)
    with pytest.raises(ModelUnavailable, match="refusing"):
        model_core.load_bundled("encoder")


@pytest.mark.parametrize("kind", ["encoder", "decoder"])
def test_bundled_models_load_with_no_network(no_network, kind):
    model = model_core.load_bundled(kind)
    assert model.family == kind and model.config.n_heads == 12
    enc = model_core.encode(model, "no network here")
    out = model(enc.input_ids, record=("blocks.5.attn.pattern",))
    assert out.trace["blocks.5.attn.pattern"].shape == (1, 12, len(enc.tokens[0]), len(enc.tokens[0]))
    assert model.tokenizer.backend_tokenizer.padding is None and model.tokenizer.backend_tokenizer.truncation is None
