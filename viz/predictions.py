"""Figures for predictions: top-k bars per blank, what BERT's masking recipe did to a sentence,
one generation step's attention row, and a blank's probabilities with heads switched off.

Guesses ((token, probability) lists), token strings and actions in, a ``Chart`` out.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from viz.common import (LINE_COLOURS, MAX_POINT_LABELS, Chart, figure, layout_axis, plot_text, subplot_axes,
                        subplots_layout, token_labels)
from viz.heatmap import axis_ticks

# What happened to each position in the masking procedure, and its colour (Okabe-Ito).
ACTION_COLOURS = {
    "not chosen": "#BBBBBB",
    "[MASK]": "#0072B2",
    "random": "#D55E00",
    "unchanged": "#009E73",
    "special": "#FFFFFF",
}


def wrap_title(text: str, width: int) -> str:
    """An (escaped) title broken with <br> at spaces so no line is much longer than ``width`` characters."""
    lines, line = [], ""
    for word in text.split(" "):
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    return "<br>".join(lines + [line])


def topk_figure(predictions: Sequence[Sequence[tuple[str, float]]], titles: Sequence[str],
                colour: str = LINE_COLOURS[0], highlight: str | None = None) -> Chart:
    """One horizontal bar panel per prediction list, best on top, x = probability (shared range).
    A bar whose token is ``highlight`` (the one a decoder chose) is drawn in orange.

    Table: one row per bar, indexed by (panel title, rank from 1), columns "token" and "probability".
    """
    if len(predictions) != len(titles):
        raise ValueError(f"{len(predictions)} prediction lists, while number of titles is {len(titles)}")
    n = max(len(predictions), 1)
    # One x range for every panel: the largest probability plus room for its label, at least 10%.
    largest = max((p for preds in predictions for _, p in preds), default=0.0)
    x_max = max(0.1, min(1.0, largest * 1.3))
    # Three or more panels leave each title a narrow column: long ones wrap instead of running off the edge.
    layout = subplots_layout(1, n, [wrap_title(plot_text(t), 26 if n >= 3 else 60) for t in titles] or [""],
                             horizontal_spacing=0.12)
    data = []
    for col, preds in enumerate(predictions, start=1):
        tokens = [plot_text(tok) for tok, _ in preds]
        probs = np.array([p for _, p in preds], dtype=np.float64)
        rank = np.arange(len(tokens))
        axes = subplot_axes(1, col, n)
        data.append(dict(
            type="bar", x=probs, y=rank, orientation="h", showlegend=False,
            marker=dict(color=[LINE_COLOURS[5] if tok == highlight else colour for tok, _ in preds]),
            text=[f"{p:.1%}" for p in probs], textposition="outside", customdata=tokens,
            hovertemplate="%{customdata}<br>probability %{x:.4f}<extra></extra>", name=titles[col - 1], **axes,
        ))
        layout[layout_axis(axes["yaxis"])].update(
            tickvals=list(rank), ticktext=[f"{i + 1}. {t}" for i, t in enumerate(tokens)], autorange="reversed")
        layout[layout_axis(axes["xaxis"])].update(
            range=[0, x_max], title=dict(text="probability"), tickformat=".0%")
    layout["height"] = 160 + 28 * max((len(p) for p in predictions), default=1)
    rows = [(title, rank + 1, tok, float(p)) for title, preds in zip(titles, predictions)
            for rank, (tok, p) in enumerate(preds)]
    table = pd.DataFrame(rows, columns=["panel", "rank", "token", "probability"]).set_index(["panel", "rank"])
    return Chart(figure(data, layout), table)


# The strips' legend sits between the title and the strips: below them it ran into the rotated position labels.
STRIP_LEGEND = {"orientation": "h", "x": 0, "xanchor": "left", "y": 1.0, "yanchor": "bottom"}
STRIP_TOP_MARGIN = 90


def action_strips(rows: Sequence[tuple[str, Sequence[str], Sequence[str]]], labels: Sequence[str],
                  vertical: bool = False) -> list[dict]:
    """Rows of squares, one per position, coloured by what the masking did there (ACTION_COLOURS).

    ``rows``: (row name, the tokens written in the squares, the action at each position), drawn top
    to bottom at y = len(rows) - 1 ... 0 (``vertical``: as columns x = 0, 1, ..., positions down the
    y axis, for a narrow figure); ``labels`` name the positions in the hover. One trace per
    (action, row), so the legend lists each action once.
    """
    data, shown = [], set()
    n_labels = len(labels)
    for index, (row, row_tokens, actions) in enumerate(rows):
        y = float(index if vertical else len(rows) - 1 - index)
        texts = [plot_text(t) for t in row_tokens]
        for action, colour in ACTION_COLOURS.items():
            where = [i for i, a in enumerate(actions) if a == action]
            if not where:
                continue
            xs, ys = ([y] * len(where), where) if vertical else (where, [y] * len(where))
            data.append(dict(
                type="scatter", x=xs, y=ys, name=action, legendgroup=action,
                mode="markers+text" if n_labels <= MAX_POINT_LABELS else "markers",   # long: tokens on hover
                showlegend=action not in shown,
                marker={"symbol": "square", "size": 22 if vertical else 30, "color": colour, "opacity": 0.45,
                        "line": {"color": "#555555", "width": 1}},
                text=[texts[i] for i in where], textposition="middle center",
                customdata=[plot_text(labels[i]) for i in where],
                hovertemplate=f"%{{customdata}}<br>{plot_text(row)}: %{{text}}<br>{action}<extra></extra>",
            ))
            shown.add(action)
    return data


def masking_figure(tokens: Sequence[str], input_tokens: Sequence[str], actions: Sequence[str]) -> Chart:
    """Two strips: the sentence, and what the model sees, cells coloured by what happened.

    ``actions`` per position are keys of ACTION_COLOURS (``analysis.MaskPlan.actions``).
    Table: one row per pos (index-prefixed labels), columns "token", "model input", "what happened".
    """
    if not len(tokens) == len(input_tokens) == len(actions):
        raise ValueError(f"{len(tokens)} tokens, {len(input_tokens)} input tokens and {len(actions)} actions "
                         "must match")
    labels = token_labels(tokens)
    data = action_strips((("sentence", tokens, actions), ("model input", input_tokens, actions)), labels)
    tick_positions, tick_texts = axis_ticks(labels)    # every token, or every k-th of a long input
    layout = dict(
        title=dict(text="BERT masking: chosen positions and what the model sees"), height=300,
        legend=STRIP_LEGEND, margin=dict(t=STRIP_TOP_MARGIN),
        yaxis=dict(tickvals=[1.0, 0.0], ticktext=["sentence", "model input"], range=[-0.6, 1.6], showgrid=False),
        xaxis=dict(title=dict(text="pos"), range=[-0.7, len(tokens) - 0.3], tickvals=tick_positions,
                   ticktext=tick_texts),
    )
    table = pd.DataFrame({"token": list(tokens), "model input": list(input_tokens), "what happened": list(actions)},
                         index=pd.Index(labels, name="pos"))
    return Chart(figure(data, layout), table)


def attention_row_figure(tokens: Sequence[str], weights: Sequence[float], title: str,
                         new_from: int | None = None) -> Chart:
    """One query's attention over the tokens before it: a bar per key position (x = position, labelled).

    Keys from ``new_from`` on (tokens the decoder wrote itself) are drawn in orange, the prompt in blue.
    Table: one row per key, index "key", column "attention weight".
    """
    if len(tokens) != len(weights):
        raise ValueError(f"{len(tokens)} tokens but {len(weights)} attention weights")
    labels = token_labels(tokens)
    weights = np.asarray(weights, dtype=np.float64)
    first_new = len(tokens) if new_from is None else new_from
    colours = [LINE_COLOURS[0] if i < first_new else LINE_COLOURS[5] for i in range(len(tokens))]
    positions, texts = axis_ticks(labels)
    data = [dict(type="bar", x=np.arange(len(tokens)), y=weights, marker=dict(color=colours), showlegend=False,
                 customdata=[plot_text(t) for t in labels],
                 hovertemplate="%{customdata}<br>attention %{y:.3f}<extra></extra>")]
    layout = dict(
        title=dict(text=plot_text(title)), height=360, bargap=0.15,
        xaxis=dict(tickvals=positions, ticktext=texts, tickangle=-60, title=dict(text="key (tokens read so far)")),
        yaxis=dict(range=[0, max(0.05, float(weights.max(initial=0.0)) * 1.1)], title=dict(text="attention weight")),
    )
    table = pd.DataFrame({"attention weight": weights}, index=pd.Index(labels, name="key"))
    return Chart(figure(data, layout), table)


def ablation_figure(tokens: Sequence[str], before: Sequence[float], after: Sequence[float],
                    title: str) -> Chart:
    """Grouped horizontal bars: each token's probability with all heads, and with heads off.

    Table: one row per token, columns "all heads" and "heads switched off".
    """
    if not len(tokens) == len(before) == len(after):
        raise ValueError(f"{len(tokens)} tokens, {len(before)} and {len(after)} probabilities must match")
    rank = np.arange(len(tokens))
    table = pd.DataFrame({"all heads": np.asarray(before, dtype=np.float64),
                          "heads switched off": np.asarray(after, dtype=np.float64)},
                         index=pd.Index(list(tokens), name="token"))
    tokens = [plot_text(t) for t in tokens]
    series = (("all heads", before, LINE_COLOURS[0]), ("heads switched off", after, LINE_COLOURS[5]))
    data = [dict(type="bar", x=np.asarray(values, dtype=np.float64), y=rank, orientation="h", name=name,
                 marker=dict(color=colour), customdata=list(tokens),
                 hovertemplate=f"%{{customdata}}<br>{name}: %{{x:.4f}}<extra></extra>")
            for name, values, colour in series]
    # Printed change on each token, and an axis fitted to the bars: a change of 2% on a 0-100% axis is invisible.
    change = np.asarray(after, dtype=np.float64) - np.asarray(before, dtype=np.float64)
    data[1].update(text=[f"{c:+.1%}" for c in change], textposition="outside")
    top = float(max(np.max(before, initial=0.0), np.max(after, initial=0.0)))
    layout = dict(
        barmode="group", title=dict(text=plot_text(title)), height=180 + 40 * len(tokens),
        yaxis=dict(tickvals=list(rank), ticktext=list(tokens), autorange="reversed"),
        xaxis=dict(range=[0, min(1.0, max(0.02, top * 1.25))], title=dict(text="probability"), tickformat=".1%"),
    )
    return Chart(figure(data, layout), table)
