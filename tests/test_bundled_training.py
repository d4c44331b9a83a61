"""The bundled models' training rules: whole-word masking hides every occurrence, the copy penalty hits visible words
only, the decoder's reweighted stream is reproducible."""
from __future__ import annotations

import numpy as np
import pytest
import torch

VOCAB = 1100


@pytest.fixture(scope="module")
def mlm(script):
    return script("train_encoder_mlm")


def row(*tokens: int) -> torch.Tensor:
    return torch.tensor([[101, *tokens, 102]])


def test_word_masking_hides_every_occurrence_of_a_chosen_word(mlm):
    continuation = torch.zeros(VOCAB, dtype=torch.bool)
    continuation[1050] = True                      # 1050 is a ## piece: 1001 1050 is one word
    ids = row(1001, 1050, 1002, 1003, 1001, 1050, 1004, 1002)
    for seed in range(40):
        inputs, chosen, labels = mlm.word_masking(ids, torch.Generator().manual_seed(seed), VOCAB, continuation,
                                                  rate=0.3)
        visible = set(ids[~chosen].tolist())
        hidden = set(ids[chosen].tolist())
        assert not visible & hidden, (seed, visible, hidden)         # a hidden word is never visible elsewhere
        assert chosen[0, 1] == chosen[0, 2] and chosen[0, 5] == chosen[0, 6]   # a word's pieces go together
        assert not chosen[0, 0] and not chosen[0, -1]               # never [CLS] or [SEP]
        assert torch.equal(labels, ids[chosen])


def test_copy_candidates_are_the_visible_rare_words_of_the_same_row(mlm):
    ids = torch.cat([row(1001, 1002, 1003, 1004), row(1005, 1006, 1007, 1008)])
    chosen = torch.zeros_like(ids, dtype=torch.bool)
    chosen[0, 2] = True                              # row 0 hides 1002
    chosen[1, 1] = chosen[1, 4] = True               # row 1 hides 1005 and 1008
    penalised = torch.ones(VOCAB, dtype=torch.bool)
    penalised[:999] = False
    penalised[1003] = False                          # a frequent word: exempt
    candidates = mlm.copy_candidates(ids, chosen, ids[chosen], penalised)
    assert candidates.shape == (3, VOCAB)
    assert candidates[0].nonzero().flatten().tolist() == [1001, 1004]
    assert candidates[1].nonzero().flatten().tolist() == [1006, 1007]
    assert candidates[2].nonzero().flatten().tolist() == [1006, 1007]


def test_copy_penalty_is_the_unlikelihood_of_the_candidates_and_pushes_them_down(mlm):
    logits = torch.zeros(2, 6, requires_grad=True)
    candidates = torch.zeros(2, 6, dtype=torch.bool)
    candidates[0, 1] = candidates[0, 2] = True
    penalty = mlm.copy_unlikelihood(logits, candidates)
    expected = -(2 * np.log(1 - 1 / 6)) / 2         # uniform p = 1/6; two candidates in one of two positions
    assert penalty.item() == pytest.approx(expected, rel=1e-6)
    penalty.backward()
    assert (logits.grad[0, [1, 2]] > 0).all() and (logits.grad[0, [0, 3, 4, 5]] < 0).all()
    assert torch.all(logits.grad[1] == 0)            # no candidates: no push
    assert mlm.copy_unlikelihood(torch.zeros(2, 6), torch.zeros(2, 6, dtype=torch.bool)).item() == 0


def test_frequent_tokens_and_specials_are_exempt(mlm):
    train = [np.array([1000, 1000, 1000, 1001, 1001, 1002, 101])]
    penalised = mlm.frequent_exempt(train, VOCAB, n_exempt=2)
    assert not penalised[1000] and not penalised[1001] and penalised[1002]
    assert not penalised[:999].any()


def test_the_decoders_weighted_stream_follows_the_weights_and_the_seed(script):
    decoder = script("train_decoder")
    lines = [np.array([1000 + i // 500]) for i in range(2000)]            # four kinds of line, 500 of each
    assert decoder.weighted_lines(lines, None, seed=0) is lines          # weights of 1: the corpus as it is
    cumulative = np.cumsum([0.1 / 500] * 1500 + [0.7 / 500] * 500)       # the fourth kind weighs 7 times the others
    drawn = decoder.weighted_lines(lines, cumulative, seed=3)
    assert len(drawn) == len(lines)
    assert 0.65 < np.mean([int(line[0]) == 1003 for line in drawn]) < 0.75
    again = decoder.weighted_lines(lines, cumulative, seed=3)
    assert [int(a[0]) for a in again] == [int(d[0]) for d in drawn]
    other = decoder.weighted_lines(lines, cumulative, seed=4)
    assert [int(a[0]) for a in other] != [int(d[0]) for d in drawn]
