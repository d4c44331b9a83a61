"""The encoder-decoder family: parity with transformers' MarianMTModel (eager) to 1e-5, invariants,
golden trace names, and greedy translation token for token equal to transformers' generate."""
from __future__ import annotations

import pytest
import torch
import transformers

import model_core
from model_core.convert import seq2seq_state_to_ours, seq2seq_config_from_hf

ATOL = 1e-5


def tiny_marian(seed=0, **overrides):
    values = dict(vocab_size=120, d_model=32, encoder_layers=2, decoder_layers=3, encoder_attention_heads=4,
                  decoder_attention_heads=4, encoder_ffn_dim=40, decoder_ffn_dim=40, max_position_embeddings=64,
                  pad_token_id=0, eos_token_id=1, decoder_start_token_id=0, forced_eos_token_id=1,
                  scale_embedding=True, activation_function="relu", dropout=0.0)
    values.update(overrides)
    torch.manual_seed(seed)
    hf = transformers.MarianMTModel(transformers.MarianConfig(**values))
    gen = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for name, p in hf.named_parameters():
            if "embed_positions" not in name:        # the fixed sinusoidal table stays as it is
                p.add_(torch.randn(p.shape, generator=gen) * 0.1)
    hf.config._attn_implementation = "eager"
    return hf.eval()


def padded_batch():
    """Two sources and two targets; the second source and the first target are padded."""
    gen = torch.Generator().manual_seed(3)
    ids = torch.randint(3, 120, (2, 9), generator=gen)
    mask = torch.ones(2, 9, dtype=torch.long)
    mask[1, 5:] = 0
    ids[1, 5:] = 0
    dec = torch.randint(3, 120, (2, 7), generator=gen)
    dec_mask = torch.ones(2, 7, dtype=torch.long)
    dec_mask[0, 4:] = 0
    dec[0, 4:] = 0
    return ids, mask, dec, dec_mask


def close(ours, theirs, what):
    diff = (ours - theirs).abs().max().item()
    assert diff <= ATOL, f"{what}: max abs difference {diff:.3g} > {ATOL}"


@pytest.mark.parametrize("overrides", [{}, {"activation_function": "gelu", "scale_embedding": False},
                                       {"activation_function": "swish"}, {"activation_function": "tanh"}],
                         ids=["relu-scaled", "gelu-unscaled", "swish-as-opus-mt", "tanh-refused"])
def test_marian_parity_with_padding_on_both_sides(overrides):
    hf = tiny_marian(**overrides)
    if overrides.get("activation_function") == "tanh":
        with pytest.raises(model_core.ModelUnavailable, match="activation"):
            model_core.from_hf(hf)
        return
    ours = model_core.from_hf(hf)
    ids, mask, dec, dec_mask = padded_batch()
    with torch.no_grad():
        ref = hf(input_ids=ids, attention_mask=mask, decoder_input_ids=dec, decoder_attention_mask=dec_mask,
                 output_attentions=True, output_hidden_states=True)
    out = ours(ids, mask, dec, dec_mask, record=("*",))
    t = out.trace
    src, tgt = mask.bool(), dec_mask.bool()
    close(t["encoder.embed.out"][src], ref.encoder_hidden_states[0][src], "encoder embeddings")
    close(t["decoder.embed.out"][tgt], ref.decoder_hidden_states[0][tgt], "decoder embeddings")
    for i in range(2):
        close(t[f"encoder.blocks.{i}.resid_post"][src], ref.encoder_hidden_states[i + 1][src], f"encoder layer {i}")
        for b, n in ((0, 9), (1, 5)):     # every real query row over every key
            close(t[f"encoder.blocks.{i}.attn.pattern"][b, :, :n], ref.encoder_attentions[i][b, :, :n],
                  f"encoder layer {i} pattern")
    for i in range(3):
        close(t[f"decoder.blocks.{i}.resid_post"][tgt], ref.decoder_hidden_states[i + 1][tgt], f"decoder layer {i}")
        for b, n in ((0, 4), (1, 7)):
            close(t[f"decoder.blocks.{i}.attn.pattern"][b, :, :n], ref.decoder_attentions[i][b, :, :n],
                  f"decoder layer {i} self-attention")
            close(t[f"decoder.blocks.{i}.cross_attn.pattern"][b, :, :n], ref.cross_attentions[i][b, :, :n],
                  f"decoder layer {i} cross-attention")
    close(t["encoder.out"][src], ref.encoder_last_hidden_state[src], "encoder output")
    close(out.logits[tgt], ref.logits[tgt], "logits")


def test_invariants_of_the_three_attentions():
    ours = model_core.from_hf(tiny_marian())
    ids, mask, dec, dec_mask = padded_batch()
    t = ours(ids, mask, dec, dec_mask, record=("*.pattern",)).trace
    for i in range(3):
        cross = t[f"decoder.blocks.{i}.cross_attn.pattern"]               # [batch, head, target_pos, source_pos]
        assert cross.shape == (2, 4, 7, 9)
        assert torch.all(cross[1, :, :, 5:] == 0), "padded source columns get exactly 0"
        assert torch.allclose(cross.sum(-1), torch.ones(2, 4, 7), atol=1e-6), "rows sum to 1 over the real source"
        causal = t[f"decoder.blocks.{i}.attn.pattern"]
        assert torch.all(causal.triu(diagonal=1) == 0), "no target position reads a later one"
    for i in range(2):
        enc = t[f"encoder.blocks.{i}.attn.pattern"]
        assert torch.all(enc[1, :, :, 5:] == 0) and torch.all(enc[0] > 0), "bidirectional over real tokens only"


def test_golden_trace_names():
    ours = model_core.from_hf(tiny_marian(encoder_layers=1, decoder_layers=1))
    ids, mask, dec, dec_mask = padded_batch()
    names = set(ours(ids, mask, dec, dec_mask, record=("*",)).trace)
    steps = ("input", "q", "k", "v", "raw_scores", "scores", "allowed", "masked_scores", "pattern", "z", "out")
    expected = {"encoder.embed.tok", "encoder.embed.pos", "encoder.embed.sum", "encoder.embed.out", "encoder.out",
                "decoder.embed.tok", "decoder.embed.pos", "decoder.embed.sum", "decoder.embed.out", "logits"}
    expected |= {f"encoder.blocks.0.attn.{s}" for s in steps} | {f"decoder.blocks.0.attn.{s}" for s in steps}
    expected |= {f"decoder.blocks.0.cross_attn.{s}" for s in steps}
    expected |= {f"{side}.blocks.0.mlp.{s}" for side in ("encoder", "decoder") for s in ("pre", "post", "out")}
    expected |= {f"encoder.blocks.0.{s}" for s in ("resid_pre", "resid_mid", "resid_post")}
    expected |= {f"decoder.blocks.0.{s}" for s in ("resid_pre", "resid_mid", "resid_cross", "resid_post")}
    assert names == expected


def test_shared_tables_are_one_tensor_and_untied_ones_are_refused():
    hf = tiny_marian()
    ours = model_core.from_hf(hf)
    assert ours.encoder.embed.tok is ours.decoder.embed.tok
    sd = dict(hf.state_dict())
    sd["lm_head.weight"] = sd["lm_head.weight"] + 1.0
    with pytest.raises(model_core.ModelUnavailable, match="tied"):
        seq2seq_state_to_ours(sd, seq2seq_config_from_hf(hf.config))
    del sd["model.decoder.layers.0.fc1.bias"]
    with pytest.raises(model_core.ModelUnavailable, match="missing"):
        seq2seq_state_to_ours(sd, seq2seq_config_from_hf(hf.config))


def test_position_table_is_the_papers_formula_regrouped():
    hf = tiny_marian()
    ours = model_core.from_hf(hf)
    table = model_core.position_table(ours)
    paper = model_core.sinusoidal_table(64, 32)
    assert abs(table[:, :16] - paper[:, 0::2]).max() < 1e-6 and abs(table[:, 16:] - paper[:, 1::2]).max() < 1e-6
    assert abs(table - hf.model.encoder.embed_positions.weight.numpy()).max() < 1e-6


class IdTokenizer:
    """Reads a source given as space-separated ids; what the generation test needs of a tokenizer."""
    pad_token_id, eos_token_id = 0, 1

    def __call__(self, text, **_):
        return {"input_ids": [int(x) for x in text.split()] + [1]}

    def convert_ids_to_tokens(self, ids):
        return [str(i) for i in ids]

    def decode(self, ids, **_):
        return " ".join(str(i) for i in ids if i > 1)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_greedy_translation_equals_transformers_generate(seed):
    hf = tiny_marian(seed=seed)
    ours = model_core.from_hf(hf, tokenizer=IdTokenizer())
    gen = torch.Generator().manual_seed(seed)
    source = " ".join(str(int(x)) for x in torch.randint(3, 120, (8,), generator=gen))
    for limit in (5, 30):
        ids, _ = model_core.generate_ids(ours, model_core.encode(ours, source), max_new_tokens=limit)
        ref = hf.generate(input_ids=torch.tensor([IdTokenizer()(source)["input_ids"]]), max_new_tokens=limit,
                          do_sample=False, num_beams=1, bad_words_ids=[[0]])
        assert ids == ref[0, 1:].tolist()
        assert ids[-1] == 1, "a translation always ends with </s>"


def test_beam_search_one_beam_is_greedy_and_more_beams_score_at_least_as_well():
    ours = model_core.from_hf(tiny_marian(seed=4), tokenizer=IdTokenizer())
    source = model_core.encode(ours, "5 17 33 8 90 4")
    greedy, greedy_sum = model_core.generate_ids(ours, source, max_new_tokens=12)
    assert model_core.generate_ids(ours, source, max_new_tokens=12, num_beams=1)[0] == greedy
    beam, beam_sum = model_core.generate_ids(ours, source, max_new_tokens=12, num_beams=4)
    assert beam[-1] == 1 and 1 <= len(beam) <= 12
    assert beam_sum / len(beam) >= greedy_sum / len(greedy) - 1e-6


def test_translate_refuses_models_that_cannot_translate():
    with pytest.raises(model_core.InputError, match="not an encoder-decoder"):
        model_core.translate(model_core.tiny_random("decoder"), "hello")
    with pytest.raises(model_core.InputError, match="empty"):
        model_core.translate(model_core.tiny_random("seq2seq"), "   ")


def test_a_saved_marian_folder_loads_with_its_tokenizer(tmp_path):
    """What load_pretrained does with a local folder (or a hub snapshot): config, safetensors, tokenizer."""
    from transformers import AutoTokenizer

    from model_core.loading import BUNDLED_DIR

    tok = AutoTokenizer.from_pretrained(str(BUNDLED_DIR / "translator"))
    hf = tiny_marian(vocab_size=len(tok), pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id,
                     decoder_start_token_id=tok.pad_token_id, forced_eos_token_id=tok.eos_token_id)
    hf.save_pretrained(tmp_path)
    tok.save_pretrained(tmp_path)
    ours = model_core.load_pretrained(str(tmp_path))
    assert ours.family == "seq2seq" and ours.name == str(tmp_path)
    source = "The file could not be saved."
    ids, _ = model_core.generate_ids(ours, model_core.encode(ours, source), max_new_tokens=12)
    ref = hf.generate(**tok(source, return_tensors="pt"), max_new_tokens=12, do_sample=False, num_beams=1,
                      bad_words_ids=[[tok.pad_token_id]])
    assert ids == ref[0, 1:].tolist()
    assert model_core.translate(ours, source, max_new_tokens=12) == tok.decode(ref[0], skip_special_tokens=True).strip()


def test_an_opus_mt_style_folder_with_sentencepiece_files_loads(tmp_path):
    """The Helsinki-NLP/opus-mt layout, built offline: MarianTokenizer (source.spm, target.spm, vocab.json)."""
    import json
    from pathlib import Path

    import sentencepiece
    from transformers import MarianTokenizer

    lines = [line.split("\t") for line in (Path(__file__).parent / "data" / "translation_test.tsv").read_text(
        encoding="utf-8").splitlines() if line and not line.startswith("#")]
    for side, column in (("source", 0), ("target", 1)):
        sentencepiece.SentencePieceTrainer.train(
            sentence_iterator=iter([row[column] for row in lines]), model_prefix=str(tmp_path / side),
            vocab_size=300, model_type="unigram", bos_id=-1, eos_id=-1, unk_id=0, pad_id=-1)
        (tmp_path / f"{side}.model").rename(tmp_path / f"{side}.spm")
    vocab = {"</s>": 0, "<unk>": 1, "<pad>": 2}
    for side in ("source", "target"):
        processor = sentencepiece.SentencePieceProcessor(model_file=str(tmp_path / f"{side}.spm"))
        for i in range(processor.get_piece_size()):
            vocab.setdefault(processor.id_to_piece(i), len(vocab))
    (tmp_path / "vocab.json").write_text(json.dumps(vocab))
    tok = MarianTokenizer(vocab=str(tmp_path / "vocab.json"), source_spm=str(tmp_path / "source.spm"),
                          target_spm=str(tmp_path / "target.spm"))
    tok.save_pretrained(tmp_path)
    hf = tiny_marian(vocab_size=len(vocab), pad_token_id=2, eos_token_id=0, decoder_start_token_id=2,
                     forced_eos_token_id=0, activation_function="swish")
    hf.save_pretrained(tmp_path)
    ours = model_core.load_pretrained(str(tmp_path))
    source = lines[0][0]
    assert model_core.encode(ours, source).tokens[0][-1] == "</s>"
    ids, _ = model_core.generate_ids(ours, model_core.encode(ours, source), max_new_tokens=10)
    ref = hf.generate(**tok(source, return_tensors="pt"), max_new_tokens=10, do_sample=False, num_beams=1,
                      bad_words_ids=[[2]])
    assert ids == ref[0, 1:].tolist()


def tiny_bart(seed=0):
    torch.manual_seed(seed)
    cfg = transformers.BartConfig(vocab_size=120, d_model=32, encoder_layers=2, decoder_layers=2,
                                  encoder_attention_heads=4, decoder_attention_heads=4, encoder_ffn_dim=40,
                                  decoder_ffn_dim=40, max_position_embeddings=64, pad_token_id=1, bos_token_id=0,
                                  eos_token_id=2, decoder_start_token_id=2, forced_eos_token_id=2,
                                  forced_bos_token_id=None, dropout=0.0, activation_function="gelu")
    hf = transformers.BartForConditionalGeneration(cfg)
    gen = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for p in hf.parameters():
            p.add_(torch.randn(p.shape, generator=gen) * 0.1)
    hf.config._attn_implementation = "eager"
    return hf.eval()


def test_bart_parity_learned_positions_and_embedding_layernorm():
    hf = tiny_bart()
    ours = model_core.from_hf(hf)
    assert ours.config.pos_offset == 2 and ours.encoder.embed.ln is not None
    ids, mask, dec, dec_mask = padded_batch()
    ids[1, 5:], dec[0, 4:] = 1, 1                      # BART pads with id 1
    with torch.no_grad():
        ref = hf(input_ids=ids, attention_mask=mask, decoder_input_ids=dec, decoder_attention_mask=dec_mask,
                 output_attentions=True, output_hidden_states=True)
    out = ours(ids, mask, dec, dec_mask, record=("*",))
    src, tgt = mask.bool(), dec_mask.bool()
    close(out.trace["encoder.embed.out"][src], ref.encoder_hidden_states[0][src], "encoder embeddings")
    close(out.trace["encoder.out"][src], ref.encoder_last_hidden_state[src], "encoder output")
    for i in range(2):
        for b, n in ((0, 4), (1, 7)):
            close(out.trace[f"decoder.blocks.{i}.cross_attn.pattern"][b, :, :n], ref.cross_attentions[i][b, :, :n],
                  f"decoder layer {i} cross-attention")
    close(out.logits[tgt], ref.logits[tgt], "logits")
    table = model_core.position_table(ours)
    assert table.shape == (64, 32)
    assert abs(table - hf.model.encoder.embed_positions.weight[2:].detach().numpy()).max() == 0


def test_bart_greedy_equals_generate():
    hf = tiny_bart(seed=5)
    ours = model_core.from_hf(hf, tokenizer=IdTokenizer())
    source = [11, 45, 67, 3, 99, 2]
    enc = model_core.Encoded(torch.tensor([source]), torch.ones(1, 6, dtype=torch.long), torch.zeros(1, 6, dtype=torch.long),
                             [[str(i) for i in source]], [6], False, 64)
    ids, _ = model_core.generate_ids(ours, enc, max_new_tokens=15)
    ref = hf.generate(input_ids=torch.tensor([source]), max_new_tokens=15, do_sample=False, num_beams=1,
                      bad_words_ids=[[1]])
    assert ids == ref[0, 1:].tolist()


def test_incremental_decoding_with_a_cache_equals_the_full_pass():
    ours = model_core.from_hf(tiny_marian(seed=6))
    ids, mask, dec, _ = padded_batch()
    src, src_mask, target = ids[1:], mask[1:], dec[1:]
    full = ours(src, src_mask, target, record=("decoder.blocks.*.attn.pattern",))
    cache = ours.new_cache()
    for t in range(target.shape[1]):
        step = ours(src, src_mask, target[:, t:t + 1], cache=cache, encoder_hidden=full.encoder_hidden,
                    record=("decoder.blocks.*.attn.pattern",))
        close(step.logits[0, 0], full.logits[0, t], f"logits at step {t}")
        close(step.trace["decoder.blocks.1.attn.pattern"][0, :, 0], full.trace["decoder.blocks.1.attn.pattern"][0, :, t,
                                                                                                              : t + 1],
              f"self-attention row {t}")
    assert cache["length"] == target.shape[1] and cache["layers"][0]["self"]["k"].shape[2] == target.shape[1]
