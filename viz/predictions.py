"""Figures for predictions: top-k bars, BERT's masking procedure, head ablation.

Also the masking procedure itself (`bert_mask_plan`), pure numpy with a seed, so the
page, the service and the tests all run the same steps. No torch, no Streamlit.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import plotly.graph_objects as go

from viz.common import figure, layout_axis, subplot_axes, subplots_layout, token_labels
from viz.attention import plot_text
from viz.positional import LINE_COLOURS

# What happened to each position in the masking procedure, and its colour (Okabe-Ito).
ACTION_COLOURS = {
    "not chosen": "#BBBBBB",
    "[MASK]": "#0072B2",
    "random": "#D55E00",
    "unchanged": "#009E73",
    "special": "#FFFFFF",
}


def topk_figure(predictions: Sequence[Sequence[tuple[str, float]]], titles: Sequence[str],
                colour: str = LINE_COLOURS[0]) -> go.Figure:
    """One horizontal bar panel per prediction list, best on top, x = probability (shared range)."""
    if len(predictions) != len(titles):
        raise ValueError(f"{len(predictions)} prediction lists, while number of titles is {len(titles)}")
    n = max(len(predictions), 1)
    # One x range for every panel: the largest probability plus room for its label, at least 10%.
    largest = max((p for preds in predictions for _, p in preds), default=0.0)
    x_max = max(0.1, min(1.0, largest * 1.3))
    layout = subplots_layout(1, n, [plot_text(t) for t in titles] or [""], horizontal_spacing=0.12)
    data = []
    for col, preds in enumerate(predictions, start=1):
        tokens = [plot_text(tok) for tok, _ in preds]
        probs = np.array([p for _, p in preds], dtype=np.float64)
        rank = np.arange(len(tokens))
        axes = subplot_axes(1, col, n)
        data.append(dict(
            type="bar", x=probs, y=rank, orientation="h", marker=dict(color=colour), showlegend=False,
            text=[f"{p:.1%}" for p in probs], textposition="outside", customdata=tokens,
            hovertemplate="%{customdata}<br>probability %{x:.4f}<extra></extra>", name=titles[col - 1], **axes,
        ))
        layout[layout_axis(axes["yaxis"])].update(
            tickvals=list(rank), ticktext=[f"{i + 1}. {t}" for i, t in enumerate(tokens)], autorange="reversed")
        layout[layout_axis(axes["xaxis"])].update(
            range=[0, x_max], title=dict(text="probability"), tickformat=".0%")
    layout["height"] = 160 + 28 * max((len(p) for p in predictions), default=1)
    return figure(data, layout)


@dataclass(frozen=True)
class MaskPlan:
    """The outcome of BERT's masking procedure on one token sequence."""
    actions: tuple[str, ...]         # per position: a key of ACTION_COLOURS
    input_ids: tuple[int, ...]       # the ids the model sees after masking
    chosen: tuple[int, ...]          # chosen positions, in sentence order


def bert_mask_plan(token_ids: Sequence[int], special: Sequence[bool], mask_id: int,
                   replacement_ids: Sequence[int], seed: int, rate: float = 0.15) -> MaskPlan:
    """BERT's pre-training masking (Devlin et al. 2019, create_pretraining_data.py).

    Choose round(rate * n) of the n ordinary tokens (at least one) at random; each
    chosen token becomes [MASK] with probability 0.8, stays unchanged with 0.1, and is
    replaced by a random token from `replacement_ids` with 0.1. Special tokens are never
    chosen. Every chosen position is predicted, whatever happened to it.
    """
    if len(token_ids) != len(special):
        raise ValueError(f"{len(token_ids)} token ids, while the special-token flags number {len(special)}")
    rng = np.random.default_rng(seed)
    candidates = [i for i, is_special in enumerate(special) if not is_special]
    actions = ["special" if s else "not chosen" for s in special]
    ids = list(int(t) for t in token_ids)
    if not candidates:
        return MaskPlan(tuple(actions), tuple(ids), ())
    n_chosen = min(len(candidates), max(1, int(round(rate * len(candidates)))))
    chosen = sorted(int(i) for i in rng.permutation(candidates)[:n_chosen])
    for pos in chosen:
        draw = rng.random()
        if draw < 0.8:
            actions[pos], ids[pos] = "[MASK]", int(mask_id)
        elif draw < 0.9:
            actions[pos] = "unchanged"
        else:
            actions[pos] = "random"
            ids[pos] = int(replacement_ids[int(rng.integers(len(replacement_ids)))])
    return MaskPlan(tuple(actions), tuple(ids), tuple(chosen))


def masking_figure(tokens: Sequence[str], input_tokens: Sequence[str], actions: Sequence[str]) -> go.Figure:
    """Two strips: the sentence, and what the model sees, cells coloured by what happened."""
    if not len(tokens) == len(input_tokens) == len(actions):
        raise ValueError(f"{len(tokens)} tokens, {len(input_tokens)} input tokens and {len(actions)} actions "
                         "must match")
    labels = [plot_text(label) for label in token_labels(tokens)]
    tokens, input_tokens = [plot_text(t) for t in tokens], [plot_text(t) for t in input_tokens]
    data = []
    for action, colour in ACTION_COLOURS.items():
        where = [i for i, a in enumerate(actions) if a == action]
        if not where:
            continue
        for y, row_tokens, row in ((1.0, tokens, "sentence"), (0.0, input_tokens, "model input")):
            data.append(dict(
                type="scatter", x=where, y=[y] * len(where), mode="markers+text", name=action, legendgroup=action,
                showlegend=row == "sentence",
                marker={"symbol": "square", "size": 30, "color": colour, "opacity": 0.45,
                        "line": {"color": "#555555", "width": 1}},
                text=[row_tokens[i] for i in where], textposition="middle center",
                customdata=[labels[i] for i in where],
                hovertemplate=f"%{{customdata}}<br>{row}: %{{text}}<br>{action}<extra></extra>",
            ))
    layout = dict(
        title=dict(text="BERT masking: chosen positions and what the model sees"), height=260,
        legend={"orientation": "h", "y": -0.35},
        yaxis=dict(tickvals=[1.0, 0.0], ticktext=["sentence", "model input"], range=[-0.6, 1.6], showgrid=False),
        xaxis=dict(title=dict(text="pos"), range=[-0.7, len(tokens) - 0.3], tickvals=list(range(len(tokens))),
                   ticktext=labels),
    )
    return figure(data, layout)


def ablation_figure(tokens: Sequence[str], before: Sequence[float], after: Sequence[float],
                    title: str) -> go.Figure:
    """Grouped horizontal bars: each token's probability with all heads, and with heads off."""
    if not len(tokens) == len(before) == len(after):
        raise ValueError(f"{len(tokens)} tokens, {len(before)} and {len(after)} probabilities must match")
    rank = np.arange(len(tokens))
    tokens = [plot_text(t) for t in tokens]
    series = (("all heads", before, LINE_COLOURS[0]), ("heads switched off", after, LINE_COLOURS[5]))
    data = [dict(type="bar", x=np.asarray(values, dtype=np.float64), y=rank, orientation="h", name=name,
                 marker=dict(color=colour), customdata=list(tokens),
                 hovertemplate=f"%{{customdata}}<br>{name}: %{{x:.4f}}<extra></extra>")
            for name, values, colour in series]
    layout = dict(
        barmode="group", title=dict(text=plot_text(title)), height=180 + 40 * len(tokens),
        yaxis=dict(tickvals=list(rank), ticktext=list(tokens), autorange="reversed"),
        xaxis=dict(range=[0, 1], title=dict(text="probability"), tickformat=".0%"),
    )
    return figure(data, layout)
