"""Figures for the input embeddings (token + segment + position), segments, and polysemy:
stacked contributions, a few dimensions per part, segment strips, grouped bars, cosine by layer.

Arrays are ``[pos, d_model]`` per component; tokens are plain strings (labels get an index
prefix here, so repeated tokens stay distinct). A ``Chart`` out.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from viz.common import (DIVERGING, LINE_COLOURS, MAX_POINT_LABELS, SEGMENT_COLOURS, SEQUENTIAL, Chart, check_matrix,
                        colorscale, figure, layout_axis, matrix_table, plot_text, subplot_axes, subplots_layout,
                        token_labels)


def _check_parts(tokens: Sequence[str], parts: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    checked = {}
    for name, matrix in parts.items():
        matrix = np.asarray(matrix, dtype=np.float64)
        if matrix.ndim != 2 or matrix.shape[0] != len(tokens):
            raise ValueError(f"{name} has shape {matrix.shape}, while number of tokens is {len(tokens)}")
        checked[name] = matrix
    return checked


def _check_series(series: Mapping[str, Sequence[float]], n: int, what: str) -> None:
    for name, values in series.items():
        if len(values) != n:
            raise ValueError(f"{name} has {len(values)} values, while number of {what} is {n}")


def contribution_figure(tokens: Sequence[str], parts: Mapping[str, np.ndarray], total: np.ndarray,
                        along: Mapping[str, np.ndarray], total_name: str = "sum") -> Chart:
    """Stacked bars per token: each part's length along the total's direction; a marker at |total|.

    ``along`` is ``analysis.projections_onto(total, parts)``: per part, its signed length
    along ``total`` [pos] (they stack to |total| when the parts sum to it).
    Table: one row per token, a column "<part> along <total_name>" per part and "|<total_name>|".
    """
    parts = _check_parts(tokens, parts)
    total = _check_parts(tokens, {total_name: total})[total_name]
    if set(along) != set(parts):
        raise ValueError(f"the projections are of {list(along)}, while the parts are {list(parts)}")
    _check_series(along, len(tokens), "tokens")
    labels = [plot_text(label) for label in token_labels(tokens)]
    positions = np.arange(len(tokens))
    data, columns = [], {}
    for i, name in enumerate(parts):
        own_norm = np.linalg.norm(parts[name], axis=1)
        data.append(dict(
            type="bar", x=positions, y=np.asarray(along[name], dtype=np.float64), name=name,
            marker=dict(color=LINE_COLOURS[i % len(LINE_COLOURS)]),
            customdata=np.stack([own_norm, np.array(labels, dtype=object)], axis=1),
            hovertemplate=(f"%{{customdata[1]}}<br>{name} along the {total_name}: %{{y:.4f}}"
                           f"<br>|{name}| = %{{customdata[0]:.4f}}<extra></extra>"),
        ))
        columns[f"{name} along {total_name}"] = data[-1]["y"]
    norm = np.linalg.norm(total, axis=1)
    columns[f"|{total_name}|"] = norm
    data.append(dict(
        type="scatter", x=positions, y=norm, mode="markers", name=f"|{total_name}|",
        marker=dict(symbol="line-ew-open", size=22, color="#000000", line=dict(width=3)),
        hovertemplate=f"|{total_name}| = %{{y:.4f}}<extra></extra>",
    ))
    layout = dict(
        barmode="relative", title=dict(text=f"Each part's length along the {total_name} (bars stack to |{total_name}|)"),
        yaxis=dict(title=dict(text=f"length along the {total_name}")), legend=dict(title=dict(text="part")),
        xaxis=dict(title=dict(text="pos"), tickvals=list(positions), ticktext=labels),
    )
    table = pd.DataFrame(columns, index=pd.Index(token_labels(tokens), name="pos"))
    return Chart(figure(data, layout), table)


def _diverging_axis(bound: float, title: str, x: float) -> dict:
    return {"colorscale": colorscale(DIVERGING), "cmid": 0.0, "cmin": -bound, "cmax": bound,
            "colorbar": {"title": {"text": title}, "x": x}}


def dims_figure(tokens: Sequence[str], parts: Mapping[str, np.ndarray], dims: Sequence[int],
                separate: Sequence[str] = ()) -> Chart:
    """One heatmap per part ([pos, chosen dims]) side by side.

    Parts share one colour range so that the sum is visibly the sum; parts named in
    ``separate`` (e.g. the LayerNorm output, on a different scale) get a second range.
    Table: the parts' chosen dimensions stacked, indexed by (part, token label), a column
    per d_model index.
    """
    parts = _check_parts(tokens, parts)
    dims = list(dims)
    d_model = next(iter(parts.values())).shape[1]
    if not dims or min(dims) < 0 or max(dims) >= d_model:
        raise ValueError(f"dimensions must be between 0 and {d_model - 1}, got {dims}")
    labels = [plot_text(label) for label in token_labels(tokens)]
    names = list(parts)
    layout = subplots_layout(1, len(names), names, horizontal_spacing=0.03)
    bounds = {}
    for group, axis in (([n for n in names if n not in separate], "coloraxis"),
                        ([n for n in names if n in separate], "coloraxis2")):
        if group:
            bounds[axis] = max(float(np.abs(parts[n][:, dims]).max()) for n in group) or 1.0
    data = []
    for col, name in enumerate(names, start=1):
        axes = subplot_axes(1, col, len(names))
        data.append(dict(
            type="heatmap", z=parts[name][:, dims], x=np.arange(len(dims)), y=np.arange(len(tokens)),
            coloraxis="coloraxis2" if name in separate else "coloraxis",
            customdata=np.array([[f"{lab} / dim {d}" for d in dims] for lab in labels], dtype=str),
            hovertemplate=f"{name}<br>%{{customdata}}<br>%{{z:.4f}}<extra></extra>", name=name, **axes,
        ))
        layout[layout_axis(axes["xaxis"])].update(tickvals=list(range(len(dims))), ticktext=[str(d) for d in dims])
        layout[layout_axis(axes["yaxis"])].update(tickvals=list(range(len(tokens))), ticktext=labels,
                                                  autorange="reversed", showticklabels=col == 1)
    if "coloraxis" in bounds:
        layout["coloraxis"] = _diverging_axis(bounds["coloraxis"], "parts", 1.02)
    if "coloraxis2" in bounds:
        layout["coloraxis2"] = _diverging_axis(bounds["coloraxis2"], " / ".join(separate), 1.12)
    layout["title"] = dict(text="A few dimensions of each part (x: d_model index)")
    table = pd.concat({name: matrix_table(parts[name][:, dims], token_labels(tokens), dims, "pos", "d_model index")
                       for name in names}, names=["part"])
    return Chart(figure(data, layout), table)


# Room for a strip's text: about this many pixels of plot width in the page's column (the legend takes the
# rest), and 7.5 pixels a character of the 13 px labels.
STRIP_PIXELS, CHAR_PIXELS = 600, 7.5


def _zigzag(tokens: Sequence[str]) -> list[float]:
    """Vertical offsets of a strip's boxes: alternately up and down when two neighbouring words would run
    together ("street" "because" side by side), all 0 when every pair fits its slots."""
    if not tokens:
        return []
    slot = STRIP_PIXELS / len(tokens)
    widths = [len(t) * CHAR_PIXELS for t in tokens]
    if all((a + b) / 2 + 4 <= slot for a, b in zip(widths, widths[1:])):
        return [0.0] * len(tokens)
    return [0.22 if i % 2 else -0.12 for i in range(len(tokens))]


def segments_figure(rows: Sequence[tuple[str, Sequence[str], Sequence[int], Sequence[bool]]],
                    title: str = "Tokens, with the segment id of each under it") -> Chart:
    """Token strips, one per (title, tokens, segment ids, special flags): cells coloured by segment, ids under.

    Tokens flagged special (True, e.g. [CLS]/[SEP]) are drawn as diamonds so they stand out.
    Table: one row per token, indexed by (row title, position id), columns "token",
    "segment id" and "special".
    """
    data, tables = [], {}
    ticks, tick_text = [], []
    shown_segments = set()
    for r, (row_title, tokens, segment_ids, special) in enumerate(rows):
        if len(tokens) != len(segment_ids):
            raise ValueError(f"{row_title}: {len(tokens)} tokens, while number of segment ids is {len(segment_ids)}")
        if len(tokens) != len(special):
            raise ValueError(f"{row_title}: {len(tokens)} tokens, while number of special flags is {len(special)}")
        y = -2.0 * r
        lift = _zigzag(tokens)
        for seg in sorted(set(int(s) for s in segment_ids)):
            where = [i for i, s in enumerate(segment_ids) if int(s) == seg]
            colour = SEGMENT_COLOURS[seg % len(SEGMENT_COLOURS)]
            data.append(dict(
                type="scatter", x=where, y=[y + lift[i] for i in where], name=f"segment {seg}",
                mode="markers+text" if len(tokens) <= MAX_POINT_LABELS else "markers",   # long: tokens on hover
                legendgroup=f"segment {seg}", showlegend=seg not in shown_segments,
                marker=dict(symbol=["diamond" if special[i] else "square" for i in where], size=28, color=colour,
                            opacity=0.55),
                text=[plot_text(tokens[i]) for i in where], textposition="middle center",
                textfont=dict(size=13, color="#111111"),   # dark ink: pale grey on pastel was unreadable
                customdata=[plot_text(f"{i:02d} {tokens[i]}") for i in where],
                hovertemplate=f"%{{customdata}}<br>segment id {seg}<br>position id %{{x}}<extra>{row_title}</extra>",
            ))
            data.append(dict(
                type="scatter", x=where, y=[y - 0.7] * len(where), mode="text", text=[str(seg)] * len(where),
                showlegend=False, hoverinfo="skip", textfont=dict(color=colour),
            ))
            shown_segments.add(seg)
        ticks += [y, y - 0.7]
        tick_text += [row_title, "segment id"]
        tables[row_title] = pd.DataFrame(
            {"token": list(tokens), "segment id": [int(s) for s in segment_ids], "special": [bool(f) for f in special]},
            index=pd.RangeIndex(len(tokens), name="position id"))
    longest = max((len(row[1]) for row in rows), default=1)
    layout = dict(
        xaxis=dict(title=dict(text="position id"), range=[-0.7, longest - 0.3], dtick=1),
        yaxis=dict(tickvals=ticks, ticktext=tick_text, range=[-2.0 * len(rows) + 0.8, 0.6], showgrid=False),
        title=dict(text=title), height=140 + 120 * len(rows),
    )
    table = pd.concat(tables, names=["row"]) if tables else pd.DataFrame(columns=["token", "segment id", "special"])
    return Chart(figure(data, layout), table)


def grouped_bars(labels: Sequence[str], series: Mapping[str, np.ndarray], title: str,
                 y_title: str, y_range: tuple[float, float] | None = None) -> Chart:
    """Grouped bars: one group per label, one bar per series.

    Table: one row per label, a column per series.
    """
    _check_series(series, len(labels), "labels")
    positions = np.arange(len(labels))
    escaped = [plot_text(label) for label in labels]
    data = [dict(type="bar", x=positions, y=np.asarray(values, dtype=np.float64), name=name,
                 marker=dict(color=LINE_COLOURS[i % len(LINE_COLOURS)]), customdata=list(escaped),
                 hovertemplate=f"%{{customdata}}<br>{name}: %{{y:.4f}}<extra></extra>")
            for i, (name, values) in enumerate(series.items())]
    layout = dict(xaxis=dict(tickvals=list(positions), ticktext=list(escaped)), barmode="group",
                  title=dict(text=title), yaxis=dict(title=dict(text=y_title)))
    if y_range is not None:
        layout["yaxis"]["range"] = list(y_range)
    table = pd.DataFrame({trace["name"]: trace["y"] for trace in data}, index=pd.Index(list(labels)))
    return Chart(figure(data, layout), table)


def layer_similarity_figure(layer_names: Sequence[str], series: Mapping[str, np.ndarray]) -> Chart:
    """Cosine similarity per layer, one line per series (e.g. the word in sentence 1 vs sentence 2).

    Table: one row per layer, a column per series.
    """
    _check_series(series, len(layer_names), "layers")
    x = np.arange(len(layer_names))
    data = [dict(type="scatter", x=x, y=values, mode="lines+markers", name=name,
                 line=dict(color=LINE_COLOURS[i % len(LINE_COLOURS)]), customdata=list(layer_names),
                 hovertemplate=f"{name}<br>%{{customdata}}<br>cosine %{{y:.4f}}<extra></extra>")
            for i, (name, values) in enumerate(series.items())]
    # Zoom on the values (cosines near 1 would look flat on [-1, 1]), always showing 1 itself.
    lowest = min((float(np.min(v)) for v in series.values()), default=0.0)
    layout = dict(
        xaxis=dict(tickvals=list(x), ticktext=list(layer_names), title=dict(text="layer")),
        yaxis=dict(title=dict(text="cosine similarity"), range=[max(-1.05, lowest - 0.05), 1.02]),
        title=dict(text="The same word's vectors, layer by layer"),
    )
    table = pd.DataFrame({name: np.asarray(values, dtype=np.float64) for name, values in series.items()},
                         index=pd.Index(list(layer_names), name="layer"))
    return Chart(figure(data, layout), table)


def neighbours_figure(layer_names: Sequence[str], panels: Sequence[tuple[str, Sequence[str], np.ndarray]]) -> Chart:
    """Per panel (title, tokens, sims [layer, pos]): how similar the word is to each token, per layer.

    NaN cells (e.g. the word compared with itself) are left blank; the
    colour range is the true range of the other cells.
    Table: one row per layer, columns (panel title, token label), NaN where blank.
    """
    layout = subplots_layout(len(panels), 1, [p[0] for p in panels], vertical_spacing=0.25)
    data, tables = [], {}
    for r, (title, tokens, sims) in enumerate(panels, start=1):
        labels = [plot_text(label) for label in token_labels(tokens)]
        check_matrix(np.asarray(sims), layer_names, labels, title)
        axes = subplot_axes(r, 1, 1)
        data.append(dict(
            type="heatmap", z=sims, x=np.arange(len(tokens)), y=np.arange(len(layer_names)), coloraxis="coloraxis",
            customdata=np.array([[f"{lay} / {lab}" for lab in labels] for lay in layer_names], dtype=str),
            hovertemplate="%{customdata}<br>cosine %{z:.4f}<extra></extra>", name=title, **axes,
        ))
        # Exact ranges and no grid: blank (NaN) cells show the background colour and nothing else.
        layout[layout_axis(axes["xaxis"])].update(tickvals=list(range(len(tokens))), ticktext=labels,
                                                  range=[-0.5, len(tokens) - 0.5], showgrid=False)
        layout[layout_axis(axes["yaxis"])].update(tickvals=list(range(len(layer_names))), ticktext=list(layer_names),
                                                  range=[len(layer_names) - 0.5, -0.5], showgrid=False)
        tables[title] = matrix_table(np.asarray(sims, dtype=np.float64), layer_names, token_labels(tokens), "layer",
                                     "token")
    finite = np.concatenate([np.asarray(p[2], dtype=np.float64).ravel() for p in panels]) if panels else np.zeros(1)
    finite = finite[np.isfinite(finite)]
    low, high = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    layout.update(coloraxis={"colorscale": colorscale(SEQUENTIAL), "cmin": low,
                             "cmax": high if high > low else low + 1e-6, "colorbar": {"title": {"text": "cosine"}}},
                  title=dict(text="Cosine of the word's vector with every token of its sentence"),
                  height=200 + 60 * len(layer_names) * len(panels))
    table = pd.concat(tables, axis=1, names=["panel"]) if tables else pd.DataFrame()
    return Chart(figure(data, layout), table)
