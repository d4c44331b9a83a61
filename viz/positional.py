"""Figures for positional encodings: sinusoidal waves, tables, similarity by distance.

Every function takes numpy arrays (a position table is `[pos, d_model]`) and returns
a plotly figure or plain numpy; nothing here knows about models or Streamlit.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go

from viz.common import DIVERGING, SEQUENTIAL, colorscale, figure, subplot_axes, subplots_layout

# Okabe-Ito colours: distinguishable with the common colour-vision deficiencies.
LINE_COLOURS = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")
# The base of the geometric wavelength progression in "Attention Is All You Need".
SINUSOID_BASE = 10000.0


def _check_table(table: np.ndarray, what: str = "position table") -> np.ndarray:
    table = np.asarray(table, dtype=np.float64)
    if table.ndim != 2 or table.shape[0] < 1 or table.shape[1] < 1:
        raise ValueError(f"{what} must be [pos, d_model], got shape {table.shape}")
    return table


def _symmetric_range(values: np.ndarray) -> float:
    """Half-width of a colour range centred on zero that covers every finite value."""
    finite = np.abs(values[np.isfinite(values)])
    return float(finite.max()) if finite.size and finite.max() > 0 else 1.0


def wave_figure(table: np.ndarray, dims: Sequence[int]) -> go.Figure:
    """One line per chosen dimension: the encoding's value at that dimension over positions."""
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
    return figure(data, layout)


def table_heatmap(table: np.ndarray, title: str, max_abs: float | None = None, first_pos: int = 0,
                  max_cells: int = 300_000) -> go.Figure:
    """The whole table as a heatmap: positions down (starting at first_pos), dimensions across, signed colours.

    A table with more than max_cells cells shows every k-th position (said in the title),
    so a huge table does not turn into tens of megabytes of figure; values go out as float32.
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
    return figure([trace], dict(title=dict(text=title), xaxis=dict(title=dict(text="d_model index")),
                                yaxis=dict(title=dict(text="pos"), autorange="reversed")))


def similarity_matrix(table: np.ndarray, cosine: bool = True) -> np.ndarray:
    """[pos, pos] similarity of every pair of positions: dot products, or cosines."""
    table = _check_table(table)
    if cosine:
        norms = np.linalg.norm(table, axis=1, keepdims=True)
        table = table / np.where(norms > 0, norms, 1.0)
    return table @ table.T


def similarity_by_distance(sim: np.ndarray, max_distance: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation of sim[p, p + d] over p, for d = 0 .. max_distance."""
    sim = np.asarray(sim, dtype=np.float64)
    n = sim.shape[0]
    last = n - 1 if max_distance is None else min(max_distance, n - 1)
    means = np.array([np.diagonal(sim, offset=d).mean() for d in range(last + 1)])
    stds = np.array([np.diagonal(sim, offset=d).std() for d in range(last + 1)])
    return means, stds


def similarity_heatmap(sim: np.ndarray, title: str, cosine: bool = True, first_pos: int = 0) -> go.Figure:
    """Similarity of every position with every other position (positions start at first_pos)."""
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
    return figure([trace], dict(title=dict(text=title), xaxis=dict(title=dict(text="pos")),
                                yaxis=dict(title=dict(text="pos"), autorange="reversed")))


def distance_figure(curves: Mapping[str, tuple[np.ndarray, np.ndarray]], cosine: bool = True) -> go.Figure:
    """Similarity as a function of distance, one line per table, with a +-1 std band."""
    label = "cosine similarity" if cosine else "dot product"
    data = []
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
    return figure(data, dict(title=dict(text=f"{label.capitalize()} of two positions by their distance"),
                             xaxis=dict(title=dict(text="distance |p - q|")),
                             yaxis=dict(title=dict(text=f"mean {label}"))))


def offset_rotation(d_model: int, offset: int, base: float = SINUSOID_BASE) -> np.ndarray:
    """M_k [d_model, d_model] with PE(p + k) = M_k @ PE(p) for the sinusoidal table.

    Dimensions (2i, 2i+1) hold (sin(w_i p), cos(w_i p)) with w_i = base^(-2i/d_model);
    adding k to p rotates that pair by the angle w_i k, whatever p is, so M_k is
    block-diagonal with one 2x2 rotation per pair.
    """
    if d_model < 2 or d_model % 2:
        raise ValueError(f"the offset map needs an even d_model, got {d_model}")
    matrix = np.zeros((d_model, d_model))
    for i in range(d_model // 2):
        angle = offset * base ** (-2.0 * i / d_model)
        c, s = np.cos(angle), np.sin(angle)
        # sin(a + b) = sin a cos b + cos a sin b;  cos(a + b) = cos a cos b - sin a sin b
        matrix[2 * i:2 * i + 2, 2 * i:2 * i + 2] = [[c, s], [-s, c]]
    return matrix


def offset_figure(matrix: np.ndarray, pe_p: np.ndarray, pe_pk: np.ndarray,
                  p: int, k: int, shown_dims: int = 16) -> go.Figure:
    """Left: M_k (first dimensions). Right: PE(p+k) next to M_k PE(p), dimension by dimension."""
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
    return figure(data, layout)


def pca_2d(table: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Project the rows onto their top two principal components: ([pos, 2], explained-variance ratios [2])."""
    table = _check_table(table)
    centred = table - table.mean(axis=0, keepdims=True)
    # Eigen-decomposition of the smaller Gram/covariance matrix: LAPACK's SVD can take seconds
    # on learned position tables (seen on MiniLM's), eigh of a <= 1024 x 1024 matrix takes ms.
    if centred.shape[0] <= centred.shape[1]:
        values, vectors = np.linalg.eigh(centred @ centred.T)             # [pos], [pos, pos]
        order = np.argsort(values)[::-1][:2]
        coords = vectors[:, order] * np.sqrt(np.clip(values[order], 0.0, None))
    else:
        values, vectors = np.linalg.eigh(centred.T @ centred)             # [d_model], [d_model, d_model]
        order = np.argsort(values)[::-1][:2]
        coords = centred @ vectors[:, order]
    # Eigenvectors have no sign of their own: point each axis at its largest coordinate.
    signs = np.sign(coords[np.abs(coords).argmax(axis=0), np.arange(coords.shape[1])])
    coords = coords * np.where(signs == 0, 1.0, signs)
    total = float((centred ** 2).sum())
    ratios = np.clip(values[order], 0.0, None) / total if total > 0 else np.zeros(order.size)
    if coords.shape[1] < 2:  # a one-dimensional table still gets a second (zero) axis
        coords = np.pad(coords, ((0, 0), (0, 2 - coords.shape[1])))
        ratios = np.pad(ratios, (0, 2 - ratios.size))
    return coords, ratios


def pca_figure(coords: np.ndarray, ratios: np.ndarray, title: str, first_pos: int = 0) -> go.Figure:
    """Positions (from first_pos) as points in their 2-D PCA plane, joined in order and coloured by position."""
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
    return figure([path, points], dict(title=dict(text=title),
                                       xaxis=dict(title=dict(text=f"PC1 ({ratios[0]:.0%} of variance)")),
                                       yaxis=dict(title=dict(text=f"PC2 ({ratios[1]:.0%} of variance)"))))
