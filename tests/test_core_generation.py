"""model_core.generate against transformers' generate on the same weights, and its own promises:
it stops at end of text, never writes special tokens, one seed gives one text, the rules do what they say."""
from __future__ import annotations

import copy
import dataclasses

import pytest
import torch
import transformers

import model_core
from model_core.base import InputError
from model_core.generation import Decoding, apply_rules, banned_special_ids, repeat_bans, stop_ids
from tests.test_core_parity import random_weights

SEP, PAD = 102, 0
PROMPTS = ["once upon a time", "the cat sat on the", "i would like a cup of"]


@pytest.fixture(scope="module")
def pair(tiny_decoder):
    """A tiny random GPT2LMHeadModel with the bundled decoder's conventions ([SEP] starts and ends a text),
    and the same weights converted into model_core."""
    config = transformers.GPT2Config(vocab_size=30522, n_positions=64, n_embd=32, n_layer=2, n_head=4, n_inner=64,
                                     resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0, bos_token_id=SEP,
                                     eos_token_id=SEP, pad_token_id=PAD, activation_function="gelu")
    hf = random_weights(transformers.GPT2LMHeadModel(config), seed=11)
    with torch.no_grad():  # a flatter distribution than random weights give, so sampling has choices to make
        hf.transformer.wte.weight.mul_(0.3)
    ours = model_core.from_hf(hf, tokenizer=tiny_decoder.tokenizer)
    ours.config = dataclasses.replace(ours.config, bos_token_id=SEP)  # as load_bundled("decoder") does
    return hf, ours


def hf_new_ids(hf, ours, prompt, max_new_tokens, **kwargs) -> list[int]:
    ids = model_core.encode(ours, prompt).input_ids
    out = hf.generate(input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=max_new_tokens,
                      eos_token_id=SEP, pad_token_id=PAD, suppress_tokens=banned_special_ids(ours), **kwargs)
    new = out[0, ids.shape[1]:].tolist()
    return new[:new.index(SEP)] if SEP in new else new


def our_new_ids(ours, prompt, max_new_tokens, decoding) -> list[int]:
    return [s.token_id for s in model_core.generate_steps(ours, prompt, max_new_tokens, decoding).steps]


def test_the_fixture_model_starts_with_sep(pair):
    _, ours = pair
    assert ours.config.bos_token_id == SEP and stop_ids(ours) == {SEP}
    assert model_core.encode(ours, "hello").input_ids[0, 0] == SEP


@pytest.mark.parametrize("no_repeat", [0, 2, 3])
@pytest.mark.parametrize("prompt", PROMPTS)
def test_greedy_equals_transformers(pair, prompt, no_repeat):
    hf, ours = pair
    expected = hf_new_ids(hf, ours, prompt, 20, do_sample=False, no_repeat_ngram_size=no_repeat)
    assert our_new_ids(ours, prompt, 20, Decoding(no_repeat_ngram=no_repeat)) == expected
    assert len(expected) > 3  # the comparison covers real steps, not an immediate stop


@pytest.mark.parametrize("settings", [
    dict(temperature=1.0, top_k=None, top_p=None),
    dict(temperature=0.7, top_k=40, top_p=None),
    dict(temperature=1.3, top_k=None, top_p=0.9),
    dict(temperature=1.0, top_k=100, top_p=0.8, no_repeat_ngram=2),
])
@pytest.mark.parametrize("seed", [0, 5])
def test_seeded_sample_equals_transformers(pair, settings, seed):
    hf, ours = pair
    decoding = Decoding("sample", seed=seed, **settings)
    torch.manual_seed(seed)  # transformers draws from the global generator; ours from its own, seeded alike
    expected = hf_new_ids(hf, ours, PROMPTS[0], 15, do_sample=True, temperature=settings["temperature"],
                          top_k=settings["top_k"] or 0, top_p=settings["top_p"] if settings["top_p"] else 1.0,
                          no_repeat_ngram_size=settings.get("no_repeat_ngram", 0))
    assert our_new_ids(ours, PROMPTS[0], 15, decoding) == expected
    assert len(expected) >= 5


def test_one_seed_one_text_and_seeds_differ(pair):
    _, ours = pair
    texts = {seed: model_core.generate(ours, "the weather", 12, strategy="sample", seed=seed) for seed in range(4)}
    assert model_core.generate(ours, "the weather", 12, strategy="sample", seed=2) == texts[2]
    assert len(set(texts.values())) > 1
    # greedy ignores the seed
    assert model_core.generate(ours, "the weather", 12, seed=1) == model_core.generate(ours, "the weather", 12, seed=9)


def test_stops_at_end_of_text_and_never_writes_special_tokens(pair):
    ours = copy.deepcopy(pair[1])
    with torch.no_grad():  # push the final LayerNorm's output toward [SEP]'s embedding: end of text becomes likely
        sep = ours.embed.tok.weight[SEP]
        ours.ln_final.bias.add_(1.5 * sep / sep.norm() ** 2)
    specials = set(ours.tokenizer.all_special_tokens)
    stopped = set()
    for seed in range(30):
        g = model_core.generate_steps(ours, "a", 25, Decoding("sample", temperature=2.0, seed=seed))
        stopped.add(g.stopped)
        assert not {s.token for s in g.steps} & specials
        assert not any(t in g.text for t in ("[SEP]", "[CLS]", "[PAD]", "[MASK]", "[UNK]"))
        if g.stopped == "end of text":
            assert len(g.steps) < 25
    assert stopped == {"end of text", "length"}  # both endings happen over these seeds


def test_no_repeat_rule_leaves_no_repeated_ngram(pair):
    _, ours = pair
    for n in (2, 3):
        g = model_core.generate_steps(ours, "the the the", 30, Decoding(no_repeat_ngram=n))
        ids = g.ids
        grams = [tuple(ids[i:i + n]) for i in range(len(ids) - n + 1)]
        # grams already in the prompt may stay there; none is made again by the new tokens
        new_grams = grams[len(g.prompt_ids) - n + 1:]
        prompt_grams = grams[:len(g.prompt_ids) - n + 1]
        assert len(set(new_grams)) == len(new_grams) and not set(new_grams) & set(prompt_grams)


def test_repeat_bans_matches_the_rule():
    assert repeat_bans([5, 6, 7, 5, 6], 3) == [7]       # "5 6" was followed by 7: 7 is banned after "5 6"
    assert repeat_bans([5, 6, 7, 5, 6], 2) == [7]       # after 6 came 7
    assert sorted(repeat_bans([1, 2, 1, 3, 1], 2)) == [2, 3]
    assert repeat_bans([4, 4], 1) == [4, 4]             # unigrams: every token seen
    assert repeat_bans([1, 2], 0) == [] and repeat_bans([1], 3) == []


def test_top_k_and_top_p_keep_what_they_say():
    logits = torch.log(torch.tensor([0.5, 0.2, 0.15, 0.1, 0.05]))
    kept = lambda scores: (scores > -float("inf")).nonzero().flatten().tolist()  # noqa: E731
    assert kept(apply_rules(logits, [], Decoding("sample", top_k=2), [])[0]) == [0, 1]
    assert kept(apply_rules(logits, [], Decoding("sample", top_p=0.6), [])[0]) == [0, 1]      # 0.5 + 0.2 >= 0.6
    assert kept(apply_rules(logits, [], Decoding("sample", top_p=0.5), [])[0]) == [0]
    assert kept(apply_rules(logits, [], Decoding("sample", top_p=0.01), [])[0]) == [0]        # the best always stays
    assert kept(apply_rules(logits, [], Decoding("sample", top_p=1.0), [])[0]) == [0, 1, 2, 3, 4]
    assert kept(apply_rules(logits, [], Decoding("greedy", top_k=1), [3])[0]) == [0, 1, 2, 4]  # greedy: bans only
    scores, _ = apply_rules(logits, [], Decoding("sample", temperature=2.0), [])
    assert torch.allclose(scores, logits / 2)


def test_steps_carry_the_distributions(pair):
    _, ours = pair
    g = model_core.generate_steps(ours, "once upon a time", 6, Decoding("sample", top_k=3, seed=1))
    for step in g.steps:
        assert len(step.top) == 5 and sum(p > 0 for _, p in step.top) <= 3     # top-k 3: two of five shown are 0
        assert step.token in [t for t, p in step.top if p > 0]
        assert step.probability >= step.model_probability - 1e-6              # cutting the tail raises the rest
    greedy = model_core.generate_steps(ours, "once upon a time", 6)
    assert all(s.token == s.top[0][0] for s in greedy.steps)


@pytest.mark.parametrize("kwargs, words", [
    (dict(strategy="beam"), "Decoding must be"),
    (dict(strategy="sample", temperature=0), "temperature"),
    (dict(strategy="sample", top_k=0), "Top-k"),
    (dict(strategy="sample", top_p=1.5), "Top-p"),
    (dict(no_repeat_ngram=-1), "n-gram"),
    (dict(max_new_tokens=0), "at least one"),
])
def test_bad_settings_say_what_to_do(tiny_decoder, kwargs, words):
    with pytest.raises(InputError, match=words):
        model_core.generate(tiny_decoder, "hello", **kwargs)


def test_an_encoder_cannot_generate(tiny_encoder):
    with pytest.raises(InputError, match="does not predict a next token"):
        model_core.generate(tiny_encoder, "hello")


def test_describe_names_the_decoding():
    assert Decoding().describe().startswith("greedy")
    text = Decoding("sample", temperature=0.8, top_p=0.9, no_repeat_ngram=3, seed=4).describe()
    assert "temperature 0.8" in text and "top-p 0.9" in text and "seed 4" in text and "3-gram" in text


@pytest.mark.parametrize("which", ["transformers twin", "tiny"])
def test_incremental_decoding_equals_the_whole_pass(pair, tiny_decoder, which):
    """Decoder.extend (kept keys and values: the prompt once, then a token at a time) gives at every step the
    next-token logits that a forward pass over the whole text gives."""
    model = pair[1] if which == "transformers twin" else tiny_decoder
    ids = model_core.encode(model, "the cat sat on the mat and then it slept").input_ids[0].tolist()
    cache, first = model.new_cache(), 4
    steps = [model.extend(torch.tensor([ids[:first]]), cache)[0]]
    steps += [model.extend(torch.tensor([[token]]), cache)[0] for token in ids[first:]]
    assert cache["length"] == len(ids)
    for n, got in zip(range(first, len(ids) + 1), steps):
        whole = model(torch.tensor([ids[:n]]), logits_at=[-1]).logits[0, 0]
        torch.testing.assert_close(got, whole, atol=1e-5, rtol=1e-5)


def test_incremental_decoding_stops_at_the_last_position(tiny_decoder):
    cache = tiny_decoder.new_cache()
    tiny_decoder.extend(torch.ones(1, tiny_decoder.config.n_positions, dtype=torch.long), cache)
    with pytest.raises(InputError, match="reads 1 to"):
        tiny_decoder.extend(torch.ones(1, 1, dtype=torch.long), cache)
