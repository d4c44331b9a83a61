"""Figures and small numpy experiments for the step-by-step walkthrough page.

- one head's matrices as heatmaps and rounded tables (tokens as index-prefixed labels);
- why scores are divided by sqrt(d_k): a seeded sampling experiment;
- GELU exact vs tanh vs ReLU;
- LayerNorm vs BatchNorm on a small batch of token vectors.
No torch, no Streamlit: arrays in, figures (or DataFrames) out.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from viz.common import (DIVERGING, MASKED_COLOUR, SEQUENTIAL, check_matrix, colorscale, figure, layout_axis,
                         subplot_axes, subplots_layout, token_labels)
from viz.attention import plot_text
from viz.positional import LINE_COLOURS


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
                 allowed: np.ndarray | None = None, signed: bool = True,
                 x_title: str = "key_pos", y_title: str = "query_pos", value_name: str = "value") -> go.Figure:
    """One step's matrix as a heatmap with labelled rows and columns.

    `rows`/`cols` are already-distinct labels (e.g. `token_labels(tokens)`); cells are
    plotted by index and the labels set as tick text, so repeated tokens never merge.
    Cells where `allowed` is False are left out of the value layer and drawn by a second,
    single-colour layer in the mask colour (never as a huge negative number); the colour
    range covers the allowed cells only.
    """
    matrix = np.asarray(matrix, dtype=np.float64)
    check_matrix(matrix, rows, cols, title)
    rows, cols = [plot_text(r) for r in rows], [plot_text(c) for c in cols]
    shown = matrix.copy()
    if allowed is not None:
        shown = np.where(np.asarray(allowed, dtype=bool), shown, np.nan)
    finite = shown[np.isfinite(shown)]
    if signed:
        bound = float(np.abs(finite).max()) if finite.size and np.abs(finite).max() > 0 else 1.0
        colour = {"colorscale": colorscale(DIVERGING), "zmid": 0.0, "zmin": -bound, "zmax": bound}
    else:
        low = float(finite.min()) if finite.size else 0.0
        high = float(finite.max()) if finite.size else 1.0
        colour = {"colorscale": colorscale(SEQUENTIAL), "zmin": low, "zmax": high if high > low else low + 1.0}
    cells = np.array([[f"{r} / {c}" for c in cols] for r in rows], dtype=object)
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
    return figure(data, layout)


def score_decomposition(q_row: np.ndarray, k: np.ndarray, raw_row: np.ndarray,
                        keys: Sequence[str]) -> pd.DataFrame:
    """One query against every key: q·k = |q| |k| cos(theta), next to the model's own recorded score.

    q_row [d_head], k [key_pos, d_head], raw_row [key_pos] (the trace's raw_scores for this query).
    """
    q_row, k = np.asarray(q_row, dtype=np.float64), np.asarray(k, dtype=np.float64)
    check_matrix(k, keys, [str(j) for j in range(k.shape[1])], "k")
    q_norm = float(np.linalg.norm(q_row))
    k_norm = np.linalg.norm(k, axis=1)
    dots = k @ q_row
    cos = np.where(k_norm * q_norm > 0, dots / np.where(k_norm * q_norm > 0, k_norm * q_norm, 1.0), 0.0)
    return pd.DataFrame({"|q|": q_norm, "|k|": k_norm, "cos θ": cos, "|q| |k| cos θ": q_norm * k_norm * cos,
                         "q·k (recorded)": np.asarray(raw_row, dtype=np.float64)}, index=list(keys)).round(4)


def concat_figure(z_heads: np.ndarray, out: np.ndarray, tokens: Sequence[str], head: int) -> go.Figure:
    """concat(z_1 .. z_h) [pos, n_heads * d_head] beside W_O's output [pos, d_model].

    z_heads is [head, pos, d_head]; the chosen head's block is outlined.
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
    return figure(data, layout)


# --- why divide by sqrt(d_k) ----------------------------------------------------------------

def _softmax(scores: np.ndarray) -> np.ndarray:
    shifted = scores - scores.max(axis=-1, keepdims=True)
    weights = np.exp(shifted)
    return weights / weights.sum(axis=-1, keepdims=True)


def scaling_experiment(d_ks: Sequence[int], n_keys: int = 16, n_samples: int = 256,
                       seed: int = 0) -> pd.DataFrame:
    """Sample q and n_keys keys with independent N(0, 1) components for each d_k.

    Returns one row per d_k with, for raw scores q.k and scaled scores q.k / sqrt(d_k):
    the variance of the scores, the mean largest softmax weight, the mean entropy of the
    softmax (nats; log(n_keys) is uniform), and the mean Frobenius norm of the softmax
    Jacobian diag(p) - p p^T, which is what gradients flow through.
    """
    rng = np.random.default_rng(seed)
    rows = []
    for d_k in d_ks:
        # Sampled in chunks so that the keys of a wide d_k never take more than ~16 MB at once.
        chunk = max(1, min(n_samples, 2_000_000 // (n_keys * d_k)))
        parts = []
        for start in range(0, n_samples, chunk):
            size = min(chunk, n_samples - start)
            q = rng.standard_normal((size, d_k))                 # [sample, d_k]
            k = rng.standard_normal((size, n_keys, d_k))         # [sample, key, d_k]
            parts.append(np.einsum("sd,skd->sk", q, k))          # [sample, key]
        raw = np.concatenate(parts)
        row = {"d_k": int(d_k)}
        for name, scores in (("raw", raw), ("scaled", raw / np.sqrt(d_k))):
            p = _softmax(scores)
            entropy = -(p * np.log(np.clip(p, 1e-300, None))).sum(axis=-1)
            sum_sq = (p ** 2).sum(axis=-1)
            jacobian_sq = sum_sq - 2.0 * (p ** 3).sum(axis=-1) + sum_sq ** 2  # ||diag(p) - pp^T||_F^2
            row[f"variance_{name}"] = float(scores.var())
            row[f"max_weight_{name}"] = float(p.max(axis=-1).mean())
            row[f"entropy_{name}"] = float(entropy.mean())
            row[f"jacobian_{name}"] = float(np.sqrt(np.clip(jacobian_sq, 0.0, None)).mean())
        rows.append(row)
    return pd.DataFrame(rows)


def scaling_figure(result: pd.DataFrame, n_keys: int) -> go.Figure:
    """Four panels over d_k: score variance, largest weight, entropy, softmax gradient size."""
    panels = (("variance", "variance of the scores"),
              ("max_weight", "mean largest softmax weight"),
              ("entropy", f"mean softmax entropy (uniform = {np.log(n_keys):.2f})"),
              ("jacobian", "softmax gradient size ||J||"))
    layout = subplots_layout(2, 2, [title for _, title in panels], horizontal_spacing=0.1, vertical_spacing=0.16)
    styles = {"raw": ("q·k (not scaled)", LINE_COLOURS[5], "solid"),
              "scaled": ("q·k / sqrt(d_k)", LINE_COLOURS[0], "dash")}
    data = []
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
        layout[layout_axis(axes["xaxis"])].update(type="log", title=dict(text="d_k"))
    layout["yaxis"]["type"] = "log"
    layout["yaxis2"]["range"] = [0, 1.05]
    layout.update(title=dict(text="Scaling keeps the scores' spread, and softmax's gradients, the same for every d_k"),
                  height=620)
    return figure(data, layout)


# --- activations ---------------------------------------------------------------------------

def activation_figure(x: np.ndarray, curves: Mapping[str, np.ndarray], reference: str) -> go.Figure:
    """Left: each activation over x. Right: |each one minus the reference| on a log scale.

    The log scale keeps a 1e-4 gap (GELU tanh vs exact) visible beside a 1e-1 gap (ReLU).
    """
    if reference not in curves:
        raise ValueError(f"reference {reference!r} is not one of the curves {list(curves)}")
    layout = subplots_layout(1, 2, ("activation(x)", f"|difference from {reference}| (log scale)"),
                             horizontal_spacing=0.12)
    data = []
    for i, (name, y) in enumerate(curves.items()):
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
    for axis in ("xaxis", "xaxis2"):
        layout[axis]["title"] = dict(text="x")
    layout["yaxis"]["title"] = dict(text="activation(x)")
    layout["yaxis2"].update(title=dict(text="|difference|"), type="log", exponentformat="power")
    layout["title"] = dict(text="GELU (exact erf and tanh approximation) and ReLU")
    return figure(data, layout)


# --- LayerNorm vs BatchNorm ----------------------------------------------------------------

def layer_norm(x: np.ndarray, eps: float = 1e-5) -> np.ndarray:
    """Normalise each row (one token) over its features, biased variance, no gain/bias."""
    mean = x.mean(axis=-1, keepdims=True)
    var = x.var(axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps)


def batch_norm(x: np.ndarray, eps: float = 1e-5) -> np.ndarray:
    """Normalise each column (one feature) over the rows of the batch, biased variance."""
    mean = x.mean(axis=0, keepdims=True)
    var = x.var(axis=0, keepdims=True)
    return (x - mean) / np.sqrt(var + eps)


def norm_figure(x: np.ndarray, rows: Sequence[str], eps: float = 1e-5) -> go.Figure:
    """The batch [token, feature], its LayerNorm (rows normalised) and BatchNorm (columns normalised).

    The input keeps its own colour range; the two normalised panels share one, so they compare.
    """
    x = np.asarray(x, dtype=np.float64)
    cols = [f"f{j}" for j in range(x.shape[1])]
    check_matrix(x, rows, cols, "token batch")
    rows = [plot_text(r) for r in rows]
    panels = (("input", x), ("LayerNorm: each row", layer_norm(x, eps)), ("BatchNorm: each column", batch_norm(x, eps)))
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
    return figure(data, layout)


def norm_stats(x: np.ndarray, rows: Sequence[str], eps: float = 1e-5) -> pd.DataFrame:
    """Mean and standard deviation along both axes after each normalisation."""
    x = np.asarray(x, dtype=np.float64)
    records = []
    for name, matrix in (("LayerNorm", layer_norm(x, eps)), ("BatchNorm", batch_norm(x, eps))):
        for axis, what in ((1, "per token (row)"), (0, "per feature (column)")):
            records.append({
                "normalisation": name, "statistic over": what,
                # (+ 0.0 turns a rounded -0.0 into 0.0)
                "means range": f"{round(float(matrix.mean(axis=axis).min()), 3) + 0.0:+.3f} .. "
                               f"{round(float(matrix.mean(axis=axis).max()), 3) + 0.0:+.3f}",
                "std range": f"{matrix.std(axis=axis).min():.3f} .. {matrix.std(axis=axis).max():.3f}",
            })
    return pd.DataFrame(records)
