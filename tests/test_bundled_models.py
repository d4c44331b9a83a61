"""The shipped bundled-model files: hashes match their cards, the encoder ships only its delta, sizes, test data.

Fast: reads files and safetensors headers only, no forward pass.
"""
import json
import re
from pathlib import Path

import pytest
from safetensors import safe_open

import model_core.loading

ROOT = Path(__file__).resolve().parent.parent
BUNDLED = ROOT / "model_core" / "bundled"
ENCODER_DELTA = BUNDLED / "encoder" / "mlm_head.safetensors"
DECODER_WEIGHTS = BUNDLED / "decoder" / "model.safetensors"
DECODER_CONFIG = BUNDLED / "decoder" / "config.json"
TRANSLATOR = BUNDLED / "translator"
CARDS = [BUNDLED / "encoder" / "MODEL_CARD.md", BUNDLED / "decoder" / "MODEL_CARD.md", TRANSLATOR / "MODEL_CARD.md"]
MAX_SHIPPED_BYTES = 100_000_000      # everything bundled
MAX_TRANSLATOR_BYTES = 40_000_000
HEAD_KEYS = {
    "cls.predictions.transform.dense.weight", "cls.predictions.transform.dense.bias",
    "cls.predictions.transform.LayerNorm.weight", "cls.predictions.transform.LayerNorm.bias",
    "cls.predictions.bias",
}
BERT_LAYER_SUFFIXES = {
    f"{part}.{p}"
    for part in ("attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense",
                 "attention.output.LayerNorm", "intermediate.dense", "output.dense", "output.LayerNorm")
    for p in ("weight", "bias")
}


def card_hashes(card: Path) -> dict[str, str]:
    """{file name: sha256} from the card's `sha256: <hex>  <file>` lines."""
    found = re.findall(r"^sha256: ([0-9a-f]{64})  (\S+)$", card.read_text(encoding="utf-8"), flags=re.M)
    return {name: digest for digest, name in found}


@pytest.mark.parametrize("card", CARDS, ids=lambda c: c.parent.name)
def test_every_shipped_file_matches_the_sha256_in_its_card(card):
    hashes = card_hashes(card)
    shipped = sorted(p.name for p in card.parent.iterdir() if p.suffix in {".safetensors", ".json"})
    assert sorted(hashes) == shipped, f"{card} lists {sorted(hashes)}, while the folder holds {shipped}"
    for name, digest in hashes.items():
        assert model_core.loading.sha256_of(card.parent / name) == digest, f"{name} differs from {card.name}"


def test_encoder_delta_holds_only_the_head_and_the_finetuned_layers():
    with safe_open(str(ENCODER_DELTA), "pt") as f:
        keys = set(f.keys())
        layers = [int(i) for i in f.metadata()["finetuned_layers"].split(",")]
    assert layers == list(range(6 - len(layers), 6)), f"fine-tuned layers {layers} are not the top ones"
    # Layer 0 may be tuned too: tests/test_bundled_quality.py holds its textbook heads to the card's figures.
    expected = set(HEAD_KEYS)
    expected |= {f"bert.encoder.layer.{i}.{s}" for i in layers for s in BERT_LAYER_SUFFIXES}
    assert keys == expected, f"unexpected: {sorted(keys - expected)}; missing: {sorted(expected - keys)}"


def test_encoder_delta_does_not_ship_embeddings_or_lower_layers():
    with safe_open(str(ENCODER_DELTA), "pt") as f:
        keys = list(f.keys())
        lowest = min(int(i) for i in f.metadata()["finetuned_layers"].split(","))
    assert not [k for k in keys if "embeddings" in k or "decoder.weight" in k]
    for i in range(lowest):
        assert not [k for k in keys if k.startswith(f"bert.encoder.layer.{i}.")], f"layer {i} must come from the package"


def test_decoder_uses_the_minilm_vocabulary_and_gpt2_key_names():
    config = json.loads(DECODER_CONFIG.read_text())
    assert config["model_type"] == "gpt2"
    assert config["vocab_size"] == 30522
    assert config["n_positions"] <= 512
    assert config["bos_token_id"] == 102  # [SEP] starts every text
    with safe_open(str(DECODER_WEIGHTS), "pt") as f:
        keys = set(f.keys())
        assert tuple(f.get_slice("transformer.wte.weight").get_shape()) == (30522, config["n_embd"])
    assert all(k.startswith("transformer.") for k in keys), sorted(k for k in keys if not k.startswith("transformer."))


def test_shipped_weights_fit_the_size_budget():
    total = sum(p.stat().st_size for p in BUNDLED.rglob("*") if p.is_file())
    assert total <= MAX_SHIPPED_BYTES, f"the bundled files take {total:,} bytes, over {MAX_SHIPPED_BYTES:,}"
    translator = sum(p.stat().st_size for p in TRANSLATOR.iterdir())
    assert translator <= MAX_TRANSLATOR_BYTES, f"the translator takes {translator:,} bytes"


def test_translator_is_a_standard_marian_folder_with_a_fast_tokenizer():
    config = json.loads((TRANSLATOR / "config.json").read_text())
    assert config["model_type"] == "marian" and config["architectures"] == ["MarianMTModel"]
    assert config["scale_embedding"] and config["share_encoder_decoder_embeddings"]
    tokenizer = json.loads((TRANSLATOR / "tokenizer.json").read_text())
    assert tokenizer["padding"] is None and tokenizer["truncation"] is None   # nothing cut or padded silently
    with safe_open(str(TRANSLATOR / "model.safetensors"), "pt") as f:
        keys = set(f.keys())
    assert "model.shared.weight" in keys and all(k.startswith(("model.", "final_logits_bias")) for k in keys)


def test_cloze_answers_are_single_tokens_of_the_minilm_vocabulary():
    vocab = set((model_core.loading.minilm_dir() / "vocab.txt").read_text(encoding="utf-8").splitlines())
    rows = [line for line in (ROOT / "tests" / "data" / "cloze.tsv").read_text(encoding="utf-8").splitlines()
            if line.strip() and not line.startswith("#")]
    assert len(rows) >= 100
    for row in rows:
        sentence, answers = row.split("\t")
        assert sentence.count("[MASK]") == 1, sentence
        not_single = [a for a in answers.split("|") if a not in vocab]
        assert not not_single, f"{sentence}: {not_single} are not single tokens"
