"""Mask figures: the steps of one head (q.k, scaled, masked, softmax), the
boolean allowed matrix, padding made visible, and the prefix experiment.

Pure: numpy arrays and token strings in, plotly figures out.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import plotly.graph_objects as go

from viz.attention import axis_ticks, heatmap_spec, plot_text
from viz.common import (DIVERGING, MASKED_COLOUR, SEGMENT_COLOURS, figure, layout_axis, subplot_axes,
                         subplots_layout, token_labels)

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
    labels = token_labels(tokens)
    allowed = np.asarray(allowed, dtype=bool)
    names = list(STEP_TITLES)
    subtitles = []
    for name in names:
        matrix = np.asarray(steps[name], dtype=np.float32)
        shown = np.where(allowed, matrix, np.nan) if name == "masked_scores" else matrix
        subtitles.append(f"{STEP_TITLES[name]}<br><sup>{_range_note(shown)}</sup>")
    layout = subplots_layout(1, 4, subtitles, shared_yaxes=True, horizontal_spacing=0.03)
    data = []
    xl = axis_ticks(labels)[1]
    for i, name in enumerate(names):
        matrix = np.asarray(steps[name], dtype=np.float32)
        if name == "pattern":
            lo, hi, scale, value = 0.0, 1.0, "Viridis", "weight"
        else:
            finite = matrix[np.isfinite(matrix) & (allowed if name == "masked_scores" else True)]
            bound = float(np.abs(finite).max()) if finite.size else 1.0
            lo, hi, scale, value = -bound, bound, DIVERGING, "score"
        masked = ~allowed if name == "masked_scores" else None
        panel, _ = heatmap_spec(matrix, labels, labels, zmin=lo, zmax=hi, colorscale=scale, value_name=value,
                                masked=masked)
        axes = subplot_axes(1, i + 1, 4)
        x_axis, y_axis = layout_axis(axes["xaxis"]), layout_axis(axes["yaxis"])
        domain = layout[x_axis]["domain"]
        trace = {**panel[0], **axes}  # the heatmap; its own masked legend entry is replaced below
        trace["colorbar"] = dict(orientation="h", x=(domain[0] + domain[1]) / 2, xanchor="center",
                                 y=-0.32, yanchor="top", len=(domain[1] - domain[0]) * 0.95, thickness=10,
                                 title=dict(text=value, side="top"))
        data.append(trace)
        layout[x_axis].update(type="category", tickmode="array", tickvals=xl, ticktext=xl, tickangle=-60,
                              showgrid=False, zeroline=False)
        layout[y_axis].update(type="category", autorange="reversed", showgrid=False, zeroline=False)
        if masked is not None and masked.any():
            layout.setdefault("shapes", []).append(
                dict(type="rect", xref=f"x{i + 1} domain", yref=f"y{i + 1} domain", x0=0, x1=1, y0=0, y1=1,
                     fillcolor=MASKED_COLOUR, line=dict(width=0), layer="below"))
            data.append(dict(type="scatter", x=[None], y=[None], mode="markers", name="masked (not allowed)",
                             marker=dict(symbol="square", size=12, color=MASKED_COLOUR,
                                         line=dict(color="#636363", width=1)), **axes))
    layout["yaxis"].update(tickmode="array", tickvals=xl, ticktext=xl)  # only the first panel labels the rows
    layout.update(
        height=height or int(min(760, max(380, 230 + 16 * len(labels)))),
        margin=dict(l=10, r=10, t=70, b=150),
        plot_bgcolor="white",
        legend=dict(orientation="h", x=1, xanchor="right", y=1.12, yanchor="bottom"),
        showlegend=bool((~allowed).any()),
    )
    return figure(data, layout)


def _allowed_spec(allowed: np.ndarray, tokens: Sequence[str], *, title: str = "allowed (may attend)",
                  cols: Sequence[str] | None = None, height: int | None = None) -> tuple[list[dict], dict]:
    allowed = np.asarray(allowed, dtype=bool)
    labels = token_labels(tokens)
    col_labels = token_labels(cols) if cols is not None else labels
    scale = [[0.0, MASKED_COLOUR], [0.5, MASKED_COLOUR], [0.5, ALLOWED_COLOUR], [1.0, ALLOWED_COLOUR]]
    data, layout = heatmap_spec(allowed.astype(np.float32), labels, col_labels, title=title, zmin=0.0, zmax=1.0,
                                colorscale=scale, value_name="allowed (1 = yes)", colorbar_title="", height=height)
    data[0]["colorbar"].update(tickmode="array", tickvals=[0.25, 0.75], ticktext=["blocked", "allowed"])
    return data, layout


def allowed_figure(allowed: np.ndarray, tokens: Sequence[str], *, title: str = "allowed (may attend)",
                   cols: Sequence[str] | None = None, height: int | None = None) -> go.Figure:
    """The boolean allowed matrix: blue = may attend, grey = blocked."""
    return figure(*_allowed_spec(allowed, tokens, title=title, cols=cols, height=height))


def _mark_padding(data: list[dict], layout: dict, n_real: int, n_total: int) -> go.Figure:
    """The figure of a square heatmap spec with the padding rows and columns (n_real..n_total-1) outlined."""
    if n_real < n_total:
        lo, hi = n_real - 0.5, n_total - 0.5
        line = dict(color=PAD_OUTLINE, width=2.5, dash="dot")
        layout.setdefault("shapes", []).extend([
            dict(type="rect", x0=lo, x1=hi, y0=-0.5, y1=hi, line=line),  # padding key columns
            dict(type="rect", x0=-0.5, x1=hi, y0=lo, y1=hi, line=line),  # padding query rows
        ])
        data.append(dict(type="scatter", x=[None], y=[None], mode="lines", name="padding rows / columns", line=line))
        layout["showlegend"] = True
    return figure(data, layout)


def mark_padding(fig: go.Figure, n_real: int, n_total: int) -> go.Figure:
    """Outline the padding rows and columns (positions n_real..n_total-1) of a square heatmap (a new figure)."""
    spec = fig.to_dict()  # a copy: ``fig`` stays as it was
    return _mark_padding(spec["data"], spec["layout"], n_real, n_total)


def padded_figures(allowed: np.ndarray, pattern: np.ndarray, tokens: Sequence[str], n_real: int,
                   *, name: str = "") -> tuple[go.Figure, go.Figure]:
    """One row of a padded batch: its allowed matrix and its pattern, padding outlined."""
    fig_allowed = _mark_padding(*_allowed_spec(allowed, tokens, title=f"{name}: allowed"), n_real, len(tokens))
    labels = token_labels(tokens)
    pattern_spec = heatmap_spec(pattern, labels, labels, title=f"{name}: attention after softmax", zmin=0.0, zmax=1.0,
                                masked=~np.asarray(allowed, dtype=bool))
    return fig_allowed, _mark_padding(*pattern_spec, n_real, len(tokens))


def prefix_figure(pattern_after: np.ndarray, tokens_after: Sequence[str], row_change: np.ndarray,
                  tolerance: float, *, title: str = "") -> go.Figure:
    """The longer input's pattern with the shared rows marked: green = unchanged (within ``tolerance``).

    ``row_change`` holds, per shared leading position, the largest change of
    that row over every layer and head.
    """
    labels = token_labels(tokens_after)
    data, layout = heatmap_spec(pattern_after, labels, labels, title=title, zmin=0.0, zmax=1.0)
    layout.setdefault("shapes", []).extend(
        dict(type="rect", xref="x", yref="y", x0=-0.5, x1=len(labels) - 0.5, y0=row - 0.45, y1=row + 0.45,
             line=dict(color=UNCHANGED_COLOUR if same else PAD_OUTLINE, width=2 if same else 1,
                       dash="solid" if same else "dot"))
        for row, same in enumerate(np.asarray(row_change) <= tolerance)
    )
    data.append(dict(type="scatter", x=[None], y=[None], mode="lines", name="row unchanged",
                     line=dict(color=UNCHANGED_COLOUR, width=2)))
    data.append(dict(type="scatter", x=[None], y=[None], mode="lines", name="row changed",
                     line=dict(color=PAD_OUTLINE, width=1, dash="dot")))
    layout["showlegend"] = True
    return figure(data, layout)


def row_change_figure(row_change: np.ndarray, tokens: Sequence[str], tolerance: float, *, title: str = "") -> go.Figure:
    """Bars: per shared row, the largest change over all layers and heads (log scale), with the tolerance line."""
    change = np.asarray(row_change, dtype=np.float64)
    labels = token_labels(tokens)[: len(change)]
    floor = tolerance / 100
    shown = np.maximum(change, floor)  # a log axis cannot show 0: identical rows sit at the floor
    colours = [UNCHANGED_COLOUR if c <= tolerance else PAD_OUTLINE for c in change]
    bars = dict(
        type="bar", x=np.arange(len(change)), y=shown, marker=dict(color=colours),
        customdata=[[plot_text(l), f"{c:.2e}"] for l, c in zip(labels, change)],
        hovertemplate="row %{customdata[0]}<br>largest change %{customdata[1]}<extra></extra>",
        name="largest change",
    )
    annotations = [dict(text=f"tolerance {tolerance:g}", showarrow=False, xref="x domain", x=1, xanchor="right",
                        yref="y", y=tolerance, yanchor="bottom")]  # where add_hline puts its annotation_text
    if (change == 0).any():
        annotations.append(dict(xref="paper", yref="paper", x=0, y=0.02, xanchor="left", yanchor="bottom",
                                showarrow=False, text="bars at the floor: exactly no change",
                                font=dict(size=11, color="#444")))
    layout = dict(
        title=dict(text=title), height=300, margin=dict(l=10, r=10, t=50, b=10), plot_bgcolor="white",
        showlegend=False,
        shapes=[dict(type="line", xref="x domain", x0=0, x1=1, yref="y", y0=tolerance, y1=tolerance,
                     line=dict(color="#444", dash="dash"))],
        annotations=annotations,
        xaxis=dict(tickmode="array", tickvals=list(range(len(labels))), ticktext=[plot_text(l) for l in labels],
                   tickangle=-60, title=dict(text="query row (shared prefix)")),
        yaxis=dict(type="log", title=dict(text="largest |change|"), range=[np.log10(floor) - 0.5, 0.2],
                   exponentformat="power", dtick=2),
    )
    return figure([bars], layout)


__all__ = [
    "ALLOWED_COLOUR", "PAD_OUTLINE", "SEGMENT_COLOURS", "STEP_TITLES", "allowed_figure", "mark_padding",
    "padded_figures", "prefix_figure", "row_change_figure", "steps_figure",
]
