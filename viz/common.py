"""Conventions every figure shares: distinct token labels, palettes, CSV export."""
from __future__ import annotations

import base64
import csv
import io
from typing import Sequence

import numpy as np

# Colour-blind-safe palettes (viridis family for magnitudes, a diverging
# blue-red for signed values centred on zero).
SEQUENTIAL = "Viridis"
DIVERGING = "RdBu_r"
# Colour for cells a mask removed: drawn distinctly, never as a huge negative.
MASKED_COLOUR = "#bdbdbd"
# Segment A / B colours (Okabe-Ito blue and orange).
SEGMENT_COLOURS = ("#0072B2", "#E69F00")


def token_labels(tokens: Sequence[str]) -> list[str]:
    """Index-prefixed labels ("003 the") so repeated tokens stay distinct on an axis."""
    width = max(2, len(str(max(len(tokens) - 1, 0))))
    return [f"{i:0{width}d} {tok}" for i, tok in enumerate(tokens)]


def check_matrix(matrix: np.ndarray, rows: Sequence[str], cols: Sequence[str], what: str) -> None:
    """Raise a ValueError naming both sides when a matrix and its labels disagree."""
    if matrix.ndim != 2:
        raise ValueError(f"{what} must be 2-D, got shape {matrix.shape}")
    if matrix.shape[0] != len(rows):
        raise ValueError(f"{what} has {matrix.shape[0]} rows, while number of row tokens is {len(rows)}")
    if matrix.shape[1] != len(cols):
        raise ValueError(f"{what} has {matrix.shape[1]} columns, while number of column tokens is {len(cols)}")


def matrix_csv(matrix: np.ndarray, rows: Sequence[str], cols: Sequence[str]) -> bytes:
    """The matrix as CSV with labelled rows and columns, for a download button."""
    matrix = np.asarray(matrix)
    check_matrix(matrix, rows, cols, "matrix")
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow([""] + list(cols))
    for label, row in zip(rows, matrix):
        writer.writerow([label] + [repr(float(x)) if np.isfinite(x) else "" for x in row])
    return buf.getvalue().encode("utf-8")


def plotly_array(value) -> np.ndarray:
    """A data field of `fig.to_dict()` / a figure's JSON as numpy.

    Plotly encodes numpy arrays as typed arrays ({"dtype", "bdata", "shape"}); plain
    lists pass through. For tests and CSV export of figures built elsewhere.
    """
    if isinstance(value, dict) and "bdata" in value:
        flat = np.frombuffer(base64.b64decode(value["bdata"]), dtype=np.dtype(value["dtype"]))
        shape = value.get("shape")
        if shape:
            flat = flat.reshape([int(s) for s in str(shape).split(",")])
        return flat
    return np.asarray(value)
