"""Figures built from plain dicts (viz.common.figure skips plotly's checks per request) are checked here:
plotly's validation of each builder's output accepts it and changes nothing the browser would receive."""
import json

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio
import pytest

import model_core
from viz import attention as va
from viz import masks as vm
from viz import positional as vp
from viz import predictions as vpred
from viz import walkthrough as vw
from viz.common import token_labels

TOKENS = ["[CLS]", "the", "cat", "<b>sat</b>", "[SEP]", "[PAD]"]


def _pattern(n=len(TOKENS), seed=0):
    x = np.random.default_rng(seed).random((n, n)).astype(np.float32)
    return x / x.sum(-1, keepdims=True)


def _steps():
    raw = np.random.default_rng(1).normal(size=(6, 6)).astype(np.float32)
    allowed = np.tril(np.ones((6, 6), dtype=bool))
    return {"raw_scores": raw, "scores": raw / 4, "masked_scores": np.where(allowed, raw / 4, np.nan),
            "pattern": _pattern()}, allowed


def _builders():
    labels = token_labels(TOKENS)
    steps, allowed = _steps()
    change = np.array([0.0, 1e-7, 0.3], dtype=np.float32)
    z_heads = np.random.default_rng(2).normal(size=(3, 6, 4)).astype(np.float32)
    table = model_core.sinusoidal_table(12, 8)  # [pos, d_model]
    return {
        "heatmap": lambda: va.heatmap(_pattern(), labels, labels, title="t"),
        "heatmap masked, own range": lambda: va.heatmap(_pattern(), labels, labels, zmin=None, zmax=None,
                                                         masked=~allowed),
        "heatmap with segments": lambda: va.attention_heatmap(_pattern(), TOKENS, segments=[0, 0, 0, 1, 1, 1]),
        "heads_grid": lambda: va.heads_grid(np.stack([np.stack([_pattern()] * 3)] * 2), TOKENS, selected=(1, 2))[0],
        "heads_grid in blocks": lambda: va.heads_grid(np.full((1, 2, 100, 100), 0.01, np.float32),
                                                      [f"w{i}" for i in range(100)])[0],
        "steps_figure": lambda: vm.steps_figure(*_steps()[:1], TOKENS, allowed),
        "padded_figures": lambda: vm.padded_figures(allowed, _pattern(), TOKENS, 4, name="B")[1],
        "allowed padded": lambda: vm.padded_figures(allowed, _pattern(), TOKENS, 4, name="B")[0],
        "prefix_figure": lambda: vm.prefix_figure(_pattern(), TOKENS, change, 1e-6),
        "row_change_figure": lambda: vm.row_change_figure(change, TOKENS, 1e-6),
        "topk_figure": lambda: vpred.topk_figure([[("a", 0.5), ("<i>", 0.2)], [("b", 0.9)]], ["one", "two"]),
        "concat_figure": lambda: vw.concat_figure(z_heads, z_heads.transpose(1, 0, 2).reshape(6, -1), TOKENS, 1),
        "step_heatmap": lambda: vw.step_heatmap(steps["masked_scores"], labels, labels, "masked", allowed=allowed),
        "norm_figure": lambda: vw.norm_figure(np.random.default_rng(3).normal(size=(6, 8)), labels),
        "scaling_figure": lambda: vw.scaling_figure(vw.scaling_experiment([4, 16], n_keys=8, n_samples=16, seed=0), 8),
        "activation_figure": lambda: vw.activation_figure(np.linspace(-2, 2, 9), {"a": np.linspace(-2, 2, 9),
                                                                                 "b": np.zeros(9)}, "a"),
        "masking_figure": lambda: vpred.masking_figure(["a", "b", "<c>"], ["a", "[MASK]", "<c>"],
                                                       ["not chosen", "[MASK]", "special"]),
        "ablation_figure": lambda: vpred.ablation_figure(["a", "<b>"], [0.5, 0.2], [0.1, 0.3], "first <blank>"),
        "wave_figure": lambda: vp.wave_figure(table, [0, 3]),
        "table_heatmap": lambda: vp.table_heatmap(table, "t", first_pos=1),
        "similarity_heatmap": lambda: vp.similarity_heatmap(vp.similarity_matrix(table), "s"),
        "distance_figure": lambda: vp.distance_figure({"a": vp.similarity_by_distance(vp.similarity_matrix(table))}),
        "offset_figure": lambda: vp.offset_figure(vp.offset_rotation(8, 3), table[2], table[5], 2, 3),
        "pca_figure": lambda: vp.pca_figure(*vp.pca_2d(table), "p", first_pos=1),
    }


@pytest.mark.parametrize("name", list(_builders()))
def test_validating_the_figure_changes_nothing(name):
    fig = _builders()[name]()
    validated = go.Figure(fig.to_dict())  # raises on any property plotly does not know
    assert json.loads(pio.to_json(validated)) == json.loads(pio.to_json(fig))
