"""Check a loaded model against Hugging Face transformers' own implementation, live, on the user's sentence.

transformers builds its own model from the same weight files (eager attention, float32, local files only,
no remote code), both read the same token ids, and every attention pattern and the logits are compared:
each number the pages draw is traceable to the reference implementation.
"""
from __future__ import annotations

import inspect
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

import model_core
from model_core import InputError

from .common import check_text, encode, run

TOLERANCE = 1e-5   # the project's standard: every family matches transformers to this

# transformers' from_pretrained is not thread-safe: two builds at once (two students ticking the check) leave
# tied weights on the meta device ("Tensor on device meta is not on the expected device cpu!"); one at a time.
_BUILDING = threading.Lock()


@dataclass(frozen=True)
class ReferenceCheck:
    """The largest absolute difference of each compared quantity, ours against transformers'."""
    reference: str                              # which transformers class ran
    rows: tuple[tuple[str, float], ...]         # (what, largest |ours - theirs|)
    n_tokens: int

    @property
    def largest(self) -> float:
        return max(d for _, d in self.rows)

    @property
    def agrees(self) -> bool:
        return self.largest <= TOLERANCE


def transformers_twin(model: Any) -> torch.nn.Module:
    """transformers' model with the same weights as ``model`` (eager attention, float32, eval mode).

    Builds run one at a time (``_BUILDING``); the twin's forward pass runs outside the lock.
    """
    with _BUILDING:
        return _build_twin(model)


def _build_twin(model: Any) -> torch.nn.Module:
    import transformers

    source = getattr(model, "source", None)
    if source is None:
        raise InputError(f"{model.name} was built in memory (random weights), so transformers has no copy of it "
                         "to check against; pick the bundled model or a loaded checkpoint.")
    options = dict(attn_implementation="eager", dtype=torch.float32, local_files_only=True, trust_remote_code=False)
    if source == model_core.loading.BUNDLED_ENCODER:
        return _bundled_encoder_twin(model, options)
    if model.family == "encoder":
        auto = transformers.AutoModelForMaskedLM if model.has_lm_head else transformers.AutoModel
    elif model.family == "decoder":
        auto = transformers.AutoModelForCausalLM if model.has_lm_head else transformers.AutoModel
    else:
        raise InputError("The check runs on encoders and decoders; the translator is checked by the test suite.")
    return auto.from_pretrained(source, **options).eval()


def _bundled_encoder_twin(model: Any, options: dict) -> torch.nn.Module:
    """BertForMaskedLM from the package's files plus the project's fine-tuned layers and head.

    The two files' tensors go to ``from_pretrained`` as one state dict, so transformers builds the model on its
    meta device and assigns them: no random initialisation first (that was 80 % of the check's time).
    """
    import transformers
    from safetensors.torch import load_file

    folder = model_core.loading.minilm_dir()
    config = transformers.BertConfig.from_pretrained(folder, attn_implementation="eager")
    cls = transformers.BertForMaskedLM if model.has_lm_head else transformers.BertModel
    state = load_file(str(folder / "model.safetensors"))
    if model.has_lm_head:   # the masked-LM model has no pooler; its encoder sits under "bert."
        state = {"bert." + k: v for k, v in state.items() if not k.startswith("pooler.")}
        delta = model_core.loading.BUNDLED_DIR / "encoder" / model_core.loading.ENCODER_DELTA
        state.update({k: v.float() for k, v in load_file(str(delta)).items()})
    options = {k: v for k, v in options.items() if k != "attn_implementation"}   # the config carries it
    return cls.from_pretrained(None, config=config, state_dict=state, **options).eval()


def check_against_transformers(model: Any, sentence_a: str, sentence_b: str = "") -> ReferenceCheck:
    """Both implementations on the same ids: the largest difference of each layer's attention and of the logits."""
    check_text(sentence_a)
    twin = transformers_twin(model)
    enc = encode(model, [sentence_a], [sentence_b] if sentence_b.strip() else None)
    n = int(enc.lengths[0])
    ours = run(model, enc, ("blocks.*.attn.pattern",), logits_at=None if model.has_lm_head else ())
    inputs = dict(input_ids=enc.input_ids, attention_mask=enc.attention_mask)
    if model.family == "encoder" and "token_type_ids" in inspect.signature(twin.forward).parameters:
        inputs["token_type_ids"] = enc.token_type_ids
    with torch.no_grad():
        theirs = twin(**inputs, output_attentions=True)
    rows = []
    for layer, reference in enumerate(theirs.attentions):
        mine = ours.trace[f"blocks.{layer}.attn.pattern"]
        rows.append((f"layer {layer} attention", _largest(mine[..., :n, :n], reference[..., :n, :n])))
    if model.has_lm_head and getattr(theirs, "logits", None) is not None:
        # logits are tens in size: their difference is compared relative to the largest logit (float32 rounding)
        scale = max(1.0, float(theirs.logits[:, :n].abs().max()))
        rows.append(("logits (relative)", _largest(ours.logits[:, :n], theirs.logits[:, :n]) / scale))
    return ReferenceCheck(reference=type(twin).__name__, rows=tuple(rows), n_tokens=n)


def _largest(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(np.abs(a.float().numpy() - b.float().numpy()).max())
