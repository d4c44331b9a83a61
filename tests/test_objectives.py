"""model_core.objective_masks: every objective's who-sees-whom, checked against hand-written matrices."""
from __future__ import annotations

import numpy as np
import pytest

import model_core
from model_core import InputError, objective_masks

T, F = True, False


def test_bert_sees_everything_and_gpt_only_the_left():
    assert objective_masks("bidirectional", 3)["allowed"].all()
    np.testing.assert_array_equal(objective_masks("causal", 3)["allowed"], [[T, F, F], [T, T, F], [T, T, T]])


def test_elmo_is_two_one_directional_models():
    masks = objective_masks("elmo", 3)
    np.testing.assert_array_equal(masks["forward"], [[T, F, F], [T, T, F], [T, T, T]])
    np.testing.assert_array_equal(masks["backward"], [[T, T, T], [F, T, T], [F, F, T]])
    # Neither direction sees both sides of a word at once.
    assert not (masks["forward"] & masks["backward"] & ~np.eye(3, dtype=bool)).any()


def test_prefix_lm():
    np.testing.assert_array_equal(objective_masks("prefix_lm", 4, prefix=2)["allowed"],
                                  [[T, T, F, F], [T, T, F, F], [T, T, T, F], [T, T, T, T]])
    assert objective_masks("prefix_lm", 3, prefix=0)["allowed"].tolist() == objective_masks("causal", 3)["allowed"].tolist()
    assert objective_masks("prefix_lm", 3, prefix=3)["allowed"].all()


def test_xlnet_permutation_by_hand():
    # Order 2, 0, 3, 1: position 2 is predicted first, then 0, 3, 1. Ranks: pos0 -> 1, pos1 -> 3, pos2 -> 0, pos3 -> 2.
    masks = objective_masks("xlnet", 4, order=[2, 0, 3, 1])
    np.testing.assert_array_equal(masks["content"], [[T, F, T, F],    # pos 0 (rank 1) sees ranks <= 1: pos 2, itself
                                                     [T, T, T, T],    # pos 1 (rank 3) sees everything
                                                     [F, F, T, F],    # pos 2 (rank 0) sees only itself
                                                     [T, F, T, T]])   # pos 3 (rank 2) sees pos 2, pos 0, itself
    np.testing.assert_array_equal(masks["query"], masks["content"] & ~np.eye(4, dtype=bool))
    # The identity order is the causal mask.
    assert objective_masks("xlnet", 4, order=[0, 1, 2, 3])["content"].tolist() == objective_masks("causal", 4)["allowed"].tolist()


@pytest.mark.parametrize("order", [[0, 1, 1], [0, 1], [0, 1, 3], ["a", 1, 2]])
def test_an_order_that_is_not_a_permutation_says_what_a_valid_one_is(order):
    with pytest.raises(InputError, match="exactly once"):
        objective_masks("xlnet", 3, order=order)


def test_mass_span():
    masks = objective_masks("mass", 5, start=1, length=3)
    assert masks["masked"].tolist() == [F, T, T, T, F]
    assert masks["encoder"].shape == (5, 5) and masks["encoder"].all()
    np.testing.assert_array_equal(masks["decoder"], [[T, F, F], [T, T, F], [T, T, T]])
    assert masks["cross"].shape == (3, 5) and masks["cross"].all()
    with pytest.raises(InputError, match="inside"):
        objective_masks("mass", 5, start=4, length=3)


def test_tlm_masks_both_languages():
    masks = objective_masks("tlm", 10, split=4, seed=1)
    assert masks["allowed"].all() and masks["second"].tolist() == [F] * 4 + [T] * 6
    assert masks["masked"][:4].any() and masks["masked"][4:].any()
    given = objective_masks("tlm", 6, split=3, masked=[1, 4])
    assert np.flatnonzero(given["masked"]).tolist() == [1, 4]
    with pytest.raises(InputError, match="both languages"):
        objective_masks("tlm", 4, split=4)


def test_unknown_objective_and_empty_input():
    with pytest.raises(InputError, match="Unknown objective"):
        objective_masks("t5", 3)
    with pytest.raises(InputError, match="no tokens"):
        objective_masks("causal", 0)
    assert set(model_core.OBJECTIVES) == {"bidirectional", "causal", "elmo", "prefix_lm", "xlnet", "mass", "tlm"}


def test_a_what_if_mask_replaces_the_decoders_causal_mask(tiny_decoder):
    import torch

    ids = torch.tensor([[101, 2023, 2003, 1037, 3231, 102]])
    causal = torch.from_numpy(objective_masks("causal", 6)["allowed"])[None]
    prefix = torch.from_numpy(objective_masks("prefix_lm", 6, prefix=3)["allowed"])[None]
    default = tiny_decoder(ids, record=("blocks.*.attn.pattern",)).trace
    explicit = tiny_decoder(ids, causal, record=("blocks.*.attn.pattern",)).trace
    what_if = tiny_decoder(ids, prefix, record=("blocks.*.attn.pattern",)).trace
    assert torch.equal(default["blocks.1.attn.pattern"], explicit["blocks.1.attn.pattern"])
    pattern = what_if["blocks.0.attn.pattern"][0]                   # [head, query_pos, key_pos]
    assert (pattern[:, 0, 1:3] > 0).all(), "inside the prefix a token reads the prefix tokens after it"
    assert (pattern[:, :3, 3:] == 0).all() and (pattern[:, 3, 4:] == 0).all()
    with pytest.raises(InputError, match="at least one key"):
        tiny_decoder(ids, torch.zeros(1, 6, 6, dtype=torch.bool))
