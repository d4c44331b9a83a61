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

import functools
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


def ensure_frame() -> None:
    """Make sure the page runs inside ``app.py`` (sidebar, navigation, wide layout).

    Streamlit keeps a legacy mode for apps with a ``pages/`` folder: on a
    freshly started server, a direct link to ``/masks`` runs
    ``pages/masks.py`` on its own, without ``app.py``, until some session
    has run ``st.navigation``. When that happens, switch the legacy mode off
    (exactly what ``st.navigation`` itself does) and rerun through the frame.
    ``view()`` calls this, so every page that reads the sidebar is covered.
    """
    from streamlit.runtime.pages_manager import PagesManager  # no public API for this

    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        st.rerun()


def view() -> View:
    """The sidebar's current state (sentences and model ids) for any page.

    ``app.py`` draws the sidebar before the page runs, so this reads the
    values it left in ``st.session_state``; a page run on its own (tests)
    falls back to ``st.query_params`` and then to the defaults.
    """
    ensure_frame()
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
    in_url: bool = True,
    **kwargs: Any,
) -> Any:
    """Draw ``widget`` (st.selectbox, st.slider, st.text_input, ...) with its value kept in the URL.

    When the widget is drawn anew (first visit, or back from another page) its
    value is the session copy (what this user last chose), else ``?name=`` in
    the URL (a copied link opened in a new session), else ``default``; values
    that do not fit (an unknown option, a layer out of range) fall back to
    ``default``.
    Every run writes the value back to the URL and the session copy
    (``in_url=False``: the session copy only, for values that must survive
    page switches but not travel in links). Returns the widget's value.

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
    value = widget(label, key=key, on_change=_remember, args=(name, key, in_url), **kwargs)
    st.session_state[_keep_key(name)] = value
    if in_url:
        _write_url(name, value)
    return value


def _remember(name: str, key: str, in_url: bool) -> None:
    # on_change: copy the new value at once, before the script runs, so it
    # survives even if Streamlit forgets the widget's state during the run.
    st.session_state[_keep_key(name)] = st.session_state[key]
    if in_url:
        _write_url(name, st.session_state[key])


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

    model = model_core.tiny_random(family, seed=0) if model_id == TINY else model_core.load_bundled(family)
    _exempt_from_gc()
    return model


# Models users load by hub id or folder: few kept at once, they can be large.
@st.cache_resource(show_spinner=False, max_entries=3)
def _load_other(model_id: str) -> Any:
    import model_core

    model = model_core.load_pretrained(model_id)
    _exempt_from_gc()
    return model


def _exempt_from_gc() -> None:
    """Take every object alive now (the libraries, the loaded models) out of the cyclic GC's scans.

    Streamlit runs a full ``gc.collect()`` after every script run (``runner.postScriptGC``);
    with torch, transformers, plotly and the models loaded that walks ~300,000 objects,
    ~150 ms each time on this machine, holding the GIL, so 30 students' reruns spent
    about a quarter of the server's CPU there (bench/README.md). ``gc.freeze()`` moves
    them to a generation collections skip; what is freed by reference counting still is,
    and objects made later are collected as before. Called when a model has just loaded,
    i.e. a few times per process.
    """
    import gc

    import altair  # noqa: F401  (the pages' libraries, loaded now so they are exempted too)
    import pandas  # noqa: F401
    import plotly.graph_objects  # noqa: F401

    gc.freeze()


def _one_thread_per_op() -> None:
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


def _load(family: str, model_id: str) -> Any:
    """The model object (torch) behind ``model_id``; raises Problem with a sentence."""
    import model_core

    _one_thread_per_op()
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
        article = {"encoder": "an", "decoder": "a"}
        raise Problem(
            f"'{model_id}' is {article.get(model.family, 'a')} {model.family}, not {article[family]} {family}: "
            f"load it with the {model.family.capitalize()} picker instead."
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
    out = _run(model, enc, ("blocks.*.attn.pattern",))
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


@st.cache_data(max_entries=16, show_spinner=False)
def attention_steps(family: str, model_id: str, texts: tuple[str, ...], layer: int, head: int) -> dict:
    """Every step of one head's attention for a batch of sentences (padded on the right).

    Returns a dict:
      raw_scores     float32 [batch, query_pos, key_pos]  q.k
      scores         same, divided by sqrt(d_head)
      masked_scores  same, disallowed cells NaN (the model fills them with the dtype minimum)
      pattern        same, after softmax (disallowed cells 0)
      allowed        bool [batch, query_pos, key_pos] (the same for every head)
      tokens         list (batch) of list[str] (pos), padded rows include "[PAD]"
      lengths        list[int]: real tokens per row
      truncated      bool
      d_head         int
    """
    for i, text in enumerate(texts):
        check_text(text, "sentence A" if i == 0 else "sentence B")
    model = _load(family, model_id)
    n_layers, n_heads = int(model.config.n_layers), int(model.config.n_heads)
    if not (0 <= layer < n_layers and 0 <= head < n_heads):
        raise Problem(f"This model has layers 0 to {n_layers - 1} and heads 0 to {n_heads - 1}; pick one of those.")
    enc = _encode(model, list(texts), None)
    names = tuple(f"blocks.{layer}.attn.{step}" for step in (*STEP_NAMES, "allowed"))
    trace = _run(model, enc, names).trace.numpy()
    result: dict[str, Any] = {
        step: np.asarray(trace[f"blocks.{layer}.attn.{step}"][:, head], dtype=np.float32) for step in STEP_NAMES
    }
    allowed = np.asarray(trace[f"blocks.{layer}.attn.allowed"]).astype(bool)  # (batch, query_pos, key_pos)
    if allowed.ndim == 4:  # (batch, 1, query_pos, key_pos) broadcast over heads
        allowed = allowed[:, 0]
    result["allowed"] = allowed
    result["masked_scores"] = np.where(allowed, result["masked_scores"], np.nan).astype(np.float32)
    result["tokens"] = [list(row) for row in enc.tokens]
    result["lengths"] = [int(n) for n in enc.lengths]
    result["truncated"] = bool(enc.truncated)
    result["d_head"] = int(model.config.d_head)
    return result


@st.cache_data(max_entries=12, show_spinner=False)
def prefix_experiment(family: str, model_id: str, sentence: str, extra: str, layer: int = 0, head: int = 0) -> dict:
    """Run ``sentence`` and ``sentence + extra``; measure how much each shared row changed.

    The rows compared are the positions both inputs share (same token ids at
    the same positions, e.g. [CLS] and the words of ``sentence``; a trailing
    [SEP] moves, so it is not shared), over every layer and head. Returns a dict:
      after               float32 [query_pos, key_pos]: the longer input's pattern at
                          ``layer``/``head`` (clamped to the model), for display
      layer, head         the ones used
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
    layer = min(max(layer, 0), after.shape[0] - 1)
    head = min(max(head, 0), after.shape[1] - 1)
    return {
        "after": after[layer, head],
        "layer": layer,
        "head": head,
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


# ---------------------------------------------------------------------------
# Small page helpers shared by every page
# ---------------------------------------------------------------------------


def download_csv(matrix: np.ndarray, rows: Sequence[str], cols: Sequence[str], file_name: str,
                 *, key: str, label: str = "Download the data (CSV)") -> None:
    """A download button for the matrix behind a figure; the CSV is built only when clicked."""
    from functools import partial

    from viz.common import matrix_csv

    st.download_button(
        label,
        data=partial(matrix_csv, np.asarray(matrix), list(rows), list(cols)),
        file_name=file_name,
        mime="text/csv",
        key=key,
        on_click="ignore",
    )


def show_problem(problem: Exception, *, kind: str = "warning") -> None:
    """Show a Problem's sentence on the page (escaped: user text is never read as Markdown)."""
    getattr(st, kind)(escape_markdown(str(problem)))


# --- Issue 5 services ---
# Positional encoding, Embeddings, Predictions and Walkthrough pages. Same rules as
# above: every function returns numpy / plain Python, raises Problem with a sentence.


def _run(model: Any, enc: Any, record: tuple[str, ...], head_mask: Any = None, logits_at: Any = ()) -> Any:
    """One forward pass of an encoded input (no gradients), recording ``record``.

    Vocabulary logits only at the positions ``logits_at``, none by default: a trace does not
    need them, and the vocabulary projection is the largest product of a small model.
    """
    import torch

    with torch.no_grad():
        return model(enc.input_ids, attention_mask=enc.attention_mask, token_type_ids=enc.token_type_ids,
                     record=record, head_mask=head_mask, logits_at=logits_at)


@st.cache_data(max_entries=8, show_spinner=False)
def sinusoidal(n_positions: int, d_model: int) -> np.ndarray:
    """The fixed sinusoidal table [pos, d_model] (model_core's, float64)."""
    import model_core

    try:
        return np.asarray(model_core.sinusoidal_table(int(n_positions), int(d_model)), dtype=np.float64)
    except ValueError as err:
        raise Problem(f"{err}; choose at least one position and an even d_model of 2 or more.") from None


@st.cache_data(max_entries=6, show_spinner=False)
def position_embeddings(family: str, model_id: str) -> np.ndarray:
    """The model's learned position embeddings [n_positions, d_model], float32."""
    import model_core

    return np.asarray(model_core.position_table(_load(family, model_id)), dtype=np.float32)


@st.cache_data(max_entries=16, show_spinner=False)
def position_pca(table: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """viz.positional.pca_2d, cached: an eigendecomposition (~60 ms) that every session's run repeated."""
    from viz.positional import pca_2d

    return pca_2d(table)


@st.cache_data(max_entries=16, show_spinner=False)
def tokens_of(family: str, model_id: str, text: str) -> list[str]:
    """The tokens the model reads for ``text`` (special tokens included, cut at its limit)."""
    check_text(text)
    return list(_encode(_load(family, model_id), [text], None).tokens[0])


def _encoder(model_id: str) -> Any:
    model = _load("encoder", model_id)
    if int(getattr(model.config, "n_segments", 0)) < 1:
        raise Problem("This encoder has no segment embeddings; choose a BERT-style encoder.")
    return model


@st.cache_data(max_entries=12, show_spinner=False)
def embedding_parts(model_id: str, sentence_a: str, sentence_b: str = "") -> dict:
    """The encoder's input embeddings for a sentence (pair), part by part.

    Returns a dict: tokens list[str], segments list[int], and float32 [pos, d_model]
    arrays token, segment, position, sum (= the three added by the model) and
    layer_norm (the LayerNorm of the sum: what block 0 reads); truncated, n_positions.
    """
    check_text(sentence_a)
    model = _encoder(model_id)
    enc = _encode(model, [sentence_a], [sentence_b] if sentence_b.strip() else None)
    trace = _run(model, enc, ("embed.*",)).trace.numpy()
    n = int(enc.lengths[0])
    parts = {name: np.asarray(trace[f"embed.{key}"][0, :n], dtype=np.float32)
             for name, key in (("token", "tok"), ("segment", "seg"), ("position", "pos"),
                               ("sum", "sum"), ("layer_norm", "out"))}
    return {**parts, "tokens": list(enc.tokens[0][:n]), "segments": _segments(enc, 0, n),
            "truncated": bool(enc.truncated), "n_positions": int(model.config.n_positions)}


def _layer_stack(model: Any, enc: Any) -> tuple[list[str], np.ndarray]:
    """Names and vectors [layer, pos, d_model] of one input: token embedding, block-0 input, each block's output."""
    trace = _run(model, enc, ("embed.tok", "embed.out", "blocks.*.resid_post")).trace
    n = int(enc.lengths[0])
    layers = [trace["embed.tok"][0, :n], trace["embed.out"][0, :n]]
    layers += [trace[f"blocks.{i}.resid_post"][0, :n] for i in range(int(model.config.n_layers))]
    names = ["token embedding", "input (after embeddings)"] + [f"after block {i}" for i in range(len(layers) - 2)]
    return names, np.stack([t.float().numpy() for t in layers]).astype(np.float32)


@st.cache_data(max_entries=12, show_spinner=False)
def layer_vectors(family: str, model_id: str, sentence_a: str, sentence_b: str = "") -> dict:
    """Every token's vector at every depth: layers list[str], vectors float32 [layer, pos, d_model], tokens."""
    check_text(sentence_a)
    model = _load(family, model_id)
    enc = _encode(model, [sentence_a], [sentence_b] if sentence_b.strip() and family == "encoder" else None)
    names, vectors = _layer_stack(model, enc)
    n = int(enc.lengths[0])
    return {"layers": names, "vectors": vectors, "tokens": list(enc.tokens[0][:n]),
            "segments": _segments(enc, 0, n), "truncated": bool(enc.truncated)}


def _cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    denom = np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1)
    return np.where(denom > 0, (a * b).sum(axis=-1) / np.where(denom > 0, denom, 1.0), 0.0)


@st.cache_data(max_entries=8, show_spinner=False)
def swap_comparison(model_id: str, sentence_a: str, sentence_b: str) -> dict:
    """Run (A, B) and (B, A) as pairs and compare each token with itself in the other order.

    Returns: tokens/segments of both orders, layers list[str], and per token of the
    (A, B) order a cosine [layer, pos] with the same token in the (B, A) order; the
    [CLS] row (position 0) is what a classifier would read.
    """
    check_text(sentence_a)
    check_text(sentence_b, "sentence B")
    first = layer_vectors("encoder", model_id, sentence_a, sentence_b)
    second = layer_vectors("encoder", model_id, sentence_b, sentence_a)
    if first["truncated"] or second["truncated"]:
        raise Problem("The two sentences together are longer than the model can read; shorten them to compare orders.")
    tokens = first["tokens"]
    n_a = first["segments"].count(0) - 2            # tokens of A, without [CLS] and its [SEP]
    n_b = len(tokens) - n_a - 3
    # Where each position of (A, B) sits in (B, A): [CLS] stays, A moves after B, B moves to the front.
    where = [0] + [n_b + 2 + i for i in range(n_a)] + [n_b + n_a + 2] + [1 + i for i in range(n_b)] + [n_b + 1]
    cos = _cosine(first["vectors"], second["vectors"][:, where])   # [layer, pos]
    return {"tokens": tokens, "segments": first["segments"], "tokens_swapped": second["tokens"],
            "segments_swapped": second["segments"], "layers": first["layers"], "cosine": cos.astype(np.float32)}


# ---- predictions

def _special_ids(tokenizer: Any) -> set[int]:
    return set(int(i) for i in getattr(tokenizer, "all_special_ids", []) or [])


def _top(probs: Any, tokenizer: Any, top_k: int) -> list[tuple[str, float]]:
    values, ids = probs.topk(min(int(top_k), probs.shape[-1]))
    return list(zip(tokenizer.convert_ids_to_tokens(ids.tolist()), [float(v) for v in values]))


def _mlm_model(model_id: str) -> Any:
    model = _load("encoder", model_id)
    if not model.has_lm_head:
        raise Problem(f"{model.name} has no masked-language-model head yet, so it cannot fill in [MASK]. "
                      "Load an MLM model such as bert-base-uncased in the sidebar, or wait for the bundled head.")
    if model.tokenizer.mask_token_id is None:
        raise Problem(f"{model.name}'s tokenizer has no [MASK] token, so it cannot fill in blanks.")
    return model


def _heads_off_mask(model: Any, heads_off: tuple[tuple[int, int], ...]) -> Any:
    import torch

    if not heads_off:
        return None
    cfg = model.config
    mask = torch.ones(int(cfg.n_layers), int(cfg.n_heads))
    for layer, head in heads_off:
        if not (0 <= layer < cfg.n_layers and 0 <= head < cfg.n_heads):
            raise Problem(f"This model has layers 0 to {cfg.n_layers - 1} and heads 0 to {cfg.n_heads - 1}; pick among those.")
        mask[layer, head] = 0.0
    return mask


MAX_MASKS = 8  # predictions shown for at most this many blanks (each is its own panel)


def _blanked(model: Any, text: str, mask_positions: tuple[int, ...]) -> tuple[Any, list[int], list[str]]:
    """Encode ``text`` with the tokens at ``mask_positions`` replaced by [MASK].

    Returns the encoding, every blank's position (typed [MASK]s included) and the token
    each blank hides ("[MASK]" where typed); raises Problem when there is no blank.
    """
    enc = _encode(model, [text], None)
    n = int(enc.lengths[0])
    ids = enc.input_ids.clone()
    mask_id = int(model.tokenizer.mask_token_id)
    specials = _special_ids(model.tokenizer)
    for pos in mask_positions:
        if 0 <= pos < n and int(ids[0, pos]) not in specials:
            ids[0, pos] = mask_id
    positions = [int(p) for p in (ids[0, :n] == mask_id).nonzero().flatten().tolist()]
    if not positions:
        raise Problem("There is no blank to fill: type [MASK] where a word is missing "
                      "(for example: Paris is the [MASK] of France.) or pick a word to hide.")
    original = model.tokenizer.convert_ids_to_tokens(enc.input_ids[0, positions].tolist())
    enc.input_ids = ids
    return enc, positions, original


def _blank_probs(model: Any, enc: Any, positions: list[int], heads_off: tuple[tuple[int, int], ...] = ()) -> Any:
    """Softmax over the vocabulary at each blank: torch [blank, vocab]."""
    import torch

    logits = _run(model, enc, (), _heads_off_mask(model, heads_off), logits_at=positions).logits
    return torch.softmax(logits[0].float(), dim=-1)


@st.cache_data(max_entries=16, show_spinner=False)
def mask_predictions(model_id: str, text: str, mask_positions: tuple[int, ...] = (), top_k: int = 5) -> dict:
    """Fill in the blanks: every [MASK] typed in ``text`` plus the tokens at ``mask_positions``.

    Returns a dict: tokens (the input, with [MASK]s), original list[str] (the token hidden
    at each blank, "[MASK]" where typed), positions list[int], top list (per blank) of
    (token, probability), truncated bool, more_masks int (blanks beyond MAX_MASKS, not predicted).
    """
    check_text(text)
    model = _mlm_model(model_id)
    enc, positions, original = _blanked(model, text, mask_positions)
    shown = positions[:MAX_MASKS]
    probs = _blank_probs(model, enc, shown)
    n = int(enc.lengths[0])
    return {"tokens": model.tokenizer.convert_ids_to_tokens(enc.input_ids[0, :n].tolist()),
            "original": original[:MAX_MASKS], "positions": shown,
            "top": [_top(row, model.tokenizer, top_k) for row in probs],
            "truncated": bool(enc.truncated), "more_masks": len(positions) - len(shown)}


@st.cache_data(max_entries=16, show_spinner=False)
def ablation(model_id: str, text: str, mask_positions: tuple[int, ...], heads_off: tuple[tuple[int, int], ...],
             top_k: int = 5) -> dict:
    """The first blank's top tokens with all heads, and their probabilities with ``heads_off`` switched off.

    ``heads_off`` lists (layer, head) pairs whose head_mask entry is 0. Returns: tokens
    list[str] (the union of both top-k lists, all-heads order first), before / after
    float32 [token], top_after list of (token, probability), position int.
    """
    check_text(text)
    model = _mlm_model(model_id)
    enc, positions, _ = _blanked(model, text, mask_positions)
    before = _blank_probs(model, enc, positions[:1])[0]
    after = _blank_probs(model, enc, positions[:1], heads_off)[0]
    top_before, top_after = _top(before, model.tokenizer, top_k), _top(after, model.tokenizer, top_k)
    tokens = [t for t, _ in top_before] + [t for t, _ in top_after if t not in dict(top_before)]
    ids_of = model.tokenizer.convert_tokens_to_ids(tokens)
    return {"tokens": tokens, "position": positions[0], "top_after": top_after,
            "before": before[ids_of].numpy().astype(np.float32),
            "after": after[ids_of].numpy().astype(np.float32)}


@functools.lru_cache(maxsize=4)  # per tokenizer object: get_vocab() builds a 30,000-entry dict each call
def _replacement_ids(tokenizer: Any) -> tuple[int, ...]:
    """Whole-word vocabulary entries (letters only) that BERT's 10% random replacement draws from."""
    vocab = tokenizer.get_vocab()
    return tuple(sorted(i for tok, i in vocab.items() if tok.isalpha() and tok.isascii() and len(tok) > 1))


@st.cache_data(max_entries=16, show_spinner=False)
def mlm_masking(model_id: str, text: str, seed: int, top_k: int = 3) -> dict:
    """BERT's 15% / 80-10-10 masking on ``text`` with ``seed``, and the model's guesses at the chosen spots.

    Returns: tokens (original), input_tokens (what the model sees), actions (per token:
    "special", "not chosen", "[MASK]", "random", "unchanged"), chosen list[int], and per
    chosen position: top (list of (token, probability)) and p_original (the probability
    of the original token), truncated.
    """
    import torch

    from viz.predictions import bert_mask_plan

    check_text(text)
    model = _mlm_model(model_id)
    enc = _encode(model, [text], None)
    n = int(enc.lengths[0])
    ids = enc.input_ids[0, :n].tolist()
    specials = _special_ids(model.tokenizer)
    plan = bert_mask_plan(ids, [i in specials for i in ids], int(model.tokenizer.mask_token_id),
                          _replacement_ids(model.tokenizer), seed=int(seed))
    enc.input_ids = torch.tensor([list(plan.input_ids)])  # one row: no padding to keep
    probs = None
    if plan.chosen:
        logits = _run(model, enc, (), logits_at=list(plan.chosen)).logits[0]
        probs = torch.softmax(logits.float(), dim=-1)
    tok = model.tokenizer
    return {"tokens": tok.convert_ids_to_tokens(ids), "input_tokens": tok.convert_ids_to_tokens(list(plan.input_ids)),
            "actions": list(plan.actions), "chosen": list(plan.chosen),
            "top": [_top(probs[i], tok, top_k) for i in range(len(plan.chosen))],
            "p_original": [float(probs[i, ids[pos]]) for i, pos in enumerate(plan.chosen)],
            "truncated": bool(enc.truncated)}


def _decoder_call(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    import model_core

    try:
        return fn(*args, **kwargs)
    except model_core.InputError as err:
        raise Problem(str(err)) from None


@st.cache_data(max_entries=16, show_spinner=False)
def next_tokens(model_id: str, text: str, top_k: int = 5, temperature: float = 1.0) -> list[tuple[str, float]]:
    """The decoder's top-k next tokens after ``text`` at ``temperature``: [(token, probability), ...]."""
    import model_core

    check_text(text)
    model = _load("decoder", model_id)
    return [(str(t), float(p)) for t, p in _decoder_call(model_core.next_token, model, text,
                                                            top_k=int(top_k), temperature=float(temperature))]


@st.cache_data(max_entries=16, show_spinner=False)
def continuation(model_id: str, text: str, n_tokens: int = 8) -> str:
    """The decoder's greedy continuation of ``text`` (the new text only)."""
    import model_core

    check_text(text)
    return str(_decoder_call(model_core.greedy_continue, _load("decoder", model_id), text, n_tokens=int(n_tokens)))


def split_last_word(text: str) -> tuple[str, str, str]:
    """(before, word, after) around the last run of letters/digits: "Paris is nice." -> ("Paris is ", "nice", ".")."""
    matches = list(re.finditer(r"\w+", text))
    if not matches:
        return text, "", ""
    last = matches[-1]
    return text[: last.start()], last.group(0), text[last.end():]


# ---- walkthrough

@st.cache_data(max_entries=8, show_spinner=False)
def head_steps(family: str, model_id: str, sentence: str, layer: int, head: int) -> dict:
    """One head's computation with the model's own numbers (all from the trace and the weights).

    Returns a dict of float32 arrays: X [pos, d_model] (attn.input), W_Q/W_K/W_V [d_model, d_head],
    b_Q/b_K/b_V [d_head], q/k/v [pos, d_head], raw_scores/scores/masked_scores/pattern
    [query_pos, key_pos] (masked cells NaN in masked_scores), allowed bool [query_pos, key_pos],
    z [pos, d_head], z_all [head, pos, d_head], W_O [d_head, d_model] (this head's rows),
    b_O [d_model], out [pos, d_model] (attn.out); tokens, d_head, n_heads, truncated, and
    checks: max |X W + b - trace| for q, k, v and max |concat(z) W_O + b_O - out|.
    """
    import model_core

    check_text(sentence)
    model = _load(family, model_id)
    cfg = model.config
    if not (0 <= layer < cfg.n_layers and 0 <= head < cfg.n_heads):
        raise Problem(f"This model has layers 0 to {cfg.n_layers - 1} and heads 0 to {cfg.n_heads - 1}; pick among those.")
    enc = _encode(model, [sentence], None)
    trace = _run(model, enc, (f"blocks.{layer}.attn.*",)).trace.numpy()
    n = int(enc.lengths[0])
    step = {name: trace[f"blocks.{layer}.attn.{name}"] for name in
            ("input", "q", "k", "v", "raw_scores", "scores", "masked_scores", "pattern", "allowed", "z", "out")}
    allowed = step["allowed"][0, :n, :n].astype(bool)
    result = {name: np.asarray(step[name][0, head, :n, :n], dtype=np.float32)
              for name in ("raw_scores", "scores", "pattern")}
    result["masked_scores"] = np.where(allowed, step["masked_scores"][0, head, :n, :n], np.nan).astype(np.float32)
    result.update({name: np.asarray(step[name][0, head, :n], dtype=np.float32) for name in ("q", "k", "v", "z")})
    result["z_all"] = np.asarray(step["z"][0, :, :n], dtype=np.float32)
    result["X"] = np.asarray(step["input"][0, :n], dtype=np.float32)
    result["out"] = np.asarray(step["out"][0, :n], dtype=np.float32)
    result["allowed"] = allowed
    weights = model_core.head_weights(model, layer, head)
    result.update({name: np.asarray(w, dtype=np.float32) for name, w in weights.items()})
    all_w_o = np.concatenate([model_core.head_weights(model, layer, h)["W_O"] for h in range(cfg.n_heads)])
    concat = result["z_all"].transpose(1, 0, 2).reshape(n, -1)                # [pos, n_heads * d_head]
    checks = {f"{name.lower()} = X W_{name} + b_{name}":
              float(np.abs(result["X"] @ result[f"W_{name}"] + result[f"b_{name}"] - result[name.lower()]).max())
              for name in "QKV"}
    checks["attn.out = concat(z) W_O + b_O"] = float(np.abs(concat @ all_w_o + result["b_O"] - result["out"]).max())
    result.update({"tokens": list(enc.tokens[0][:n]), "d_head": int(cfg.d_head), "n_heads": int(cfg.n_heads),
                   "truncated": bool(enc.truncated), "checks": checks})
    return result


@st.cache_data(max_entries=8, show_spinner=False)
def scaling_experiment(d_ks: tuple[int, ...], n_keys: int, seed: int, n_samples: int = 256) -> Any:
    """viz.walkthrough.scaling_experiment, cached: up to a second of sampling for many keys."""
    from viz.walkthrough import scaling_experiment as run_experiment

    return run_experiment(list(d_ks), n_keys=int(n_keys), n_samples=int(n_samples), seed=int(seed))


@st.cache_data(max_entries=4, show_spinner=False)
def activation_curves(low: float = -4.0, high: float = 4.0, n_points: int = 401) -> dict:
    """x and the model_core activations over it: "GELU exact", "GELU tanh", "ReLU" (float64 numpy)."""
    import torch

    import model_core

    x = torch.linspace(float(low), float(high), int(n_points), dtype=torch.float64)
    return {"x": x.numpy(), "GELU exact": model_core.gelu_exact(x).numpy(),
            "GELU tanh": model_core.gelu_tanh(x).numpy(), "ReLU": torch.relu(x).numpy()}


# ---- page helpers shared by the issue-5 pages

def url_multiselect(name: str, label: str, options: Sequence[Any], default: Sequence[Any], **kwargs: Any) -> list:
    """A multiselect whose choice lives in the URL as a comma list (``?name=0,3,5``).

    Values that are not options (a stale link, a smaller model) are dropped, and so are
    those beyond ``max_selections``; an empty URL value means "nothing chosen". Returns the
    chosen options, in option order.
    """
    opts = list(options)
    key = f"w_{name}"
    by_text = {_serialise(o): o for o in opts}
    limit = kwargs.get("max_selections") or len(opts)
    if key not in st.session_state:
        raw = param_value(name, None)
        chosen = list(default) if raw is None else [by_text[t] for t in str(raw).split(",") if t in by_text]
        st.session_state[key] = [o for o in opts if o in chosen][:limit]
    else:
        st.session_state[key] = [o for o in st.session_state[key] if o in opts][:limit]
    value = st.multiselect(label, opts, key=key, on_change=_remember_choice, args=(name, key), **kwargs)
    _remember_choice(name, key)
    return value


def _remember_choice(name: str, key: str) -> None:
    # Also the multiselect's on_change, so a change is kept before the script reruns.
    text = ",".join(_serialise(o) for o in st.session_state[key])
    st.session_state[_keep_key(name)] = text
    _write_url(name, text)


def show_figure(fig: Any, key: str, file_name: str, *, matrix: Any = None, rows: Sequence[str] = (),
                cols: Sequence[str] = (), frame: Any = None) -> None:
    """A plotly figure and, under it, a CSV download of its data (a labelled matrix or a DataFrame).

    The CSV is built only when the button is clicked, so large tables cost nothing per rerun.
    """
    from functools import partial

    st.plotly_chart(fig, key=f"fig_{key}", config={"displaylogo": False})
    if frame is None:
        download_csv(matrix, rows, cols, file_name, key=f"csv_{key}")
    else:
        st.download_button("Download the data (CSV)", data=partial(frame_csv, frame), file_name=file_name,
                           mime="text/csv", key=f"csv_{key}", on_click="ignore")


def frame_csv(frame: Any) -> bytes:
    """A pandas DataFrame as CSV bytes for a download button."""
    return frame.to_csv().encode("utf-8")
