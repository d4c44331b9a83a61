"""The view state: what defines a view lives in the URL, so a copied link reopens it.

``PARAMS`` is the one table of every query parameter: its default and what it holds.
Names shared by several pages (the sidebar's ``a``, ``b``, ``enc``, ``dec``, ``mt``, ``big``, ``scale``,
``img``; the page's ``model``, ``layer``, ``head``) carry the same choice from page to page; a page's own
options are prefixed by the page (``at_`` Attention, ``mk_`` Masks, ``pe_`` Positional
encoding, ``em_`` Embeddings, ``pr_`` Predictions, ``wt_`` Walkthrough, ``tr_`` Translation,
``ob_`` Objectives). Links shared
before this scheme keep working: ``ALIASES`` maps each old name to its new one.

``view()`` returns the sidebar's part as a frozen ``View``; ``url_widget()`` and
``url_multiselect()`` draw a widget whose value is kept in the URL.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

import streamlit as st

from .examples import DEFAULT_SENTENCE, EXAMPLE_POINTS, EXAMPLES  # noqa: F401  (the sidebar's, re-exported)

BUNDLED = "bundled"  # model id of the bundled default of each family
TINY = "tiny"  # model id of a tiny random model (fast tests, demos of shapes)
FAMILIES = ("encoder", "decoder")   # the two families every page compares
TRANSLATOR = "seq2seq"              # the encoder-decoder family (the Translation page)
LOADABLE = FAMILIES + (TRANSLATOR,)

# A very long sentence is still analysed, but not copied into the URL:
# browsers and servers reject URLs much longer than this.
MAX_URL_TEXT = 2000


@dataclass(frozen=True)
class Param:
    """One query parameter of the view."""

    default: Any            # None: the page works it out (it depends on the model or the text)
    what: str               # what it holds, in a few words
    in_url: bool = True     # False: kept across page switches but never put in a link


PARAMS: dict[str, Param] = {
    # The sidebar, on every page.
    "a": Param(DEFAULT_SENTENCE, "sentence A"),
    "b": Param("", "sentence B (optional)"),
    "enc": Param(BUNDLED, "encoder: bundled, a hub id or a folder"),
    "dec": Param(BUNDLED, "decoder: bundled, a hub id or a folder"),
    "mt": Param(BUNDLED, "translator (encoder-decoder): bundled, a hub id or a folder"),
    "custom_encoder": Param("", "the encoder id being typed in the sidebar", in_url=False),
    "custom_decoder": Param("", "the decoder id being typed in the sidebar", in_url=False),
    "custom_seq2seq": Param("", "the translator id being typed in the sidebar", in_url=False),
    # Shared by the pages that show one model's head.
    "model": Param("encoder", "family in view: encoder or decoder"),
    "big": Param(False, "projector mode: large dark text, full-width summaries"),
    "img": Param("png", "what a figure's camera button saves: png or svg"),
    "scale": Param("fixed", "colour scale of attention weights: fixed (0 to 1) or fit (0 to the largest drawn)"),
    "layer": Param(0, "layer in view"),
    "head": Param(0, "head in view"),
    # Attention
    "at_hide": Param(False, "hide [CLS]/[SEP] and renormalise"),
    "at_view": Param("heatmap", "the head as a heatmap or lines"),
    "at_softhard": Param(False, "draw soft vs hard attention"),
    "at_summaries": Param(False, "draw mean, max and rollout"),
    "at_follow": Param(-1, "token followed in every tile and the large head (-1: none)"),
    "at_find": Param("a word to another word", "what the head finder ranks heads by"),
    "at_fq": Param(None, "head finder: query position (the example's point, else the last token)"),
    "at_fk": Param(None, "head finder: key position (the example's point, else the first token)"),
    # Masks
    "mk_row": Param(None, "batch row shown step by step (the padded one)"),
    "mk_align": Param(True, "line up words only in BERT vs GPT"),
    "mk_append": Param("today", "word appended in the prefix experiment"),
    "mk_prefix": Param(False, "draw the prefix experiment's figures"),
    # Positional encoding
    "pe_d": Param(64, "d_model of the sinusoidal table"),
    "pe_n": Param(100, "positions of the sinusoidal table"),
    "pe_dims": Param(None, "dimensions drawn as waves"),
    "pe_k": Param(3, "offset k"),
    "pe_p": Param(5, "position p"),
    "pe_lp": Param(128, "learned positions shown"),
    "pe_t": Param("encoder", "table for the heatmap and the 2-D map"),
    "pe_s0": Param(True, "leave out position 0"),
    "pe_cos": Param(True, "cosine (else dot product) similarity"),
    "pe_md": Param(64, "largest distance"),
    # Embeddings
    "em_dims": Param(None, "dimensions drawn"),
    "em_sl": Param(None, "depth of the swap comparison (the last)"),
    "em_seed": Param(0, "seed of the untrained span vectors"),
    "em_w": Param(None, "word found in both sentences"),
    "em_nl": Param(None, "depth of the nearest tokens (the last)"),
    # Predictions
    "pr_mask": Param(None, "token positions hidden"),
    "pr_k": Param(5, "guesses shown (top-k)"),
    "pr_seed": Param(0, "seed of the masking recipe"),
    "pr_word": Param(None, "word hidden for next word vs fill-in (the last)"),
    "pr_temp": Param(1.0, "temperature"),
    "pr_n": Param(20, "tokens the decoder writes at most"),
    "pr_dec": Param("greedy", "decoding: greedy or sample"),
    "pr_gt": Param(1.0, "temperature of sampling"),
    "pr_topk": Param(0, "top-k of sampling (0: off)"),
    "pr_topp": Param(1.0, "top-p of sampling (1: off)"),
    "pr_rep": Param(3, "no-repeat n-gram size (0: off)"),
    "pr_gseed": Param(0, "seed of sampling"),
    "pr_step": Param(1, "generation step watched"),
    "pr_al": Param(-1, "layer whose heads are switched off (-1: every layer)"),
    "pr_ah": Param((0, 1, 2, 3), "heads switched off"),
    # Walkthrough
    "wt_q": Param(None, "query row taken apart (the second token)"),
    "wt_nk": Param(16, "keys per query in the sqrt(d_k) experiment"),
    "wt_seed": Param(0, "seed of the sqrt(d_k) experiment"),
    "wt_nf": Param(6, "features in LayerNorm vs BatchNorm"),
    # Translation
    "tr_ref": Param("", "reference translation (optional)"),
    "tr_beams": Param(1, "beams (1: greedy decoding)"),
    "tr_max": Param(64, "longest translation, in tokens"),
    "tr_view": Param("heatmap", "cross-attention as a heatmap or lines"),
    "tr_step": Param(0, "decoding step shown"),
    "tr_k": Param(5, "candidates shown per step (top-k)"),
    # Objectives
    "ob_show": Param(None, "objective cards shown (comma list)"),
    "ob_pair": Param(False, "cards two side by side"),
    "ob_seed": Param(0, "seed of the masking"),
    "ob_order": Param("", "XLNet factorisation order typed (empty: seeded random)"),
    "ob_pos": Param(None, "XLNet position predicted (the middle word)"),
    "ob_start": Param(None, "MASS span start (the second word)"),
    "ob_len": Param(2, "MASS span length"),
    "ob_prefix": Param(None, "prefix length of the prefix LM (half the tokens)"),
    "ob_ft": Param(0, "seed of the untrained fine-tuning heads"),
    "ob_steps": Param(200, "optimiser steps"),
    "ob_wd": Param(0.1, "weight decay"),
    "ob_lr": Param(1.0, "learning-rate factor"),
}

# Names used by links shared before the naming scheme: old -> new.
ALIASES: dict[str, str] = {
    "hide": "at_hide", "view": "at_view", "softhard": "at_softhard", "summaries": "at_summaries",
    "row": "mk_row", "align": "mk_align", "append": "mk_append",
    "wt_fam": "model", "em_fam": "model", "wt_l": "layer", "wt_h": "head",
}


@dataclass(frozen=True)
class View:
    """The sidebar's state, as every page sees it.

    sentence_a: the main sentence, exactly as typed (may be empty: check ``has_text``)
    sentence_b: the optional second sentence ("" when unused): used for
        sentence pairs (segment B) and as the second row of a padded batch
    encoder: model id of the chosen encoder: ``"bundled"``, ``"tiny"``, a hub id or a folder
    decoder: model id of the chosen decoder, same forms
    translator: model id of the chosen encoder-decoder, same forms
    """

    sentence_a: str
    sentence_b: str
    encoder: str
    decoder: str
    translator: str = BUNDLED

    @property
    def has_text(self) -> bool:
        """True when sentence A has something besides spaces."""
        return bool(self.sentence_a.strip())

    @property
    def has_pair(self) -> bool:
        """True when sentence B is in use."""
        return bool(self.sentence_b.strip())

    def model(self, family: str) -> str:
        """The chosen model id of a family ("encoder", "decoder" or "seq2seq")."""
        return {"encoder": self.encoder, "decoder": self.decoder}.get(family, self.translator)


def leave_legacy_pages_mode() -> None:
    """Make sure the page runs inside ``app.py`` (sidebar, navigation, wide layout).

    Streamlit keeps a legacy mode for apps with a ``pages/`` folder: on a
    freshly started server, a direct link to ``/masks`` runs
    ``pages/masks.py`` on its own, without ``app.py``, until some session
    has run ``st.navigation``. Streamlit has no public switch for this, so
    this sets the flag ``st.navigation`` itself sets (the one private name the
    app touches; tests/test_app_frame.py fails loudly if Streamlit renames it)
    and reruns through the frame.
    """
    from streamlit.runtime.pages_manager import PagesManager

    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        st.rerun()


def view() -> View:
    """The sidebar's current state (sentences and model ids) for any page.

    ``app.py`` draws the sidebar before the page runs, so this reads the
    values it left in ``st.session_state``; a page run on its own (tests)
    falls back to ``st.query_params`` and then to the defaults.
    """
    leave_legacy_pages_mode()
    return View(
        sentence_a=str(param_value("a")),
        sentence_b=str(param_value("b")),
        encoder=str(param_value("enc")) or BUNDLED,
        decoder=str(param_value("dec")) or BUNDLED,
        translator=str(param_value("mt")) or BUNDLED,
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


def _in_url(name: str) -> str | None:
    """The key under which ``name`` is in the URL: its own, else an old alias of it, else None."""
    if name in st.query_params:
        return name
    return next((old for old, new in ALIASES.items() if new == name and old in st.query_params), None)


def param_value(name: str, default: Any = None) -> Any:
    """The current value of view-state ``name``: session copy, else URL (or an alias), else the default.

    ``default`` overrides the table's (for parameters whose default the page works out).
    """
    default = PARAMS[name].default if default is None else default
    keep = _keep_key(name)
    if keep in st.session_state:
        return st.session_state[keep]
    key = _in_url(name)
    if key is not None:
        try:
            return _parse(st.query_params[key], default)
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
    if not PARAMS[name].in_url:
        return
    for old, new in ALIASES.items():   # the link now says it the new way
        if new == name and old in st.query_params:
            del st.query_params[old]
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
    label: str,
    *,
    default: Any = None,
    key: str | None = None,
    options: Sequence[Any] | None = None,
    min_value: Any = None,
    max_value: Any = None,
    **kwargs: Any,
) -> Any:
    """Draw ``widget`` (st.selectbox, st.slider, st.text_input, ...) with its value kept in the URL.

    ``name`` is a key of ``PARAMS``; ``default`` overrides its default (required where the
    table's is None). When the widget is drawn anew (first visit, or back from another page)
    its value is the session copy (what this user last chose), else ``?name=`` in the URL (a
    copied link opened in a new session), else the default; values that do not fit (an
    unknown option, a layer out of range) fall back to the default. Every run writes the
    value back to the URL (unless the table says ``in_url=False``) and the session copy.
    Returns the widget's value.

    Example: ``layer = url_widget(st.selectbox, "layer", "Layer", options=range(6))``
    """
    default = PARAMS[name].default if default is None else default
    if default is None:
        raise ValueError(f"url_widget({name!r}) needs a default: the table leaves it to the page")
    key = key or f"w_{name}"
    opts = list(options) if options is not None else None
    if key not in st.session_state:
        st.session_state[key] = _fit(param_value(name, default), default, opts, min_value, max_value)
    else:
        # The options or the range changed under the widget (a smaller model, a shorter text): refit.
        fitted = _fit(st.session_state[key], default, opts, min_value, max_value)
        if fitted != st.session_state[key]:
            st.session_state[key] = fitted
    if opts is not None:
        kwargs["options"] = opts
    if min_value is not None:
        kwargs["min_value"] = min_value
    if max_value is not None:
        kwargs["max_value"] = max_value
    value = widget(label, key=key, on_change=_remember, args=(name, key), **kwargs)
    st.session_state[_keep_key(name)] = value
    _write_url(name, value)
    return value


def _remember(name: str, key: str) -> None:
    # on_change: copy the new value at once, before the script runs, so it
    # survives even if Streamlit forgets the widget's state during the run.
    st.session_state[_keep_key(name)] = st.session_state[key]
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


def url_multiselect(name: str, label: str, options: Sequence[Any], *, default: Sequence[Any] | None = None,
                    **kwargs: Any) -> list:
    """A multiselect whose choice lives in the URL as a comma list (``?name=0,3,5``).

    Values that are not options (a stale link, a smaller model) are dropped, and so are
    those beyond ``max_selections``; an empty URL value means "nothing chosen". Returns the
    chosen options, in option order.
    """
    default = PARAMS[name].default if default is None else default
    opts = list(options)
    key = f"w_{name}"
    by_text = {_serialise(o): o for o in opts}
    limit = kwargs.get("max_selections") or len(opts)
    if key not in st.session_state:
        raw = param_value(name, "")
        in_url = _keep_key(name) in st.session_state or _in_url(name) is not None
        chosen = [by_text[t] for t in str(raw).split(",") if t in by_text] if in_url else list(default)
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
