"""viz.walkthrough: step tables and heatmaps, the sqrt(d_k) experiment, activations, norms."""
import numpy as np
import pytest

import analysis
from viz.common import MASKED_COLOUR, plotly_array, token_labels
from viz import walkthrough as vw


def test_matrix_frame_truncates_with_a_note():
    matrix = np.arange(20 * 40, dtype=float).reshape(20, 40) / 7
    frame, note = vw.matrix_frame(matrix, [f"r{i}" for i in range(20)], [f"c{j}" for j in range(40)],
                                  max_rows=5, max_cols=4, decimals=2)
    assert frame.shape == (5, 4)
    assert frame.iloc[1, 1] == round(41 / 7, 2)
    assert "first 5 of 20 rows" in note and "first 4 of 40 columns" in note


def test_matrix_frame_small_matrix_needs_no_note():
    frame, note = vw.matrix_frame(np.ones((2, 3)), ["a", "b"], ["x", "y", "z"])
    assert frame.shape == (2, 3) and note is None


def test_matrix_frame_names_both_sides_on_mismatch():
    with pytest.raises(ValueError, match="3 rows, while number of row tokens is 2"):
        vw.matrix_frame(np.ones((3, 3)), ["a", "b"], ["x", "y", "z"])


def test_step_heatmap_labels_and_mask():
    labels = token_labels(["the", "cat", "the"])
    allowed = np.tril(np.ones((3, 3), dtype=bool))
    scores = np.array([[1.0, -50.0, 9.0], [2.0, -3.0, 9.0], [0.5, 1.5, -2.5]])
    chart = vw.step_heatmap(scores, labels, labels, "masked", allowed=allowed)
    fig = chart.figure.to_dict()
    data = fig["data"][0]
    z = plotly_array(data["z"])
    assert np.isnan(z[0, 1]) and np.isnan(z[0, 2]) and z[2, 2] == -2.5
    assert data["zmax"] == 3.0 and data["zmin"] == -3.0  # range of the allowed cells only (not 50)
    assert fig["layout"]["xaxis"]["ticktext"] == ["00 the", "01 cat", "02 the"]
    assert list(fig["layout"]["yaxis"]["range"]) == [2.5, -0.5]    # first token on top, no margin
    mask_layer = fig["data"][1]
    assert mask_layer["colorscale"][0][1] == MASKED_COLOUR and mask_layer["showscale"] is False
    blocked = plotly_array(mask_layer["z"])
    assert blocked[0, 1] == 1 and np.isnan(blocked[1, 0])          # drawn exactly where the mask blocks
    np.testing.assert_array_equal(chart.table.to_numpy(), z)            # blocked cells NaN, as drawn
    assert list(chart.table.index) == labels and list(chart.table.columns) == labels
    assert (chart.table.index.name, chart.table.columns.name) == ("query", "key")   # as every other page says


def test_step_heatmap_unsigned_uses_true_range():
    data = vw.step_heatmap(np.array([[0.2, 0.8]]), ["q"], ["a", "b"], "p", signed=False).figure.to_dict()["data"][0]
    assert (data["zmin"], data["zmax"]) == (0.2, 0.8)


def test_concat_figure_layout():
    rng = np.random.default_rng(0)
    z = rng.standard_normal((4, 3, 2))          # [head, pos, d_head]
    out = rng.standard_normal((3, 8))
    chart = vw.concat_figure(z, out, ["a", "b", "c"], head=2)
    fig = chart.figure.to_dict()
    concat = plotly_array(fig["data"][0]["z"])
    assert concat.shape == (3, 8)
    np.testing.assert_allclose(concat[:, 4:6], z[2])  # head 2's block sits at columns 4..5
    assert plotly_array(fig["data"][1]["z"]).shape == (3, 8)
    rect = [s for s in fig["layout"]["shapes"] if s["type"] == "rect"][0]
    assert (rect["x0"], rect["x1"]) == (3.5, 5.5)
    assert chart.table.shape == (3, 8 + 8) and list(chart.table.index) == ["00 a", "01 b", "02 c"]
    assert list(chart.table.columns[:3]) == ["head0.0", "head0.1", "head1.0"] and chart.table.columns[8] == "attn.out.0"
    np.testing.assert_array_equal(chart.table.iloc[:, 4:6].to_numpy(), z[2])
    np.testing.assert_array_equal(chart.table.iloc[:, 8:].to_numpy(), out)


def test_scaling_figure_has_two_lines_per_panel():
    result = analysis.scaling_experiment([1, 4], n_samples=20)
    chart = vw.scaling_figure(result, n_keys=16)
    fig = chart.figure.to_dict()
    assert len(fig["data"]) == 8
    assert sum(t["showlegend"] for t in fig["data"]) == 2
    assert fig["layout"]["xaxis"]["type"] == "log"
    assert chart.table.index.name == "d_k" and list(chart.table.index) == [1, 4]
    assert list(chart.table.columns[:3]) == ["variance_raw", "variance_scaled", "max_weight_raw"]
    assert chart.table.shape == (2, 8)
    np.testing.assert_array_equal(chart.table["jacobian_scaled"], plotly_array(fig["data"][7]["y"]))


def test_activation_figure_differences():
    x = np.linspace(-3, 3, 7)
    relu = np.maximum(x, 0)
    curves = {"GELU exact": x * 0.5, "ReLU": relu}
    chart = vw.activation_figure(x, curves, "GELU exact")
    fig = chart.figure.to_dict()
    assert [t["name"] for t in fig["data"]] == ["GELU exact", "ReLU", "|ReLU - GELU exact|"]
    gap = np.abs(relu - x * 0.5)
    np.testing.assert_allclose(plotly_array(fig["data"][2]["y"]), np.where(gap > 0, gap, np.nan))
    assert fig["layout"]["yaxis2"]["type"] == "log"
    assert list(chart.table.columns) == ["GELU exact", "ReLU", "|ReLU - GELU exact|"]
    assert chart.table.index.name == "x" and chart.table.index.tolist() == x.tolist()
    np.testing.assert_array_equal(chart.table["|ReLU - GELU exact|"], gap)    # 0 where they agree, not blank
    with pytest.raises(ValueError, match="reference"):
        vw.activation_figure(x, curves, "tanh")


def test_norm_figure_ranges_and_labels():
    x = np.arange(12.0).reshape(3, 4)
    ln, bn = analysis.layer_norm(x), analysis.batch_norm(x)
    chart = vw.norm_figure(x, ln, bn, token_labels(["a", "b", "c"]))
    fig = chart.figure.to_dict()
    assert [t["type"] for t in fig["data"]] == ["heatmap"] * 3
    assert [t["coloraxis"] for t in fig["data"]] == ["coloraxis", "coloraxis2", "coloraxis2"]
    layout = fig["layout"]
    assert layout["coloraxis"]["cmax"] == 11.0
    assert layout["coloraxis2"]["cmax"] == pytest.approx(max(np.abs(ln).max(), np.abs(bn).max()))
    assert layout["yaxis"]["ticktext"] == ["00 a", "01 b", "02 c"]
    table = chart.table
    assert table.index.names == ["panel", "row"] and table.shape == (9, 4)
    assert list(table.index.get_level_values("panel").unique()) == ["input", "LayerNorm", "BatchNorm"]
    assert list(table.loc["input"].index) == ["00 a", "01 b", "02 c"] and list(table.columns) == ["f0", "f1", "f2", "f3"]
    np.testing.assert_array_equal(table.loc["BatchNorm"].to_numpy(), bn)
    with pytest.raises(ValueError, match="LayerNorm panel has shape"):
        vw.norm_figure(x, ln[:2], bn, token_labels(["a", "b", "c"]))


def test_tokens_that_look_like_html_are_escaped_for_plotly():
    labels = token_labels(["<script>", "x"])
    chart = vw.step_heatmap(np.eye(2), labels, labels, "t")
    fig = chart.figure.to_dict()
    assert fig["layout"]["xaxis"]["ticktext"][0] == "00 &lt;script&gt;"
    assert "&lt;script&gt;" in fig["data"][0]["customdata"][0][0]
    assert chart.table.index[0] == "00 <script>"
