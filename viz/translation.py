"""Figures for the encoder-decoder: cross-attention, every head of it, the three kinds of attention,
one decoding step, and teacher forcing.

Cross-attention matrices are ``[target_pos, source_pos]``: rows are the decoder's positions (the
queries), labelled by the token each one produces; columns are the source tokens (keys and values).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from viz.common import (LINE_COLOURS, MASKED_COLOUR, SEQUENTIAL, Chart, colorscale, figure, layout_axis, plot_text,
                        subplot_axes, subplots_layout, token_labels)
from viz.heatmap import axis_ticks, heatmap
from viz.lines import lines

# (source language, target language) as the labels name them; a loaded model that is not the
# bundled English-to-French one is labelled ("source", "target").
LANGUAGES = ("English", "French")
# The every-head grid draws at most this many target and source positions.
GRID_MAX = 40


def target_axis(languages: tuple[str, str] = LANGUAGES) -> str:
    return f"{languages[1]} token being produced (query)"


def source_axis(languages: tuple[str, str] = LANGUAGES) -> str:
    return f"{languages[0]} token read (key)"


def cross_heatmap(pattern: np.ndarray, source_tokens: Sequence[str], produced: Sequence[str], *,
                  title: str = "", languages: tuple[str, str] = LANGUAGES, zmax: float | None = 1.0) -> Chart:
    """One cross-attention matrix [target_pos, source_pos]; rows named by the token produced there
    (colour bar 0..``zmax``, None: 0..the largest weight).

    Table: the matrix, index "03 fichier" (the produced tokens), columns the source tokens.
    """
    return heatmap(pattern, token_labels(produced), token_labels(source_tokens), title=title,
                   row_title=target_axis(languages), col_title=source_axis(languages), zmin=0.0, zmax=zmax)


def cross_lines(pattern: np.ndarray, source_tokens: Sequence[str], produced: Sequence[str], *,
                title: str = "", languages: tuple[str, str] = LANGUAGES) -> Chart:
    """The cross-attention of one head as lines from each produced token to the source tokens it reads."""
    return lines(pattern, produced, key_tokens=source_tokens, title=title, min_weight=0.1,
                 sides=(f"{languages[1]}, being produced", f"{languages[0]}, read"), names=("target", "source"))


def cross_grid(cross: np.ndarray, source_tokens: Sequence[str], produced: Sequence[str],
               selected: tuple[int, int] | None = None, languages: tuple[str, str] = LANGUAGES,
               zmax: float | None = 1.0) -> Chart:
    """Every layer x head of cross-attention as small heatmaps (rows = layers, columns = heads), one colour
    bar 0..``zmax`` (None: 0..the largest weight shown).

    At most GRID_MAX target rows and source columns are drawn (the first ones); the title says so.
    Each tile has a clickable square in its corner (a scatter trace, ``customdata`` = [layer, head]).
    Table: one row per (layer, head, target token), one column per source token drawn.
    """
    cross = np.asarray(cross, dtype=np.float32)
    n_layers, n_heads, n_t, n_s = cross.shape
    t_shown, s_shown = min(n_t, GRID_MAX), min(n_s, GRID_MAX)
    small = cross[:, :, :t_shown, :s_shown]
    top = zmax if zmax is not None else float(small.max(initial=0.0)) or 1.0
    titles = [f"L{layer} H{head}" + (" (selected)" if (layer, head) == selected else "")
              for layer in range(n_layers) for head in range(n_heads)]
    layout = subplots_layout(n_layers, n_heads, titles, horizontal_spacing=0.02, vertical_spacing=0.06)
    sources = [plot_text(t) for t in token_labels(source_tokens)[:s_shown]]
    targets = [plot_text(t) for t in token_labels(produced)[:t_shown]]
    # Every tile's [target, source] label per cell, one numpy string array shared by the tiles: plotly deep-copies
    # a figure's data twice on its way to the browser, and nested Python lists (48 tiles x 225 pairs) made that
    # copy 40 % of the Translation page's server time; an array is copied in one step.
    cells = np.stack(np.broadcast_arrays(np.array(targets, dtype=str)[:, None], np.array(sources, dtype=str)[None, :]),
                     axis=-1)
    data = []
    for layer in range(n_layers):
        for head in range(n_heads):
            axes = subplot_axes(layer + 1, head + 1, n_heads)
            data.append(dict(type="heatmap", z=small[layer, head], x=list(range(s_shown)), y=list(range(t_shown)),
                             zmin=0.0, zmax=top, colorscale=colorscale(SEQUENTIAL), showscale=layer == head == 0,
                             customdata=cells,
                             hovertemplate=(f"layer {layer} head {head}<br>target %{{customdata[0]}}<br>"
                                            "source %{customdata[1]}<br>weight %{z:.3f}<extra></extra>"),
                             colorbar=dict(title=dict(text="weight"), thickness=12), **axes))
            # an invisible square as large as the tile: a click anywhere on it opens the head
            data.append(dict(type="scatter", x=[(s_shown - 1) / 2], y=[(t_shown - 1) / 2], mode="markers",
                             customdata=[[layer, head]], marker=dict(size=150, symbol="square",
                                                                     color="rgba(0,0,0,0)", line=dict(width=0)),
                             hovertemplate=f"layer {layer}, head {head}<br>click to open<extra></extra>",
                             showlegend=False, name="tiles", **axes))
            if (layer, head) == selected:
                layout.setdefault("shapes", []).append(dict(
                    type="rect", xref=f"{axes['xaxis']} domain", yref=f"{axes['yaxis']} domain",
                    x0=0, x1=1, y0=0, y1=1, line=dict(color="#E69F00", width=3)))
            layout[layout_axis(axes["xaxis"])].update(showticklabels=False, showgrid=False, zeroline=False)
            layout[layout_axis(axes["yaxis"])].update(showticklabels=False, showgrid=False, zeroline=False,
                                                      autorange="reversed")
    cut = "" if (t_shown, s_shown) == (n_t, n_s) else f" (first {t_shown} target x {s_shown} source tokens)"
    layout.update(height=int(120 + 170 * n_layers), margin=dict(l=10, r=10, t=70, b=10),
                  title=dict(text=f"Cross-attention of every head{cut}: rows = {languages[1]} tokens produced, "
                                  f"columns = {languages[0]} tokens"))
    index = pd.MultiIndex.from_tuples(
        [(layer, head, label) for layer in range(n_layers) for head in range(n_heads)
         for label in token_labels(produced)[:t_shown]], names=["layer", "head", "target"])
    table = pd.DataFrame(small.reshape(-1, s_shown), index=index, columns=token_labels(source_tokens)[:s_shown])
    return Chart(figure(data, layout), table)


def three_attentions(encoder_self: np.ndarray, decoder_self: np.ndarray, cross: np.ndarray,
                     source_tokens: Sequence[str], target_inputs: Sequence[str],
                     produced: Sequence[str], languages: tuple[str, str] = LANGUAGES,
                     zmax: float | None = 1.0) -> Chart:
    """The three kinds of attention of one layer and head side by side in one figure, one colour scale
    (0..``zmax``; None: 0..the largest weight of the three),
    each with its mask drawn (grey = blocked).

    Encoder self-attention: source x source, nothing blocked (bidirectional). Decoder self-attention:
    produced x decoder inputs, the upper triangle blocked (causal). Cross-attention: produced x
    source, nothing blocked (every step reads the whole source). Rows are queries, columns keys.
    Table: the three matrices stacked, indexed by (attention, query), blocked cells empty.
    """
    n_t = len(produced)
    source, target, inputs = token_labels(source_tokens), token_labels(produced), token_labels(target_inputs)
    panels = (
        ("encoder self-attention", f"{languages[0]} (query) x {languages[0]} (key)", encoder_self, source, source,
         np.zeros(np.shape(encoder_self), dtype=bool)),
        ("decoder masked self-attention", f"{languages[1]} produced x decoder input", decoder_self, target, inputs,
         ~np.tri(n_t, dtype=bool)),
        ("cross-attention", f"{languages[1]} produced x {languages[0]} read", cross, target, source,
         np.zeros(np.shape(cross), dtype=bool)),
    )
    layout = subplots_layout(1, 3, [f"<b>{name}</b><br>{axes}" for name, axes, *_ in panels], horizontal_spacing=0.15)
    data, frames = [], []
    top = zmax if zmax is not None else max(float(np.max(p[2], initial=0.0)) for p in panels) or 1.0
    for col, (name, _, matrix, rows, cols, blocked) in enumerate(panels, start=1):
        z = np.where(blocked, np.nan, np.asarray(matrix, dtype=np.float32))
        axes = subplot_axes(1, col, 3)
        row_cats, col_cats = [plot_text(r) for r in rows], [plot_text(c) for c in cols]
        data.append(dict(type="heatmap", z=z, x=col_cats, y=row_cats, zmin=0.0, zmax=top,
                         colorscale=colorscale(SEQUENTIAL), showscale=col == 3, hoverongaps=False,
                         colorbar=dict(title=dict(text="weight"), thickness=12),
                         hovertemplate=f"{name}<br>query %{{y}}<br>key %{{x}}<br>weight %{{z:.3f}}<extra></extra>",
                         **axes))
        xt, xl = axis_ticks(cols)
        yt, yl = axis_ticks(rows)
        layout[layout_axis(axes["xaxis"])].update(type="category", tickmode="array", tickangle=-90,
                                                  tickvals=[col_cats[i] for i in xt], ticktext=xl, showgrid=False)
        layout[layout_axis(axes["yaxis"])].update(type="category", tickmode="array", autorange="reversed",
                                                  tickvals=[row_cats[i] for i in yt], ticktext=yl, showgrid=False)
        frame = pd.DataFrame(z, index=pd.Index(rows, name="query"), columns=cols)
        frames.append(frame.stack(future_stack=True).rename("weight").to_frame().assign(attention=name))
    if (~np.tri(n_t, dtype=bool)).any():
        data.append(dict(type="scatter", x=[None], y=[None], mode="markers", name="blocked by the mask",
                         marker=dict(symbol="square", size=12, color=MASKED_COLOUR, line=dict(color="#636363", width=1))))
    n = max(len(source), n_t)
    layout.update(height=int(min(900, max(380, 200 + 20 * n))), plot_bgcolor=MASKED_COLOUR, showlegend=True,
                  legend=dict(orientation="h", y=-0.25), margin=dict(l=10, r=10, t=80, b=10))
    table = pd.concat(frames).reset_index().rename(columns={"level_1": "key"})
    return Chart(figure(data, layout), table.set_index(["attention", "query", "key"]))


def step_rows(cross_row: np.ndarray, self_row: np.ndarray, source_tokens: Sequence[str],
              so_far: Sequence[str], *, title: str = "", languages: tuple[str, str] = LANGUAGES) -> Chart:
    """One decoding step's two attention rows as bars: over the source (cross) and over the tokens so far (causal).

    Table: one row per bar, indexed by (attention, token), column "weight".
    """
    panels = ((f"cross-attention: {languages[0]} tokens read", token_labels(source_tokens), np.asarray(cross_row)),
              (f"masked self-attention: {languages[1]} tokens so far", token_labels(so_far), np.asarray(self_row)))
    layout = subplots_layout(1, 2, [name for name, _, _ in panels], horizontal_spacing=0.18)
    data, rows = [], []
    for col, (name, labels, weights) in enumerate(panels, start=1):
        axes = subplot_axes(1, col, 2)
        order = np.arange(len(labels))
        data.append(dict(type="bar", x=weights, y=order, orientation="h", marker=dict(color=LINE_COLOURS[col - 1]),
                         customdata=[plot_text(label) for label in labels], showlegend=False, name=name,
                         hovertemplate="%{customdata}<br>weight %{x:.3f}<extra></extra>", **axes))
        layout[layout_axis(axes["yaxis"])].update(tickvals=list(order), ticktext=[plot_text(x) for x in labels],
                                                  autorange="reversed")
        layout[layout_axis(axes["xaxis"])].update(range=[0, 1], title=dict(text="weight"))
        rows += [(name, label, float(w)) for label, w in zip(labels, weights)]
    layout.update(height=int(140 + 22 * max(len(source_tokens), len(so_far))), title=dict(text=title),
                  margin=dict(l=10, r=10, t=80, b=10))
    table = pd.DataFrame(rows, columns=["attention", "token", "weight"]).set_index(["attention", "token"])
    return Chart(figure(data, layout), table)


def reference_probs(reference_tokens: Sequence[str], probs: Sequence[float], *, title: str = "") -> Chart:
    """Teacher forcing: each reference token's probability given the source and the reference before it.

    Table: one row per reference token, columns "probability" and "loss (nats)" = -ln p.
    """
    labels = token_labels(reference_tokens)
    probs = np.asarray(probs, dtype=np.float64)
    loss = -np.log(np.clip(probs, 1e-45, None))
    order = np.arange(len(labels))
    data = [dict(type="bar", x=order, y=probs, marker=dict(color=LINE_COLOURS[2]),
                 customdata=[[plot_text(label), float(nats)] for label, nats in zip(labels, loss)],
                 text=[f"{p:.0%}" for p in probs], textposition="outside", name="p(reference token)",
                 hovertemplate="%{customdata[0]}<br>probability %{y:.4f}<br>-ln p = %{customdata[1]:.3f}<extra></extra>")]
    layout = dict(title=dict(text=title), height=380, margin=dict(l=10, r=10, t=60, b=10),
                  xaxis=dict(tickmode="array", tickvals=list(order), ticktext=[plot_text(x) for x in labels],
                             tickangle=-60, title=dict(text="reference token (target)")),
                  yaxis=dict(range=[0, 1.12], title=dict(text="probability"), tickformat=".0%"))
    table = pd.DataFrame({"probability": probs, "loss (nats)": loss}, index=pd.Index(labels, name="reference token"))
    return Chart(figure(data, layout), table)
