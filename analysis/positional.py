"""Position tables: the sinusoidal one, a model's learned one, and what can be measured on them.

A position table is ``[pos, d_model]``.
"""
from __future__ import annotations

from typing import Any

import numpy as np

import model_core
from model_core import InputError

# The base of the geometric wavelength progression in "Attention Is All You Need".
SINUSOID_BASE = 10000.0


def _check_table(table: np.ndarray, what: str = "position table") -> np.ndarray:
    table = np.asarray(table, dtype=np.float64)
    if table.ndim != 2 or table.shape[0] < 1 or table.shape[1] < 1:
        raise ValueError(f"{what} must be [pos, d_model], got shape {table.shape}")
    return table


def sinusoidal(n_positions: int, d_model: int) -> np.ndarray:
    """The fixed sinusoidal table [pos, d_model] (model_core's, float64)."""
    try:
        return np.asarray(model_core.sinusoidal_table(int(n_positions), int(d_model)), dtype=np.float64)
    except ValueError as err:
        raise InputError(f"{err}; choose at least one position and an even d_model of 2 or more.") from None


def position_embeddings(model: Any) -> np.ndarray:
    """The model's learned position embeddings [n_positions, d_model], float32."""
    return np.asarray(model_core.position_table(model), dtype=np.float32)


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
