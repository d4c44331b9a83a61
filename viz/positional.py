"""Figures for positional encodings: sinusoidal waves, position tables, similarity (by distance),
the offset rotation, and a 2-D PCA map of the positions.

Numpy arrays in (a position table is ``[pos, d_model]``), a ``Chart`` out.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from viz.common import (DIVERGING, LINE_COLOURS, SEQUENTIAL, Chart, colorscale, figure, matrix_table, subplot_axes,
                        subplots_layout)


def _check_table(table: np.ndarray, what: str = "position table") -> np.ndarray:
    table = np.asarray(table, dtype=np.float64)
    if table.ndim != 2 or table.shape[0] < 1 or table.shape[1] < 1:
        raise ValueError(f"{what} must be [pos, d_model], got shape {table.shape}")
    return table


def _symmetric_range(values: np.ndarray) -> float:
    """Half-width of a colour range centred on zero that covers every finite value."""
    finite = np.abs(values[np.isfinite(values)])
    return float(finite.max()) if finite.size and finite.max() > 0 else 1.0


def wave_figure(table: np.ndarray, dims: Sequence[int]) -> Chart:
    """One line per chosen dimension: the encoding's value at that dimension over positions.

    Table: one row per pos, a column per line ("dim 6 (sin)").
    """
    table = _check_table(table)
    n_pos, d_model = table.shape
    data = []
    positions = np.arange(n_pos)
    for i, dim in enumerate(dims):
        if not 0 <= dim < d_model:
            raise ValueError(f"dimension {dim} is outside the table's d_model of {d_model}")
        kind = "sin" if dim % 2 == 0 else "cos"
        data.append(dict(
            type="scatter", x=positions, y=table[:, dim], mode="lines", name=f"dim {dim} ({kind})",
            line={"color": LINE_COLOURS[i % len(LINE_COLOURS)]},
            hovertemplate=f"dim {dim}<br>pos %{{x}}<br>value %{{y:.4f}}<extra></extra>",
        ))
    layout = dict(title=dict(text="Sinusoidal encoding: one wave per dimension"),
                  xaxis=dict(title=dict(text="pos")), yaxis=dict(title=dict(text="value"), range=[-1.1, 1.1]),
                  legend=dict(title=dict(text="d_model index")))
    frame = pd.DataFrame({trace["name"]: trace["y"] for trace in data}, index=pd.Index(positions, name="pos"))
    return Chart(figure(data, layout), frame)


def table_heatmap(table: np.ndarray, title: str, max_abs: float | None = None, first_pos: int = 0,
                  max_cells: int = 300_000) -> Chart:
    """The whole table as a heatmap: positions down (starting at first_pos), dimensions across, signed colours.

    A table with more than max_cells cells shows every k-th position (said in the title),
    so a huge table does not turn into tens of megabytes of figure; values go out as float32.

    Table: the rows drawn (float32), index their pos, columns the d_model index.
    """
    table = _check_table(table)
    bound = _symmetric_range(table) if max_abs is None else max_abs
    step = max(1, int(np.ceil(table.size / max_cells)))
    if step > 1:
        title = f"{title} (one position in {step} shown)"
    trace = dict(
        type="heatmap", z=table[::step].astype(np.float32), x=np.arange(table.shape[1]),
        y=np.arange(first_pos, first_pos + table.shape[0], step),
        colorscale=colorscale(DIVERGING), zmid=0.0, zmin=-bound, zmax=bound,
        colorbar={"title": {"text": "value"}},
        hovertemplate="pos %{y}<br>dim %{x}<br>value %{z:.4f}<extra></extra>",
    )
    layout = dict(title=dict(text=title), xaxis=dict(title=dict(text="d_model index")),
                  yaxis=dict(title=dict(text="pos"), autorange="reversed"))
    return Chart(figure([trace], layout), matrix_table(trace["z"], trace["y"], trace["x"], "pos", "d_model index"))


def similarity_heatmap(sim: np.ndarray, title: str, cosine: bool = True, first_pos: int = 0) -> Chart:
    """Similarity of every position with every other position (positions start at first_pos).

    Table: the [pos, pos] matrix drawn (float32), index and columns the positions.
    """
    sim = np.asarray(sim, dtype=np.float64)
    label = "cosine" if cosine else "dot product"
    bound = 1.0 if cosine else _symmetric_range(sim)
    positions = np.arange(first_pos, first_pos + sim.shape[0])
    trace = dict(
        type="heatmap", z=sim.astype(np.float32), x=positions, y=positions,
        colorscale=colorscale(DIVERGING), zmid=0.0, zmin=-bound, zmax=bound,
        colorbar={"title": {"text": label}},
        hovertemplate=f"pos %{{y}} vs pos %{{x}}<br>{label} %{{z:.4f}}<extra></extra>",
    )
    layout = dict(title=dict(text=title), xaxis=dict(title=dict(text="pos")),
                  yaxis=dict(title=dict(text="pos"), autorange="reversed"))
    return Chart(figure([trace], layout), matrix_table(trace["z"], positions, positions, "pos", "pos"))


def distance_figure(curves: Mapping[str, tuple[np.ndarray, np.ndarray]], cosine: bool = True) -> Chart:
    """Similarity as a function of distance, one line per table, with a +-1 std band.

    ``curves`` maps a table's name to (means, stds) over distance 0, 1, ...
    Table: one row per distance, columns "<name> mean" and "<name> std" per table.
    """
    label = "cosine similarity" if cosine else "dot product"
    data, columns = [], {}
    for i, (name, (means, stds)) in enumerate(curves.items()):
        colour = LINE_COLOURS[i % len(LINE_COLOURS)]
        distance = np.arange(len(means))
        data.append(dict(
            type="scatter", x=np.concatenate([distance, distance[::-1]]),
            y=np.concatenate([means + stds, (means - stds)[::-1]]),
            fill="toself", fillcolor=colour, opacity=0.15, line={"width": 0},
            hoverinfo="skip", showlegend=False, name=f"{name} spread",
        ))
        data.append(dict(
            type="scatter", x=distance, y=means, mode="lines", name=name, line={"color": colour},
            customdata=stds,
            hovertemplate=f"{name}<br>distance %{{x}}<br>mean %{{y:.4f}}<br>std %{{customdata:.4f}}<extra></extra>",
        ))
        columns[f"{name} mean"] = pd.Series(means)
        columns[f"{name} std"] = pd.Series(stds)
    layout = dict(title=dict(text=f"{label.capitalize()} of two positions by their distance"),
                  xaxis=dict(title=dict(text="distance |p - q|")), yaxis=dict(title=dict(text=f"mean {label}")))
    return Chart(figure(data, layout), pd.DataFrame(columns).rename_axis("distance"))


def offset_figure(matrix: np.ndarray, pe_p: np.ndarray, pe_pk: np.ndarray,
                  p: int, k: int, shown_dims: int = 16) -> Chart:
    """Left: M_k (first dimensions). Right: PE(p+k) next to M_k PE(p), dimension by dimension.

    ``matrix`` is M_k [d_model, d_model] (``analysis.offset_rotation``), ``pe_p`` and ``pe_pk``
    are PE(p) and PE(p + k) [d_model]. Table: one row per d_model index with "PE(p+k)" and
    "M_k PE(p)" (right panel), then the drawn block of M_k as columns "M_k col 0", ... (left
    panel; NaN below its first ``shown_dims`` rows).
    """
    d_model = matrix.shape[0]
    shown = min(shown_dims, d_model)
    mapped = matrix @ pe_p
    layout = subplots_layout(1, 2, (f"M_{k}: first {shown} of {d_model} dims", f"PE({p + k}) and M_{k} PE({p})"),
                             column_widths=[0.42, 0.58], horizontal_spacing=0.22)
    dims = np.arange(d_model)
    data = [
        dict(type="heatmap", z=matrix[:shown, :shown], x=np.arange(shown), y=np.arange(shown),
             colorscale=colorscale(DIVERGING), zmin=-1.0, zmax=1.0, zmid=0.0,
             colorbar={"title": {"text": "entry"}, "x": 0.34, "thickness": 14},
             hovertemplate="row %{y}<br>col %{x}<br>%{z:.4f}<extra></extra>", name="M_k", **subplot_axes(1, 1, 2)),
        dict(type="scatter", x=dims, y=pe_pk, mode="markers", name=f"PE({p + k})",
             marker={"color": LINE_COLOURS[0], "size": 9, "symbol": "circle-open"},
             hovertemplate="dim %{x}<br>PE(p+k) %{y:.6f}<extra></extra>", **subplot_axes(1, 2, 2)),
        dict(type="scatter", x=dims, y=mapped, mode="markers", name=f"M_{k} PE({p})",
             marker={"color": LINE_COLOURS[1], "size": 4},
             hovertemplate="dim %{x}<br>M_k PE(p) %{y:.6f}<extra></extra>", **subplot_axes(1, 2, 2)),
    ]
    layout["yaxis"].update(autorange="reversed", title=dict(text="row"))
    layout["xaxis"]["title"] = dict(text="col")
    layout["xaxis2"]["title"] = dict(text="d_model index")
    layout["yaxis2"].update(title=dict(text="value"), range=[-1.1, 1.1])
    layout["title"] = dict(text="A fixed offset is a rotation of the encoding")
    table = pd.DataFrame({f"PE({p + k})": pe_pk, f"M_{k} PE({p})": mapped}, index=pd.Index(dims, name="d_model index"))
    block = pd.DataFrame(matrix[:shown, :shown], columns=[f"M_{k} col {c}" for c in range(shown)])
    return Chart(figure(data, layout), table.join(block))


def pca_figure(coords: np.ndarray, ratios: np.ndarray, title: str, first_pos: int = 0) -> Chart:
    """Positions (from first_pos) as points in their 2-D PCA plane, joined in order and coloured by position.

    ``coords`` [pos, 2] and ``ratios`` [2] as ``analysis.pca_2d`` returns them.
    Table: one row per pos, columns "PC1" and "PC2".
    """
    positions = np.arange(first_pos, first_pos + coords.shape[0])
    path = dict(type="scatter", x=coords[:, 0], y=coords[:, 1], mode="lines",
                line={"color": "#999999", "width": 1}, hoverinfo="skip", showlegend=False)
    points = dict(
        type="scatter", x=coords[:, 0], y=coords[:, 1], mode="markers", showlegend=False, customdata=positions,
        marker={"color": positions, "colorscale": colorscale(SEQUENTIAL), "size": 6,
                "cmin": int(positions[0]), "cmax": max(int(positions[-1]), int(positions[0]) + 1),
                "colorbar": {"title": {"text": "pos"}}},
        hovertemplate="pos %{customdata}<br>PC1 %{x:.3f}<br>PC2 %{y:.3f}<extra></extra>",
    )
    layout = dict(title=dict(text=title), xaxis=dict(title=dict(text=f"PC1 ({ratios[0]:.0%} of variance)")),
                  yaxis=dict(title=dict(text=f"PC2 ({ratios[1]:.0%} of variance)")))
    return Chart(figure([path, points], layout), matrix_table(coords[:, :2], positions, ["PC1", "PC2"], "pos"))
