"""Figures for the step-by-step walkthrough: one head's matrices as heatmaps and rounded tables,
all heads concatenated, the sqrt(d_k) experiment, GELU vs ReLU, LayerNorm vs BatchNorm.

Arrays and labels in, a ``Chart`` out (``matrix_frame``: a rounded display table).
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from viz.common import (DIVERGING, LINE_COLOURS, MASKED_COLOUR, SEQUENTIAL, Chart, check_matrix, colorscale, figure,
                        layout_axis, matrix_table, plot_text, subplot_axes, subplots_layout, token_labels)


# --- one head, step by step ---------------------------------------------------------------

def matrix_frame(matrix: np.ndarray, rows: Sequence[str], cols: Sequence[str],
                 max_rows: int = 12, max_cols: int = 8, decimals: int = 3) -> tuple[pd.DataFrame, str | None]:
    """A rounded table of the matrix's top-left corner, and a note saying what was cut (None if nothing)."""
    matrix = np.asarray(matrix, dtype=np.float64)
    check_matrix(matrix, rows, cols, "matrix")
    n_rows, n_cols = matrix.shape
    shown_rows, shown_cols = min(n_rows, max_rows), min(n_cols, max_cols)
    frame = pd.DataFrame(np.round(matrix[:shown_rows, :shown_cols], decimals),
                         index=list(rows)[:shown_rows], columns=list(cols)[:shown_cols])
    cut = []
    if shown_rows < n_rows:
        cut.append(f"the first {shown_rows} of {n_rows} rows")
    if shown_cols < n_cols:
        cut.append(f"the first {shown_cols} of {n_cols} columns")
    note = None
    if cut:
        note = f"Showing {' and '.join(cut)}; the CSV download has every value."
    return frame, note


def step_heatmap(matrix: np.ndarray, rows: Sequence[str], cols: Sequence[str], title: str,
                 allowed: np.ndarray | None = None, signed: bool = True, weight_max: float | None = None,
                 x_title: str = "key", y_title: str = "query", value_name: str = "value") -> Chart:
    """One step's matrix as a heatmap with labelled rows and columns.

    `rows`/`cols` are already-distinct labels (e.g. `token_labels(tokens)`); cells are
    plotted by index and the labels set as tick text, so repeated tokens never merge.
    Cells where `allowed` is False are left out of the value layer and drawn by a second,
    single-colour layer in the mask colour (never as a huge negative number); the colour
    range covers the allowed cells only.

    Table: the matrix with blocked cells NaN, index ``rows`` (named ``y_title``), columns
    ``cols`` (named ``x_title``).
    """
    matrix = np.asarray(matrix, dtype=np.float64)
    check_matrix(matrix, rows, cols, title)
    table_rows, table_cols = list(rows), list(cols)
    rows, cols = [plot_text(r) for r in rows], [plot_text(c) for c in cols]
    shown = matrix.copy()
    if allowed is not None:
        shown = np.where(np.asarray(allowed, dtype=bool), shown, np.nan)
    finite = shown[np.isfinite(shown)]
    if signed:
        bound = float(np.abs(finite).max()) if finite.size and np.abs(finite).max() > 0 else 1.0
        colour = {"colorscale": colorscale(DIVERGING), "zmid": 0.0, "zmin": -bound, "zmax": bound}
    else:
        # weights: 0..weight_max when given (the pages' fixed scale), else the values' own range
        low = 0.0 if weight_max is not None else float(finite.min()) if finite.size else 0.0
        high = weight_max if weight_max is not None else float(finite.max()) if finite.size else 1.0
        colour = {"colorscale": colorscale(SEQUENTIAL), "zmin": low, "zmax": high if high > low else low + 1.0}
    cells = np.array([[f"{r} / {c}" for c in cols] for r in rows], dtype=str)
    data = [dict(
        type="heatmap", z=shown, x=np.arange(len(cols)), y=np.arange(len(rows)),
        **colour, customdata=cells,
        colorbar={"title": {"text": value_name}},
        hovertemplate="%{customdata}<br>" + value_name + " %{z:.4f}<extra></extra>",
    )]
    if allowed is not None and not np.asarray(allowed, dtype=bool).all():
        blocked = np.where(np.asarray(allowed, dtype=bool), np.nan, 1.0)
        data.append(dict(
            type="heatmap", z=blocked, x=np.arange(len(cols)), y=np.arange(len(rows)), name="masked (not allowed)",
            colorscale=[[0.0, MASKED_COLOUR], [1.0, MASKED_COLOUR]], showscale=False, customdata=cells,
            hovertemplate="%{customdata}<br>masked: not allowed<extra></extra>",
        ))
    layout = dict(
        title=dict(text=title),
        xaxis=dict(tickvals=list(range(len(cols))), ticktext=list(cols), title=dict(text=x_title),
                   range=[-0.5, len(cols) - 0.5], showgrid=False, zeroline=False),
        yaxis=dict(tickvals=list(range(len(rows))), ticktext=list(rows), title=dict(text=y_title),
                   range=[len(rows) - 0.5, -0.5], showgrid=False, zeroline=False),
    )
    return Chart(figure(data, layout), matrix_table(shown, table_rows, table_cols, y_title, x_title))


def concat_figure(z_heads: np.ndarray, out: np.ndarray, tokens: Sequence[str], head: int) -> Chart:
    """concat(z_1 .. z_h) [pos, n_heads * d_head] beside W_O's output [pos, d_model].

    z_heads is [head, pos, d_head]; the chosen head's block is outlined.
    Table: one row per token (index-prefixed labels), the concat's columns "head{h}.{j}"
    and then the output's "attn.out.{i}".
    """
    z_heads = np.asarray(z_heads, dtype=np.float64)
    n_heads, n_pos, d_head = z_heads.shape
    if out.shape[0] != n_pos:
        raise ValueError(f"z has {n_pos} positions, while the output has {out.shape[0]}")
    if len(tokens) != n_pos:
        raise ValueError(f"z has {n_pos} positions, while number of tokens is {len(tokens)}")
    concat = z_heads.transpose(1, 0, 2).reshape(n_pos, n_heads * d_head)  # [pos, head * d_head]
    labels = [plot_text(label) for label in token_labels(tokens)]
    layout = subplots_layout(1, 2, (f"concat of {n_heads} heads' z  [pos, {n_heads * d_head}]",
                                    f"attn.out = concat W_O + b_O  [pos, {out.shape[1]}]"), horizontal_spacing=0.14)
    data = []
    for col, (matrix, colorbar_x) in enumerate(((concat, 0.44), (np.asarray(out), 1.0)), start=1):
        bound = float(np.abs(matrix).max()) or 1.0
        axes = subplot_axes(1, col, 2)
        data.append(dict(
            type="heatmap", z=matrix, x=np.arange(matrix.shape[1]), y=np.arange(n_pos),
            colorscale=colorscale(DIVERGING), zmid=0.0, zmin=-bound, zmax=bound,
            colorbar={"title": {"text": "value"}, "x": colorbar_x},
            hovertemplate="pos %{y}<br>dim %{x}<br>value %{z:.4f}<extra></extra>", **axes,
        ))
        layout[layout_axis(axes["yaxis"])].update(tickvals=list(range(n_pos)), ticktext=labels, autorange="reversed",
                                                  showticklabels=col == 1)   # same rows: label them once
    boundaries = [dict(type="line", xref="x", x0=boundary * d_head - 0.5, x1=boundary * d_head - 0.5,
                       yref="y domain", y0=0, y1=1, line={"color": "#444444", "width": 1})
                  for boundary in range(1, n_heads)]
    chosen = dict(type="rect", xref="x", yref="y", x0=head * d_head - 0.5, x1=(head + 1) * d_head - 0.5,
                  y0=-0.5, y1=n_pos - 0.5, line={"color": "#000000", "width": 3})
    layout["shapes"] = boundaries + [chosen]
    layout["xaxis"]["title"] = dict(text="head * d_head + j")
    layout["xaxis2"]["title"] = dict(text="d_model index")
    layout["title"] = dict(text="Multi-head: concatenate every head's z, then project with W_O")
    columns = [f"head{h}.{j}" for h in range(n_heads) for j in range(d_head)]
    columns += [f"attn.out.{i}" for i in range(out.shape[1])]
    table = matrix_table(np.concatenate([concat, np.asarray(out, dtype=np.float64)], axis=1), token_labels(tokens),
                         columns, "pos")
    return Chart(figure(data, layout), table)


# --- why divide by sqrt(d_k) ----------------------------------------------------------------

def scaling_figure(result: pd.DataFrame, n_keys: int) -> Chart:
    """Four panels over d_k: score variance, largest weight, entropy, softmax gradient size.

    ``result`` is ``analysis.scaling_experiment``'s frame. Table: one row per d_k, a column
    per line drawn ("variance_raw", "variance_scaled", ...).
    """
    panels = (("variance", "variance of the scores"),
              ("max_weight", "mean largest softmax weight"),
              ("entropy", f"mean softmax entropy (uniform = {np.log(n_keys):.2f})"),
              ("jacobian", "softmax gradient size ||J||"))
    layout = subplots_layout(2, 2, [title for _, title in panels], horizontal_spacing=0.1, vertical_spacing=0.16)
    styles = {"raw": ("q·k (not scaled)", LINE_COLOURS[5], "solid"),
              "scaled": ("q·k / sqrt(d_k)", LINE_COLOURS[0], "dash")}
    data = []
    d_k_ticks = result["d_k"].to_numpy().tolist()     # every d_k measured, on each panel's log axis
    for i, (key, _) in enumerate(panels):
        row, col = divmod(i, 2)
        axes = subplot_axes(row + 1, col + 1, 2)
        for kind, (label, colour, dash) in styles.items():
            data.append(dict(
                type="scatter", x=result["d_k"].to_numpy(), y=result[f"{key}_{kind}"].to_numpy(),
                mode="lines+markers", name=label, legendgroup=kind, showlegend=i == 0,
                line={"color": colour, "dash": dash},
                hovertemplate=f"{label}<br>d_k %{{x}}<br>%{{y:.4g}}<extra></extra>", **axes,
            ))
        layout[layout_axis(axes["xaxis"])].update(type="log", title=dict(text="d_k"), tickvals=d_k_ticks,
                                                  ticktext=[str(int(v)) for v in d_k_ticks])
    layout["yaxis"]["type"] = "log"
    layout["yaxis2"]["range"] = [0, 1.05]
    layout.update(title=dict(text="Scaling keeps the scores' spread, and softmax's gradients, the same for every d_k"),
                  height=620)
    drawn = [f"{key}_{kind}" for key, _ in panels for kind in styles]
    return Chart(figure(data, layout), result.set_index("d_k")[drawn])


# --- activations ---------------------------------------------------------------------------

def activation_figure(x: np.ndarray, curves: Mapping[str, np.ndarray], reference: str) -> Chart:
    """Left: each activation over x. Right: |each one minus the reference| on a log scale.

    The log scale keeps a 1e-4 gap (GELU tanh vs exact) visible beside a 1e-1 gap (ReLU).
    Table: one row per x, a column per curve, then "|name - reference|" per other curve
    (0 where they agree; the log axis leaves those points out).
    """
    if reference not in curves:
        raise ValueError(f"reference {reference!r} is not one of the curves {list(curves)}")
    layout = subplots_layout(1, 2, ("activation(x)", f"|difference from {reference}| (log scale)"),
                             horizontal_spacing=0.12)
    data, columns, gaps = [], {}, {}
    for i, (name, y) in enumerate(curves.items()):
        columns[name] = np.asarray(y, dtype=np.float64)
        colour = LINE_COLOURS[i % len(LINE_COLOURS)]
        data.append(dict(type="scatter", x=x, y=y, mode="lines", name=name, legendgroup=name,
                         line={"color": colour},
                         hovertemplate=f"{name}<br>x %{{x:.3f}}<br>%{{y:.6f}}<extra></extra>",
                         **subplot_axes(1, 1, 2)))
        if name != reference:
            gap = np.abs(np.asarray(y, dtype=np.float64) - np.asarray(curves[reference], dtype=np.float64))
            data.append(dict(type="scatter", x=x, y=np.where(gap > 0, gap, np.nan), mode="lines",
                             name=f"|{name} - {reference}|", legendgroup=name, showlegend=False,
                             line={"color": colour},
                             hovertemplate=f"|{name} - {reference}|<br>x %{{x:.3f}}<br>%{{y:.3e}}<extra></extra>",
                             **subplot_axes(1, 2, 2)))
            gaps[f"|{name} - {reference}|"] = gap
    for axis in ("xaxis", "xaxis2"):
        layout[axis]["title"] = dict(text="x")
    layout["yaxis"]["title"] = dict(text="activation(x)")
    layout["yaxis2"].update(title=dict(text="|difference|"), type="log", exponentformat="power")
    layout["title"] = dict(text="GELU (exact erf and tanh approximation) and ReLU")
    table = pd.DataFrame({**columns, **gaps}, index=pd.Index(np.asarray(x, dtype=np.float64), name="x"))
    return Chart(figure(data, layout), table)


# --- LayerNorm vs BatchNorm ----------------------------------------------------------------

def norm_figure(x: np.ndarray, layer_normed: np.ndarray, batch_normed: np.ndarray, rows: Sequence[str]) -> Chart:
    """The batch [token, feature], its LayerNorm (rows normalised) and BatchNorm (columns normalised).

    ``layer_normed`` and ``batch_normed`` are ``analysis.layer_norm(x)`` and ``analysis.batch_norm(x)``.
    The input keeps its own colour range; the two normalised panels share one, so they compare.
    Table: the three matrices stacked, indexed by (panel: "input", "LayerNorm", "BatchNorm",
    row label), a column per feature ("f0", ...).
    """
    x = np.asarray(x, dtype=np.float64)
    cols = [f"f{j}" for j in range(x.shape[1])]
    normed = {"LayerNorm": np.asarray(layer_normed, dtype=np.float64),
              "BatchNorm": np.asarray(batch_normed, dtype=np.float64)}
    check_matrix(x, rows, cols, "token batch")
    for name, matrix in normed.items():
        if matrix.shape != x.shape:
            raise ValueError(f"the {name} panel has shape {matrix.shape}, while the batch has shape {x.shape}")
    tables = {name: matrix_table(matrix, rows, cols, "row", "feature")
              for name, matrix in (("input", x), *normed.items())}
    rows = [plot_text(r) for r in rows]
    panels = (("input", x), ("LayerNorm: each row", normed["LayerNorm"]),
              ("BatchNorm: each column", normed["BatchNorm"]))
    layout = subplots_layout(1, 3, [name for name, _ in panels], horizontal_spacing=0.08)
    data = []
    for col, (name, matrix) in enumerate(panels, start=1):
        axes = subplot_axes(1, col, 3)
        data.append(dict(
            type="heatmap", z=matrix, x=np.arange(len(cols)), y=np.arange(len(rows)), name=name,
            coloraxis="coloraxis" if col == 1 else "coloraxis2",
            text=np.round(matrix, 2), texttemplate="%{text}",
            hovertemplate=f"{name}<br>row %{{y}}<br>feature %{{x}}<br>%{{z:.4f}}<extra></extra>", **axes,
        ))
        layout[layout_axis(axes["xaxis"])].update(tickvals=list(range(len(cols))), ticktext=cols,
                                                  title=dict(text="feature"))
        layout[layout_axis(axes["yaxis"])].update(tickvals=list(range(len(rows))), ticktext=list(rows),
                                                  autorange="reversed", showticklabels=col == 1)
    bound_in = float(np.abs(x).max()) or 1.0
    bound_out = max(float(np.abs(m).max()) for _, m in panels[1:]) or 1.0
    layout.update(
        title=dict(text="LayerNorm vs BatchNorm: which axis is normalised"),
        coloraxis={"colorscale": colorscale(DIVERGING), "cmid": 0.0, "cmin": -bound_in, "cmax": bound_in,
                   "colorbar": {"title": {"text": "input"}, "x": 1.02}},
        coloraxis2={"colorscale": colorscale(DIVERGING), "cmid": 0.0, "cmin": -bound_out, "cmax": bound_out,
                    "colorbar": {"title": {"text": "normalised"}, "x": 1.12}},
    )
    return Chart(figure(data, layout), pd.concat(tables, names=["panel"]))
