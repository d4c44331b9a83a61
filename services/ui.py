"""The page kit: the few things every page does, each written once.

A page reads the view, asks for a model and a sentence (``require_model``, ``require_text``),
draws its controls (``family_radio``, ``layer_head``), calls ``services.cached``, shows
what the tokenizer did (``show_notes``), and draws every chart with ``show_figure``: the
figure and, under it, the CSV of exactly the table drawn. Errors a user can cause are
shown with ``show_problem``; user text is always escaped, never read as Markdown or HTML.
"""
from __future__ import annotations

import re
from typing import Any, Callable, Mapping, Sequence, TypeVar

import streamlit as st

import analysis

from .models import ModelInfo, Problem, model_info
from .projector import for_projector
from .state import FAMILIES, View, param_value, set_param, url_widget

T = TypeVar("T")

FAMILY_LABELS = {"encoder": "Encoder (BERT-style, sees both sides)", "decoder": "Decoder (GPT-style, sees only the left)"}


def escape_markdown(text: str) -> str:
    """``text`` with Markdown/HTML special characters escaped, for st.markdown/st.error/st.info."""
    return re.sub(r"([\\`*_{}\[\]()<>#+\-.!|~$:])", r"\\\1", text)


def show_problem(problem: Exception, *, kind: str = "warning") -> None:
    """Show a Problem's sentence on the page (escaped: user text is never read as Markdown)."""
    getattr(st, kind)(escape_markdown(str(problem)))


def compute(fn: Callable[..., T], *args: Any, kind: str = "warning", stop: bool = False, **kwargs: Any) -> T | None:
    """``fn(*args, **kwargs)``, or None after showing the Problem it raised (and ``stop``: end the page)."""
    try:
        return fn(*args, **kwargs)
    except Problem as problem:
        show_problem(problem, kind=kind)
        if stop:
            st.stop()
        return None


def require_model(family: str, model_id: str) -> ModelInfo:
    """The model's sizes; when it cannot be loaded, say why and end the page."""
    info = compute(model_info, family, model_id, kind="info", stop=True)
    assert info is not None  # compute stopped the page otherwise
    return info


def require_text(view: View, purpose: str) -> None:
    """End the page with a sentence when sentence A is empty; ``purpose``: "see its attention"."""
    if not view.has_text:
        st.warning(f"Sentence A is empty: type a sentence in the sidebar (or pick an example) to {purpose}.")
        st.stop()


def family_radio(key: str, labels: Mapping[str, str] = FAMILY_LABELS, label: str = "Model") -> str:
    """The encoder/decoder choice, shared by every page through the URL (``model``)."""
    return url_widget(st.radio, "model", label, options=list(labels), format_func=labels.get, horizontal=True,
                      key=key)


def model_labels(view: View) -> dict[str, str]:
    """Radio labels naming each family's chosen model: {"encoder": "encoder (bundled)", ...}."""
    return {family: f"{family} ({escape_markdown(view.model(family))})" for family in FAMILIES}


SCALES = {"fixed": "fixed: 0 to 1 (heads comparable)", "fit": "fitted: 0 to the largest weight drawn"}


def projector() -> bool:
    """Projector mode (``big=1``): large dark text in every figure, full-width summaries, wrapped sentences."""
    return bool(param_value("big"))


def columns(n: int) -> list:
    """``n`` side-by-side columns, or ``n`` full-width blocks one under the other in projector mode."""
    return [st.container() for _ in range(n)] if projector() else list(st.columns(n))




def weight_max() -> float | None:
    """The top of every attention-weight colour bar: 1.0 (fixed scale) or None (fitted to what is drawn)."""
    return None if param_value("scale") == "fit" else 1.0


def layer_head(info: ModelInfo, key: str, columns: Sequence[Any] | None = None,
               default: tuple[int, int] | None = None) -> tuple[int, int]:
    """Layer and head pickers (in ``columns`` when given), shared by every page through the URL.

    ``default``: the head to open when neither the link nor this session chose one (else layer 0, head 0)."""
    places = columns if columns is not None else st.columns(2)
    first = default or (None, None)
    with places[0]:
        layer = url_widget(st.selectbox, "layer", "Layer", options=list(range(info.n_layers)), key=f"{key}_layer",
                           default=first[0])
    with places[1]:
        head = url_widget(st.selectbox, "head", "Head", options=list(range(info.n_heads)), key=f"{key}_head",
                          default=first[1])
    return layer, head


def open_clicked_head(figure_key: str, key: str) -> Callable[[], None]:
    """An ``on_select`` callback for a figure whose clickable points carry ``customdata`` [layer, head]:
    the clicked head opens in the pickers ``layer_head(info, key)`` drew. It runs before the page, so the
    widgets can still change."""

    def pick() -> None:
        event = st.session_state.get(figure_key)
        for point in (event or {}).get("selection", {}).get("points", []):
            data = point.get("customdata")
            if isinstance(data, (list, tuple)) and len(data) == 2:
                set_param("layer", int(data[0]), widget_key=f"{key}_layer")
                set_param("head", int(data[1]), widget_key=f"{key}_head")
                return

    return pick


def show_notes(text: str, tokens: Sequence[str], truncated: bool, n_positions: int,
               skip: Callable[[str], bool] | None = None) -> None:
    """What the tokenizer did to the user's text, one info box per note (``skip``: notes to leave out)."""
    for note in analysis.input_notes(text, tokens, truncated, n_positions):
        if skip is None or not skip(note):
            st.info(escape_markdown(note))


def download_csv(make_csv: Callable[[], bytes], file_name: str, *, key: str,
                 label: str = "Download the data (CSV)") -> None:
    """A download button; ``make_csv`` (e.g. a Chart's ``csv``) builds the bytes only when clicked."""
    st.download_button(label, data=make_csv, file_name=file_name, mime="text/csv", key=key, on_click="ignore")


def show_figure(chart: Any, key: str, file_name: str, *, label: str = "Download the data (CSV)",
                **plotly_options: Any) -> Any:
    """A chart from ``viz`` (its ``figure``) and, under it, the CSV of its ``table``: exactly what is drawn.

    ``plotly_options`` go to st.plotly_chart (``on_select``, ``selection_mode``, ``width``).
    Returns what st.plotly_chart returns (the selection event when ``on_select`` is set).
    """
    plotly_options.setdefault("width", "stretch")
    figure = for_projector(chart.figure) if projector() else chart.figure
    # theme=None: the figure carries its own look (viz.common.TEMPLATE); Streamlit's theme, merged into
    # every figure in the browser, made page switches ~40 % slower (bench/README.md).
    # The camera button saves the figure as the sidebar says: PNG, or SVG (vector, for slides).
    image = {"format": param_value("img"), "filename": file_name.rsplit(".", 1)[0], "scale": 2}
    event = st.plotly_chart(figure, key=f"fig_{key}", config={"displaylogo": False, "toImageButtonOptions": image},
                            theme=None,
                            **plotly_options)
    download_csv(chart.csv, file_name, key=f"csv_{key}", label=label)
    return event
