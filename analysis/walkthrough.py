"""One head's computation with the model's own numbers, and the experiments beside it:
why scores are divided by sqrt(d_k), GELU exact vs tanh, LayerNorm vs BatchNorm."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import pandas as pd
import torch

import model_core

from .common import check_layer_head, check_text, encode, run

STEPS = ("input", "q", "k", "v", "raw_scores", "scores", "masked_scores", "pattern", "allowed", "z", "out")


@dataclass(frozen=True)
class HeadSteps:
    """One head of one layer on one sentence: every input, weight and step, float32 numpy."""

    X: np.ndarray                    # [pos, d_model]: what the layer's attention reads (attn.input)
    W_Q: np.ndarray                  # [d_model, d_head], and W_K, W_V the same
    W_K: np.ndarray
    W_V: np.ndarray
    b_Q: np.ndarray                  # [d_head], and b_K, b_V the same
    b_K: np.ndarray
    b_V: np.ndarray
    q: np.ndarray                    # [pos, d_head], and k, v the same
    k: np.ndarray
    v: np.ndarray
    raw_scores: np.ndarray           # [query_pos, key_pos]: q.k
    scores: np.ndarray               # divided by sqrt(d_head)
    masked_scores: np.ndarray        # masked cells NaN
    pattern: np.ndarray              # after softmax
    allowed: np.ndarray              # bool [query_pos, key_pos]
    z: np.ndarray                    # [pos, d_head]: this head's weighted sum of the values
    z_all: np.ndarray                # [head, pos, d_head]: every head's
    W_O: np.ndarray                  # [d_head, d_model]: the rows of the output matrix this head multiplies
    b_O: np.ndarray                  # [d_model]
    out: np.ndarray                  # [pos, d_model]: attn.out, all heads together
    tokens: tuple[str, ...]
    d_head: int
    n_heads: int
    truncated: bool
    checks: dict                     # what -> max |recomputed - recorded|, e.g. "q = X W_Q + b_Q"


def head_steps(model: Any, sentence: str, layer: int, head: int) -> HeadSteps:
    """Everything head ``head`` of layer ``layer`` computes for ``sentence``, from the trace and the weights,
    with the recomputations checked against the recorded values."""
    check_text(sentence)
    cfg = model.config
    check_layer_head(cfg, layer, head)
    enc = encode(model, [sentence])
    trace = run(model, enc, (f"blocks.{layer}.attn.*",)).trace.numpy()
    n = int(enc.lengths[0])
    step = {name: trace[f"blocks.{layer}.attn.{name}"] for name in STEPS}
    allowed = step["allowed"][0, :n, :n].astype(bool)
    values = {name: np.asarray(step[name][0, head, :n, :n], dtype=np.float32) for name in ("raw_scores", "scores", "pattern")}
    values["masked_scores"] = np.where(allowed, step["masked_scores"][0, head, :n, :n], np.nan).astype(np.float32)
    values.update({name: np.asarray(step[name][0, head, :n], dtype=np.float32) for name in ("q", "k", "v", "z")})
    values["z_all"] = np.asarray(step["z"][0, :, :n], dtype=np.float32)
    values["X"] = np.asarray(step["input"][0, :n], dtype=np.float32)
    values["out"] = np.asarray(step["out"][0, :n], dtype=np.float32)
    weights = model_core.head_weights(model, layer, head)
    values.update({name: np.asarray(w, dtype=np.float32) for name, w in weights.items()})
    all_w_o = np.concatenate([model_core.head_weights(model, layer, h)["W_O"] for h in range(cfg.n_heads)])
    concat = values["z_all"].transpose(1, 0, 2).reshape(n, -1)                # [pos, n_heads * d_head]
    checks = {f"{name.lower()} = X W_{name} + b_{name}":
              float(np.abs(values["X"] @ values[f"W_{name}"] + values[f"b_{name}"] - values[name.lower()]).max())
              for name in "QKV"}
    checks["attn.out = concat(z) W_O + b_O"] = float(np.abs(concat @ all_w_o + values["b_O"] - values["out"]).max())
    return HeadSteps(**values, allowed=allowed, tokens=tuple(enc.tokens[0][:n]), d_head=int(cfg.d_head),
                     n_heads=int(cfg.n_heads), truncated=bool(enc.truncated), checks=checks)


def score_decomposition(q_row: np.ndarray, k: np.ndarray, raw_row: np.ndarray,
                        keys: Sequence[str]) -> pd.DataFrame:
    """One query against every key: q·k = |q| |k| cos(theta), next to the model's own recorded score.

    q_row [d_head], k [key_pos, d_head], raw_row [key_pos] (the trace's raw_scores for this query).
    Two columns say how each factor moves the score: the angle in degrees, and the score the key would get
    at the mean key length (same angle): where that differs much from the real score, length decided it.
    """
    q_row, k = np.asarray(q_row, dtype=np.float64), np.asarray(k, dtype=np.float64)
    if k.ndim != 2 or k.shape[0] != len(keys):
        raise ValueError(f"k has shape {k.shape}, while number of key tokens is {len(keys)}")
    q_norm = float(np.linalg.norm(q_row))
    k_norm = np.linalg.norm(k, axis=1)
    dots = k @ q_row
    cos = np.where(k_norm * q_norm > 0, dots / np.where(k_norm * q_norm > 0, k_norm * q_norm, 1.0), 0.0)
    return pd.DataFrame({"|q|": q_norm, "|k|": k_norm, "cos θ": cos,
                         "θ (degrees)": np.degrees(np.arccos(np.clip(cos, -1.0, 1.0))),
                         "|q| |k| cos θ": q_norm * k_norm * cos,
                         "at the mean |k|": q_norm * float(k_norm.mean()) * cos,
                         "q·k (recorded)": np.asarray(raw_row, dtype=np.float64)}, index=list(keys)).round(4)


def _softmax(scores: np.ndarray) -> np.ndarray:
    shifted = scores - scores.max(axis=-1, keepdims=True)
    weights = np.exp(shifted)
    return weights / weights.sum(axis=-1, keepdims=True)


def scaling_experiment(d_ks: Sequence[int], n_keys: int = 16, n_samples: int = 256,
                       seed: int = 0) -> pd.DataFrame:
    """Sample q and n_keys keys with independent N(0, 1) components for each d_k.

    Returns one row per d_k with, for raw scores q.k and scaled scores q.k / sqrt(d_k):
    the variance of the scores, the mean largest softmax weight, the mean entropy of the
    softmax (nats; log(n_keys) is uniform), and the mean Frobenius norm of the softmax
    Jacobian diag(p) - p p^T, which is what gradients flow through.
    """
    rng = np.random.default_rng(seed)
    rows = []
    for d_k in d_ks:
        # Sampled in chunks so that the keys of a wide d_k never take more than ~16 MB at once.
        chunk = max(1, min(n_samples, 2_000_000 // (n_keys * d_k)))
        parts = []
        for start in range(0, n_samples, chunk):
            size = min(chunk, n_samples - start)
            q = rng.standard_normal((size, d_k))                 # [sample, d_k]
            k = rng.standard_normal((size, n_keys, d_k))         # [sample, key, d_k]
            parts.append(np.einsum("sd,skd->sk", q, k))          # [sample, key]
        raw = np.concatenate(parts)
        row = {"d_k": int(d_k)}
        for name, scores in (("raw", raw), ("scaled", raw / np.sqrt(d_k))):
            p = _softmax(scores)
            entropy = -(p * np.log(np.clip(p, 1e-300, None))).sum(axis=-1)
            sum_sq = (p ** 2).sum(axis=-1)
            jacobian_sq = sum_sq - 2.0 * (p ** 3).sum(axis=-1) + sum_sq ** 2  # ||diag(p) - pp^T||_F^2
            row[f"variance_{name}"] = float(scores.var())
            row[f"max_weight_{name}"] = float(p.max(axis=-1).mean())
            row[f"entropy_{name}"] = float(entropy.mean())
            row[f"jacobian_{name}"] = float(np.sqrt(np.clip(jacobian_sq, 0.0, None)).mean())
        rows.append(row)
    return pd.DataFrame(rows)


def activation_curves(low: float = -4.0, high: float = 4.0, n_points: int = 401) -> dict[str, np.ndarray]:
    """x and the model_core activations over it: "GELU exact", "GELU tanh", "ReLU" (float64)."""
    x = torch.linspace(float(low), float(high), int(n_points), dtype=torch.float64)
    return {"x": x.numpy(), "GELU exact": model_core.gelu_exact(x).numpy(),
            "GELU tanh": model_core.gelu_tanh(x).numpy(), "ReLU": torch.relu(x).numpy()}


def layer_norm(x: np.ndarray, eps: float = 1e-5) -> np.ndarray:
    """Normalise each row (one token) over its features, biased variance, no gain/bias."""
    mean = x.mean(axis=-1, keepdims=True)
    var = x.var(axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps)


def batch_norm(x: np.ndarray, eps: float = 1e-5) -> np.ndarray:
    """Normalise each column (one feature) over the rows of the batch, biased variance."""
    mean = x.mean(axis=0, keepdims=True)
    var = x.var(axis=0, keepdims=True)
    return (x - mean) / np.sqrt(var + eps)


def norm_stats(x: np.ndarray, eps: float = 1e-5) -> pd.DataFrame:
    """Mean and standard deviation along both axes after each normalisation."""
    x = np.asarray(x, dtype=np.float64)
    records = []
    for name, matrix in (("LayerNorm", layer_norm(x, eps)), ("BatchNorm", batch_norm(x, eps))):
        for axis, what in ((1, "per token (row)"), (0, "per feature (column)")):
            records.append({
                "normalisation": name, "statistic over": what,
                # (+ 0.0 turns a rounded -0.0 into 0.0)
                "means range": f"{round(float(matrix.mean(axis=axis).min()), 3) + 0.0:+.3f} .. "
                               f"{round(float(matrix.mean(axis=axis).max()), 3) + 0.0:+.3f}",
                "std range": f"{matrix.std(axis=axis).min():.3f} .. {matrix.std(axis=axis).max():.3f}",
            })
    return pd.DataFrame(records)
