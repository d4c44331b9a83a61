"""Mask figures: the steps of one head (q.k, scaled, masked, softmax), the
boolean allowed matrix, padding made visible, and the prefix experiment.

Pure: numpy arrays and token strings in, plotly figures out.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import plotly.graph_objects as go

from viz.attention import heatmap, plot_text
from viz.common import DIVERGING, MASKED_COLOUR, SEGMENT_COLOURS, token_labels

ALLOWED_COLOUR = "#0072B2"  # Okabe-Ito blue: "may attend"
PAD_OUTLINE = "#D55E00"  # Okabe-Ito vermillion: padding rows/columns
UNCHANGED_COLOUR = "#009E73"  # Okabe-Ito green: rows the experiment left identical

STEP_TITLES = {
    "raw_scores": "1. raw scores q·k",
    "scores": "2. scaled: q·k / √d_head",
    "masked_scores": "3. after the mask",
    "pattern": "4. after softmax",
}


def _range_note(matrix: np.ndarray) -> str:
    finite = matrix[np.isfinite(matrix)]
    if not finite.size:
        return "all masked"
    return f"values {finite.min():.3g} to {finite.max():.3g}"


def step_figures(steps: dict, tokens: Sequence[str], allowed: np.ndarray, *, height: int | None = None) -> list[go.Figure]:
    """The four steps of one head as four heatmaps, in order (raw, scaled, masked, softmax).

    ``steps`` maps "raw_scores", "scores", "masked_scores", "pattern" to
    [query_pos, key_pos] arrays; ``allowed`` is the bool [query_pos, key_pos]
    mask. Scores use a diverging palette centred on 0 with a symmetric range
    over the real (allowed-or-not) values; masked cells are grey, not a huge
    negative colour; the softmax uses 0..1.
    """
    labels = token_labels(tokens)
    allowed = np.asarray(allowed, dtype=bool)
    figures = []
    for name in ("raw_scores", "scores", "masked_scores"):
        matrix = np.asarray(steps[name], dtype=np.float32)
        finite = matrix[np.isfinite(matrix)]
        bound = float(np.abs(finite).max()) if finite.size else 1.0
        masked = ~allowed if name == "masked_scores" else None
        figures.append(heatmap(
            matrix, labels, labels, title=f"{STEP_TITLES[name]}<br><sup>{_range_note(np.where(allowed, matrix, np.nan) if masked is not None else matrix)}</sup>",
            zmin=-bound, zmax=bound, colorscale=DIVERGING, value_name="score", masked=masked, height=height,
            label_rows=True,
        ))
    pattern = np.asarray(steps["pattern"], dtype=np.float32)
    figures.append(heatmap(pattern, labels, labels, title=f"{STEP_TITLES['pattern']}<br><sup>rows sum to 1; masked cells are exactly 0</sup>",
                           zmin=0.0, zmax=1.0, value_name="weight", height=height))
    return figures


def allowed_figure(allowed: np.ndarray, tokens: Sequence[str], *, title: str = "allowed (may attend)",
                   cols: Sequence[str] | None = None, height: int | None = None) -> go.Figure:
    """The boolean allowed matrix: blue = may attend, grey = blocked."""
    allowed = np.asarray(allowed, dtype=bool)
    labels = token_labels(tokens)
    col_labels = token_labels(cols) if cols is not None else labels
    scale = [[0.0, MASKED_COLOUR], [0.5, MASKED_COLOUR], [0.5, ALLOWED_COLOUR], [1.0, ALLOWED_COLOUR]]
    fig = heatmap(allowed.astype(np.float32), labels, col_labels, title=title, zmin=0.0, zmax=1.0,
                  colorscale=scale, value_name="allowed (1 = yes)", colorbar_title="", height=height)
    fig.update_traces(colorbar=dict(tickmode="array", tickvals=[0.25, 0.75], ticktext=["blocked", "allowed"]),
                      selector=dict(type="heatmap"))
    return fig


def mark_padding(fig: go.Figure, n_real: int, n_total: int) -> go.Figure:
    """Outline the padding rows and columns (positions n_real..n_total-1) of a square heatmap."""
    if n_real >= n_total:
        return fig
    lo, hi = n_real - 0.5, n_total - 0.5
    line = dict(color=PAD_OUTLINE, width=2.5, dash="dot")
    fig.add_shape(type="rect", x0=lo, x1=hi, y0=-0.5, y1=hi, line=line)  # padding key columns
    fig.add_shape(type="rect", x0=-0.5, x1=hi, y0=lo, y1=hi, line=line)  # padding query rows
    fig.add_trace(go.Scatter(x=[None], y=[None], mode="lines", name="padding rows / columns", line=line))
    fig.update_layout(showlegend=True)
    return fig


def padded_figures(allowed: np.ndarray, pattern: np.ndarray, tokens: Sequence[str], n_real: int,
                   *, name: str = "") -> tuple[go.Figure, go.Figure]:
    """One row of a padded batch: its allowed matrix and its pattern, padding outlined."""
    fig_allowed = mark_padding(allowed_figure(allowed, tokens, title=f"{name}: allowed"), n_real, len(tokens))
    labels = token_labels(tokens)
    fig_pattern = heatmap(pattern, labels, labels, title=f"{name}: attention after softmax", zmin=0.0, zmax=1.0,
                          masked=~np.asarray(allowed, dtype=bool))
    return fig_allowed, mark_padding(fig_pattern, n_real, len(tokens))


def prefix_figure(pattern_after: np.ndarray, tokens_after: Sequence[str], row_change: np.ndarray,
                  tolerance: float, *, title: str = "") -> go.Figure:
    """The longer input's pattern with the shared rows marked: green = unchanged (within ``tolerance``).

    ``row_change`` holds, per shared leading position, the largest change of
    that row over every layer and head.
    """
    labels = token_labels(tokens_after)
    fig = heatmap(pattern_after, labels, labels, title=title, zmin=0.0, zmax=1.0)
    for row, change in enumerate(np.asarray(row_change)):
        same = bool(change <= tolerance)
        fig.add_shape(type="rect", x0=-0.5, x1=len(labels) - 0.5, y0=row - 0.45, y1=row + 0.45,
                      line=dict(color=UNCHANGED_COLOUR if same else PAD_OUTLINE, width=2 if same else 1,
                                dash="solid" if same else "dot"))
    fig.add_trace(go.Scatter(x=[None], y=[None], mode="lines", name="row unchanged",
                             line=dict(color=UNCHANGED_COLOUR, width=2)))
    fig.add_trace(go.Scatter(x=[None], y=[None], mode="lines", name="row changed",
                             line=dict(color=PAD_OUTLINE, width=1, dash="dot")))
    fig.update_layout(showlegend=True)
    return fig


def row_change_figure(row_change: np.ndarray, tokens: Sequence[str], tolerance: float, *, title: str = "") -> go.Figure:
    """Bars: per shared row, the largest change over all layers and heads (log scale), with the tolerance line."""
    change = np.asarray(row_change, dtype=np.float64)
    labels = token_labels(tokens)[: len(change)]
    floor = tolerance / 100
    shown = np.maximum(change, floor)  # a log axis cannot show 0: identical rows sit at the floor
    colours = [UNCHANGED_COLOUR if c <= tolerance else PAD_OUTLINE for c in change]
    fig = go.Figure(go.Bar(
        x=np.arange(len(change)), y=shown, marker_color=colours,
        customdata=[[plot_text(l), f"{c:.2e}"] for l, c in zip(labels, change)],
        hovertemplate="row %{customdata[0]}<br>largest change %{customdata[1]}<extra></extra>",
        name="largest change",
    ))
    fig.add_hline(y=tolerance, line=dict(color="#444", dash="dash"), annotation_text=f"tolerance {tolerance:g}")
    fig.update_layout(title=dict(text=title), height=300, margin=dict(l=10, r=10, t=50, b=10), plot_bgcolor="white",
                      showlegend=False)
    fig.update_xaxes(tickmode="array", tickvals=list(range(len(labels))), ticktext=[plot_text(l) for l in labels],
                     tickangle=-60, title_text="query row (shared prefix)")
    fig.update_yaxes(type="log", title_text="largest |change|", range=[np.log10(floor) - 0.5, 0.2])
    return fig


__all__ = [
    "ALLOWED_COLOUR", "PAD_OUTLINE", "SEGMENT_COLOURS", "STEP_TITLES", "allowed_figure", "mark_padding",
    "padded_figures", "prefix_figure", "row_change_figure", "step_figures",
]
