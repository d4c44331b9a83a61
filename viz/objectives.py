"""Figures of the Objectives page: masking over epochs, the optimiser race, and the fine-tuning heads.

The masks themselves are drawn with ``viz.masks.allowed_figure`` (blue = may read, grey = blocked).
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from viz.common import LINE_COLOURS, Chart, colorscale, figure, plot_text, subplot_axes, subplots_layout, token_labels
from viz.heatmap import axis_ticks
from viz.predictions import STRIP_LEGEND, STRIP_TOP_MARGIN, action_strips


def epochs_figure(tokens: Sequence[str], epochs: Sequence[Sequence[str]], *, title: str = "",
                  vertical: bool = False, names: Sequence[str] | None = None) -> Chart:
    """One strip per epoch: which positions the masking chose and what it did there (ACTION_COLOURS).

    ``vertical``: epochs as columns and positions down the page (for a narrow, side-by-side card);
    ``names``: the strips' names (default "epoch 1", "epoch 2", ...).
    Table: one row per epoch, one column per position, the action as text.
    """
    labels = token_labels(tokens)
    names = list(names) if names is not None else [f"epoch {e + 1}" for e in range(len(epochs))]
    rows = [(name, tokens, actions) for name, actions in zip(names, epochs)]
    data = action_strips(rows, labels, vertical=vertical)
    ticks, texts = axis_ticks(labels)
    n = len(epochs)
    epoch_axis = dict(tickvals=list(range(n - 1, -1, -1)), ticktext=[r[0] for r in rows], range=[-0.6, n - 0.4],
                      showgrid=False)
    pos_axis = dict(range=[-0.7, len(tokens) - 0.3], tickvals=ticks, ticktext=texts, title=dict(text="pos"))
    if vertical:
        epoch_axis.update(tickvals=list(range(n)), side="top")
        pos_axis.update(autorange=None, range=[len(tokens) - 0.3, -0.7])
    layout = dict(title=dict(text=title), legend={"orientation": "h", "y": -0.05} if vertical else STRIP_LEGEND,
                  height=(140 + 26 * len(tokens)) if vertical else 190 + 48 * n,
                  margin=dict(l=10, r=10, t=50 if vertical else STRIP_TOP_MARGIN, b=10),
                  xaxis=epoch_axis if vertical else pos_axis, yaxis=pos_axis if vertical else epoch_axis)
    table = pd.DataFrame([list(a) for a in epochs], index=pd.Index([r[0] for r in rows], name="epoch"), columns=labels)
    return Chart(figure(data, layout), table)


def race_figure(paths: Mapping[str, np.ndarray], xs: np.ndarray, ys: np.ndarray, surface: np.ndarray,
                minimum: tuple[float, float] = (1.0, 1.0)) -> Chart:
    """The loss surface as contours, every optimiser's path on it, the start and the minimum marked.

    Table: one row per (optimiser, step), columns x and y.
    """
    data = [dict(type="contour", x=xs, y=ys, z=surface, colorscale=colorscale("Greys"), reversescale=True,
                 showscale=False, contours=dict(coloring="lines"), ncontours=18, hoverinfo="skip", name="loss")]
    for i, (name, path) in enumerate(paths.items()):
        data.append(dict(type="scatter", x=path[:, 0], y=path[:, 1], mode="lines+markers", name=plot_text(name),
                         line=dict(color=LINE_COLOURS[i % len(LINE_COLOURS)], width=3), marker=dict(size=4),
                         hovertemplate=f"{plot_text(name)}<br>x %{{x:.3f}}, y %{{y:.3f}}<extra></extra>"))
    data.append(dict(type="scatter", x=[minimum[0]], y=[minimum[1]], mode="markers+text", text=["minimum"],
                     textposition="top center", marker=dict(symbol="star", size=16, color="#000"), name="minimum"))
    layout = dict(title=dict(text="The race on f(x, y) = (1 - x)² + 5 (y - x²)²"), height=560,
                  xaxis=dict(range=[float(xs[0]), float(xs[-1])], title=dict(text="x")),
                  yaxis=dict(range=[float(ys[0]), float(ys[-1])], title=dict(text="y"), scaleanchor="x"),
                  legend=dict(orientation="h", y=-0.15), margin=dict(l=10, r=10, t=50, b=10))
    frames = [pd.DataFrame({"optimiser": name, "step": np.arange(len(path)), "x": path[:, 0], "y": path[:, 1]})
              for name, path in paths.items()]
    return Chart(figure(data, layout), pd.concat(frames).set_index(["optimiser", "step"]))


def loss_curves(losses: Mapping[str, np.ndarray]) -> Chart:
    """Loss against step for every optimiser (log scale). Table: one column per optimiser."""
    data = [dict(type="scatter", x=np.arange(len(v)), y=np.maximum(v, 1e-12), mode="lines", name=plot_text(k),
                 line=dict(color=LINE_COLOURS[i % len(LINE_COLOURS)], width=3))
            for i, (k, v) in enumerate(losses.items())]
    layout = dict(title=dict(text="Loss along each path"), height=360, yaxis=dict(type="log", title=dict(text="loss")),
                  xaxis=dict(title=dict(text="step")), legend=dict(orientation="h", y=-0.25))
    table = pd.DataFrame({k: v for k, v in losses.items()})
    table.index.name = "step"
    return Chart(figure(data, layout), table)


def head_outputs(class_probs: np.ndarray, tokens: Sequence[str], passage: Sequence[int], start_probs: np.ndarray,
                 end_probs: np.ndarray) -> Chart:
    """The untrained heads' outputs: the classifier's two probabilities; over the passage, start and end.

    Table: one row per bar, indexed by (head, label), column "probability".
    """
    with_span = len(passage) > 0
    titles = ["classifier on [CLS] (2 classes)"] + (["span start", "span end"] if with_span else [])
    layout = subplots_layout(1, len(titles), titles, horizontal_spacing=0.08,
                             column_widths=[0.2, 0.4, 0.4] if with_span else [1.0])
    labels = token_labels(tokens)
    panels = [("classifier", ["class 0", "class 1"], np.asarray(class_probs))]
    if with_span:
        names = [labels[i] for i in passage]
        panels += [("start", names, np.asarray(start_probs)), ("end", names, np.asarray(end_probs))]
    data, rows = [], []
    for col, (head, names, probs) in enumerate(panels, start=1):
        axes = subplot_axes(1, col, len(panels))
        data.append(dict(type="bar", x=list(range(len(names))), y=probs, marker=dict(color=LINE_COLOURS[col - 1]),
                         customdata=[plot_text(n) for n in names], showlegend=False, name=head,
                         hovertemplate="%{customdata}<br>probability %{y:.3f}<extra></extra>", **axes))
        key = "xaxis" if col == 1 else f"xaxis{col}"
        layout[key].update(tickmode="array", tickvals=list(range(len(names))), tickangle=-60,
                           ticktext=[plot_text(n) for n in names])
        layout["yaxis" if col == 1 else f"yaxis{col}"].update(range=[0, 1], title=dict(text="probability"))
        rows += [(head, n, float(p)) for n, p in zip(names, probs)]
    layout.update(height=380, title=dict(text="Untrained heads on the encoder's real outputs (arbitrary answers)"),
                  margin=dict(l=10, r=10, t=80, b=10))
    table = pd.DataFrame(rows, columns=["head", "label", "probability"]).set_index(["head", "label"])
    return Chart(figure(data, layout), table)
