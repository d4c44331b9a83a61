"""One matrix as a heatmap (rows and columns by position, labelled by token), and its axis marks.

Inputs are numpy arrays in the project's axis order (``[query_pos, key_pos]``) and label or token
strings; ``heatmap`` and ``attention_heatmap`` return a ``Chart``, ``heatmap_spec`` the plain
(traces, layout) dicts that other figures build on.
"""
from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np
import pandas as pd

from viz.common import (MASKED_COLOUR, MAX_POINT_LABELS, SEGMENT_COLOURS, SEQUENTIAL, Chart, check_matrix, figure,
                        follow_marks, matrix_table, plot_text, token_labels)
from viz.common import colorscale as as_colorscale  # heatmap_spec has an argument named colorscale

# Inputs longer than MAX_POINT_LABELS get at most this many tick labels an axis (every k-th token).
MAX_TICKS = 32


def axis_ticks(labels: Sequence[str]) -> tuple[list[int], list[str]]:
    """Tick positions and (escaped) texts: every label up to ``MAX_POINT_LABELS``, else every k-th one.

    Beyond that the labels would not be readable anyway, and measuring them is most of the browser's
    time to draw a long input's heatmap (bench/README.md); the hover still names every token.
    """
    step = 1 if len(labels) <= MAX_POINT_LABELS else math.ceil(len(labels) / MAX_TICKS)
    positions = list(range(0, len(labels), step))
    return positions, [plot_text(labels[i]) for i in positions]


def segment_marks(segments: Sequence[int] | None) -> tuple[list[dict], list[dict]]:
    """Sentence A / B coloured along both axes of a heatmap and the boundary: (legend traces, shapes)."""
    if segments is None or len(set(segments)) < 2:
        return [], []
    seg = np.asarray(segments)
    traces, shapes = [], []
    # Coloured bands outside the cells: left of the rows, above the columns.
    for s in (0, 1):
        idx = np.flatnonzero(seg == s)
        if not idx.size:
            continue
        colour = SEGMENT_COLOURS[s]
        lo, hi = float(idx.min() - 0.5), float(idx.max() + 0.5)
        shapes.append(dict(type="rect", xref="x domain", yref="y", x0=-0.03, x1=-0.005, y0=lo, y1=hi,
                           fillcolor=colour, line=dict(width=0)))
        shapes.append(dict(type="rect", xref="x", yref="y domain", x0=lo, x1=hi, y0=1.005, y1=1.03,
                           fillcolor=colour, line=dict(width=0)))
        traces.append(dict(type="scatter", x=[None], y=[None], mode="markers", name=f"sentence {'AB'[s]}",
                           marker=dict(symbol="square", size=12, color=colour), showlegend=True))
    boundary = int(np.flatnonzero(seg == 1).min()) - 0.5
    line = dict(color="white", width=1.5, dash="dash")
    shapes.append(dict(type="line", line=line, xref="x", x0=boundary, x1=boundary, yref="y domain", y0=0, y1=1))
    shapes.append(dict(type="line", line=line, yref="y", y0=boundary, y1=boundary, xref="x domain", x0=0, x1=1))
    return traces, shapes


def heatmap(matrix: np.ndarray, rows: Sequence[str], cols: Sequence[str], **options: Any) -> Chart:
    """One [query_pos, key_pos] matrix as a heatmap; ``options`` as in ``heatmap_spec``.

    Table: the matrix drawn (masked cells NaN), ``rows`` as its index (named by ``row_title``),
    ``cols`` as its columns (named by ``col_title``).
    """
    data, layout = heatmap_spec(matrix, rows, cols, **options)
    table = heatmap_table(data, rows, cols, options.get("row_title", "query"), options.get("col_title", "key"))
    return Chart(figure(data, layout), table)


def heatmap_table(data: list[dict], rows: Sequence[str], cols: Sequence[str], row_title: str = "query",
                  col_title: str = "key") -> pd.DataFrame:
    """The table of a ``heatmap_spec`` figure: its heatmap's z (masked cells NaN), labelled as given."""
    return matrix_table(data[0]["z"], rows, cols, row_title, col_title)


def heatmap_spec(
    matrix: np.ndarray,
    rows: Sequence[str],
    cols: Sequence[str],
    *,
    title: str = "",
    zmin: float | None = 0.0,
    zmax: float | None = 1.0,
    colorscale: str | list = SEQUENTIAL,
    value_name: str = "weight",
    row_title: str = "query",
    col_title: str = "key",
    masked: np.ndarray | None = None,
    segments: Sequence[int] | None = None,
    colorbar_title: str | None = None,
    height: int | None = None,
    label_rows: bool = True,
    follow: int | None = None,
) -> tuple[list[dict], dict]:
    """One [query_pos, key_pos] matrix as a heatmap, rows and columns by position: (traces, layout) dicts.

    ``rows``/``cols`` are the labels (index-prefixed tokens). The colour bar
    spans ``zmin..zmax`` (pass None for the data's own range). ``masked``
    (bool, True = removed by a mask) cells are drawn grey with a legend
    entry instead of a colour. ``segments`` (0/1 per token) colours
    sentence A and B along the axes. ``follow`` (a position) outlines that row and column. The first trace is
    the heatmap.
    """
    matrix = np.asarray(matrix, dtype=np.float32)
    check_matrix(matrix, rows, cols, title or "heatmap")
    z = matrix.copy()
    if masked is not None:
        masked = np.asarray(masked, dtype=bool)
        if masked.shape != z.shape:
            raise ValueError(f"mask has shape {masked.shape}, while the matrix has shape {z.shape}")
        z[masked] = np.nan
    finite = z[np.isfinite(z)]
    lo = float(finite.min()) if zmin is None and finite.size else zmin
    hi = float(finite.max()) if zmax is None and finite.size else zmax
    if lo is not None and hi is not None and lo == hi:
        hi = lo + 1e-6
    # Cells sit on category axes whose categories are the index-prefixed labels:
    # they are unique, so plotly merges nothing, cells stay in position order,
    # and the hover names both tokens without a per-cell text array (which
    # would cost megabytes at 512 tokens).
    row_cats = [plot_text(label) for label in rows]
    col_cats = [plot_text(label) for label in cols]
    if len(set(row_cats)) != len(row_cats) or len(set(col_cats)) != len(col_cats):
        raise ValueError("heatmap labels must be unique (use viz.common.token_labels)")
    hover = row_title + " %{y}<br>" + col_title + " %{x}<br>" + value_name + " %{z:.4g}<extra></extra>"
    trace = dict(type="heatmap", z=z, x=col_cats, y=row_cats, colorscale=as_colorscale(colorscale),
                 hovertemplate=hover, hoverongaps=False,
                 colorbar=dict(title=dict(text=colorbar_title or value_name), thickness=14))
    trace.update({name: value for name, value in (("zmin", lo), ("zmax", hi)) if value is not None})
    data = [trace]
    xt, xl = axis_ticks(cols)
    yt, yl = axis_ticks(rows)
    n = max(len(rows), 1)
    layout = dict(
        title=dict(text=title, y=0.99, yanchor="top", yref="container"),
        height=height or int(min(900, max(340, 160 + 18 * n))),
        margin=dict(l=10, r=10, t=85 if title else 40, b=10),
        plot_bgcolor=MASKED_COLOUR if masked is not None else "white",
        legend=dict(orientation="h", yanchor="bottom", y=1.045, x=0),  # above the segment band
        xaxis=dict(type="category", tickmode="array", tickvals=[col_cats[i] for i in xt], ticktext=xl,
                   tickangle=-60, side="bottom", title=dict(text=col_title), showgrid=False, zeroline=False),
        yaxis=dict(type="category", tickmode="array", tickvals=[row_cats[i] for i in yt],
                   ticktext=yl if label_rows else [""] * len(yt),
                   autorange="reversed", title=dict(text=row_title), showgrid=False, zeroline=False),
    )
    if masked is not None and masked.any():
        data.append(dict(type="scatter", x=[None], y=[None], mode="markers", name="masked (not allowed)",
                         marker=dict(symbol="square", size=12, color=MASKED_COLOUR,
                                     line=dict(color="#636363", width=1))))
        layout["showlegend"] = True
    segment_traces, segment_shapes = segment_marks(segments)
    if segment_shapes:
        data += segment_traces
        layout["shapes"] = segment_shapes
    if follow is not None and 0 <= follow < min(len(rows), len(cols)):
        layout["shapes"] = layout.get("shapes", []) + follow_marks(follow, 1, 1, len(rows))
        layout["yaxis"]["ticklabelstandoff"] = 14  # the row labels left of the band, not under it
    return data, layout


def attention_heatmap(pattern: np.ndarray, tokens: Sequence[str], *, title: str = "",
                      segments: Sequence[int] | None = None, value_name: str = "weight",
                      zmax: float | None = 1.0, masked: np.ndarray | None = None,
                      follow: int | None = None, positions: Sequence[int] | None = None) -> Chart:
    """An attention pattern [query_pos, key_pos] (probabilities: colour bar 0..``zmax``, None: 0..the largest
    weight drawn, the pages' "fitted" colour scale); ``masked`` cells
    (True = the mask blocks them, e.g. a decoder's future) grey, as on the Masks page; ``follow`` (a position)
    outlines that token's row (solid: what it reads as a query) and column (dotted: who reads it as a key).
    ``positions``: the tokens' own positions in the labels (when markers are hidden).

    Table: the pattern, index and columns the index-prefixed tokens ("03 the").
    """
    labels = token_labels(tokens, positions)
    return heatmap(pattern, labels, labels, title=title, segments=segments, value_name=value_name,
                   zmin=0.0, zmax=zmax, masked=masked, follow=follow)
