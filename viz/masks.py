"""Mask figures: the steps of one head (q.k, scaled, masked, softmax), the
boolean allowed matrix, padding made visible, and the prefix experiment.

Pure: numpy arrays and token strings in, plotly figures out.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import plotly.graph_objects as go

from viz.attention import axis_ticks, heatmap, plot_text
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


def steps_figure(steps: dict, tokens: Sequence[str], allowed: np.ndarray, *, height: int | None = None) -> go.Figure:
    """The four steps of one head side by side in one figure (raw, scaled, masked, softmax).

    ``steps`` maps "raw_scores", "scores", "masked_scores", "pattern" to
    [query_pos, key_pos] arrays; ``allowed`` is the bool [query_pos, key_pos]
    mask. Scores use a diverging palette centred on 0 with a symmetric range
    over their values; masked cells are gaps drawn grey (with a legend entry),
    not a huge negative colour; the softmax uses 0..1. Each panel has its
    own colour bar under it; only the first panel labels the rows.
    """
    from plotly.subplots import make_subplots

    labels = token_labels(tokens)
    allowed = np.asarray(allowed, dtype=bool)
    names = list(STEP_TITLES)
    subtitles = []
    for name in names:
        matrix = np.asarray(steps[name], dtype=np.float32)
        shown = np.where(allowed, matrix, np.nan) if name == "masked_scores" else matrix
        subtitles.append(f"{STEP_TITLES[name]}<br><sup>{_range_note(shown)}</sup>")
    fig = make_subplots(rows=1, cols=4, subplot_titles=subtitles, shared_yaxes=True, horizontal_spacing=0.03)
    for i, name in enumerate(names):
        matrix = np.asarray(steps[name], dtype=np.float32)
        if name == "pattern":
            lo, hi, scale, value = 0.0, 1.0, "Viridis", "weight"
        else:
            finite = matrix[np.isfinite(matrix) & (allowed if name == "masked_scores" else True)]
            bound = float(np.abs(finite).max()) if finite.size else 1.0
            lo, hi, scale, value = -bound, bound, DIVERGING, "score"
        masked = ~allowed if name == "masked_scores" else None
        panel = heatmap(matrix, labels, labels, zmin=lo, zmax=hi, colorscale=scale, value_name=value, masked=masked)
        trace = panel.data[0]
        domain = fig.layout[f"xaxis{i + 1 if i else ''}"].domain
        trace.update(colorbar=dict(orientation="h", x=(domain[0] + domain[1]) / 2, xanchor="center",
                                   y=-0.32, yanchor="top", len=(domain[1] - domain[0]) * 0.95, thickness=10,
                                   title=dict(text=value, side="top")))
        fig.add_trace(trace, row=1, col=i + 1)
        xt, xl = axis_ticks(labels)
        fig.update_xaxes(type="category", tickmode="array", tickvals=xl, ticktext=xl, tickangle=-60, showgrid=False, zeroline=False,
                         row=1, col=i + 1)
        if masked is not None and masked.any():
            fig.add_shape(type="rect", xref=f"x{i + 1} domain", yref=f"y{i + 1} domain", x0=0, x1=1, y0=0, y1=1,
                          fillcolor=MASKED_COLOUR, line_width=0, layer="below")
            fig.add_trace(go.Scatter(x=[None], y=[None], mode="markers", name="masked (not allowed)",
                                     marker=dict(symbol="square", size=12, color=MASKED_COLOUR,
                                                 line=dict(color="#636363", width=1))), row=1, col=i + 1)
    yt, yl = axis_ticks(labels)
    fig.update_yaxes(type="category", tickmode="array", tickvals=yl, ticktext=yl, row=1, col=1)
    fig.update_yaxes(type="category", autorange="reversed", showgrid=False, zeroline=False)
    fig.update_layout(
        height=height or int(min(760, max(380, 230 + 16 * len(labels)))),
        margin=dict(l=10, r=10, t=70, b=150),
        plot_bgcolor="white",
        legend=dict(orientation="h", x=1, xanchor="right", y=1.12, yanchor="bottom"),
        showlegend=bool((~allowed).any()),
    )
    return fig


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
    # One outline per shared row, set in one go (add_shape per row is quadratic in plotly).
    shapes = [
        dict(type="rect", xref="x", yref="y", x0=-0.5, x1=len(labels) - 0.5, y0=row - 0.45, y1=row + 0.45,
             line=dict(color=UNCHANGED_COLOUR if same else PAD_OUTLINE, width=2 if same else 1,
                       dash="solid" if same else "dot"))
        for row, same in enumerate(np.asarray(row_change) <= tolerance)
    ]
    fig.update_layout(shapes=list(fig.layout.shapes) + shapes)
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
    fig.update_yaxes(type="log", title_text="largest |change|", range=[np.log10(floor) - 0.5, 0.2],
                     exponentformat="power", dtick=2)
    if (change == 0).any():
        fig.add_annotation(xref="paper", yref="paper", x=0, y=0.02, xanchor="left", yanchor="bottom",
                           showarrow=False, text="bars at the floor: exactly no change",
                           font=dict(size=11, color="#444"))
    return fig


__all__ = [
    "ALLOWED_COLOUR", "PAD_OUTLINE", "SEGMENT_COLOURS", "STEP_TITLES", "allowed_figure", "mark_padding",
    "padded_figures", "prefix_figure", "row_change_figure", "steps_figure",
]
