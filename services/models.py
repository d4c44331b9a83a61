"""Models for the app: loaded once per process (``st.cache_resource``), and the process tuned for serving.

Every error a user can cause reaches a page as ``Problem``: its text is a sentence that
says what to do next, ready to show as is.
"""
from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass
from typing import Any, Iterator

import streamlit as st

from .state import BUNDLED, LOADABLE, TINY

log = logging.getLogger(__name__)


class Problem(Exception):
    """An error the user can fix; ``str(problem)`` is a sentence to show as is."""


@contextlib.contextmanager
def user_errors() -> Iterator[None]:
    """Turn the core's and the analysis' input errors into a ``Problem`` a page shows."""
    import model_core

    try:
        yield
    except model_core.InputError as err:
        raise Problem(str(err)) from None


@dataclass(frozen=True)
class ModelInfo:
    """What a page may know about a loaded model (no torch objects)."""

    model_id: str  # "bundled", "tiny", a hub id or a folder
    family: str  # "encoder" (bidirectional), "decoder" (causal) or "seq2seq" (encoder-decoder)
    name: str  # display name
    n_layers: int
    n_heads: int
    d_model: int
    d_head: int
    n_positions: int  # longest input in tokens
    has_lm_head: bool
    mask_token: str = "[MASK]"  # how this model's tokenizer spells a blank ("<mask>" for RoBERTa)


@st.cache_resource(show_spinner=False)
def _load_default(family: str, model_id: str) -> Any:
    """The bundled model or the tiny random one of ``family`` (shared by every session)."""
    import model_core

    if model_id == TINY:
        model = model_core.tiny_random(family, seed=0)
    else:
        model = model_core.load_bundled("translator" if family == "seq2seq" else family)
    exempt_from_gc()
    return model


# Models users load by hub id or folder: few kept at once, they can be large.
@st.cache_resource(show_spinner=False, max_entries=3)
def _load_other(model_id: str) -> Any:
    import model_core

    model = model_core.load_pretrained(model_id)
    exempt_from_gc()
    return model


def exempt_from_gc() -> None:
    """Take every object alive now (the libraries, the loaded models) out of the cyclic GC's scans.

    A full collection walks every tracked object: with torch, transformers, plotly and the models loaded
    ~300,000, ~150 ms on this machine, holding the GIL. ``gc.freeze()`` moves them to a generation
    collections skip; what is freed by reference counting still is, and objects made later are collected as
    before. Called when a model has just loaded, i.e. a few times per process. Streamlit's own full
    collection after every script run (``runner.postScriptGC``) is off in this app (services/server.py): the
    objects made after the freeze (the pages' modules, the sessions' widgets: ~250,000 in a classroom) made
    it 45 % of the server's CPU (bench/README.md).
    """
    import gc

    import altair  # noqa: F401  (the pages' libraries, loaded now so they are exempted too)
    import pandas  # noqa: F401
    import plotly.graph_objects  # noqa: F401

    gc.freeze()


def one_thread_per_op() -> None:
    """Run each torch op on one thread: the server's parallelism is its sessions, not its ops.

    Streamlit runs every session's script in a thread of this one process. With
    torch's default (one intra-op thread per core) concurrent sessions' OpenMP
    teams fight over the same cores: on this 2-core machine, busy with other
    work, a 15-token forward pass took 520 ms with 2 threads and 26 ms with 1.
    The setting is process-wide; new script threads inherit it.
    """
    import torch

    if torch.get_num_threads() != 1:
        torch.set_num_threads(1)


def load(family: str, model_id: str) -> Any:
    """The model object (torch) behind ``model_id``; raises Problem with a sentence."""
    import model_core

    one_thread_per_op()
    if family not in LOADABLE:
        raise ValueError(f"family must be one of {LOADABLE}, got {family!r}")
    model_id = (model_id or BUNDLED).strip()
    try:
        if model_id in (BUNDLED, TINY):
            model = _load_default(family, model_id)
        else:
            model = _load_other(model_id)
    except model_core.ModelUnavailable as err:
        if model_id == BUNDLED:
            raise Problem(f"The bundled {family} is not available on this machine yet: {err}") from None
        raise Problem(str(err)) from None
    if model.family != family:
        names = {"encoder": "an encoder", "decoder": "a decoder", "seq2seq": "a translator (encoder-decoder)"}
        pickers = {"encoder": "Encoder", "decoder": "Decoder", "seq2seq": "Translator"}
        raise Problem(
            f"'{model_id}' is {names.get(model.family, model.family)}, not {names[family]}: "
            f"load it with the {pickers.get(model.family, model.family)} picker instead."
        )
    return model


def _failures() -> dict:
    # Failed loads, remembered per session so a page rerun does not retry a
    # hub id that just failed (offline checks can take seconds).
    return st.session_state.setdefault("_model_failures", {})


def try_load(family: str, model_id: str, *, retry: bool = False) -> str | None:
    """Load a model now (cached); None when it worked, else the sentence saying why not.

    A failure is remembered for this session; ``retry=True`` tries again
    (the user pressed the button).
    """
    failures = _failures()
    key = (family, model_id)
    if key in failures and not retry:
        return failures[key]
    try:
        load(family, model_id)
    except Problem as err:
        message = str(err)
    except Exception as err:  # a broken checkpoint must not take the app down
        log.exception("loading %s %s failed", family, model_id)
        message = f"'{model_id}' could not be loaded ({type(err).__name__}: {err})."
    else:
        failures.pop(key, None)
        return None
    if model_id not in (BUNDLED, TINY):  # the defaults are cheap to retry
        failures[key] = message
    return message


def model_info(family: str, model_id: str) -> ModelInfo:
    """Sizes and name of a model; raises Problem when it cannot be loaded."""
    failure = _failures().get((family, model_id))
    if failure:
        raise Problem(failure)
    model = load(family, model_id)
    cfg = model.config
    return ModelInfo(
        model_id=model_id,
        family=family,
        name=str(model.name),
        n_layers=int(cfg.n_layers),
        n_heads=int(cfg.n_heads),
        d_model=int(cfg.d_model),
        d_head=int(cfg.d_head),
        n_positions=int(cfg.n_positions),
        has_lm_head=bool(model.has_lm_head),
        mask_token=str(getattr(model.tokenizer, "mask_token", None) or "[MASK]"),
    )
