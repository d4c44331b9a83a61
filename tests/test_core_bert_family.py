"""RoBERTa, DistilBERT and ALBERT on the encoder core: parity with transformers (eager, 1e-5) on tiny
random configs with real padding, ALBERT's one shared block, the trace names, and refused checkpoints."""
from __future__ import annotations

import pytest
import torch
import transformers
from test_core_parity import assert_close, random_weights, tiny_bert_config
from test_core_trace import golden

import model_core
from model_core import InputError, ModelUnavailable
from model_core.convert_bert_family import (FAMILIES, albert_config_from_hf, albert_state_to_ours, build_bert_family,
                                            distilbert_state_to_ours, roberta_config_from_hf, roberta_state_to_ours)
from model_core.encoder import offset_positions

VOCAB, HIDDEN, HEADS, MLP, POSITIONS = 120, 32, 4, 37, 64


def tiny_roberta_config(**overrides):
    values = dict(vocab_size=VOCAB, hidden_size=HIDDEN, num_hidden_layers=2, num_attention_heads=HEADS,
                  intermediate_size=MLP, max_position_embeddings=POSITIONS, type_vocab_size=1, pad_token_id=1,
                  hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    values.update(overrides)
    return transformers.RobertaConfig(**values)


def tiny_distilbert_config(**overrides):
    values = dict(vocab_size=VOCAB, dim=HIDDEN, n_layers=2, n_heads=HEADS, hidden_dim=MLP,
                  max_position_embeddings=POSITIONS, dropout=0.0, attention_dropout=0.0)
    values.update(overrides)
    return transformers.DistilBertConfig(**values)


def tiny_albert_config(**overrides):
    values = dict(vocab_size=VOCAB, embedding_size=16, hidden_size=HIDDEN, num_hidden_layers=3,
                  num_attention_heads=HEADS, intermediate_size=MLP, max_position_embeddings=POSITIONS,
                  type_vocab_size=2, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    values.update(overrides)
    return transformers.AlbertConfig(**values)


# name -> (transformers class, its tiny config)
CASES = {
    "RobertaModel": (transformers.RobertaModel, tiny_roberta_config),
    "RobertaForMaskedLM": (transformers.RobertaForMaskedLM, tiny_roberta_config),
    "RobertaForMaskedLM-relu": (transformers.RobertaForMaskedLM, lambda: tiny_roberta_config(hidden_act="relu")),
    "DistilBertModel": (transformers.DistilBertModel, tiny_distilbert_config),
    "DistilBertModel-sinusoidal": (transformers.DistilBertModel, lambda: tiny_distilbert_config(sinusoidal_pos_embds=True)),
    "DistilBertForMaskedLM": (transformers.DistilBertForMaskedLM, tiny_distilbert_config),
    "AlbertModel": (transformers.AlbertModel, tiny_albert_config),
    "AlbertForMaskedLM": (transformers.AlbertForMaskedLM, tiny_albert_config),
    "AlbertForMaskedLM-gelu": (transformers.AlbertForMaskedLM, lambda: tiny_albert_config(hidden_act="gelu")),
}


def build(case: str, seed: int = 11):
    cls, config = CASES[case]
    hf = random_weights(cls(config()), seed)
    hf.config._attn_implementation = "eager"
    return hf


def padded_batch(pad_token_id: int, types: bool = False):
    """Two rows of 11 ids; the second has 6 real tokens, then the model's own pad id (so RoBERTa's
    positions really meet padding). With ``types``, row 0 is a sentence pair (segment B from 5)."""
    gen = torch.Generator().manual_seed(5)
    ids = torch.randint(3, VOCAB, (2, 11), generator=gen)
    mask = torch.ones(2, 11, dtype=torch.long)
    mask[1, 6:] = 0
    ids[1, 6:] = pad_token_id
    token_types = torch.zeros(2, 11, dtype=torch.long)
    if types:
        token_types[0, 5:] = 1
    return ids, mask, token_types if types else None


def run_both(hf, types: bool = False):
    ours = model_core.from_hf(hf)
    ids, mask, token_types = padded_batch(hf.config.pad_token_id, types)
    extra = {} if token_types is None else {"token_type_ids": token_types}
    with torch.no_grad():
        ref = hf(input_ids=ids, attention_mask=mask, output_attentions=True, output_hidden_states=True, **extra)
    out = ours(ids, mask, token_types, record=("*",))
    return ours, out, ref, mask.bool()


@pytest.mark.parametrize("case", list(CASES))
def test_matches_transformers(case):
    hf = build(case)
    albert = case.startswith("Albert")
    ours, out, ref, real = run_both(hf, types=albert)
    n_layers = ours.config.n_layers
    assert len(ref.hidden_states) == n_layers + 1 and len(ref.attentions) == n_layers
    # transformers' first hidden state is what block 0 reads: ALBERT's is after the map up to H.
    first = out.trace["embed.proj" if albert else "embed.out"]
    assert_close(first[real], ref.hidden_states[0][real], "embeddings")
    assert_close(out.trace["blocks.0.resid_pre"], first, "block 0 input")
    for i in range(n_layers):
        ours_rows = out.trace[f"blocks.{i}.attn.pattern"].transpose(1, 2)[real]      # [real query, head, key_pos]
        assert_close(ours_rows, ref.attentions[i].transpose(1, 2)[real], f"layer {i} pattern")
        assert_close(out.trace[f"blocks.{i}.resid_post"][real], ref.hidden_states[i + 1][real], f"layer {i} hidden")
    if "ForMaskedLM" in case:
        assert ours.has_lm_head
        assert_close(out.logits[real], ref.logits[real], "MLM logits")
        assert torch.equal(out.logits[real].argmax(-1), ref.logits[real].argmax(-1))
    else:
        assert not ours.has_lm_head and out.logits is None
        assert_close(out.last_hidden[real], ref.last_hidden_state[real], "last hidden state")


def test_offset_positions_follow_transformers():
    ids = torch.tensor([[0, 5, 6, 2, 1, 1], [0, 7, 1, 8, 2, 1]])       # pad id 1: trailing, and once mid-row
    expected = torch.tensor([[2, 3, 4, 5, 1, 1], [2, 3, 1, 4, 5, 1]])
    assert torch.equal(offset_positions(ids, 1), expected)
    reference = transformers.models.roberta.modeling_roberta.RobertaEmbeddings.create_position_ids_from_input_ids
    assert torch.equal(offset_positions(ids, 1), reference(ids, 1))


def test_roberta_positions_skip_the_padding_rows():
    hf = build("RobertaModel")
    ours, out, _, _ = run_both(hf)
    cfg, table = ours.config, ours.embed.pos.weight
    assert (cfg.pos_offset, cfg.n_positions, cfg.n_segments) == (2, POSITIONS - 2, 1)
    assert table.shape == (POSITIONS, HIDDEN)
    pos = out.trace["embed.pos"]                                         # [batch, pos, d_model]
    assert torch.equal(pos[0], table[2:13])                              # real tokens from pad_token_id + 1
    assert torch.equal(pos[1, :6], table[2:8])
    assert torch.equal(pos[1, 6:], table[1].expand(5, -1))               # padding reads row pad_token_id
    assert (model_core.position_table(ours) == table[2:].detach().numpy()).all()   # one row per usable position
    with pytest.raises(InputError, match="63 tokens, but this model has only 62 positions"):
        ours(torch.full((1, 63), 5))


def test_roberta_head_uses_exact_gelu_whatever_hidden_act():
    ours = model_core.from_hf(build("RobertaForMaskedLM-relu"))
    assert ours.config.act == "relu" and ours.config.head_act == "gelu"
    assert ours.head.act is model_core.gelu_exact


def test_segments_the_model_lacks():
    roberta = model_core.from_hf(build("RobertaModel"))
    with pytest.raises(InputError, match="segment ids go up to 1, but this model has 1 segment"):
        roberta(torch.tensor([[0, 5, 6, 2]]), token_type_ids=torch.tensor([[0, 0, 1, 1]]))
    distil = model_core.from_hf(build("DistilBertModel"))
    ids = torch.tensor([[5, 6, 7, 8]])
    plain = distil(ids, record=("embed.*",))
    paired = distil(ids, token_type_ids=torch.tensor([[0, 0, 1, 1]]))  # no segment table: the ids change nothing
    assert torch.equal(plain.last_hidden, paired.last_hidden)
    t = plain.trace
    assert not t["embed.seg"].any()
    assert torch.equal(t["embed.sum"], t["embed.tok"] + t["embed.seg"] + t["embed.pos"])


def albert_parameter_count(cfg: transformers.AlbertConfig, with_head: bool) -> int:
    """ALBERT's parameters counted from its config: each tensor once, the shared layer once."""
    V, E, H, I, P, T = (cfg.vocab_size, cfg.embedding_size, cfg.hidden_size, cfg.intermediate_size,
                        cfg.max_position_embeddings, cfg.type_vocab_size)
    embeddings = V * E + P * E + T * E + 2 * E + (E * H + H)            # tables, LayerNorm, map up to H
    layer = 4 * (H * H + H) + 2 * (2 * H) + (H * I + I) + (I * H + H)   # q, k, v, out; two LayerNorms; feed-forward
    head = (H * E + E) + 2 * E + V                                       # dense, LayerNorm, bias (decoder tied)
    return embeddings + layer + (head if with_head else 0)


@pytest.mark.parametrize("with_head", [True, False])
def test_albert_holds_one_block_applied_every_layer(with_head):
    hf = build("AlbertForMaskedLM" if with_head else "AlbertModel")
    ours, out, _, _ = run_both(hf, types=True)
    n_layers = hf.config.num_hidden_layers
    assert len(ours.blocks) == n_layers == 3
    assert all(block is ours.blocks[0] for block in ours.blocks)
    assert all(ours.blocks[i] is ours.blocks[0] for i in range(-n_layers, n_layers))
    with pytest.raises(IndexError):
        ours.blocks[n_layers]
    block_modules = [name for name, _ in ours.named_modules() if name.startswith("blocks.") and name.count(".") == 1]
    assert block_modules == ["blocks.shared"]
    assert sorted({k.split(".")[1] for k in ours.state_dict() if k.startswith("blocks.")}) == ["shared"]
    params = list(ours.parameters())
    assert len(params) == 7 + 12 + (5 if with_head else 0)              # embeddings (+proj), one block, head
    assert len(params) == len(ours.state_dict())                         # no tensor under two names
    count = albert_parameter_count(hf.config, with_head)
    assert sum(p.numel() for p in params) == count
    pooler = 0 if with_head else hf.config.hidden_size ** 2 + hf.config.hidden_size   # transformers' AlbertModel has one
    assert sum(p.numel() for p in hf.parameters()) - pooler == count
    patterns = [out.trace[f"blocks.{i}.attn.pattern"] for i in range(n_layers)]
    for i in range(n_layers):
        for j in range(i + 1, n_layers):
            assert (patterns[i] - patterns[j]).abs().max() > 1e-3, f"layers {i} and {j} attend alike"


def test_a_shared_block_keeps_nothing_from_its_passes():
    """Applying ALBERT's one block three times leaves no per-layer state on it (record, don't stash)."""
    ours = model_core.from_hf(build("AlbertForMaskedLM"))
    before = {name: dict(vars(m)) for name, m in ours.named_modules()}
    ours(torch.tensor([[2, 5, 6, 3]]), record=("*",))
    after = {name: dict(vars(m)) for name, m in ours.named_modules()}
    assert before.keys() == after.keys()
    for name in before:
        assert before[name].keys() == after[name].keys(), f"{name} gained attributes during forward"
    assert ours.blocks[1].name == "blocks.shared"                       # its label; each pass records as blocks.{i}


@pytest.mark.parametrize("case", ["RobertaForMaskedLM", "DistilBertForMaskedLM", "DistilBertModel", "AlbertForMaskedLM",
                                  "AlbertModel"])
def test_trace_names_are_berts(case):
    """Every name a page reads is there, as BERT's (of the same depth, with or without the head) has it."""
    ours, out, _, _ = run_both(build(case))
    n_layers, with_head = ours.config.n_layers, ours.has_lm_head
    bert_class = transformers.BertForMaskedLM if with_head else transformers.BertModel
    bert = model_core.from_hf(random_weights(bert_class(tiny_bert_config(num_hidden_layers=n_layers)), 0))
    bert_names = set(bert(torch.tensor([[5, 6, 7]]), record=("*",)).trace)
    assert bert_names == golden(n_layers, "encoder") - (set() if with_head else {"logits"})
    extra = {"embed.proj"} if case.startswith("Albert") else set()
    assert set(out.trace) == bert_names | extra


def children(module) -> set[str]:
    return {name for name, _ in module.named_children()}


def test_module_trees():
    roberta, distil, albert = (model_core.from_hf(build(c)) for c in ("RobertaForMaskedLM", "DistilBertForMaskedLM",
                                                                        "AlbertForMaskedLM"))
    assert children(roberta.embed) == {"tok", "seg", "pos", "ln"}
    assert children(distil.embed) == {"tok", "pos", "ln"}
    assert children(albert.embed) == {"tok", "seg", "pos", "ln", "proj"}
    for model in (roberta, distil, albert):
        assert children(model) == {"embed", "blocks", "head"}
        assert children(model.blocks[0]) == {"attn", "ln_1", "mlp", "ln_2"}
    assert children(albert.blocks) == {"shared"}
    assert albert.head.dense.weight.shape == (16, HIDDEN) and albert.embed.tok.weight.shape == (VOCAB, 16)
    w = model_core.head_weights(albert, 2, 1)
    assert w["W_Q"].shape == (HIDDEN, HIDDEN // HEADS)
    assert (w["W_Q"] == model_core.head_weights(albert, 0, 1)["W_Q"]).all()


@pytest.mark.parametrize("overrides, message", [
    (dict(num_hidden_groups=2), "2 layer group"),
    (dict(inner_group_num=2), "of 2 layer"),
])
def test_albert_layer_groups_other_than_one_are_refused(overrides, message):
    hf = transformers.AlbertForMaskedLM(tiny_albert_config(**overrides)).eval()
    with pytest.raises(ModelUnavailable, match=message):
        model_core.from_hf(hf)
    with pytest.raises(ModelUnavailable, match="only one group of one shared layer"):
        albert_config_from_hf(tiny_albert_config(**overrides).to_dict())


@pytest.mark.parametrize("overrides, message", [
    (dict(is_decoder=True), "causal decoder"),
    (dict(position_embedding_type="relative_key"), "absolute position embeddings"),
    (dict(pad_token_id=None), "no pad_token_id"),
])
def test_roberta_configs_that_are_refused(overrides, message):
    values = tiny_roberta_config().to_dict()
    values.update(overrides)
    with pytest.raises(ModelUnavailable, match=message):
        roberta_config_from_hf(values)


def state_and_config(case: str):
    hf = build(case)
    return {k: v.clone() for k, v in hf.state_dict().items()}, hf.config


# case -> (a key to damage, the tied copy to detach, the family's conversion)
DAMAGE = {
    "RobertaForMaskedLM": ("roberta.encoder.layer.1.output.dense.bias", "lm_head.decoder.weight", roberta_state_to_ours),
    "DistilBertForMaskedLM": ("distilbert.transformer.layer.0.ffn.lin1.bias", "vocab_projector.weight",
                              distilbert_state_to_ours),
    "AlbertForMaskedLM": ("albert.encoder.albert_layer_groups.0.albert_layers.0.ffn.bias", "predictions.decoder.bias",
                          albert_state_to_ours),
}


@pytest.mark.parametrize("case", list(DAMAGE))
@pytest.mark.parametrize("damage, message", [("missing", r"missing \['"), ("unexpected", r"unexpected \['"),
                                             ("shape", r"has shape \(3,\)"), ("untied", "is not tied to")])
def test_conversions_check_every_key_shape_and_tie(case, damage, message):
    sd, hf_config = state_and_config(case)
    model_type = hf_config.model_type
    key, tied, _ = DAMAGE[case]
    assert build_bert_family(model_type, dict(sd), hf_config).has_lm_head
    if damage == "missing":
        del sd[key]
    elif damage == "unexpected":
        sd[key.replace("bias", "extra")] = torch.zeros(1)
    elif damage == "shape":
        sd[key] = torch.zeros(3)
    else:
        sd[tied] = sd[tied] + 1.0
    with pytest.raises(ModelUnavailable, match=message):
        build_bert_family(model_type, sd, hf_config)


@pytest.mark.parametrize("case", list(DAMAGE))
def test_a_head_the_model_was_not_asked_for_is_refused(case):
    sd, hf_config = state_and_config(case)
    to_ours = DAMAGE[case][2]
    config_reader = FAMILIES[hf_config.model_type][0]
    with pytest.raises(ModelUnavailable, match=r"unexpected \['"):
        to_ours(sd, config_reader(hf_config), with_head=False)


@pytest.mark.parametrize("case", ["RobertaForMaskedLM", "DistilBertModel", "AlbertForMaskedLM"])
def test_local_folder_loads_like_transformers(case, tmp_path, tiny_encoder):
    """load_pretrained on a saved folder: safetensors (tied copies left out by transformers) + a tokenizer."""
    hf = build(case)
    hf.save_pretrained(tmp_path, safe_serialization=True)
    tiny_encoder.tokenizer.save_pretrained(tmp_path)
    ours = model_core.load_pretrained(str(tmp_path))
    assert ours.family == "encoder" and ours.has_lm_head == ("ForMaskedLM" in case)
    ids, mask, _ = padded_batch(hf.config.pad_token_id)
    with torch.no_grad():
        ref = hf(input_ids=ids, attention_mask=mask, output_attentions=True)
    out = ours(ids, mask, record=("blocks.*.attn.pattern",))
    real = mask.bool()
    theirs = ref.logits if ours.has_lm_head else ref.last_hidden_state
    assert_close((out.logits if ours.has_lm_head else out.last_hidden)[real], theirs[real], "outputs from a folder")
    assert_close(out.trace.stack("attn.pattern"), torch.stack(ref.attentions), "patterns from a folder")


def test_from_hf_names_the_classes_it_reads():
    hf = transformers.ElectraModel(transformers.ElectraConfig(vocab_size=VOCAB, hidden_size=16, num_hidden_layers=1,
                                                             num_attention_heads=2, intermediate_size=32))
    with pytest.raises(ModelUnavailable, match="RobertaForMaskedLM, DistilBertModel.*AlbertForMaskedLM"):
        model_core.from_hf(hf)
