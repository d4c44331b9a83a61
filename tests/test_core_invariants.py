"""What must hold inside any forward pass, whatever the weights."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import model_core
from model_core.layers import merge_heads

SENTENCES = ["the cat sat on the mat because it was warm.", "a short one"]


@pytest.fixture(scope="module", params=["encoder", "decoder"])
def run(request, tiny_encoder, tiny_decoder):
    model = tiny_encoder if request.param == "encoder" else tiny_decoder
    enc = model_core.encode(model, SENTENCES, ["it purred.", None] if request.param == "encoder" else None)
    out = model(enc.input_ids, enc.attention_mask, enc.token_type_ids, record=("*",))
    return model, enc, out


def test_pattern_rows_sum_to_one(run):
    model, _, out = run
    for i in range(model.config.n_layers):
        sums = out.trace[f"blocks.{i}.attn.pattern"].sum(-1)
        assert torch.allclose(sums, torch.ones_like(sums), atol=1e-6)


def test_disallowed_cells_are_exactly_zero(run):
    model, enc, out = run
    for i in range(model.config.n_layers):
        allowed = out.trace[f"blocks.{i}.attn.allowed"]                 # [batch, query_pos, key_pos]
        pattern = out.trace[f"blocks.{i}.attn.pattern"]
        assert (pattern.masked_select(~allowed[:, None].expand_as(pattern)) == 0).all()
        # padding keys are never allowed
        pad_keys = enc.attention_mask == 0
        assert not allowed[pad_keys[:, None, :].expand_as(allowed)].any()


def test_causal_upper_triangle_is_zero_only_for_the_decoder(run):
    model, _, out = run
    pattern = out.trace["blocks.0.attn.pattern"]
    upper = torch.ones(pattern.shape[-2:], dtype=torch.bool).triu(1)
    if model.family == "decoder":
        assert (pattern[..., upper] == 0).all()
    else:
        assert (pattern[0][..., upper] > 0).all()     # sentence 0 is unpadded: it looks ahead


def test_embedding_sum_equals_its_parts(run):
    model, _, out = run
    t = out.trace
    parts = t["embed.tok"] + t["embed.pos"] + (t["embed.seg"] if model.family == "encoder" else 0)
    assert torch.allclose(t["embed.sum"], parts, atol=1e-6)
    if model.family == "encoder":
        assert (t["embed.seg"][0, 0] != t["embed.seg"][0, -1]).any()   # segment B differs from A


def test_attention_steps_compose(run):
    model, _, out = run
    t = out.trace
    d_head = model.config.d_head
    for i in range(model.config.n_layers):
        a = f"blocks.{i}.attn."
        assert torch.allclose(t[a + "raw_scores"], t[a + "q"] @ t[a + "k"].transpose(-1, -2), atol=1e-5)
        assert torch.allclose(t[a + "scores"], t[a + "raw_scores"] / math.sqrt(d_head), atol=1e-5)
        allowed = t[a + "allowed"][:, None].expand_as(t[a + "scores"])
        assert torch.equal(t[a + "masked_scores"][allowed], t[a + "scores"][allowed])
        assert (t[a + "masked_scores"][~allowed] == torch.finfo(torch.float32).min).all()
        assert torch.allclose(t[a + "z"], t[a + "pattern"] @ t[a + "v"], atol=1e-5)
        block = model.blocks[i].attn
        expected_out = merge_heads(t[a + "z"]) @ block.out.weight.T + block.out.bias
        assert torch.allclose(t[a + "out"], expected_out, atol=1e-5)


def test_head_weights_reproduce_q_k_v(run):
    model, _, out = run
    x = out.trace["blocks.1.attn.input"][0].numpy()                     # [pos, d_model]
    for head in (0, model.config.n_heads - 1):
        w = model_core.head_weights(model, 1, head)
        assert w["W_Q"].shape == (model.config.d_model, model.config.d_head)
        assert w["W_O"].shape == (model.config.d_head, model.config.d_model)
        for name in "QKV":
            ours = x @ w[f"W_{name}"] + w[f"b_{name}"]
            recorded = out.trace[f"blocks.1.attn.{name.lower()}"][0, head].numpy()
            np.testing.assert_allclose(ours, recorded, atol=1e-5)


def test_fully_masked_row_is_not_nan():
    scores = torch.randn(1, 2, 3, 3)
    allowed = torch.zeros(1, 1, 3, 3, dtype=torch.bool)
    pattern = model_core.attention_pattern(model_core.mask_scores(scores, allowed))
    assert not torch.isnan(pattern).any()


def test_head_mask_switches_a_head_off(tiny_encoder):
    enc = model_core.encode(tiny_encoder, "the cat sat on the mat")
    head_mask = torch.ones(2, 4)
    head_mask[0, 1] = 0
    full = tiny_encoder(enc.input_ids, record=("blocks.0.attn.z",))
    ablated = tiny_encoder(enc.input_ids, record=("blocks.0.attn.z",), head_mask=head_mask)
    assert (ablated.trace["blocks.0.attn.z"][0, 1] == 0).all()
    assert torch.equal(ablated.trace["blocks.0.attn.z"][0, 0], full.trace["blocks.0.attn.z"][0, 0])
    assert not torch.allclose(ablated.logits, full.logits)


@pytest.mark.parametrize("family", ["encoder", "decoder"])
def test_logits_at_gives_the_same_logits_as_the_full_pass(family, tiny_encoder, tiny_decoder):
    model = tiny_encoder if family == "encoder" else tiny_decoder
    enc = model_core.encode(model, ["the cat sat on the mat", "a dog"])  # padded second row
    full = model(enc.input_ids, enc.attention_mask).logits
    some = model(enc.input_ids, enc.attention_mask, logits_at=[-1, 2, 0]).logits
    assert some.shape == (2, 3, full.shape[-1])
    torch.testing.assert_close(some, full[:, [-1, 2, 0]], rtol=0, atol=1e-5)  # GEMM shape rounding only


def test_sinusoidal_table_formula():
    table = model_core.sinusoidal_table(50, 16)
    assert table.shape == (50, 16)
    pos, i = 7, 3
    assert table[pos, 2 * i] == pytest.approx(math.sin(pos / 10000 ** (2 * i / 16)), abs=1e-6)
    assert table[pos, 2 * i + 1] == pytest.approx(math.cos(pos / 10000 ** (2 * i / 16)), abs=1e-6)
    assert np.allclose(table[0, 0::2], 0) and np.allclose(table[0, 1::2], 1)


def test_sinusoidal_config_uses_the_fixed_table():
    cfg = model_core.EncoderConfig(vocab_size=50, n_positions=20, d_model=16, n_layers=1, n_heads=2, d_mlp=32,
                                   ln_eps=1e-12, act="gelu", pos_kind="sinusoidal")
    model = model_core.Encoder(cfg).eval()
    out = model(torch.tensor([[1, 2, 3]]), record=("embed.pos",))
    assert np.allclose(out.trace["embed.pos"][0].numpy(), model_core.sinusoidal_table(20, 16)[:3])
    assert not model.embed.pos.weight.requires_grad


def test_gelu_variants_differ_slightly():
    x = torch.linspace(-4, 4, 101)
    gap = (model_core.gelu_exact(x) - model_core.gelu_tanh(x)).abs().max().item()
    assert 0 < gap < 1e-3
