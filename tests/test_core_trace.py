"""The trace's names and the module tree are a stable API: golden lists, and only what was asked is kept."""
from __future__ import annotations

import pytest
import torch

import model_core

ATTN = ["input", "q", "k", "v", "raw_scores", "scores", "allowed", "masked_scores", "pattern", "z", "out"]
BLOCK = ["resid_pre", "resid_mid", "resid_post", "mlp.pre", "mlp.post", "mlp.out"] + [f"attn.{n}" for n in ATTN]


def golden(n_layers: int, family: str) -> set[str]:
    names = {"embed.tok", "embed.pos", "embed.sum", "embed.out", "logits"}
    if family == "encoder":
        names.add("embed.seg")
    else:
        names.add("ln_final.out")
    return names | {f"blocks.{i}.{n}" for i in range(n_layers) for n in BLOCK}


def test_golden_names_encoder(tiny_encoder):
    out = tiny_encoder(torch.tensor([[101, 2000, 102]]), record=("*",))
    assert set(out.trace) == golden(2, "encoder")


def test_golden_names_decoder(tiny_decoder):
    out = tiny_decoder(torch.tensor([[2000, 2001]]), record=("*",))
    assert set(out.trace) == golden(2, "decoder")


def test_patterns_only_trace_holds_no_qkv(tiny_encoder):
    out = tiny_encoder(torch.tensor([[101, 2000, 2001, 102]]), record=("blocks.*.attn.pattern",))
    assert set(out.trace) == {"blocks.0.attn.pattern", "blocks.1.attn.pattern"}
    nothing = tiny_encoder(torch.tensor([[101, 102]]))
    assert len(nothing.trace) == 0 and nothing.logits is not None


def test_stack_and_numpy(tiny_decoder):
    out = tiny_decoder(torch.tensor([[2000, 2001, 2002]]), record=("blocks.*.attn.pattern", "blocks.*.attn.allowed"))
    stacked = out.trace.stack("attn.pattern")
    assert stacked.shape == (2, 1, 4, 3, 3)                 # [layer, batch, head, query_pos, key_pos]
    arrays = out.trace.numpy()
    assert arrays["blocks.0.attn.pattern"].dtype.name == "float32"
    assert arrays["blocks.0.attn.allowed"].dtype.name == "bool"


def test_nothing_from_a_forward_pass_stays_on_the_model(tiny_encoder):
    before = {name: dict(vars(m)) for name, m in tiny_encoder.named_modules()}
    tiny_encoder(torch.tensor([[101, 2000, 102]]), record=("*",))
    after = {name: dict(vars(m)) for name, m in tiny_encoder.named_modules()}
    for name in before:
        assert before[name].keys() == after[name].keys(), f"{name} gained attributes during forward"
        for key, value in before[name].items():
            if isinstance(value, torch.Tensor):
                assert after[name][key] is value


def children(module) -> set[str]:
    return {name for name, _ in module.named_children()}


def test_both_families_have_one_module_tree(tiny_encoder, tiny_decoder):
    """embed.*, blocks.{i}.*, then the family's top: code that reads weights never branches on the family."""
    assert children(tiny_encoder) == {"embed", "blocks", "head"}
    assert children(tiny_decoder) == {"embed", "blocks", "ln_final"}
    assert children(tiny_encoder.embed) == {"tok", "seg", "pos", "ln"}
    assert children(tiny_decoder.embed) == {"tok", "pos"}
    for model in (tiny_encoder, tiny_decoder):
        assert children(model.blocks[0]) == {"attn", "ln_1", "mlp", "ln_2"}
        assert (model_core.position_table(model) == model.embed.pos.weight.detach().numpy()).all()


def test_a_family_must_define_its_forward(tiny_encoder):
    class NoForward(model_core.TransformerModel):
        family = "incomplete"

    with pytest.raises(TypeError, match="_forward"):
        NoForward(tiny_encoder.config)


def test_forward_is_inference_only(tiny_decoder):
    assert tiny_decoder.embed.tok.weight.requires_grad
    out = tiny_decoder(torch.tensor([[2000, 2001]]), record=("*",))
    assert not out.logits.requires_grad and not out.last_hidden.requires_grad
