"""Attention Explorer: the router and the shared frame.

Page config, the sidebar every page shares (sentences, models, examples),
and ``st.navigation`` with one explicit ``st.Page`` per page. Pages read the
sidebar through ``services.state.view()``.
"""
from __future__ import annotations

import streamlit as st

from services import lesson, models, projector, state, tours, ui

# Before any element: leave Streamlit's legacy pages/-folder mode at once, so
# widget ids are the same from the very first run (see state.leave_legacy_pages_mode).
state.leave_legacy_pages_mode()
st.set_page_config(page_title="Attention Explorer", layout="wide")

MODEL_LABELS = {
    "encoder": "bundled: all-MiniLM-L6-v2 (BERT-style, bidirectional)",
    "decoder": "bundled: small GPT-style decoder (causal)",
    "seq2seq": "bundled: English-to-French Transformer (encoder-decoder)",
}
# What each picker is called, and an id to suggest in its box.
PICKERS = {"encoder": ("encoder", "bert-base-uncased"), "decoder": ("decoder", "gpt2"),
           "seq2seq": ("translator", "Helsinki-NLP/opus-mt-en-fr")}


def _use_example() -> None:
    """Button callback: copy the chosen example into the sentence boxes."""
    label = st.session_state.get("example_choice")
    for name, sentence_a, sentence_b in state.EXAMPLES:
        if name == label:
            state.set_param("a", sentence_a, widget_key="w_a")
            state.set_param("b", sentence_b, widget_key="w_b")
            # A new example opens on the head that shows its point: forget the head in view.
            state.forget(("layer", "head", "at_fq", "at_fk"), widget_suffixes=("_layer", "_head", "w_at_fq", "w_at_fk"))


def _start_tour() -> None:
    """A tour chosen in the sidebar starts at its first step."""
    state.set_param("tour", st.session_state.get("w_tour", ""))
    state.set_param("step", 1)
    st.session_state.pop(tours.APPLIED, None)


def _request_load(family: str) -> None:
    """Button callback: remember which model to load; the sidebar loads it with a spinner."""
    st.session_state[f"_load_request_{family}"] = str(st.session_state.get(f"custom_{family}", ""))


def _label(family: str, model_id: str) -> str:
    if model_id == state.BUNDLED:
        return MODEL_LABELS[family]
    if model_id == state.TINY:
        return "tiny random model (for tests)"
    return model_id


def model_picker(family: str, param: str) -> None:
    """The picker of one family: bundled first, then models loaded on request."""
    widget_key = f"w_{param}"
    known_key = f"_known_{family}"
    known: list[str] = st.session_state.setdefault(known_key, [])
    what, example = PICKERS[family]
    slot = st.container()
    with st.expander(f"Load another {what}"):
        state.url_widget(
            st.text_input,
            f"custom_{family}",
            "Hugging Face hub id or local folder",
            key=f"custom_{family}",
            placeholder=example,
            help="Loaded only when you press the button. Needs internet for a hub id "
            "unless the model is already in the local cache.",
        )
        st.button(f"Load {what}", key=f"load_{family}", on_click=_request_load, args=(family,))
        messages = st.container()
    request = st.session_state.pop(f"_load_request_{family}", None)
    if request is not None:
        model_id = request.strip()
        if not model_id:
            messages.warning(f"Type a hub id (for example {example}) or a folder path, then press the button.")
        else:
            with messages, st.spinner(f"Loading {model_id} ..."):
                failure = models.try_load(family, model_id, retry=True)
            if failure:
                messages.error(
                    ui.escape_markdown(failure) + " The app keeps using the model chosen above."
                )
            else:
                if model_id not in known:
                    known.append(model_id)
                state.set_param(param, model_id, widget_key=widget_key)
                messages.success(f"Loaded {ui.escape_markdown(model_id)}.")

    # A model named in the URL (a shared link) is loaded on first use; if it
    # cannot be, say why and fall back to the bundled one.
    current = st.session_state.get(widget_key, state.param_value(param))
    if current not in (state.BUNDLED, state.TINY) and current not in known:
        with slot, st.spinner(f"Loading {current} ..."):
            failure = models.try_load(family, current)
        if failure:
            slot.error(ui.escape_markdown(failure) + f" Using the bundled {what} instead.")
            state.set_param(param, state.BUNDLED, widget_key=widget_key)
        else:
            known.append(current)
    options = [state.BUNDLED, *known]
    if current == state.TINY:
        options.append(state.TINY)
    with slot:
        chosen = state.url_widget(
            st.selectbox,
            param,
            what.capitalize(),
            options=options,
            format_func=lambda model_id: _label(family, model_id),
        )
    failure = models.try_load(family, chosen)
    if failure:
        slot.info(
            ui.escape_markdown(failure)
            + f" Views that need the {what} say so; everything else keeps working."
        )


def sidebar() -> None:
    with st.sidebar:
        st.header("Your sentence")
        state.url_widget(
            st.text_area,
            "a",
            "Sentence A",
            height=90,
        )
        if len(state.param_value("a")) > state.MAX_URL_TEXT:
            st.caption(f"This text is longer than {state.MAX_URL_TEXT} characters, too long to travel in "
                       "a link: a copied URL keeps the other settings but not the text.")
        state.url_widget(
            st.text_input,
            "b",
            "Sentence B (optional)",
            help="A second sentence: read as a pair ([CLS] A [SEP] B [SEP]) on the Attention page, "
            "and batched with A (so padding is real) on the Masks page.",
        )
        st.selectbox("Examples", [name for name, _, _ in state.EXAMPLES], key="example_choice")
        st.button("Use this example", on_click=_use_example)
        state.url_widget(st.toggle, "big", "Projector mode (large text)",
                         help="For a classroom projector: every figure's text at least 16 px in dark ink, "
                         "square heatmaps, summaries full width, sentences wrapped.")
        state.url_widget(st.radio, "scale", "Colour scale of attention weights", options=list(ui.SCALES),
                         format_func=ui.SCALES.get,
                         help="Fixed keeps 0 to 1 on every page, so heads compare; fitted stretches the colours "
                         "over what is drawn, so a weak head's pattern shows too.")
        state.url_widget(st.radio, "img", "The camera button of a figure saves", options=["png", "svg"],
                         format_func={"png": "PNG (picture)", "svg": "SVG (vector, for slides)"}.get, horizontal=True)
        state.url_widget(st.selectbox, "tour", "Guided tour", options=["", *tours.TOURS],
                         format_func=lambda t: tours.TOURS[t].title if t else "none", on_change=_start_tour)
        st.header("Models")
        model_picker("encoder", "enc")
        model_picker("decoder", "dec")
        model_picker("seq2seq", "mt")
        st.caption("Everything runs on this machine; no text leaves it.")


sidebar()
if ui.projector():
    projector.style_page()

PAGES = [
    # The default page is served at "/" and only reserves its pathname, so a
    # link to "/attention" would open Streamlit's "Page not found" dialog. The
    # default gets another reserved name and a hidden twin answers "/attention".
    st.Page("pages/attention.py", title="Attention", default=True, url_path="home"),
    st.Page("pages/attention.py", title="Attention", url_path="attention", visibility="hidden"),
    st.Page("pages/masks.py", title="Masks"),
    st.Page("pages/positional.py", title="Positional encoding"),
    st.Page("pages/embeddings.py", title="Embeddings"),
    st.Page("pages/predictions.py", title="Predictions"),
    st.Page("pages/walkthrough.py", title="Walkthrough"),
    st.Page("pages/translation.py", title="Translation"),
    st.Page("pages/objectives.py", title="Objectives"),
]
page = st.navigation(PAGES)
by_title = {p.title: p for p in reversed(PAGES)}
with st.sidebar:
    lesson.sidebar(page.title, by_title)
# A guided tour's step, above the page (it opens the step's page and options when the step is entered).
tours.show(by_title, page.title)
page.run()
