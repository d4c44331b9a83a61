"""Projector mode: the same figures for a classroom projector, and the page style that goes with them.

``for_projector`` rewrites a figure built by ``viz`` (plain plotly dicts): text at least 16 px in dark ink,
titles 20 px, thicker lines, square cells when the figure is one heatmap. ``ui.show_figure`` applies it when
the view says ``big=1``; the rules live here, not in every builder, so no figure can be forgotten.
"""
from __future__ import annotations

from typing import Any

import plotly.graph_objects as go
import streamlit as st


# The smallest text any figure may have in projector mode, and the ink it is written in.
PROJECTOR_FONT = 16
PROJECTOR_INK = "#111111"


def _raise_fonts(node: Any, inside_font: bool = False) -> None:
    """Every font dict under ``node``: size at least PROJECTOR_FONT, colour dark (in place)."""
    if isinstance(node, dict):
        if inside_font:
            size = node.get("size")
            if not isinstance(size, list) and (not isinstance(size, (int, float)) or size < PROJECTOR_FONT):
                node["size"] = PROJECTOR_FONT
            colour = node.get("color")
            if colour is None or (isinstance(colour, str) and colour.lower() not in ("white", "#ffffff")):
                node["color"] = PROJECTOR_INK   # white text stays white (it sits on a dark cell); lists stay
        for key, value in node.items():
            _raise_fonts(value, inside_font=key.endswith("font"))
    elif isinstance(node, list):
        for item in node:
            _raise_fonts(item)


def for_projector(fig: go.Figure) -> go.Figure:
    """The same figure for a classroom projector: text at least 16 px in dark ink (titles 20 px), thicker lines,
    and square cells when the figure is one heatmap."""
    spec = fig.to_plotly_json()
    layout = spec.setdefault("layout", {})
    layout["font"] = {**layout.get("font", {}), "size": 18, "color": PROJECTOR_INK}
    title = layout.get("title")
    if isinstance(title, dict):
        title["font"] = {**title.get("font", {}), "size": 20}
    for key in [k for k in layout if k.startswith(("xaxis", "yaxis"))]:
        axis = layout[key]
        axis.setdefault("tickfont", {})
        if axis.get("type") == "log" and "dtick" not in axis and "tickvals" not in axis:
            axis["dtick"] = 1      # labels at powers of ten only: plotly draws the 2s and 5s between them smaller
        if isinstance(axis.get("title"), dict):
            axis["title"].setdefault("font", {})
    for annotation in layout.get("annotations", []):
        annotation.setdefault("font", {})
    for trace in spec.get("data", []):
        if trace.get("type") == "scatter" and "lines" in str(trace.get("mode", "lines")):
            line = trace.setdefault("line", {})
            if isinstance(line.get("width"), (int, float)):
                line["width"] = max(3.0, line["width"] * 1.8)
            elif not isinstance(line.get("width"), list):
                line["width"] = 3.0
        if "text" in trace or "texttemplate" in trace:
            trace.setdefault("textfont", {})
        if isinstance(trace.get("colorbar"), dict):
            trace["colorbar"].setdefault("tickfont", {})
    _raise_fonts(layout)
    _raise_fonts(spec.get("data", []))
    heatmaps = [t for t in spec.get("data", []) if t.get("type") == "heatmap"]
    if len(heatmaps) == 1 and heatmaps[0].get("xaxis", "x") == "x" and "yaxis" in layout:
        layout["yaxis"]["scaleanchor"] = "x"        # square cells
        layout["height"] = max(int(layout.get("height") or 450), 620)
    return go.Figure(spec, _validate=False)


PAGE_CSS = """<style>
[data-testid="stMain"] p, [data-testid="stMain"] li, [data-testid="stMain"] label { font-size: 1.25rem; }
[data-testid="stMain"] code, [data-testid="stMain"] pre { font-size: 1.1rem; white-space: pre-wrap; }
[data-testid="stMain"] [data-testid="stCaptionContainer"] { font-size: 1.1rem; color: #222; }
</style>"""


def style_page() -> None:
    """Larger, darker page text, and code blocks that wrap (a constant style sheet; no user text in it)."""
    st.html(PAGE_CSS)
