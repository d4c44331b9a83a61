"""The app's one caching module and the shared view state.

Two jobs live here, and only here:

1. **View state.** What defines a view (the sidebar's sentences and models,
   and each page's layer/head/options) lives in ``st.query_params`` so a
   copied URL reopens the same view. ``view()`` returns the sidebar's part
   as a frozen dataclass; ``url_widget()`` builds any widget whose value is
   kept in the URL.
2. **Caching.** Models are cached with ``st.cache_resource``; traces with
   ``st.cache_data`` (bounded), returned as plain numpy arrays and token
   lists. Pages call these functions and never import torch or model_core.

Every error a user can cause reaches a page as ``Problem``: its text is a
sentence that says what to do next, ready to show as is.
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np
import streamlit as st

log = logging.getLogger(__name__)

# ---------------------------------------------------------------------------
# View state: the sidebar, kept in the URL
# ---------------------------------------------------------------------------

BUNDLED = "bundled"  # model id of the bundled default of each family
TINY = "tiny"  # model id of a tiny random model (fast tests, demos of shapes)

DEFAULT_SENTENCE = "The animal didn't cross the street because it was too tired."

# Query-parameter names of the sidebar's state (short, so URLs stay readable).
P_SENTENCE_A = "a"
P_SENTENCE_B = "b"
P_ENCODER = "enc"
P_DECODER = "dec"

# A very long sentence is still analysed, but not copied into the URL:
# browsers and servers reject URLs much longer than this.
MAX_URL_TEXT = 2000

# Teachers' example sentences: (label, sentence A, sentence B).
EXAMPLES: tuple[tuple[str, str, str], ...] = (
    ("What does 'it' refer to?", DEFAULT_SENTENCE, ""),
    ("Two meanings of 'bank'", "She sat on the bank of the river.", "He paid the money into the bank."),
    ("Subject-verb agreement", "The keys to the old wooden cabinet are on the table.", ""),
    ("Question and answer pair", "Where did the cat sleep?", "The cat slept on the warm mat."),
    ("Word order matters", "The dog chased the cat.", "The cat chased the dog."),
    ("A fact to complete", "Paris is the capital of France.", ""),
)


@dataclass(frozen=True)
class View:
    """The sidebar's state, as every page sees it.

    sentence_a: the main sentence, exactly as typed (may be empty: check ``has_text``)
    sentence_b: the optional second sentence ("" when unused): used for
        sentence pairs (segment B) and as the second row of a padded batch
    encoder: model id of the chosen encoder: ``"bundled"``, ``"tiny"``, a hub id or a folder
    decoder: model id of the chosen decoder, same forms
    """

    sentence_a: str
    sentence_b: str
    encoder: str
    decoder: str

    @property
    def has_text(self) -> bool:
        """True when sentence A has something besides spaces."""
        return bool(self.sentence_a.strip())

    @property
    def has_pair(self) -> bool:
        """True when sentence B is in use."""
        return bool(self.sentence_b.strip())

    def model(self, family: str) -> str:
        """The chosen model id of a family ("encoder" or "decoder")."""
        return self.encoder if family == "encoder" else self.decoder


_SIDEBAR_DEFAULTS = {
    P_SENTENCE_A: DEFAULT_SENTENCE,
    P_SENTENCE_B: "",
    P_ENCODER: BUNDLED,
    P_DECODER: BUNDLED,
}


def view() -> View:
    """The sidebar's current state (sentences and model ids) for any page.

    ``app.py`` draws the sidebar before the page runs, so this reads the
    values it left in ``st.session_state``; a page run on its own (tests)
    falls back to ``st.query_params`` and then to the defaults.
    """
    values = {name: str(param_value(name, default)) for name, default in _SIDEBAR_DEFAULTS.items()}
    return View(
        sentence_a=values[P_SENTENCE_A],
        sentence_b=values[P_SENTENCE_B],
        encoder=values[P_ENCODER] or BUNDLED,
        decoder=values[P_DECODER] or BUNDLED,
    )


def _keep_key(name: str) -> str:
    # Session-state copy of a URL value. Streamlit clears query params when the
    # user switches page and forgets a widget's state when its page is not
    # shown, so this copy is what survives navigation.
    return f"_url_{name}"


def _parse(raw: Any, default: Any) -> Any:
    """A query-param string read as the type of ``default`` (ValueError when it can't be)."""
    if isinstance(raw, list):  # a repeated key: the last one wins, as in st.query_params
        raw = raw[-1] if raw else ""
    raw = str(raw)
    if isinstance(default, bool):
        if raw.lower() in ("1", "true", "yes", "on"):
            return True
        if raw.lower() in ("0", "false", "no", "off"):
            return False
        raise ValueError(raw)
    if isinstance(default, int):
        return int(raw)
    if isinstance(default, float):
        return float(raw)
    return raw


def _serialise(value: Any) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)


def param_value(name: str, default: Any) -> Any:
    """The current value of view-state ``name``: session copy, else URL, else ``default``."""
    keep = _keep_key(name)
    if keep in st.session_state:
        return st.session_state[keep]
    if name in st.query_params:
        try:
            return _parse(st.query_params[name], default)
        except ValueError:
            return default
    return default


def set_param(name: str, value: Any, widget_key: str | None = None) -> None:
    """Change view-state ``name`` (URL and session copy), and its widget when given.

    Call before the widget is drawn in this run, or from a callback.
    """
    st.session_state[_keep_key(name)] = value
    if widget_key is not None:
        st.session_state[widget_key] = value
    _write_url(name, value)


def _write_url(name: str, value: Any) -> None:
    text = _serialise(value)
    if isinstance(value, str) and len(text) > MAX_URL_TEXT:
        # Too long to travel in a URL: leave it out rather than break the link.
        if name in st.query_params:
            del st.query_params[name]
        return
    if st.query_params.get(name) != text:
        st.query_params[name] = text


def url_widget(
    widget: Callable[..., Any],
    name: str,
    default: Any,
    label: str,
    *,
    key: str | None = None,
    options: Sequence[Any] | None = None,
    min_value: Any = None,
    max_value: Any = None,
    **kwargs: Any,
) -> Any:
    """Draw ``widget`` (st.selectbox, st.slider, st.text_input, ...) with its value kept in the URL.

    The first time, the value comes from ``?name=`` in the URL (a copied link),
    else from the session copy, else ``default``; values that do not fit
    (an unknown option, a layer out of range) fall back to ``default``.
    Every run writes the value back to the URL and the session copy.
    Returns the widget's value.

    Example: ``layer = url_widget(st.selectbox, "layer", 0, "Layer", options=range(6))``
    """
    key = key or f"w_{name}"
    opts = list(options) if options is not None else None
    if key not in st.session_state:
        value = param_value(name, default)
        st.session_state[key] = _fit(value, default, opts, min_value, max_value)
    elif opts is not None and st.session_state[key] not in opts:
        # The options changed under the widget (e.g. a smaller model): refit.
        st.session_state[key] = _fit(st.session_state[key], default, opts, min_value, max_value)
    if opts is not None:
        kwargs["options"] = opts
    if min_value is not None:
        kwargs["min_value"] = min_value
    if max_value is not None:
        kwargs["max_value"] = max_value
    value = widget(label, key=key, **kwargs)
    st.session_state[_keep_key(name)] = value
    _write_url(name, value)
    return value


def _fit(value: Any, default: Any, options: list | None, lo: Any, hi: Any) -> Any:
    """``value`` when it is a valid choice, else the nearest valid one."""
    if options is not None:
        if value in options:
            return value
        if default in options:
            return default
        if isinstance(value, int) and options and all(isinstance(o, int) for o in options):
            return min(max(value, min(options)), max(options))
        return options[0] if options else value
    if lo is not None and value < lo:
        return lo
    if hi is not None and value > hi:
        return hi
    return value


def escape_markdown(text: str) -> str:
    """``text`` with Markdown/HTML special characters escaped, for st.markdown/st.error/st.info."""
    return re.sub(r"([\\`*_{}\[\]()<>#+\-.!|~$:])", r"\\\1", text)


# ---------------------------------------------------------------------------
# Models (st.cache_resource)
# ---------------------------------------------------------------------------

FAMILIES = ("encoder", "decoder")


class Problem(Exception):
    """An error the user can fix; ``str(problem)`` is a sentence to show as is."""


@dataclass(frozen=True)
class ModelInfo:
    """What a page may know about a loaded model (no torch objects)."""

    model_id: str  # "bundled", "tiny", a hub id or a folder
    family: str  # "encoder" (bidirectional) or "decoder" (causal)
    name: str  # display name
    n_layers: int
    n_heads: int
    d_model: int
    d_head: int
    n_positions: int  # longest input in tokens
    has_lm_head: bool


@st.cache_resource(show_spinner=False)
def _load_default(family: str, model_id: str) -> Any:
    """The bundled model or the tiny random one of ``family`` (shared by every session)."""
    import model_core

    if model_id == TINY:
        return model_core.tiny_random(family, seed=0)
    return model_core.load_bundled(family)


# Models users load by hub id or folder: few kept at once, they can be large.
@st.cache_resource(show_spinner=False, max_entries=3)
def _load_other(model_id: str) -> Any:
    import model_core

    return model_core.load_pretrained(model_id)


def _load(family: str, model_id: str) -> Any:
    """The model object (torch) behind ``model_id``; raises Problem with a sentence."""
    import model_core

    if family not in FAMILIES:
        raise ValueError(f"family must be one of {FAMILIES}, got {family!r}")
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
        raise Problem(
            f"'{model_id}' is an {model.family}, not an {family}: "
            f"load it with the {model.family} picker instead."
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
        _load(family, model_id)
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
    model = _load(family, model_id)
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
    )


# ---------------------------------------------------------------------------
# Traces (st.cache_data, bounded; numpy out)
# ---------------------------------------------------------------------------

# Special tokens of the bundled (WordPiece) tokenizer that summaries may hide.
SPECIAL_TOKENS = ("[CLS]", "[SEP]", "[PAD]", "<|endoftext|>", "<s>", "</s>", "<pad>")


def check_text(text: str, what: str = "sentence A") -> None:
    """Raise Problem when ``text`` has nothing to analyse."""
    if not text.strip():
        raise Problem(f"Type a sentence into {what} in the sidebar (it is empty), or pick an example.")


def _encode(model: Any, texts: list[str], pairs: list[str] | None) -> Any:
    import model_core

    try:
        return model_core.encode(model, texts, text_pairs=pairs)
    except model_core.InputError as err:
        raise Problem(str(err)) from None


def _segments(enc: Any, row: int, n: int) -> list[int]:
    """Segment id (0 = A, 1 = B) of each token of batch row ``row``."""
    seg = enc.token_type_ids[row, :n].tolist()
    return [int(s) for s in seg]


@st.cache_data(max_entries=12, show_spinner=False)
def attention(family: str, model_id: str, sentence_a: str, sentence_b: str = "") -> dict:
    """Attention patterns of every layer and head for one input.

    With ``sentence_b`` the input is a pair (encoder: [CLS] A [SEP] B [SEP],
    segment ids 0/1). Returns a dict:
      pattern   float32 [layer, head, query_pos, key_pos]
      tokens    list[str] (pos)
      segments  list[int] (pos): 0 for A, 1 for B
      truncated bool: the input was cut to the model's limit
      n_positions int: that limit
    """
    check_text(sentence_a)
    model = _load(family, model_id)
    pairs = [sentence_b] if sentence_b.strip() else None
    enc = _encode(model, [sentence_a], pairs)
    import torch

    with torch.no_grad():
        out = model(
            enc.input_ids,
            attention_mask=enc.attention_mask,
            token_type_ids=enc.token_type_ids,
            record=("blocks.*.attn.pattern",),
        )
    pattern = out.trace.stack("attn.pattern")[:, 0]  # (layer, head, query_pos, key_pos)
    n = int(enc.lengths[0])
    return {
        "pattern": pattern[:, :, :n, :n].float().numpy().astype(np.float32),
        "tokens": list(enc.tokens[0][:n]),
        "segments": _segments(enc, 0, n),
        "truncated": bool(enc.truncated),
        "n_positions": int(model.config.n_positions),
    }


STEP_NAMES = ("raw_scores", "scores", "masked_scores", "pattern")


@st.cache_data(max_entries=12, show_spinner=False)
def attention_steps(family: str, model_id: str, texts: tuple[str, ...], layer: int) -> dict:
    """Every step of one layer's attention for a batch of sentences (padded on the right).

    Returns a dict:
      raw_scores     float32 [batch, head, query_pos, key_pos]  q.k
      scores         same, divided by sqrt(d_head)
      masked_scores  same, disallowed cells NaN (the model fills them with the dtype minimum)
      pattern        same, after softmax (disallowed cells 0)
      allowed        bool [batch, query_pos, key_pos]
      tokens         list (batch) of list[str] (pos), padded rows include "[PAD]"
      lengths        list[int]: real tokens per row
      truncated      bool
      d_head         int
    """
    for i, text in enumerate(texts):
        check_text(text, "sentence A" if i == 0 else "sentence B")
    model = _load(family, model_id)
    n_layers = int(model.config.n_layers)
    if not 0 <= layer < n_layers:
        raise Problem(f"This model has layers 0 to {n_layers - 1}; pick one of those.")
    enc = _encode(model, list(texts), None)
    names = tuple(f"blocks.{layer}.attn.{step}" for step in (*STEP_NAMES, "allowed"))
    import torch

    with torch.no_grad():
        out = model(
            enc.input_ids,
            attention_mask=enc.attention_mask,
            token_type_ids=enc.token_type_ids,
            record=names,
        )
    trace = out.trace.numpy()
    result: dict[str, Any] = {
        step: np.asarray(trace[f"blocks.{layer}.attn.{step}"], dtype=np.float32) for step in STEP_NAMES
    }
    allowed = np.asarray(trace[f"blocks.{layer}.attn.allowed"]).astype(bool)  # (batch, query_pos, key_pos)
    result["allowed"] = allowed
    result["masked_scores"] = np.where(allowed[:, None], result["masked_scores"], np.nan).astype(np.float32)
    result["tokens"] = [list(row) for row in enc.tokens]
    result["lengths"] = [int(n) for n in enc.lengths]
    result["truncated"] = bool(enc.truncated)
    result["d_head"] = int(model.config.d_head)
    return result


@st.cache_data(max_entries=12, show_spinner=False)
def prefix_experiment(family: str, model_id: str, sentence: str, extra: str) -> dict:
    """Run ``sentence`` and ``sentence + extra``; measure how much each shared row changed.

    The rows compared are the positions both inputs share (same token ids at
    the same positions, e.g. [CLS] and the words of ``sentence``; a trailing
    [SEP] moves, so it is not shared). Returns a dict:
      before, after       float32 [layer, head, query_pos, key_pos] patterns
      tokens_before, tokens_after  list[str]
      shared              int: number of leading positions both share
      row_change          float32 [shared]: max |after - before| over layers, heads and
                          the shared keys, plus any weight the row gave to new keys
      max_change          float: the largest of those
    """
    check_text(sentence)
    if not extra.strip():
        raise Problem("Type a word to append (for example 'today') to run the experiment.")
    model = _load(family, model_id)
    first = attention(family, model_id, sentence)
    second = attention(family, model_id, sentence.rstrip() + " " + extra.strip())
    enc_a = _encode(model, [sentence], None)
    enc_b = _encode(model, [sentence.rstrip() + " " + extra.strip()], None)
    ids_a = enc_a.input_ids[0, : enc_a.lengths[0]].tolist()
    ids_b = enc_b.input_ids[0, : enc_b.lengths[0]].tolist()
    shared = 0
    for x, y in zip(ids_a, ids_b):
        if x != y:
            break
        shared += 1
    before, after = first["pattern"], second["pattern"]
    diff = np.abs(after[:, :, :shared, :shared] - before[:, :, :shared, :shared])  # (layer, head, row, key)
    row_change = diff.max(axis=(0, 1, 3)) if shared else np.zeros(0, np.float32)
    # Weight the shared rows give to keys the shorter input does not have.
    leak = after[:, :, :shared, shared:].sum(axis=-1).max(axis=(0, 1)) if shared else np.zeros(0)
    row_change = np.maximum(row_change, leak).astype(np.float32)
    return {
        "before": before,
        "after": after,
        "tokens_before": first["tokens"],
        "tokens_after": second["tokens"],
        "shared": int(shared),
        "row_change": row_change,
        "max_change": float(row_change.max()) if shared else 0.0,
        "truncated": bool(first["truncated"] or second["truncated"]),
    }


def input_notes(text: str, tokens: Sequence[str], truncated: bool, n_positions: int) -> list[str]:
    """Plain sentences about what the tokenizer did to the user's text (for st.info)."""
    notes = []
    if truncated:
        notes.append(
            f"Your text is longer than this model's limit of {n_positions} tokens, "
            f"so only the first {len(tokens)} tokens are shown. Shorten the text to see all of it."
        )
    typed = sorted({tok for tok in ("[MASK]", "[SEP]", "[CLS]", "[PAD]") if tok.lower() in text.lower()})
    if typed:
        notes.append(
            "You typed " + ", ".join(typed) + ": the tokenizer reads these as special tokens, "
            "not as words, so they behave like the model's own markers."
        )
    unknown = sum(1 for tok in tokens if tok == "[UNK]")
    if unknown:
        notes.append(
            f"{unknown} piece(s) of your text are not in this model's vocabulary (emoji or rare "
            "characters, for example) and became [UNK]: the model sees them all as one unknown token."
        )
    return notes


# --- Issue 5 services ---
