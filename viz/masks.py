"""Mask figures: the steps of one head (q.k, scaled, masked, softmax), the
boolean allowed matrix, padding made visible, and the prefix experiment.

Numpy arrays (``[query_pos, key_pos]``) and token strings in, a ``Chart`` out.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from viz.common import (DIVERGING, MASKED_COLOUR, SEGMENT_COLOURS, Chart, figure, layout_axis, plot_text,
                        subplot_axes, subplots_layout, token_labels)
from viz.heatmap import axis_ticks, heatmap_spec, heatmap_table

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


PANEL_TICKS = 12


def steps_figure(steps: dict, tokens: Sequence[str], allowed: np.ndarray, *, height: int | None = None,
                 weight_max: float | None = 1.0) -> Chart:
    """The four steps of one head side by side in one figure (raw, scaled, masked, softmax).

    ``steps`` maps "raw_scores", "scores", "masked_scores", "pattern" to
    [query_pos, key_pos] arrays; ``allowed`` is the bool [query_pos, key_pos]
    mask. Scores use a diverging palette centred on 0 with a symmetric range
    over their values; masked cells are gaps drawn grey (with a legend entry),
    not a huge negative colour, in the masked scores and in the softmax; the softmax uses 0..``weight_max``
    (None: 0..its largest allowed weight). Each panel has its
    own colour bar under it; only the first panel labels the rows.

    Table: the four matrices drawn stacked, indexed by (step name, query), a column per key;
    masked cells of "masked_scores" and "pattern" are NaN.
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
    data, tables = [], {}
    xl = axis_ticks(labels)[1]
    # Four panels side by side leave each a quarter of the width: at most PANEL_TICKS key labels each (every
    # k-th one), so they do not run into each other; the hover still names every key.
    x_every = max(1, -(-len(xl) // PANEL_TICKS))
    for i, name in enumerate(names):
        matrix = np.asarray(steps[name], dtype=np.float32)
        if name == "pattern":
            weights = matrix[allowed & np.isfinite(matrix)]
            top = weight_max if weight_max is not None else (float(weights.max()) if weights.size else 1.0) or 1.0
            lo, hi, scale, value = 0.0, top, "Viridis", "weight"
        else:
            finite = matrix[np.isfinite(matrix) & (allowed if name == "masked_scores" else True)]
            bound = float(np.abs(finite).max()) if finite.size else 1.0
            lo, hi, scale, value = -bound, bound, DIVERGING, "score"
        # Blocked cells are grey after the mask and after the softmax (where they are exact zeros): one legend.
        masked = ~allowed if name in ("masked_scores", "pattern") else None
        panel, _ = heatmap_spec(matrix, labels, labels, zmin=lo, zmax=hi, colorscale=scale, value_name=value,
                                masked=masked)
        tables[name] = heatmap_table(panel, labels, labels)
        axes = subplot_axes(1, i + 1, 4)
        x_axis, y_axis = layout_axis(axes["xaxis"]), layout_axis(axes["yaxis"])
        domain = layout[x_axis]["domain"]
        trace = {**panel[0], **axes}  # the heatmap; its own masked legend entry is replaced below
        trace["colorbar"] = dict(orientation="h", x=(domain[0] + domain[1]) / 2, xanchor="center",
                                 y=-0.32, yanchor="top", len=(domain[1] - domain[0]) * 0.95, thickness=10,
                                 title=dict(text=value, side="top"))
        data.append(trace)
        layout[x_axis].update(type="category", tickmode="array", tickvals=xl[::x_every], ticktext=xl[::x_every],
                              tickangle=-60,
                              showgrid=False, zeroline=False)
        layout[y_axis].update(type="category", autorange="reversed", showgrid=False, zeroline=False)
        if masked is not None and masked.any():
            layout.setdefault("shapes", []).append(
                dict(type="rect", xref=f"x{i + 1} domain", yref=f"y{i + 1} domain", x0=0, x1=1, y0=0, y1=1,
                     fillcolor=MASKED_COLOUR, line=dict(width=0), layer="below"))
            legend_drawn = any(t.get("name") == "masked (not allowed)" for t in data)
            data.append(dict(type="scatter", x=[None], y=[None], mode="markers", name="masked (not allowed)",
                             legendgroup="masked", showlegend=not legend_drawn,    # one key for every panel
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
    return Chart(figure(data, layout), pd.concat(tables, names=["step"]))


def _allowed_spec(allowed: np.ndarray, tokens: Sequence[str], *, title: str = "allowed (may attend)",
                  cols: Sequence[str] | None = None, height: int | None = None
                  ) -> tuple[list[dict], dict, pd.DataFrame]:
    """The allowed matrix's heatmap (traces, layout) and its table (1 = allowed, 0 = blocked)."""
    allowed = np.asarray(allowed, dtype=bool)
    labels = token_labels(tokens)
    col_labels = token_labels(cols) if cols is not None else labels
    scale = [[0.0, MASKED_COLOUR], [0.5, MASKED_COLOUR], [0.5, ALLOWED_COLOUR], [1.0, ALLOWED_COLOUR]]
    data, layout = heatmap_spec(allowed.astype(np.float32), labels, col_labels, title=title, zmin=0.0, zmax=1.0,
                                colorscale=scale, value_name="allowed (1 = yes)", colorbar_title="", height=height)
    data[0]["colorbar"].update(tickmode="array", tickvals=[0.25, 0.75], ticktext=["blocked", "allowed"])
    return data, layout, heatmap_table(data, labels, col_labels).astype(int)


def allowed_figure(allowed: np.ndarray, tokens: Sequence[str], *, title: str = "allowed (may attend)",
                   cols: Sequence[str] | None = None, height: int | None = None) -> Chart:
    """The boolean allowed matrix: blue = may attend, grey = blocked.

    Table: the matrix as 1 (allowed) / 0 (blocked), index the query labels, columns the key labels.
    """
    data, layout, table = _allowed_spec(allowed, tokens, title=title, cols=cols, height=height)
    return Chart(figure(data, layout), table)


def _mark_padding(data: list[dict], layout: dict, n_real: int, n_total: int) -> None:
    """Outline the padding rows and columns (n_real..n_total-1) of a square heatmap's (traces, layout), in place."""
    if n_real < n_total:
        lo, hi = n_real - 0.5, n_total - 0.5
        line = dict(color=PAD_OUTLINE, width=2.5, dash="dot")
        layout.setdefault("shapes", []).extend([
            dict(type="rect", x0=lo, x1=hi, y0=-0.5, y1=hi, line=line),  # padding key columns
            dict(type="rect", x0=-0.5, x1=hi, y0=lo, y1=hi, line=line),  # padding query rows
        ])
        data.append(dict(type="scatter", x=[None], y=[None], mode="lines", name="padding rows / columns", line=line))
        layout["showlegend"] = True


def mark_padding(chart: Chart, n_real: int, n_total: int) -> Chart:
    """Outline the padding rows and columns (positions n_real..n_total-1) of a square heatmap (a new Chart).

    Table: the chart's own, unchanged.
    """
    spec = chart.figure.to_dict()  # a copy: ``chart`` stays as it was
    _mark_padding(spec["data"], spec["layout"], n_real, n_total)
    return Chart(figure(spec["data"], spec["layout"]), chart.table)


def padded_figures(allowed: np.ndarray, pattern: np.ndarray, tokens: Sequence[str], n_real: int,
                   *, name: str = "") -> tuple[Chart, Chart]:
    """One row of a padded batch: its allowed matrix and its pattern, padding outlined.

    Tables: the allowed matrix as 1/0, and the pattern with the masked cells NaN.
    """
    data, layout, allowed_table = _allowed_spec(allowed, tokens, title=f"{name}: allowed")
    _mark_padding(data, layout, n_real, len(tokens))
    labels = token_labels(tokens)
    pattern_data, pattern_layout = heatmap_spec(pattern, labels, labels, title=f"{name}: attention after softmax",
                                                zmin=0.0, zmax=1.0, masked=~np.asarray(allowed, dtype=bool))
    _mark_padding(pattern_data, pattern_layout, n_real, len(tokens))
    return (Chart(figure(data, layout), allowed_table),
            Chart(figure(pattern_data, pattern_layout), heatmap_table(pattern_data, labels, labels)))


def prefix_figure(pattern_after: np.ndarray, tokens_after: Sequence[str], row_change: np.ndarray,
                  tolerance: float, *, title: str = "") -> Chart:
    """The longer input's pattern with the shared rows marked: green = unchanged (within ``tolerance``).

    ``row_change`` holds, per shared leading position, the largest change of
    that row over every layer and head.

    Table: the pattern, index the query labels, columns the key labels.
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
    return Chart(figure(data, layout), heatmap_table(data, labels, labels))


def row_change_figure(row_change: np.ndarray, tokens: Sequence[str], tolerance: float, *, title: str = "") -> Chart:
    """Bars: per shared row, the largest change over all layers and heads (log scale), with the tolerance line.

    Table: one row per shared query row: its largest change (the true value; the log axis draws
    0 at a floor) and whether it is unchanged within ``tolerance`` (the bar's colour).
    """
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
        # above the plot area, under the title: inside it the note sat on the bars it explains
        annotations.append(dict(xref="paper", yref="paper", x=0, y=1.0, xanchor="left", yanchor="bottom",
                                showarrow=False, text="bars at the floor: exactly no change",
                                font=dict(size=12, color="#31333f")))
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
    table = pd.DataFrame({"largest change": change, "unchanged": change <= tolerance},
                         index=pd.Index(labels, name="query"))
    return Chart(figure([bars], layout), table)


__all__ = [
    "ALLOWED_COLOUR", "PAD_OUTLINE", "SEGMENT_COLOURS", "STEP_TITLES", "allowed_figure", "mark_padding",
    "padded_figures", "prefix_figure", "row_change_figure", "steps_figure",
]
