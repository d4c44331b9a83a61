"""Figures built from plain dicts (viz.common.figure skips plotly's checks per request) are checked here:
plotly's validation of each builder's output accepts it and changes nothing the browser would receive.
Every public builder (every viz function that returns a Chart) is listed, and its table is a table."""
import importlib
import inspect
import json
import pkgutil

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio
import pytest

import analysis
import model_core
import viz
from viz import embeddings as ve
from viz import heatmap as vh
from viz import lines as vl
from viz import masks as vm
from viz import objectives as vob
from viz import overview as vo
from viz import positional as vp
from viz import predictions as vpred
from viz import translation as vt
from viz import walkthrough as vw
from viz.common import Chart, token_labels

TOKENS = ["[CLS]", "the", "cat", "<b>sat</b>", "[SEP]", "[PAD]"]
SPECIAL = [True, False, False, False, True, True]


def _pattern(n=len(TOKENS), seed=0):
    x = np.random.default_rng(seed).random((n, n)).astype(np.float32)
    return x / x.sum(-1, keepdims=True)


def _steps():
    raw = np.random.default_rng(1).normal(size=(6, 6)).astype(np.float32)
    allowed = np.tril(np.ones((6, 6), dtype=bool))
    return {"raw_scores": raw, "scores": raw / 4, "masked_scores": np.where(allowed, raw / 4, np.nan),
            "pattern": _pattern()}, allowed


def _overview(patterns, tokens):
    """The overview as a page draws it: the pattern shrunk by analysis.downsample first."""
    small, block = analysis.downsample(patterns, vo.MAX_TILE, how="mass")
    return vo.heads_grid(small, tokens, block)


def _builders():
    labels = token_labels(TOKENS)
    steps, allowed = _steps()
    change = np.array([0.0, 1e-7, 0.3], dtype=np.float32)
    z_heads = np.random.default_rng(2).normal(size=(3, 6, 4)).astype(np.float32)
    table = np.asarray(model_core.sinusoidal_table(12, 8), dtype=np.float64)  # [pos, d_model]
    patterns = np.stack([np.stack([_pattern()] * 3)] * 2)
    long = np.full((1, 2, 100, 100), 0.01, np.float32)
    parts = {name: np.random.default_rng(4).normal(size=(6, 8)) for name in ("token", "segment", "position")}
    total = sum(parts.values())
    batch = np.random.default_rng(3).normal(size=(6, 8))
    layers = ["emb", "block 0", "block 1"]
    sims = np.random.default_rng(5).random((3, 6))
    sims[:, 2] = np.nan
    return {
        "heatmap": lambda: vh.heatmap(_pattern(), labels, labels, title="t"),
        "heatmap masked, own range": lambda: vh.heatmap(_pattern(), labels, labels, zmin=None, zmax=None,
                                                         masked=~allowed),
        "attention_heatmap with segments": lambda: vh.attention_heatmap(_pattern(), TOKENS, segments=[0, 0, 0, 1, 1, 1]),
        "heads_grid": lambda: vo.heads_grid(patterns, TOKENS, 1, selected=(1, 2)),
        "head_scores_figure": lambda: vo.head_scores_figure(np.random.default_rng(0).random((2, 4)), "t <i>",
                                                            selected=(1, 2)),
        "heads_grid in blocks": lambda: _overview(long, [f"w{i}" for i in range(100)]),
        "lines": lambda: vl.lines(_pattern(), TOKENS, segments=[0, 0, 0, 1, 1, 1], min_weight=0.1, title="l"),
        "lines top_k": lambda: vl.lines(_pattern(), TOKENS, top_k=2),
        "steps_figure": lambda: vm.steps_figure(steps, TOKENS, allowed),
        "allowed_figure": lambda: vm.allowed_figure(allowed, TOKENS),
        "mark_padding": lambda: vm.mark_padding(vm.allowed_figure(allowed, TOKENS), 4, 6),
        "padded_figures pattern": lambda: vm.padded_figures(allowed, _pattern(), TOKENS, 4, name="B")[1],
        "padded_figures allowed": lambda: vm.padded_figures(allowed, _pattern(), TOKENS, 4, name="B")[0],
        "prefix_figure": lambda: vm.prefix_figure(_pattern(), TOKENS, change, 1e-6),
        "row_change_figure": lambda: vm.row_change_figure(change, TOKENS, 1e-6),
        "topk_figure": lambda: vpred.topk_figure([[("a", 0.5), ("<i>", 0.2)], [("b", 0.9)]], ["one", "two"]),
        "masking_figure": lambda: vpred.masking_figure(["a", "b", "<c>"], ["a", "[MASK]", "<c>"],
                                                       ["not chosen", "[MASK]", "special"]),
        "attention_row_figure": lambda: vpred.attention_row_figure(["\u27e8start\u27e9", "<b>", "x"], [0.5, 0.3, 0.2],
                                                                   "row <i>", new_from=2),
        "ablation_figure": lambda: vpred.ablation_figure(["a", "<b>"], [0.5, 0.2], [0.1, 0.3], "first <blank>"),
        "concat_figure": lambda: vw.concat_figure(z_heads, z_heads.transpose(1, 0, 2).reshape(6, -1), TOKENS, 1),
        "step_heatmap": lambda: vw.step_heatmap(steps["masked_scores"], labels, labels, "masked", allowed=allowed),
        "norm_figure": lambda: vw.norm_figure(batch, analysis.layer_norm(batch), analysis.batch_norm(batch), labels),
        "scaling_figure": lambda: vw.scaling_figure(analysis.scaling_experiment([4, 16], n_keys=8, n_samples=16,
                                                                                seed=0), 8),
        "activation_figure": lambda: vw.activation_figure(np.linspace(-2, 2, 9), {"a": np.linspace(-2, 2, 9),
                                                                                 "b": np.zeros(9)}, "a"),
        "wave_figure": lambda: vp.wave_figure(table, [0, 3]),
        "table_heatmap": lambda: vp.table_heatmap(table, "t", first_pos=1),
        "similarity_heatmap": lambda: vp.similarity_heatmap(analysis.similarity_matrix(table), "s"),
        "distance_figure": lambda: vp.distance_figure(
            {"a": analysis.similarity_by_distance(analysis.similarity_matrix(table))}),
        "offset_figure": lambda: vp.offset_figure(analysis.offset_rotation(8, 3), table[2], table[5], 2, 3),
        "pca_figure": lambda: vp.pca_figure(*analysis.pca_2d(table), "p", first_pos=1),
        "contribution_figure": lambda: ve.contribution_figure(TOKENS, parts, total,
                                                              analysis.projections_onto(total, parts)),
        "dims_figure": lambda: ve.dims_figure(TOKENS, {**parts, "LN": total * 3}, [0, 3, 5], separate=["LN"]),
        "segments_figure": lambda: ve.segments_figure([("A then B", TOKENS, [0, 0, 0, 1, 1, 1], SPECIAL),
                                                       ("B", TOKENS[:3], [0, 1, 1], SPECIAL[:3])], "pair"),
        "grouped_bars": lambda: ve.grouped_bars(labels, {"one": np.arange(6.0), "two": np.ones(6)}, "t", "y", (-1, 1)),
        "layer_similarity_figure": lambda: ve.layer_similarity_figure(layers, {"a": [1.0, 0.8, 0.5]}),
        "neighbours_figure": lambda: ve.neighbours_figure(layers, [("s1", TOKENS, sims), ("s2", TOKENS[:4], sims[:, :4])]),
        "cross_heatmap": lambda: vt.cross_heatmap(_pattern()[:4], TOKENS, TOKENS[:4], title="c"),
        "cross_lines": lambda: vt.cross_lines(_pattern()[:4], TOKENS, TOKENS[:4]),
        "cross_grid": lambda: vt.cross_grid(patterns[..., :4, :], TOKENS, TOKENS[:4], (1, 2)),
        "three_attentions": lambda: vt.three_attentions(_pattern(), np.tril(_pattern()), _pattern(),
                                                         TOKENS, TOKENS, TOKENS),
        "step_rows": lambda: vt.step_rows(_pattern()[0], np.array([0.4, 0.6]), TOKENS, TOKENS[:2], title="s"),
        "reference_probs": lambda: vt.reference_probs(TOKENS, [0.5, 0.2, 0.9, 0.1, 0.3, 0.99], title="r"),
        "epochs_figure": lambda: vob.epochs_figure(TOKENS, [["special", "[MASK]", "not chosen", "random",
                                                             "special", "special"]] * 2, title="e"),
        "race_figure": lambda: vob.race_figure(analysis.race(steps=5).paths, *analysis.loss_surface(20)),
        "loss_curves": lambda: vob.loss_curves(analysis.race(steps=5).losses),
        "head_outputs": lambda: vob.head_outputs(np.array([0.4, 0.6]), TOKENS, [1, 2], np.array([0.3, 0.7]),
                                                 np.array([0.5, 0.5])),
        "head_outputs without a passage": lambda: vob.head_outputs(np.array([0.4, 0.6]), TOKENS, [], np.zeros(0),
                                                                   np.zeros(0)),
        "action_strips via masking_figure": lambda: vpred.masking_figure(["a"], ["[MASK]"], ["[MASK]"]),
    }


@pytest.mark.parametrize("name", list(_builders()))
def test_validating_the_figure_changes_nothing(name):
    chart = _builders()[name]()
    assert isinstance(chart, Chart) and isinstance(chart.table, pd.DataFrame) and not chart.table.empty
    fig = chart.figure
    validated = go.Figure(fig.to_dict())  # raises on any property plotly does not know
    assert json.loads(pio.to_json(validated)) == json.loads(pio.to_json(fig))
    assert chart.csv().decode("utf-8").count("\n") >= len(chart.table)


def _public_builders():
    """Every public function of a viz module that returns a Chart (or Charts)."""
    found = set()
    for module in pkgutil.iter_modules(viz.__path__):
        mod = importlib.import_module(f"viz.{module.name}")
        for name, function in inspect.getmembers(mod, inspect.isfunction):
            if not name.startswith("_") and function.__module__ == mod.__name__ and "Chart" in str(
                    inspect.signature(function).return_annotation):
                found.add(name)
    return found


def test_every_builder_is_checked_here():
    checked = {name.split()[0] for name in _builders()}
    assert _public_builders() - checked == set()
