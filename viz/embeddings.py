"""Figures for the input embeddings (token + segment + position), segments, and polysemy.

Arrays are `[pos, d_model]` per component; tokens are plain strings (labels get an
index prefix here, so repeated tokens stay distinct). No torch, no Streamlit.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from viz.common import DIVERGING, SEGMENT_COLOURS, SEQUENTIAL, check_matrix, token_labels
from viz.attention import plot_text
from viz.positional import LINE_COLOURS

SPECIAL_TOKENS = ("[CLS]", "[SEP]", "[PAD]", "[MASK]")


def _check_parts(tokens: Sequence[str], parts: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    checked = {}
    for name, matrix in parts.items():
        matrix = np.asarray(matrix, dtype=np.float64)
        if matrix.ndim != 2 or matrix.shape[0] != len(tokens):
            raise ValueError(f"{name} has shape {matrix.shape}, while number of tokens is {len(tokens)}")
        checked[name] = matrix
    return checked


def projections_onto(total: np.ndarray, parts: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Each part's signed length along the direction of `total`, per token.

    Because projection is linear, these add up to |total| exactly when the parts sum to
    total: the one honest way to stack vector pieces as bars.
    """
    norms = np.linalg.norm(total, axis=1)
    unit = total / np.where(norms > 0, norms, 1.0)[:, None]
    return {name: (np.asarray(part) * unit).sum(axis=1) for name, part in parts.items()}


def contribution_figure(tokens: Sequence[str], parts: Mapping[str, np.ndarray], total: np.ndarray,
                        total_name: str = "sum") -> go.Figure:
    """Stacked bars per token: each part's length along the sum's direction; a marker at |sum|."""
    parts = _check_parts(tokens, parts)
    total = _check_parts(tokens, {total_name: total})[total_name]
    labels = [plot_text(label) for label in token_labels(tokens)]
    positions = np.arange(len(tokens))
    fig = go.Figure()
    for i, (name, along) in enumerate(projections_onto(total, parts).items()):
        own_norm = np.linalg.norm(parts[name], axis=1)
        fig.add_trace(go.Bar(
            x=positions, y=along, name=name, marker_color=LINE_COLOURS[i % len(LINE_COLOURS)],
            customdata=np.stack([own_norm, np.array(labels, dtype=object)], axis=1),
            hovertemplate=(f"%{{customdata[1]}}<br>{name} along the {total_name}: %{{y:.4f}}"
                           f"<br>|{name}| = %{{customdata[0]:.4f}}<extra></extra>"),
        ))
    fig.add_trace(go.Scatter(
        x=positions, y=np.linalg.norm(total, axis=1), mode="markers", name=f"|{total_name}|",
        marker={"symbol": "line-ew-open", "size": 22, "color": "#000000", "line": {"width": 3}},
        hovertemplate=f"|{total_name}| = %{{y:.4f}}<extra></extra>",
    ))
    fig.update_layout(barmode="relative",
                      title=f"Each part's length along the {total_name} (bars stack to |{total_name}|)",
                      yaxis_title=f"length along the {total_name}", legend_title="part")
    fig.update_xaxes(tickvals=list(positions), ticktext=labels, title_text="pos")
    return fig


def component_norms(tokens: Sequence[str], parts: Mapping[str, np.ndarray]) -> pd.DataFrame:
    """One row per token, one column per part: its Euclidean norm."""
    parts = _check_parts(tokens, parts)
    return pd.DataFrame({f"|{name}|": np.linalg.norm(m, axis=1) for name, m in parts.items()},
                        index=token_labels(tokens))


def dims_figure(tokens: Sequence[str], parts: Mapping[str, np.ndarray], dims: Sequence[int],
                separate: Sequence[str] = ()) -> go.Figure:
    """One heatmap per part ([pos, chosen dims]) side by side.

    Parts share one colour range so that the sum is visibly the sum; parts named in
    `separate` (e.g. the LayerNorm output, on a different scale) get a second range.
    """
    parts = _check_parts(tokens, parts)
    dims = list(dims)
    d_model = next(iter(parts.values())).shape[1]
    if not dims or min(dims) < 0 or max(dims) >= d_model:
        raise ValueError(f"dimensions must be between 0 and {d_model - 1}, got {dims}")
    labels = [plot_text(label) for label in token_labels(tokens)]
    names = list(parts)
    shared = [n for n in names if n not in separate]
    fig = make_subplots(rows=1, cols=len(names), subplot_titles=names, horizontal_spacing=0.03)
    bounds = {}
    for group, axis in ((shared, "coloraxis"), ([n for n in names if n in separate], "coloraxis2")):
        if group:
            bounds[axis] = max(float(np.abs(parts[n][:, dims]).max()) for n in group) or 1.0
    for col, name in enumerate(names, start=1):
        axis = "coloraxis2" if name in separate else "coloraxis"
        fig.add_trace(go.Heatmap(
            z=parts[name][:, dims], x=np.arange(len(dims)), y=np.arange(len(tokens)), coloraxis=axis,
            customdata=np.array([[f"{lab} / dim {d}" for d in dims] for lab in labels], dtype=object),
            hovertemplate=f"{name}<br>%{{customdata}}<br>%{{z:.4f}}<extra></extra>", name=name,
        ), row=1, col=col)
        fig.update_xaxes(tickvals=list(range(len(dims))), ticktext=[str(d) for d in dims], row=1, col=col)
        fig.update_yaxes(tickvals=list(range(len(tokens))), ticktext=labels, autorange="reversed",
                         showticklabels=col == 1, row=1, col=col)
    layout = {"title": "A few dimensions of each part (x: d_model index)"}
    if "coloraxis" in bounds:
        layout["coloraxis"] = {"colorscale": DIVERGING, "cmid": 0.0, "cmin": -bounds["coloraxis"],
                               "cmax": bounds["coloraxis"], "colorbar": {"title": {"text": "parts"}, "x": 1.02}}
    if "coloraxis2" in bounds:
        layout["coloraxis2"] = {"colorscale": DIVERGING, "cmid": 0.0, "cmin": -bounds["coloraxis2"],
                                "cmax": bounds["coloraxis2"],
                                "colorbar": {"title": {"text": " / ".join(separate)}, "x": 1.12}}
    fig.update_layout(**layout)
    return fig


def segments_figure(rows: Sequence[tuple[str, Sequence[str], Sequence[int]]],
                    title: str = "Tokens, with the segment id of each under it") -> go.Figure:
    """Token strips, one per (title, tokens, segment ids): cells coloured by segment, ids drawn under.

    [CLS]/[SEP] are drawn as diamonds so the special tokens stand out.
    """
    fig = go.Figure()
    ticks, tick_text = [], []
    shown_segments = set()
    for r, (row_title, tokens, segment_ids) in enumerate(rows):
        if len(tokens) != len(segment_ids):
            raise ValueError(f"{row_title}: {len(tokens)} tokens, while number of segment ids is {len(segment_ids)}")
        y = -2.0 * r
        for seg in sorted(set(int(s) for s in segment_ids)):
            where = [i for i, s in enumerate(segment_ids) if int(s) == seg]
            symbols = ["diamond" if tokens[i] in SPECIAL_TOKENS else "square" for i in where]
            fig.add_trace(go.Scatter(
                x=where, y=[y] * len(where), mode="markers+text", name=f"segment {seg}",
                legendgroup=f"segment {seg}", showlegend=seg not in shown_segments,
                marker={"symbol": symbols, "size": 26, "color": SEGMENT_COLOURS[seg % len(SEGMENT_COLOURS)],
                        "opacity": 0.35},
                text=[plot_text(tokens[i]) for i in where], textposition="middle center",
                customdata=[plot_text(f"{i:02d} {tokens[i]}") for i in where],
                hovertemplate=f"%{{customdata}}<br>segment id {seg}<br>position id %{{x}}<extra>{row_title}</extra>",
            ))
            fig.add_trace(go.Scatter(
                x=where, y=[y - 0.7] * len(where), mode="text", text=[str(seg)] * len(where),
                showlegend=False, hoverinfo="skip", textfont={"color": SEGMENT_COLOURS[seg % len(SEGMENT_COLOURS)]},
            ))
            shown_segments.add(seg)
        ticks += [y, y - 0.7]
        tick_text += [row_title, "segment id"]
    longest = max((len(tokens) for _, tokens, _ in rows), default=1)
    fig.update_xaxes(title_text="position id", range=[-0.7, longest - 0.3], dtick=1)
    fig.update_yaxes(tickvals=ticks, ticktext=tick_text, range=[-2.0 * len(rows) + 0.8, 0.6], showgrid=False)
    fig.update_layout(title=title, height=140 + 120 * len(rows))
    return fig


def grouped_bars(labels: Sequence[str], series: Mapping[str, np.ndarray], title: str,
                 y_title: str, y_range: tuple[float, float] | None = None) -> go.Figure:
    """Grouped bars: one group per label, one bar per series."""
    fig = go.Figure()
    positions = np.arange(len(labels))
    labels = [plot_text(label) for label in labels]
    for i, (name, values) in enumerate(series.items()):
        if len(values) != len(labels):
            raise ValueError(f"{name} has {len(values)} values, while number of labels is {len(labels)}")
        fig.add_trace(go.Bar(x=positions, y=np.asarray(values, dtype=np.float64), name=name,
                             marker_color=LINE_COLOURS[i % len(LINE_COLOURS)],
                             customdata=list(labels),
                             hovertemplate=f"%{{customdata}}<br>{name}: %{{y:.4f}}<extra></extra>"))
    fig.update_xaxes(tickvals=list(positions), ticktext=list(labels))
    fig.update_layout(barmode="group", title=title, yaxis_title=y_title)
    if y_range is not None:
        fig.update_yaxes(range=list(y_range))
    return fig


def cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cosine similarity along the last axis (0 where a vector is zero)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    denom = np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1)
    return np.where(denom > 0, (a * b).sum(axis=-1) / np.where(denom > 0, denom, 1.0), 0.0)


def layer_similarity_figure(layer_names: Sequence[str], series: Mapping[str, np.ndarray]) -> go.Figure:
    """Cosine similarity per layer, one line per series (e.g. the word in sentence 1 vs sentence 2)."""
    fig = go.Figure()
    x = np.arange(len(layer_names))
    for i, (name, values) in enumerate(series.items()):
        if len(values) != len(layer_names):
            raise ValueError(f"{name} has {len(values)} values, while number of layers is {len(layer_names)}")
        fig.add_trace(go.Scatter(x=x, y=values, mode="lines+markers", name=name,
                                 line={"color": LINE_COLOURS[i % len(LINE_COLOURS)]},
                                 customdata=list(layer_names),
                                 hovertemplate=f"{name}<br>%{{customdata}}<br>cosine %{{y:.4f}}<extra></extra>"))
    fig.update_xaxes(tickvals=list(x), ticktext=list(layer_names), title_text="layer")
    # Zoom on the values (cosines near 1 would look flat on [-1, 1]), always showing 1 itself.
    lowest = min((float(np.min(v)) for v in series.values()), default=0.0)
    fig.update_yaxes(title_text="cosine similarity", range=[max(-1.05, lowest - 0.05), 1.02])
    fig.update_layout(title="The same word's vectors, layer by layer")
    return fig


def neighbours_figure(layer_names: Sequence[str], panels: Sequence[tuple[str, Sequence[str], np.ndarray]]) -> go.Figure:
    """Per panel (title, tokens, sims [layer, pos]): how similar the word is to each token, per layer.

    NaN cells (e.g. the word compared with itself) are left blank; the
    colour range is the true range of the other cells.
    """
    fig = make_subplots(rows=len(panels), cols=1, subplot_titles=[p[0] for p in panels], vertical_spacing=0.25)
    for r, (title, tokens, sims) in enumerate(panels, start=1):
        labels = [plot_text(label) for label in token_labels(tokens)]
        check_matrix(np.asarray(sims), layer_names, labels, title)
        fig.add_trace(go.Heatmap(
            z=sims, x=np.arange(len(tokens)), y=np.arange(len(layer_names)), coloraxis="coloraxis",
            customdata=np.array([[f"{lay} / {lab}" for lab in labels] for lay in layer_names], dtype=object),
            hovertemplate="%{customdata}<br>cosine %{z:.4f}<extra></extra>", name=title,
        ), row=r, col=1)
        # Exact ranges and no grid: blank (NaN) cells show the background colour and nothing else.
        fig.update_xaxes(tickvals=list(range(len(tokens))), ticktext=labels, range=[-0.5, len(tokens) - 0.5],
                         showgrid=False, row=r, col=1)
        fig.update_yaxes(tickvals=list(range(len(layer_names))), ticktext=list(layer_names),
                         range=[len(layer_names) - 0.5, -0.5], showgrid=False, row=r, col=1)
    finite = np.concatenate([np.asarray(p[2], dtype=np.float64).ravel() for p in panels]) if panels else np.zeros(1)
    finite = finite[np.isfinite(finite)]
    low, high = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    fig.update_layout(coloraxis={"colorscale": SEQUENTIAL, "cmin": low, "cmax": high if high > low else low + 1e-6,
                                 "colorbar": {"title": {"text": "cosine"}}},
                      title="Cosine of the word's vector with every token of its sentence",
                      height=200 + 60 * len(layer_names) * len(panels))
    return fig


def span_scores(outputs: np.ndarray, passage: Sequence[int], seed: int, max_len: int = 15) -> dict:
    """Span question answering as BERT fine-tunes it, with untrained (seeded random) vectors.

    A start vector S and an end vector E [d_model] are dotted with every passage token's
    final output; softmax over the passage gives P(start) and P(end). The answer is the span
    i <= j < i + max_len with the largest S.h_i + E.h_j. Returns p_start, p_end [passage],
    best (i, j) as passage indices, and S, E.
    """
    outputs = np.asarray(outputs, dtype=np.float64)
    rows = outputs[list(passage)]                                   # [passage, d_model]
    rng = np.random.default_rng(seed)
    start_vec, end_vec = rng.standard_normal((2, outputs.shape[1])) / np.sqrt(outputs.shape[1])
    start, end = rows @ start_vec, rows @ end_vec                   # [passage]
    p_start = np.exp(start - start.max())
    p_end = np.exp(end - end.max())
    pairs = [(i, j) for i in range(len(rows)) for j in range(i, min(len(rows), i + max_len))]
    best = max(pairs, key=lambda ij: start[ij[0]] + end[ij[1]]) if pairs else (0, 0)
    return {"p_start": p_start / p_start.sum(), "p_end": p_end / p_end.sum(), "best": best,
            "S": start_vec, "E": end_vec}


def nearest_tokens(tokens: Sequence[str], sims: np.ndarray, word_pos: int, k: int = 3) -> list[tuple[str, float]]:
    """The k tokens (index-labelled) most similar to the one at word_pos, itself excluded."""
    labels = token_labels(tokens)
    order = [int(i) for i in np.argsort(-np.asarray(sims), kind="stable") if int(i) != word_pos]
    return [(labels[i], float(sims[i])) for i in order[:k]]
