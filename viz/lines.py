"""One head's attention as lines: query tokens on the left, key tokens on the right, one line per link.

Input: a ``[query_pos, key_pos]`` pattern and its tokens; ``lines`` returns a ``Chart``.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from viz.common import SEGMENT_COLOURS, Chart, check_matrix, figure, plot_text, token_labels

# Lines are grouped into these weight bins, one trace each (the last edge lets 1.0 in).
WEIGHT_EDGES = (0.0, 0.1, 0.25, 0.5, 0.75, 1.01)


def lines(pattern: np.ndarray, tokens: Sequence[str], *, segments: Sequence[int] | None = None,
          min_weight: float = 0.05, top_k: int | None = None, title: str = "",
          key_tokens: Sequence[str] | None = None, sides: tuple[str, str] = ("queries (attend from)", "keys (attend to)"),
          names: tuple[str, str] = ("query", "key"), positions: Sequence[int] | None = None) -> Chart:
    """Query tokens on the left, key tokens on the right, one line per link; width and opacity = weight.

    ``key_tokens`` (cross-attention: the source sentence) when the keys are not the queries'
    own tokens; ``sides`` are the two column headings and ``names`` the hover's and the table's names.

    Links below ``min_weight`` are left out; with ``top_k`` only each query's
    strongest ``top_k`` links are drawn (for long inputs). Lines are grouped
    into a few weight bins (one trace each) so hundreds of links stay fast;
    a marker at each line's middle carries the hover (query, key, weight).

    Table: one row per link drawn, indexed by (query, key) labels, with its weight.
    """
    pattern = np.asarray(pattern, dtype=np.float32)
    labels = token_labels(tokens, positions)     # positions: the tokens' own, when markers are hidden
    key_labels = labels if key_tokens is None else token_labels(key_tokens)
    check_matrix(pattern, labels, key_labels, "lines pattern")
    n, n_keys = len(labels), len(key_labels)
    keep = pattern >= min_weight
    if top_k is not None and top_k < n_keys:
        kth = -np.sort(-pattern, axis=-1)[:, top_k - 1: top_k]
        keep &= pattern >= kth
    qs, ks = np.nonzero(keep)
    weights = pattern[qs, ks]
    seg = np.asarray(segments) if segments is not None else np.zeros(max(n, n_keys), dtype=int)
    data = _link_traces(qs, ks, weights, seg)
    q_name, k_name = names
    data.append(dict(
        type="scatter", x=np.full(len(qs), 0.5), y=(qs + ks) / 2, mode="markers", marker=dict(size=6, opacity=0.0),
        customdata=[[plot_text(labels[q]), plot_text(key_labels[k])] for q, k in zip(qs, ks)],
        text=[f"{w:.3f}" for w in weights], showlegend=False, name="links",
        hovertemplate=f"{q_name} %{{customdata[0]}}<br>{k_name} %{{customdata[1]}}<br>weight %{{text}}<extra></extra>",
    ))
    two_segments = len(set(seg.tolist())) > 1
    for side, x, anchor, side_labels in ((q_name, -0.02, "left", labels), (k_name, 1.02, "right", key_labels)):
        data.append(dict(
            type="scatter", x=[x] * len(side_labels), y=list(range(len(side_labels))), mode="text",
            text=[plot_text(t) for t in side_labels], textposition=f"middle {anchor}", showlegend=False,
            name=f"{side} tokens", hovertemplate=f"{side} %{{text}}<extra></extra>",
            textfont=dict(color=[SEGMENT_COLOURS[int(s)] if two_segments else "#222"
                                 for s in seg[:len(side_labels)]]),
        ))
    rows = max(n, n_keys)
    layout = dict(
        title=dict(text=title), height=int(min(2400, max(320, 60 + 22 * rows))), plot_bgcolor="white",
        margin=dict(l=10, r=10, t=60 if title else 30, b=10),
        xaxis=dict(range=[-0.7, 1.7], showticklabels=False, showgrid=False, zeroline=False,
                   tickmode="array", tickvals=[0, 1], ticktext=["queries", "keys"]),
        yaxis=dict(range=[rows - 0.5, -0.5], showticklabels=False, showgrid=False, zeroline=False),
        annotations=[dict(x=0, y=-0.5, yshift=18, text=sides[0], showarrow=False),
                     dict(x=1, y=-0.5, yshift=18, text=sides[1], showarrow=False)],
    )
    index = pd.MultiIndex.from_arrays([[labels[q] for q in qs], [key_labels[k] for k in ks]], names=list(names))
    return Chart(figure(data, layout), pd.DataFrame({"weight": weights}, index=index))


def _link_traces(qs: np.ndarray, ks: np.ndarray, weights: np.ndarray, seg: np.ndarray) -> list[dict]:
    """One line trace per (weight bin, segment of the query): x 0 -> 1, y query -> key, None between links."""
    traces = []
    edges = WEIGHT_EDGES
    for b in range(len(edges) - 1):
        for s in sorted(set(seg.tolist())):
            sel = (weights >= edges[b]) & (weights < edges[b + 1]) & (seg[qs] == s)
            if not sel.any():
                continue
            xs, ys = [], []
            for q, k in zip(qs[sel], ks[sel]):
                xs += [0.0, 1.0, None]
                ys += [int(q), int(k), None]
            top = min(edges[b + 1], 1.0)
            mid = (edges[b] + top) / 2
            traces.append(dict(
                type="scatter", x=xs, y=ys, mode="lines", hoverinfo="skip", showlegend=False,
                name=f"weight {edges[b]:.2f}-{top:.2f}",
                line=dict(width=0.5 + 7 * mid, color=SEGMENT_COLOURS[s]), opacity=float(0.25 + 0.75 * mid),
            ))
    return traces
