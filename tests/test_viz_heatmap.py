"""viz.heatmap: one matrix as a heatmap, checked on chart.figure.to_dict() and chart.table."""
import numpy as np
import pytest

from viz import heatmap as vh
from viz.common import SEQUENTIAL, plotly_array

TOKENS = ["[CLS]", "the", "cat", "the", "<script>", "[SEP]"]
LABELS = ["00 [CLS]", "01 the", "02 cat", "03 the", "04 <script>", "05 [SEP]"]


def pattern(n=len(TOKENS), seed=0):
    x = np.random.default_rng(seed).random((n, n)).astype(np.float32) ** 3
    return x / x.sum(axis=-1, keepdims=True)


def heatmap_trace(fig):
    return [t for t in fig.to_dict()["data"] if t["type"] == "heatmap"][0]


def test_attention_heatmap_labels_range_and_hover():
    p = pattern()
    fig = vh.attention_heatmap(p, TOKENS, title="t").figure
    trace = heatmap_trace(fig)
    assert plotly_array(trace["z"]).shape == (6, 6)
    np.testing.assert_allclose(plotly_array(trace["z"]), p, rtol=1e-6)
    assert (trace["zmin"], trace["zmax"]) == (0.0, 1.0)
    layout = fig.to_dict()["layout"]
    # Repeated tokens stay distinct; markup in user text is escaped, never interpreted.
    assert layout["xaxis"]["ticktext"] == ["00 [CLS]", "01 the", "02 cat", "03 the", "04 &lt;script&gt;", "05 [SEP]"]
    assert layout["yaxis"]["ticktext"] == layout["xaxis"]["ticktext"]
    assert layout["yaxis"]["autorange"] == "reversed"
    # Cells sit on category axes named by the unique labels: the hover names both tokens.
    assert layout["xaxis"]["type"] == "category"
    assert list(trace["x"]) == layout["xaxis"]["ticktext"] and list(trace["y"]) == layout["xaxis"]["ticktext"]
    assert trace["hovertemplate"].startswith("query %{y}<br>key %{x}<br>weight %{z")


def test_attention_heatmap_table_is_the_matrix_with_unescaped_labels():
    p = pattern()
    table = vh.attention_heatmap(p, TOKENS).table
    np.testing.assert_array_equal(table.to_numpy(), p)
    assert list(table.index) == LABELS and list(table.columns) == LABELS
    assert (table.index.name, table.columns.name) == ("query", "key")


def test_heatmap_table_has_masked_cells_as_nan_and_own_axis_names():
    masked = np.eye(6, dtype=bool)
    chart = vh.heatmap(pattern(), LABELS, LABELS, masked=masked, row_title="row", col_title="col")
    assert np.isnan(np.diag(chart.table.to_numpy())).all()
    np.testing.assert_array_equal(chart.table.to_numpy(), plotly_array(heatmap_trace(chart.figure)["z"]))
    assert (chart.table.index.name, chart.table.columns.name) == ("row", "col")


def test_heatmap_uses_named_palette():
    fig = vh.attention_heatmap(pattern(), TOKENS).figure
    assert heatmap_trace(fig)["colorscale"][0][1].lower() == "#440154"  # viridis starts dark purple
    assert SEQUENTIAL == "Viridis"


def test_heatmap_rejects_mismatched_tokens():
    with pytest.raises(ValueError, match="6 rows, while number of row tokens is 5"):
        vh.attention_heatmap(pattern(), TOKENS[:5])


def test_long_input_thins_ticks_but_keeps_every_cell():
    n = 300
    p = np.full((n, n), 1.0 / n, dtype=np.float32)
    chart = vh.attention_heatmap(p, [f"w{i}" for i in range(n)])
    trace = heatmap_trace(chart.figure)
    assert len(trace["x"]) == n and plotly_array(trace["z"]).shape == (n, n)
    assert trace.get("text") is None  # no per-cell payload
    ticks = chart.figure.to_dict()["layout"]["xaxis"]
    assert len(ticks["ticktext"]) <= vh.MAX_TICKS and ticks["tickvals"] == ticks["ticktext"]
    assert chart.table.shape == (n, n)  # the table keeps every cell too


def test_heatmap_refuses_repeated_labels():
    with pytest.raises(ValueError, match="unique"):
        vh.heatmap(np.zeros((2, 2)), ["the", "the"], ["a", "b"])


def test_segments_add_a_and_b_legend_and_boundary():
    fig = vh.attention_heatmap(pattern(), TOKENS, segments=[0, 0, 0, 1, 1, 1]).figure
    names = [t.get("name") for t in fig.to_dict()["data"]]
    assert "sentence A" in names and "sentence B" in names
    lines = [s for s in fig.to_dict()["layout"]["shapes"] if s["type"] == "line"]
    assert {s.get("x0") for s in lines} >= {2.5}


def test_axis_ticks_escape_and_thin():
    positions, texts = vh.axis_ticks(["<a>", "b"])
    assert positions == [0, 1] and texts == ["&lt;a&gt;", "b"]
    positions, _ = vh.axis_ticks([str(i) for i in range(200)])
    assert len(positions) <= vh.MAX_TICKS and positions[1] == 7
    assert len(vh.axis_ticks([str(i) for i in range(48)])[0]) == 48   # up to 48 tokens, every one is labelled
