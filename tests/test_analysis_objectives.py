"""analysis.objectives on tiny random models: dynamic vs static masking, MASS, the XLNet what-if, prefix LM."""
from __future__ import annotations

import numpy as np
import pytest

import analysis.objectives as ob
from model_core import InputError

TEXT = "the quick brown fox jumps over the lazy dog near the river bank"


def test_static_masking_repeats_one_mask_and_dynamic_draws_new_ones(tiny_encoder):
    run = ob.masking_epochs(tiny_encoder, TEXT, seed=3, epochs=4)
    assert len(set(run.static)) == 1 and len(set(run.dynamic)) > 1
    assert run.covered_dynamic > run.covered_static
    chosen = [sum(a != "not chosen" and a != "special" for a in epoch) for epoch in run.dynamic]
    assert all(c == chosen[0] for c in chosen)                 # 15% of the words every epoch
    assert run.static[0][0] == "special" and run.tokens[0] == "[CLS]"


def test_mass_span_encoder_at_once_and_decoder_left_to_right(tiny_encoder, tiny_decoder):
    run = ob.mass_span(tiny_encoder, tiny_decoder, TEXT, start=3, length=3)
    assert run.original == ("brown", "fox", "jumps")
    assert len(run.encoder_top) == 3 and len(run.decoder_steps) == 3 and len(run.decoder_text) == 3
    assert all(p1 >= p2 for guesses in run.encoder_top for (_, p1), (_, p2) in zip(guesses, guesses[1:]))
    with pytest.raises(InputError, match="after the first word"):
        ob.mass_span(tiny_encoder, tiny_decoder, TEXT, start=1, length=2)
    with pytest.raises(InputError, match="cover words"):
        ob.mass_span(tiny_encoder, tiny_decoder, TEXT, start=12, length=5)


def test_the_order_decides_what_a_position_may_read(tiny_encoder):
    words = list(range(1, 6))                                  # "the quick brown fox jumps"
    text = "the quick brown fox jumps"
    first = ob.permutation_view(tiny_encoder, text, order=[3, 1, 2, 4, 5], position=3)
    last = ob.permutation_view(tiny_encoder, text, order=[1, 2, 4, 5, 3], position=3)
    assert first.visible == () and last.visible == (1, 2, 4, 5)
    assert first.allowed[3, words].tolist() == [False, False, True, False, False]     # only its own slot
    assert first.guesses != last.guesses
    with pytest.raises(InputError, match="exactly once"):
        ob.permutation_view(tiny_encoder, text, order=[1, 2, 3], position=3)


def test_prefix_what_if_opens_the_prefix_and_keeps_the_rest_causal(tiny_decoder):
    run = ob.prefix_what_if(tiny_decoder, "once upon a time there was", prefix=3, layer=1, head=2)
    n = len(run.tokens)
    assert np.all(np.triu(run.causal, 1) == 0)
    assert np.all(run.prefix_pattern[:3, 1:3] > 0) and np.all(run.prefix_pattern[:, :][~run.allowed] == 0)
    np.testing.assert_allclose(run.prefix_pattern.sum(-1), np.ones(n), atol=1e-5)
    with pytest.raises(InputError, match="prefix"):
        ob.prefix_what_if(tiny_decoder, "once upon", prefix=9, layer=0, head=0)


def test_optimiser_race_reaches_the_valley_and_adamw_decays_apart_from_the_gradient():
    import analysis.optimisers as opt

    race = opt.race(steps=200, weight_decay=0.1)
    assert set(race.paths) == set(opt.OPTIMISERS)
    for name, losses in race.losses.items():
        assert losses[0] == pytest.approx(opt.loss(*np.array(opt.START)))
        assert losses[-1] < 0.2 * losses[0], name
    # With no weight decay, Adam + L2 and AdamW are plain Adam.
    plain = opt.race(steps=50, weight_decay=0.0)
    np.testing.assert_allclose(plain.paths["AdamW"], plain.paths["Adam"])
    np.testing.assert_allclose(plain.paths["Adam + L2"], plain.paths["Adam"])
    assert not np.allclose(race.paths["AdamW"], race.paths["Adam + L2"])
    with pytest.raises(InputError, match="steps"):
        opt.race(steps=0)


def test_fine_tuning_shapes_on_a_pair(tiny_encoder):
    from analysis.finetuning import finetune_shapes

    shapes = finetune_shapes(tiny_encoder, "where did the cat sleep?", "the cat slept on the warm mat.", seed=1)
    assert shapes.tokens[0] == "[CLS]" and shapes.class_probs.sum() == pytest.approx(1.0, abs=1e-6)
    assert len(shapes.passage) == len(shapes.start_probs) == 8          # "the cat slept on the warm mat ." without [SEP]
    assert shapes.start_probs.sum() == pytest.approx(1.0, abs=1e-6)
    start, end = shapes.best_span
    assert start in shapes.passage and end in shapes.passage and end >= start
    alone = finetune_shapes(tiny_encoder, "where did the cat sleep?")
    assert alone.passage == () and alone.start_probs.size == 0
    assert finetune_shapes(tiny_encoder, "a b c", seed=2).class_probs.tolist() != alone.class_probs.tolist()


def test_a_blank_typed_either_way_is_the_models_own_mask(tiny_encoder):
    from analysis import mask_predictions, with_model_mask

    assert with_model_mask(tiny_encoder, "a <mask> and a [MASK]") == "a [MASK] and a [MASK]"
    assert len(mask_predictions(tiny_encoder, "the <mask> sat on the [MASK]").positions) == 2

    class RobertaLike:
        tokenizer = type("T", (), {"mask_token": "<mask>"})()

    assert with_model_mask(RobertaLike(), "the [MASK] sat") == "the <mask> sat"


def test_next_token_readout_scores_every_position_in_one_pass(tiny_decoder):
    run = ob.next_token_readout(tiny_decoder, "once upon a time")
    assert len(run.guesses) == len(run.tokens) and len(run.p_actual) == len(run.tokens) - 1
    assert run.loss == pytest.approx(-np.mean(np.log(run.p_actual)), rel=1e-6)
    assert all(p >= q for (_, p), q in zip(run.guesses, run.p_actual))     # the top guess is at least as likely


def test_albert_shares_one_block_and_saves_parameters_against_a_same_shaped_bert(tiny_encoder):
    import torch
    import transformers

    import analysis
    import model_core

    torch.manual_seed(0)
    cfg = transformers.AlbertConfig(vocab_size=30522, embedding_size=16, hidden_size=32, num_hidden_layers=3,
                                    num_attention_heads=4, intermediate_size=37, max_position_embeddings=64,
                                    hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    hf = transformers.AlbertForMaskedLM(cfg).eval()
    with torch.no_grad():
        for p in hf.parameters():
            p.add_(torch.randn(p.shape) * 0.1)
    hf.config._attn_implementation = "eager"
    albert = model_core.from_hf(hf, tokenizer=tiny_encoder.tokenizer)
    check = analysis.shared_layers_check(albert, "the cat sat on the mat")
    assert check.one_block and len(check.differences) == 2 and min(check.differences) > 0
    assert check.parameters == sum(p.numel() for p in hf.parameters())      # each shared tensor once
    bert = transformers.BertForMaskedLM(transformers.BertConfig(
        vocab_size=30522, hidden_size=32, num_hidden_layers=3, num_attention_heads=4, intermediate_size=37,
        max_position_embeddings=64, type_vocab_size=2))
    assert check.bert_parameters == sum(p.numel() for p in bert.parameters())   # the tied decoder counted once
    assert check.parameters < check.bert_parameters
    with pytest.raises(InputError, match="not an ALBERT"):
        analysis.shared_layers_check(tiny_encoder, "the cat")
