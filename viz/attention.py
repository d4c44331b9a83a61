"""Attention figures and the numpy summaries behind them.

Inputs are numpy arrays in the project's axis order (patterns are
``[layer, head, query_pos, key_pos]`` or ``[query_pos, key_pos]``) and token
strings; outputs are plotly figures. Nothing here touches a model or streamlit.
"""
from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np
import plotly.graph_objects as go

from viz.common import MASKED_COLOUR, SEGMENT_COLOURS, SEQUENTIAL, check_matrix, figure, token_labels
from viz.common import colorscale as as_colorscale  # heatmap_spec has an argument named colorscale

# At most this many tick labels on an axis; longer inputs label every k-th token.
MAX_TICKS = 64
# The all-heads overview keeps each head at most this many cells a side.
MAX_TILE = 48

SPECIAL = ("[CLS]", "[SEP]", "[PAD]")


# ---------------------------------------------------------------- numpy summaries


def plot_text(text: str) -> str:
    """``text`` safe for plotly labels: plotly reads a few HTML tags, so escape them."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def keep_positions(tokens: Sequence[str], drop: Sequence[str] = SPECIAL) -> np.ndarray:
    """Indices of the tokens not in ``drop`` (e.g. to hide [CLS]/[SEP])."""
    return np.array([i for i, tok in enumerate(tokens) if tok not in drop], dtype=int)


def restrict(pattern: np.ndarray, keep: np.ndarray, renormalise: bool = True) -> np.ndarray:
    """Keep only positions ``keep`` on the last two axes (query_pos, key_pos).

    With ``renormalise`` each row is divided by its new sum, so it is again a
    distribution over the tokens shown; a row that put all its weight on
    hidden tokens stays all zero.
    """
    sub = pattern[..., keep, :][..., :, keep]
    if not renormalise:
        return sub
    total = sub.sum(axis=-1, keepdims=True)
    return np.divide(sub, total, out=np.zeros_like(sub), where=total > 0)


def head_mean(pattern: np.ndarray) -> np.ndarray:
    """Mean over heads: [layer, head, q, k] -> [layer, q, k]."""
    return pattern.mean(axis=1)


def head_max(pattern: np.ndarray) -> np.ndarray:
    """Max over heads: [layer, head, q, k] -> [layer, q, k] (rows no longer sum to 1)."""
    return pattern.max(axis=1)


def rollout(pattern: np.ndarray) -> np.ndarray:
    """Attention rollout (Abnar & Zuidema, 2020): [layer, head, q, k] -> [layer, q, k].

    Per layer: average the heads, add the identity for the residual
    connection, renormalise rows; then multiply through the layers.
    ``out[l]`` says how much each input token flows into each position after
    layers 0..l.
    """
    n_layers, _, n_q, n_k = pattern.shape
    if n_q != n_k:
        raise ValueError(f"Rollout needs square patterns, got {n_q} queries and {n_k} keys")
    eye = np.eye(n_q, dtype=np.float64)
    joint = eye
    out = np.empty((n_layers, n_q, n_k), dtype=np.float32)
    for layer in range(n_layers):
        step = pattern[layer].astype(np.float64).mean(axis=0) + eye
        step /= step.sum(axis=-1, keepdims=True)
        joint = step @ joint
        out[layer] = joint
    return out


def hard_attention(pattern: np.ndarray) -> np.ndarray:
    """Arg-max per query as a one-hot matrix: [..., q, k] -> same shape, 0/1."""
    hard = np.zeros_like(pattern, dtype=np.float32)
    np.put_along_axis(hard, pattern.argmax(axis=-1)[..., None], 1.0, axis=-1)
    return hard


def downsample(matrix: np.ndarray, max_size: int, how: str = "mean") -> tuple[np.ndarray, int]:
    """Shrink a [..., rows, cols] matrix in square blocks so neither side exceeds ``max_size``.

    ``how="mean"``: the mean of each block. ``how="mass"`` (for attention
    patterns): the weight a block of queries gives a block of keys, i.e. the
    sum over the block's keys averaged over its queries, so each row of blocks
    still sums to 1 and the 0..1 scale stays meaningful (a plain mean would
    shrink every value by the block width). Returns the smaller matrix and the
    block size (1 = unchanged).
    """
    if how not in ("mean", "mass"):
        raise ValueError(f"how must be 'mean' or 'mass', got {how!r}")
    rows, cols = matrix.shape[-2:]
    block = max(1, math.ceil(max(rows, cols) / max_size))
    if block == 1:
        return matrix, 1
    pad_r, pad_c = (-rows) % block, (-cols) % block
    padded = np.pad(
        matrix.astype(np.float32),
        [(0, 0)] * (matrix.ndim - 2) + [(0, pad_r), (0, pad_c)],
        constant_values=np.nan,
    )
    shape = padded.shape[:-2] + (padded.shape[-2] // block, block, padded.shape[-1] // block, block)
    blocks = padded.reshape(shape)
    if how == "mean":
        return np.nanmean(blocks, axis=(-3, -1)), block
    per_row = np.where(np.isnan(blocks).all(axis=-1), np.nan, np.nansum(blocks, axis=-1))  # sum over keys
    return np.nanmean(per_row, axis=-2), block  # mean over queries


# ---------------------------------------------------------------- heatmaps


def axis_ticks(labels: Sequence[str]) -> tuple[list[int], list[str]]:
    """Tick positions and (escaped) texts: every label, or every k-th one for long inputs."""
    step = max(1, math.ceil(len(labels) / MAX_TICKS))
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


def heatmap(matrix: np.ndarray, rows: Sequence[str], cols: Sequence[str], **options: Any) -> go.Figure:
    """One [query_pos, key_pos] matrix as a heatmap figure; ``options`` as in ``heatmap_spec``."""
    return figure(*heatmap_spec(matrix, rows, cols, **options))


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
) -> tuple[list[dict], dict]:
    """One [query_pos, key_pos] matrix as a heatmap, rows and columns by position: (traces, layout) dicts.

    ``rows``/``cols`` are the labels (index-prefixed tokens). The colour bar
    spans ``zmin..zmax`` (pass None for the data's own range). ``masked``
    (bool, True = removed by a mask) cells are drawn grey with a legend
    entry instead of a colour. ``segments`` (0/1 per token) colours
    sentence A and B along the axes.
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
        layout["yaxis"]["ticklabelstandoff"] = 14  # the row labels left of the band, not under it
    return data, layout


def attention_heatmap(pattern: np.ndarray, tokens: Sequence[str], *, title: str = "",
                      segments: Sequence[int] | None = None, value_name: str = "weight",
                      zmax: float = 1.0) -> go.Figure:
    """An attention pattern [query_pos, key_pos] (probabilities: colour bar 0..1)."""
    labels = token_labels(tokens)
    return heatmap(pattern, labels, labels, title=title, segments=segments, value_name=value_name,
                   zmin=0.0, zmax=zmax)


# ---------------------------------------------------------------- all heads at a glance


def heads_grid(patterns: np.ndarray, tokens: Sequence[str], *, selected: tuple[int, int] | None = None,
               max_tile: int = MAX_TILE) -> tuple[go.Figure, int]:
    """Every layer x head as small multiples in one figure: [layer, head, q, k] -> (figure, block).

    The heads are tiled into one heatmap (rows = layers, columns = heads,
    NaN gaps between tiles), plus one clickable marker per tile (trace 1,
    ``customdata`` = [layer, head]). Inputs longer than ``max_tile`` tokens
    are shrunk in ``block`` x ``block`` blocks (returned; see ``downsample``,
    "mass") so the figure stays light.
    """
    if patterns.ndim != 4:
        raise ValueError(f"patterns must be [layer, head, query_pos, key_pos], got shape {patterns.shape}")
    n_layers, n_heads, n_q, n_k = patterns.shape
    if n_q != len(tokens) or n_k != len(tokens):
        raise ValueError(f"Attention has {n_q}x{n_k} positions, while number of tokens is {len(tokens)}")
    small, block = downsample(patterns, max_tile, how="mass")
    tile = small.shape[-1]
    step = tile + 1  # one NaN row/column between tiles
    mosaic = np.full((n_layers * step - 1, n_heads * step - 1), np.nan, dtype=np.float32)
    for layer in range(n_layers):
        for head in range(n_heads):
            mosaic[layer * step: layer * step + tile, head * step: head * step + tile] = small[layer, head]
    # The hover reads layer/query from the row's category and head/key from the
    # column's: one label per row and column, not a text per cell (megabytes).
    names = [plot_text(name) for name in block_names(tokens, block, tile)]
    cols = _mosaic_categories("head", "key", n_heads, names)
    rows = _mosaic_categories("layer", "query", n_layers, names)
    heatmap_trace = dict(type="heatmap", z=mosaic, x=cols, y=rows, zmin=0.0, zmax=1.0,
                         colorscale=as_colorscale(SEQUENTIAL),
                         hovertemplate="%{y}<br>%{x}<br>weight %{z:.3f}<extra></extra>",
                         hoverongaps=False, colorbar=dict(title=dict(text="weight"), thickness=14))
    # Markers sit on cells (the axes are categories), a little inside each tile's corner.
    corner = max(0, round(0.06 * tile - 0.5))
    heads = [[layer, head] for layer in range(n_layers) for head in range(n_heads)]
    colours = ["#E69F00" if selected == (l, h) else "white" for l, h in heads]
    markers = dict(type="scatter", x=[cols[h * step + corner] for _, h in heads],
                   y=[rows[l * step + corner] for l, _ in heads], mode="markers", customdata=heads, name="heads",
                   marker=dict(size=9, symbol="square", color=colours, line=dict(color="#333", width=1)),
                   hovertemplate="layer %{customdata[0]}, head %{customdata[1]}<br>click to open<extra></extra>",
                   showlegend=False)
    middle = (tile - 1) / 2  # tick at each tile's centre; numbers on a category axis count categories
    layout = dict(
        height=int(min(1100, max(300, 60 + n_layers * (900 / max(n_heads, 1))))),
        margin=dict(l=10, r=10, t=60, b=10),  # room for the head labels under the mode bar
        plot_bgcolor="white",
        clickmode="event+select",
        dragmode=False,
        xaxis=dict(type="category", tickmode="array", tickvals=[h * step + middle for h in range(n_heads)],
                   ticktext=[f"head {h}" for h in range(n_heads)],
                   side="top", showgrid=False, zeroline=False, range=[-1, n_heads * step - 1]),
        yaxis=dict(type="category", tickmode="array", tickvals=[l * step + middle for l in range(n_layers)],
                   ticktext=[f"layer {l}" for l in range(n_layers)],
                   autorange="reversed", showgrid=False, zeroline=False, scaleanchor="x"),
    )
    if selected is not None:
        layer, head = selected
        layout["shapes"] = [dict(type="rect", x0=head * step - 0.5, x1=head * step + tile - 0.5,
                                 y0=layer * step - 0.5, y1=layer * step + tile - 0.5,
                                 line=dict(color="#E69F00", width=3))]
    fig = figure([heatmap_trace, markers], layout)
    return fig, block


def block_names(tokens: Sequence[str], block: int, n_blocks: int) -> list[str]:
    """Names of the positions of a pattern shrunk in blocks of ``block`` tokens: "03 cat" or "tokens 0-10"."""
    labels = token_labels(tokens)
    if block == 1:
        if n_blocks != len(labels):
            raise ValueError(f"Attention has {n_blocks} key positions, while number of tokens is {len(labels)}")
        return labels
    return [f"tokens {i * block}-{min((i + 1) * block, len(labels)) - 1}" for i in range(n_blocks)]


def _mosaic_categories(tile_name: str, pos_name: str, n_tiles: int, names: Sequence[str]) -> list[str]:
    """One unique label per row (or column) of the overview mosaic: "head 2 · key 03 cat", gaps "head 2 |"."""
    labels: list[str] = []
    for t in range(n_tiles):
        if t:
            labels.append(f"{tile_name} {t - 1} |")  # the NaN gap after the previous tile (never hovered)
        labels += [f"{tile_name} {t} · {pos_name} {name}" for name in names]
    return labels


def grid_csv_matrix(patterns: np.ndarray, tokens: Sequence[str], block: int = 1) -> tuple[np.ndarray, list[str], list[str]]:
    """The overview's data as one table: a row per (layer, head, query), a column per key.

    ``patterns`` is what the overview drew ([layer, head, q, k], shrunk in
    blocks of ``block`` tokens when ``block`` > 1); rows and columns are named
    by their tokens ("03 cat"), or by the token range of each block.
    """
    n_layers, n_heads, n_q, n_k = patterns.shape
    names = block_names(tokens, block, n_k)
    rows = [f"layer {l} head {h} query {names[q]}" for l in range(n_layers) for h in range(n_heads) for q in range(n_q)]
    return patterns.reshape(-1, n_k), rows, list(names)


# ---------------------------------------------------------------- lines view


def lines(pattern: np.ndarray, tokens: Sequence[str], *, segments: Sequence[int] | None = None,
          min_weight: float = 0.05, top_k: int | None = None, title: str = "") -> go.Figure:
    """Query tokens on the left, key tokens on the right, one line per link; width and opacity = weight.

    Links below ``min_weight`` are left out; with ``top_k`` only each query's
    strongest ``top_k`` links are drawn (for long inputs). Lines are grouped
    into a few weight bins (one trace each) so hundreds of links stay fast;
    a marker at each line's middle carries the hover (query, key, weight).
    """
    pattern = np.asarray(pattern, dtype=np.float32)
    labels = token_labels(tokens)
    check_matrix(pattern, labels, labels, "lines pattern")
    n = len(tokens)
    keep = pattern >= min_weight
    if top_k is not None and top_k < n:
        kth = -np.sort(-pattern, axis=-1)[:, top_k - 1: top_k]
        keep &= pattern >= kth
    qs, ks = np.nonzero(keep)
    weights = pattern[qs, ks]
    seg = np.asarray(segments) if segments is not None else np.zeros(n, dtype=int)
    fig = go.Figure()
    edges = np.array([0.0, 0.1, 0.25, 0.5, 0.75, 1.01])
    for b in range(len(edges) - 1):
        for s in sorted(set(seg.tolist())):
            sel = (weights >= edges[b]) & (weights < edges[b + 1]) & (seg[qs] == s)
            if not sel.any():
                continue
            xs, ys = [], []
            for q, k in zip(qs[sel], ks[sel]):
                xs += [0.0, 1.0, None]
                ys += [int(q), int(k), None]
            mid = (edges[b] + min(edges[b + 1], 1.0)) / 2
            fig.add_trace(go.Scatter(
                x=xs, y=ys, mode="lines", hoverinfo="skip", showlegend=False,
                name=f"weight {edges[b]:.2f}-{min(edges[b + 1], 1.0):.2f}",
                line=dict(width=0.5 + 7 * mid, color=SEGMENT_COLOURS[s]), opacity=float(0.25 + 0.75 * mid),
            ))
    fig.add_trace(go.Scatter(
        x=np.full(len(qs), 0.5), y=(qs + ks) / 2, mode="markers", marker=dict(size=6, opacity=0.0),
        customdata=[[plot_text(labels[q]), plot_text(labels[k])] for q, k in zip(qs, ks)],
        text=[f"{w:.3f}" for w in weights], showlegend=False, name="links",
        hovertemplate="query %{customdata[0]}<br>key %{customdata[1]}<br>weight %{text}<extra></extra>",
    ))
    for side, x, anchor in (("query", -0.02, "left"), ("key", 1.02, "right")):
        fig.add_trace(go.Scatter(
            x=[x] * n, y=list(range(n)), mode="text", text=[plot_text(t) for t in labels],
            textposition=f"middle {anchor}", showlegend=False, name=f"{side} tokens",
            textfont=dict(color=[SEGMENT_COLOURS[int(s)] if len(set(seg.tolist())) > 1 else "#222" for s in seg]),
            hovertemplate=f"{side} %{{text}}<extra></extra>",
        ))
    fig.update_layout(
        title=dict(text=title), height=int(min(2400, max(320, 60 + 22 * n))), plot_bgcolor="white",
        margin=dict(l=10, r=10, t=60 if title else 30, b=10),
    )
    fig.update_xaxes(range=[-0.7, 1.7], showticklabels=False, showgrid=False, zeroline=False,
                     tickmode="array", tickvals=[0, 1], ticktext=["queries", "keys"])
    fig.update_yaxes(range=[n - 0.5, -0.5], showticklabels=False, showgrid=False, zeroline=False)
    fig.add_annotation(x=0, y=-0.5, yshift=18, text="queries (attend from)", showarrow=False)
    fig.add_annotation(x=1, y=-0.5, yshift=18, text="keys (attend to)", showarrow=False)
    return fig
