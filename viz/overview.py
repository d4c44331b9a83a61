"""Every layer and head at a glance: one mosaic of small attention tiles, each a click target for its head,
and one score per head (the head finder) as a grid of clickable squares.

The pattern comes in already shrunk (``analysis.downsample(pattern, MAX_TILE, how="mass")``) as
``[layer, head, query block, key block]``; ``heads_grid`` returns a ``Chart``.
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import pandas as pd

from viz.common import SEQUENTIAL, Chart, colorscale, figure, follow_marks, plot_text, token_labels

# The overview keeps each head at most this many cells a side (the pages shrink patterns to it).
MAX_TILE = 48


def heads_grid(small: np.ndarray, tokens: Sequence[str], block: int, *,
               selected: tuple[int, int] | None = None, zmax: float | None = 1.0, follow: int | None = None,
               positions: Sequence[int] | None = None) -> Chart:
    """Every layer x head as small multiples in one figure.

    ``small`` is the [layer, head, query_pos, key_pos] pattern shrunk in ``block`` x ``block``
    blocks (block 1: every token); ``tokens`` are the tokens before shrinking. The heads are
    tiled into one heatmap (rows = layers, columns = heads, NaN gaps between tiles), plus one
    invisible click target as large as each tile (trace 1, ``customdata`` = [layer, head]); ``selected``
    (layer, head) is outlined. The colour bar spans 0..``zmax`` (None: 0..the largest weight shown). ``follow``
    (a token position) outlines that token's row (as query) and column (as key) in every tile.

    Table: a row per (layer, head, query), a column per key (or key block), named by tokens
    ("03 cat") or token ranges ("tokens 0-10").
    """
    small = np.asarray(small)
    if small.ndim != 4:
        raise ValueError(f"patterns must be [layer, head, query_pos, key_pos], got shape {small.shape}")
    n_layers, n_heads, n_q, n_k = small.shape
    if n_q != n_k:
        raise ValueError(f"the overview needs square patterns, got {n_q} queries and {n_k} keys")
    names = block_names(tokens, block, n_k, positions if block == 1 else None)
    # The hover reads layer/query from the row's category and head/key from the
    # column's: one label per row and column, not a text per cell (megabytes).
    escaped = [plot_text(name) for name in names]
    cols = _mosaic_categories("head", "key", n_heads, escaped)
    rows = _mosaic_categories("layer", "query", n_layers, escaped)
    tiles = _mosaic(small)
    top = zmax if zmax is not None else (float(np.nanmax(tiles)) if np.isfinite(tiles).any() else 1.0) or 1.0
    mosaic = dict(type="heatmap", z=tiles, x=cols, y=rows, zmin=0.0, zmax=top,
                  colorscale=colorscale(SEQUENTIAL), hovertemplate="%{y}<br>%{x}<br>weight %{z:.3f}<extra></extra>",
                  hoverongaps=False, colorbar=dict(title=dict(text="weight"), thickness=14))
    data = [mosaic, _tile_targets(rows, cols, n_layers, n_heads, n_k)]
    layout = _mosaic_layout(n_layers, n_heads, n_k, selected)
    if follow is not None and 0 <= follow // block < n_k:
        layout["shapes"] = layout.get("shapes", []) + follow_marks(follow // block, n_layers, n_heads, n_k)
    return Chart(figure(data, layout), _grid_table(small, names))



def block_names(tokens: Sequence[str], block: int, n_blocks: int, positions: Sequence[int] | None = None) -> list[str]:
    """Names of the positions of a pattern shrunk in blocks of ``block`` tokens: "03 cat" or "tokens 0-10"."""
    labels = token_labels(tokens, positions)
    if block == 1:
        if n_blocks != len(labels):
            raise ValueError(f"Attention has {n_blocks}x{n_blocks} positions, while number of tokens is {len(labels)}")
        return labels
    if n_blocks != math.ceil(len(labels) / block):
        raise ValueError(f"Attention has {n_blocks} blocks of {block} tokens, while {len(labels)} tokens make "
                         f"{math.ceil(len(labels) / block)} blocks")
    return [f"tokens {i * block}-{min((i + 1) * block, len(labels)) - 1}" for i in range(n_blocks)]


def _mosaic_categories(tile_name: str, pos_name: str, n_tiles: int, names: Sequence[str]) -> list[str]:
    """One unique label per row (or column) of the overview mosaic: "head 2 · key 03 cat", gaps "head 2 |"."""
    labels: list[str] = []
    for t in range(n_tiles):
        if t:
            labels.append(f"{tile_name} {t - 1} |")  # the NaN gap after the previous tile (never hovered)
        labels += [f"{tile_name} {t} · {pos_name} {name}" for name in names]
    return labels


def _mosaic(small: np.ndarray) -> np.ndarray:
    """The [layer, head, tile, tile] tiles in one matrix, one NaN row/column between tiles."""
    n_layers, n_heads, tile, _ = small.shape
    step = tile + 1
    mosaic = np.full((n_layers * step - 1, n_heads * step - 1), np.nan, dtype=np.float32)
    for layer in range(n_layers):
        for head in range(n_heads):
            mosaic[layer * step: layer * step + tile, head * step: head * step + tile] = small[layer, head]
    return mosaic


def _tile_targets(rows: Sequence[str], cols: Sequence[str], n_layers: int, n_heads: int, tile: int) -> dict:
    """One invisible square per head, as large as its tile, at the tile's centre: a click anywhere on a tile
    selects it (a heatmap's cells cannot be selected). Sized from the figure's height, which bounds the tiles."""
    step, middle = tile + 1, tile // 2
    height = _mosaic_layout(n_layers, n_heads, tile, None)["height"] - 70        # minus the margins
    size = max(8, int(0.95 * min(height / max(n_layers, 1), 1100 / max(n_heads, 1))))
    heads = [[layer, head] for layer in range(n_layers) for head in range(n_heads)]
    return dict(type="scatter", x=[cols[h * step + middle] for _, h in heads],
                y=[rows[l * step + middle] for l, _ in heads], mode="markers", customdata=heads, name="tiles",
                marker=dict(size=size, symbol="square", color="rgba(0,0,0,0)", line=dict(width=0)),
                hovertemplate="layer %{customdata[0]}, head %{customdata[1]}<br>click to open<extra></extra>",
                showlegend=False)


def _mosaic_layout(n_layers: int, n_heads: int, tile: int, selected: tuple[int, int] | None) -> dict:
    step = tile + 1
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
    return layout


def _grid_table(small: np.ndarray, names: Sequence[str]) -> pd.DataFrame:
    """The overview's data: a row per (layer, head, query), a column per key (or key block)."""
    n_layers, n_heads, n_q, n_k = small.shape
    index = pd.MultiIndex.from_product([range(n_layers), range(n_heads), list(names)], names=["layer", "head", "query"])
    return pd.DataFrame(small.reshape(-1, n_k), index=index, columns=pd.Index(list(names), name="key"))


def head_scores_figure(scores: np.ndarray, title: str, *, selected: tuple[int, int] | None = None) -> Chart:
    """One score per head [layer, head] as a grid of clickable squares (rows = layers, columns = heads).

    Each square is a marker of one scatter trace (trace 0, ``customdata`` = [layer, head]), so a click anywhere
    on it opens that head; its colour and printed value are the score (colour bar fitted to 0..the largest
    score); ``selected`` is outlined in black.

    Table: the scores, index "layer", a column per head.
    """
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim != 2:
        raise ValueError(f"scores must be [layer, head], got shape {scores.shape}")
    n_layers, n_heads = scores.shape
    layers, heads = np.meshgrid(np.arange(n_layers), np.arange(n_heads), indexing="ij")
    top = float(scores.max(initial=0.0)) or 1.0
    outline = [3 if selected == (l, h) else 0 for l, h in zip(layers.flat, heads.flat)]
    data = [dict(
        type="scatter", mode="markers+text", x=heads.ravel(), y=layers.ravel(),
        customdata=np.stack([layers.ravel(), heads.ravel()], axis=1).tolist(),
        text=[f"{v:.2f}" for v in scores.ravel()], textfont=dict(size=11, color="#31333f"),
        marker=dict(symbol="square", size=34, color=scores.ravel(), cmin=0.0, cmax=top,
                    colorscale=colorscale(SEQUENTIAL), line=dict(color="#000000", width=outline),
                    colorbar=dict(title=dict(text="score"), thickness=14)),
        hovertemplate="layer %{customdata[0]}, head %{customdata[1]}<br>score %{marker.color:.3f}<extra></extra>",
        showlegend=False)]
    layout = dict(
        title=dict(text=plot_text(title)), height=110 + 40 * n_layers, clickmode="event+select",
        xaxis=dict(tickvals=list(range(n_heads)), ticktext=[f"head {h}" for h in range(n_heads)], showgrid=False,
                   zeroline=False, range=[-0.6, n_heads - 0.4]),
        yaxis=dict(tickvals=list(range(n_layers)), ticktext=[f"layer {l}" for l in range(n_layers)], showgrid=False,
                   zeroline=False, autorange="reversed"),
        margin=dict(l=10, r=10, t=60, b=10),
    )
    table = pd.DataFrame(scores, index=pd.Index(range(n_layers), name="layer"),
                         columns=[f"head {h}" for h in range(n_heads)])
    return Chart(figure(data, layout), table)
