"""The bundled translator: offline loading, parity with transformers on the shipped files, and quality.

Uses only files in the repository (tests/data/translation_test.tsv is a fixed sample of the held-out test
split; the corpus itself is not in CI).
"""
from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
import torch

import model_core

ROOT = Path(__file__).resolve().parent.parent
FOLDER = ROOT / "model_core" / "bundled" / "translator"
SAMPLE = ROOT / "tests" / "data" / "translation_test.tsv"
CHRF_MARGIN = 1.0
SENTENCES = ("The file could not be saved.", "Authentication is required to set the system time.",
             "Unable to determine your tty name.", "The cat is sleeping on the warm bed.")


def card_figure(name: str) -> float:
    return float(re.search(rf"^{name} = ([0-9.]+)$", (FOLDER / "MODEL_CARD.md").read_text(), re.M).group(1))


def sample_pairs() -> list[tuple[str, str]]:
    lines = [line for line in SAMPLE.read_text(encoding="utf-8").splitlines() if line and not line.startswith("#")]
    return [tuple(line.split("\t", 1)) for line in lines]


@pytest.fixture(scope="module")
def loaded():
    start = time.perf_counter()
    model = model_core.load_bundled("translator")
    return model, time.perf_counter() - start


@pytest.fixture(scope="module")
def reference():
    import transformers

    hf = transformers.AutoModelForSeq2SeqLM.from_pretrained(str(FOLDER), attn_implementation="eager",
                                                            dtype=torch.float32, local_files_only=True)
    tok = transformers.AutoTokenizer.from_pretrained(str(FOLDER), local_files_only=True)
    return hf.eval(), tok


def test_loads_offline_and_quickly(no_network):
    start = time.perf_counter()
    model = model_core.load_bundled("translator")
    seconds = time.perf_counter() - start
    assert model.family == "seq2seq" and model.config.pos_kind == "sinusoidal_halves"
    assert seconds < 5.0, f"loading the bundled translator took {seconds:.1f} s"
    assert model_core.translate(model, "The file could not be saved.")


def test_parity_with_transformers_on_the_shipped_files(loaded, reference):
    model, _ = loaded
    hf, tok = reference
    batch = tok(list(SENTENCES[:2]), text_target=["Le fichier n'a pas pu être enregistré.", "Authentification"],
                return_tensors="pt", padding=True)
    labels = batch["labels"]
    decoder_inputs = torch.cat([torch.zeros_like(labels[:, :1]), labels[:, :-1]], dim=1)
    decoder_mask = (labels != tok.pad_token_id).long()
    decoder_mask[:, 0] = 1
    with torch.no_grad():
        ref = hf(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], decoder_input_ids=decoder_inputs,
                 decoder_attention_mask=decoder_mask, output_attentions=True)
    out = model(batch["input_ids"], batch["attention_mask"], decoder_inputs, decoder_mask, record=("*.pattern",))
    real = decoder_mask.bool()
    assert (out.logits[real] - ref.logits[real]).abs().max() <= 1e-5
    for i in range(3):
        cross = out.trace[f"decoder.blocks.{i}.cross_attn.pattern"]
        theirs = ref.cross_attentions[i]                             # [batch, head, target_pos, source_pos]
        assert (cross.transpose(1, 2)[real] - theirs.transpose(1, 2)[real]).abs().max() <= 1e-5
    position = hf.model.encoder.embed_positions.weight
    assert torch.allclose(torch.from_numpy(model_core.position_table(model)), position, atol=1e-6)


def test_greedy_translation_equals_transformers_generate(loaded, reference):
    model, _ = loaded
    hf, tok = reference
    for sentence in SENTENCES:
        ours = model_core.translate(model, sentence)
        ids = hf.generate(**tok(sentence, return_tensors="pt"), max_new_tokens=64)   # the folder's generation config
        assert ours == tok.decode(ids[0], skip_special_tokens=True).strip(), sentence


def test_the_tokenizer_takes_targets_and_gives_offsets(reference):
    _, tok = reference
    enc = tok("Cannot open %s.", text_target="Impossible d'ouvrir %s.", return_offsets_mapping=True)
    assert enc["input_ids"][-1] == tok.eos_token_id and enc["labels"][-1] == tok.eos_token_id
    assert "▁%s" in tok.convert_ids_to_tokens(enc["input_ids"]) and "▁%s" in tok.convert_ids_to_tokens(enc["labels"])
    pieces = tok.convert_ids_to_tokens(enc["input_ids"])
    spans = [tuple(span) for span in enc["offset_mapping"]]
    text = "Cannot open %s."
    # Each piece's offsets point at its characters in the text (the word-start mark is not a character).
    assert [text[a:b].strip() for a, b in spans[:-1]] == [p.lstrip("▁") for p in pieces[:-1]]


@pytest.mark.slow
def test_held_out_quality_holds(loaded):
    import sacrebleu

    model, _ = loaded
    pairs = sample_pairs()
    assert len(pairs) >= 300
    hypotheses = [model_core.translate(model, en) for en, _ in pairs]
    chrf = sacrebleu.corpus_chrf(hypotheses, [[fr for _, fr in pairs]]).score
    assert chrf >= card_figure("sample_chrf") - CHRF_MARGIN
    assert card_figure("test_chrf") >= 50.0
