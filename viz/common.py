"""What every figure shares: the Chart a builder returns, palettes, plain-dict figures and grids, labels.

``Chart`` pairs a figure with the table it draws; ``figure`` wraps plain trace and
layout dicts; ``subplots_layout`` / ``subplot_axes`` lay out grids; ``token_labels``
and ``plot_text`` make axis labels distinct and safe.
"""
from __future__ import annotations

import base64
import copy
import functools
import unicodedata
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from _plotly_utils.basevalidators import ColorscaleValidator

# Colour-blind-safe palettes (viridis family for magnitudes, a diverging
# blue-red for signed values centred on zero).
SEQUENTIAL = "Viridis"
DIVERGING = "RdBu_r"
# Colour for cells a mask removed: drawn distinctly, never as a huge negative.
MASKED_COLOUR = "#bdbdbd"
# Segment A / B colours (Okabe-Ito blue and orange).
SEGMENT_COLOURS = ("#0072B2", "#E69F00")
# Text drawn on every point (token strips) only up to this many points; beyond it the hover names each
# one. Measuring hundreds of labels kept the browser busy for half a second (bench/README.md).
MAX_POINT_LABELS = 48
# Line and bar series colours (Okabe-Ito): distinguishable with the common colour-vision deficiencies.
LINE_COLOURS = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")


@dataclass(frozen=True, eq=False)
class Chart:
    """A figure and exactly the data it draws, so a CSV download of ``table`` is what is on screen.

    ``table`` holds the values the chart shows (its hover values, not plotting artefacts such
    as a log axis's floor), labelled with the same, unescaped, label strings as the axes.
    """

    figure: go.Figure
    table: pd.DataFrame

    def csv(self) -> bytes:
        """``table`` as UTF-8 CSV (see ``table_csv``)."""
        return table_csv(self.table)


def table_csv(table: pd.DataFrame) -> bytes:
    """A table as UTF-8 CSV: NaN as empty cells, floats at full precision (they read back exactly).

    The index is written unless it is an unnamed 0..n-1 range (which says nothing).
    """
    plain = isinstance(table.index, pd.RangeIndex) and table.index.name is None
    return table.to_csv(index=not plain, na_rep="").encode("utf-8")


def matrix_table(matrix: np.ndarray, rows: Sequence[Any], cols: Sequence[Any], row_title: str | None = None,
                 col_title: str | None = None) -> pd.DataFrame:
    """A drawn matrix as a table: ``rows`` as the index (named ``row_title``), ``cols`` as the columns."""
    return pd.DataFrame(np.asarray(matrix), index=pd.Index(list(rows), name=row_title),
                        columns=pd.Index(list(cols), name=col_title))


def plot_text(text: str) -> str:
    """``text`` safe for plotly labels: plotly reads a few HTML tags, so escape them."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# The look of every figure, sent with it instead of plotly.py's default template (7 KB a figure) and
# instead of Streamlit's chart theme, which the browser merges into each figure on every draw: with
# it, the main thread spent ~40 % longer per page switch (bench/README.md). Dark text at 13 px stays
# readable on a projector; the font is the one Streamlit's page already loads.
_AXIS = {"gridcolor": "#e6e9ef", "linecolor": "#c9ccd3", "zerolinecolor": "#c9ccd3", "automargin": True,
         "title": {"standoff": 8}}
TEMPLATE = {"layout": {
    "font": {"family": '"Source Sans", "Source Sans Pro", sans-serif', "size": 13, "color": "#31333f"},
    "paper_bgcolor": "white", "plot_bgcolor": "white", "colorway": list(LINE_COLOURS),
    "xaxis": _AXIS, "yaxis": _AXIS, "hoverlabel": {"font": {"size": 14}},
    "title": {"font": {"size": 16}, "x": 0.0, "xanchor": "left"},
    "legend": {"font": {"size": 13}},
}}


def figure(data: Sequence[dict], layout: dict) -> go.Figure:
    """A plotly figure from plain trace and layout dicts, wrapped without plotly's checks.

    Building a figure with go.* objects and update_* calls validates and
    path-parses every property: 20-30 ms per heatmap, most of a page's server
    time. Wrapping the same dicts unchecked costs ~1 ms. The dicts are still
    checked, in the tests: plotly's validation of every builder's output
    accepts it and changes nothing (tests/test_viz_figures_valid.py). Write
    nested dicts (``title=dict(text=...)``), not plotly's ``title_text``
    shorthand, and spell colour scales out with ``colorscale``.
    """
    layout = {"template": TEMPLATE, **layout}
    return go.Figure({"data": list(data), "layout": layout}, _validate=False)


@functools.lru_cache(maxsize=32)
def _named_colorscale(name: str) -> tuple:
    return tuple(tuple(step) for step in ColorscaleValidator("colorscale", "heatmap").validate_coerce(name))


def colorscale(scale: str | Sequence[Any]) -> list:
    """A colour scale as [[position, colour], ...], named scales ("Viridis") spelled out as plotly would."""
    steps = _named_colorscale(scale) if isinstance(scale, str) else scale
    return [list(step) for step in steps]


@functools.lru_cache(maxsize=64)
def _subplots_skeleton(rows: int, cols: int, titled: tuple[bool, ...], options: tuple) -> dict:
    from plotly.subplots import make_subplots

    titles = [f"title {i}" if has else "" for i, has in enumerate(titled)] or None
    kwargs = {name: list(value) if isinstance(value, tuple) else value for name, value in options}
    layout = make_subplots(rows=rows, cols=cols, subplot_titles=titles, **kwargs).to_plotly_json()["layout"]
    layout.pop("template", None)
    return layout


def subplots_layout(rows: int, cols: int, titles: Sequence[str] = (), **options: Any) -> dict:
    """The layout ``make_subplots`` builds (axis domains and anchors, one annotation per title) as a dict.

    The grid is worked out once per shape and copied: make_subplots itself
    costs ~20 ms a call. ``options`` are make_subplots' (horizontal_spacing,
    shared_yaxes, column_widths, ...). Put a trace in a cell with
    ``subplot_axes``.
    """
    key = tuple(sorted((name, tuple(value) if isinstance(value, list) else value) for name, value in options.items()))
    layout = copy.deepcopy(_subplots_skeleton(rows, cols, tuple(bool(t) for t in titles), key))
    for annotation, title in zip(layout.get("annotations", []), [t for t in titles if t]):
        annotation["text"] = title
    return layout


def subplot_axes(row: int, col: int, cols: int) -> dict:
    """The axis references of grid cell (row, col), 1-based: {"xaxis": "x2", "yaxis": "y2"}."""
    index = (row - 1) * cols + col
    suffix = "" if index == 1 else str(index)
    return {"xaxis": f"x{suffix}", "yaxis": f"y{suffix}"}


def layout_axis(ref: str) -> str:
    """The layout key of a trace's axis reference: "x2" -> "xaxis2", "y" -> "yaxis"."""
    return f"{ref[0]}axis{ref[1:]}"


# Unicode "first strong isolate" and "pop directional isolate": a right-to-left token between them keeps its own
# direction without turning the whole label around, so the position number stays on the left ("02 ##ل").
FSI, PDI = "\u2068", "\u2069"


def _right_to_left(text: str) -> bool:
    return any(unicodedata.bidirectional(ch) in ("R", "AL") for ch in text)


def token_labels(tokens: Sequence[str], positions: Sequence[int] | None = None) -> list[str]:
    """Index-prefixed labels ("003 the") so repeated tokens stay distinct on an axis; right-to-left tokens
    (Arabic, Hebrew) are isolated so the number stays before the token. ``positions``: the tokens' own
    positions when some were left out (markers hidden), so every page numbers a token alike."""
    numbers = list(range(len(tokens))) if positions is None else [int(p) for p in positions]
    if len(numbers) != len(tokens):
        raise ValueError(f"{len(tokens)} tokens, while number of positions is {len(numbers)}")
    width = max(2, len(str(max(numbers, default=0))))
    return [f"{i:0{width}d} {FSI + tok + PDI if _right_to_left(tok) else tok}" for i, tok in zip(numbers, tokens)]


def check_matrix(matrix: np.ndarray, rows: Sequence[str], cols: Sequence[str], what: str) -> None:
    """Raise a ValueError naming both sides when a matrix and its labels disagree."""
    if matrix.ndim != 2:
        raise ValueError(f"{what} must be 2-D, got shape {matrix.shape}")
    if matrix.shape[0] != len(rows):
        raise ValueError(f"{what} has {matrix.shape[0]} rows, while number of row tokens is {len(rows)}")
    if matrix.shape[1] != len(cols):
        raise ValueError(f"{what} has {matrix.shape[1]} columns, while number of column tokens is {len(cols)}")


def plotly_array(value) -> np.ndarray:
    """A data field of `fig.to_dict()` / a figure's JSON as numpy.

    Plotly encodes numpy arrays as typed arrays ({"dtype", "bdata", "shape"}); plain
    lists pass through. For tests and CSV export of figures built elsewhere.
    """
    if isinstance(value, dict) and "bdata" in value:
        flat = np.frombuffer(base64.b64decode(value["bdata"]), dtype=np.dtype(value["dtype"]))
        shape = value.get("shape")
        if shape:
            flat = flat.reshape([int(s) for s in str(shape).split(",")])
        return flat
    return np.asarray(value)


FOLLOW_COLOUR = "#D55E00"


def follow_marks(position: int, n_layers: int, n_heads: int, tile: int) -> list[dict]:
    """Outlines of one token's row and column in every tile of a mosaic (tile 1 x 1 heads: a plain heatmap)."""
    step = tile + 1
    marks = []
    for layer in range(n_layers):
        for head in range(n_heads):
            x, y = head * step, layer * step
            marks.append(dict(type="rect", x0=x - 0.5, x1=x + tile - 0.5, y0=y + position - 0.5,
                              y1=y + position + 0.5, line=dict(color=FOLLOW_COLOUR, width=1.5)))
            marks.append(dict(type="rect", x0=x + position - 0.5, x1=x + position + 0.5, y0=y - 0.5,
                              y1=y + tile - 0.5, line=dict(color=FOLLOW_COLOUR, width=1.5, dash="dot")))
    return marks
