"""The view state: what defines a view lives in the URL, so a copied link reopens it.

``PARAMS`` (services/params.py) is the one table of every query parameter: its default and what it holds.
Names shared by several pages (the sidebar's ``a``, ``b``, ``enc``, ``dec``, ``mt``, ``big``, ``scale``,
``img``, ``tour``, ``step``; the page's ``model``, ``layer``, ``head``) carry the same choice from page to
page; a page's own options are prefixed by the page (``at_`` Attention, ``mk_`` Masks, ``pe_`` Positional
encoding, ``em_`` Embeddings, ``pr_`` Predictions, ``wt_`` Walkthrough, ``tr_`` Translation, ``ob_``
Objectives). Links shared before this scheme keep working: ``ALIASES`` maps each old name to its new one.

``view()`` returns the sidebar's part as a frozen ``View``; ``url_widget()`` and
``url_multiselect()`` draw a widget whose value is kept in the URL.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

import streamlit as st

from .examples import DEFAULT_SENTENCE, EXAMPLE_POINTS, EXAMPLES  # noqa: F401  (the sidebar's, re-exported)
from .params import ALIASES, BUNDLED, FAMILIES, LOADABLE, PARAMS, TINY, TRANSLATOR, Param  # noqa: F401

# Session key of the values widgets take on their next drawing (a tour step's presets; services/tours.py).
FORCED = "_forced"

# A very long sentence is still analysed, but not copied into the URL:
# browsers and servers reject URLs much longer than this.
MAX_URL_TEXT = 2000




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
    # Many sessions at once on a fresh server (a replica restarted mid-lesson, its students reconnecting): a run
    # that began in the legacy mode before another session left it finds the flag already cleared. It still runs
    # without app.py, so it reruns too; once per session at most, so a mistake here cannot loop.
    if outside_the_frame():
        if not st.session_state.get("_reran_into_frame"):
            st.session_state["_reran_into_frame"] = True
            st.rerun()
    else:
        st.session_state.pop("_reran_into_frame", None)


def outside_the_frame() -> bool:
    """True when this run serves ``app.py`` but was started on a page script alone (no app.py in the stack)."""
    import os
    import sys

    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx()
    main = os.path.abspath(getattr(ctx, "main_script_path", "") or "")
    if os.path.basename(main) != "app.py":
        return False                       # no run, or a page run on its own (tests)
    frame = sys._getframe(1)
    while frame is not None:
        if os.path.abspath(frame.f_code.co_filename) == main:
            return False
        frame = frame.f_back
    return True


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


def forget(names: Sequence[str], widget_suffixes: Sequence[str] = ()) -> None:
    """Drop view-state ``names`` (session copy and URL) and every widget whose key ends in a suffix, so the
    page works them out again (call from a callback, before the widgets are drawn)."""
    for name in names:
        st.session_state.pop(_keep_key(name), None)
        if (key := _in_url(name)) is not None:
            del st.query_params[key]
    for key in [k for k in st.session_state if isinstance(k, str) and k.endswith(tuple(widget_suffixes))]:
        del st.session_state[key]


def preset(values: dict[str, Any]) -> None:
    """Make ``values`` the view (a tour step's options, a lesson's view): kept, in the URL, and taken once by
    their widgets on the next drawing, whatever those held (call from a callback or before the widgets)."""
    st.session_state[FORCED] = dict(values)
    for name, value in values.items():
        set_param(name, value)


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
    forced = st.session_state.get(FORCED)
    if forced and name in forced:   # a tour step's preset: the widget takes it once, whatever it held
        st.session_state[key] = _fit(_parse(_serialise(forced.pop(name)), default), default, opts, min_value,
                                     max_value)
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
    then = kwargs.pop("on_change", None)      # the caller's own callback runs after the value is kept
    value = widget(label, key=key, on_change=_remember, args=(name, key, then), **kwargs)
    st.session_state[_keep_key(name)] = value
    _write_url(name, value)
    return value


def _remember(name: str, key: str, then: Callable[[], None] | None = None) -> None:
    # on_change: copy the new value at once, before the script runs, so it
    # survives even if Streamlit forgets the widget's state during the run.
    st.session_state[_keep_key(name)] = st.session_state[key]
    _write_url(name, st.session_state[key])
    if then is not None:
        then()


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
    forced = st.session_state.get(FORCED)
    if forced and name in forced:   # a tour step's preset (a comma list)
        chosen = str(forced.pop(name)).split(",")
        st.session_state[key] = [o for o in opts if _serialise(o) in chosen][:limit]
    elif key not in st.session_state:
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
