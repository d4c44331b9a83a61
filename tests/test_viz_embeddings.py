"""viz.embeddings: stacked contributions, dimension heatmaps, segments, polysemy figures."""
import numpy as np
import pytest

import analysis
from viz.common import SEGMENT_COLOURS, plotly_array
from viz import embeddings as ve

TOKENS = ["[CLS]", "the", "bank", "[SEP]", "the", "[SEP]"]
LABELS = ["00 [CLS]", "01 the", "02 bank", "03 [SEP]", "04 the", "05 [SEP]"]
SPECIAL = [True, False, False, True, False, True]


@pytest.fixture(scope="module")
def parts():
    rng = np.random.default_rng(0)
    return {name: rng.standard_normal((len(TOKENS), 8)) for name in ("token", "segment", "position")}


def contributions(tokens, parts):
    total = sum(parts.values())
    return ve.contribution_figure(tokens, parts, total, analysis.projections_onto(total, parts))


def test_contribution_figure_stacks_bars(parts):
    chart = contributions(TOKENS, parts)
    fig = chart.figure.to_dict()
    assert [t["type"] for t in fig["data"]] == ["bar", "bar", "bar", "scatter"]
    assert fig["layout"]["barmode"] == "relative"
    assert fig["layout"]["xaxis"]["ticktext"] == LABELS
    stacked = sum(plotly_array(t["y"]) for t in fig["data"][:3])
    np.testing.assert_allclose(stacked, plotly_array(fig["data"][3]["y"]), atol=1e-12)
    table = chart.table
    assert list(table.index) == LABELS
    assert list(table.columns) == ["token along sum", "segment along sum", "position along sum", "|sum|"]
    np.testing.assert_array_equal(table["|sum|"], plotly_array(fig["data"][3]["y"]))
    np.testing.assert_allclose(table.iloc[:, :3].sum(axis=1), table["|sum|"], atol=1e-12)


def test_contribution_figure_names_both_sides_on_mismatch(parts):
    with pytest.raises(ValueError, match="while number of tokens is 5"):
        contributions(TOKENS[:5], parts)
    total = sum(parts.values())
    with pytest.raises(ValueError, match="the projections are of"):
        ve.contribution_figure(TOKENS, parts, total, {"token": np.zeros(6)})


def test_dims_figure_two_colour_ranges(parts):
    total = sum(parts.values())
    shown = {**parts, "sum": total, "LayerNorm": total * 10}
    chart = ve.dims_figure(TOKENS, shown, dims=[0, 3, 5], separate=["LayerNorm"])
    fig = chart.figure.to_dict()
    assert len(fig["data"]) == 5
    assert all(plotly_array(t["z"]).shape == (6, 3) for t in fig["data"])
    assert fig["data"][4]["coloraxis"] == "coloraxis2"
    layout = fig["layout"]
    assert layout["coloraxis"]["cmax"] == pytest.approx(max(np.abs(m[:, [0, 3, 5]]).max() for m in (*parts.values(), total)))
    assert layout["coloraxis2"]["cmax"] == pytest.approx(np.abs(total[:, [0, 3, 5]] * 10).max())
    assert layout["xaxis"]["ticktext"] == ["0", "3", "5"]
    table = chart.table
    assert table.index.names == ["part", "pos"] and table.shape == (5 * 6, 3)
    assert list(table.columns) == [0, 3, 5] and list(table.loc["sum"].index) == LABELS
    np.testing.assert_array_equal(table.loc["LayerNorm"].to_numpy(), total[:, [0, 3, 5]] * 10)


def test_dims_figure_rejects_dimensions_outside(parts):
    with pytest.raises(ValueError, match="between 0 and 7"):
        ve.dims_figure(TOKENS, parts, dims=[8])


def test_segments_figure_colours_and_ids():
    chart = ve.segments_figure([("A then B", TOKENS, [0, 0, 0, 0, 1, 1], SPECIAL)], "pair")
    fig = chart.figure.to_dict()
    assert fig["layout"]["title"]["text"] == "pair"
    cells = [t for t in fig["data"] if t["mode"] == "markers+text"]
    assert [c["marker"]["color"] for c in cells] == list(SEGMENT_COLOURS)
    assert cells[0]["text"] == ["[CLS]", "the", "bank", "[SEP]"]
    assert cells[0]["marker"]["symbol"] == ["diamond", "square", "square", "diamond"]
    ids = [t for t in fig["data"] if t["mode"] == "text"]
    assert ids[1]["text"] == ["1", "1"]
    assert fig["layout"]["yaxis"]["ticktext"] == ["A then B", "segment id"]
    with pytest.raises(ValueError, match="while number of segment ids is 2"):
        ve.segments_figure([("x", TOKENS, [0, 1], SPECIAL)])
    with pytest.raises(ValueError, match="while number of special flags is 1"):
        ve.segments_figure([("x", TOKENS, [0] * 6, [True])])


def test_segments_table_has_a_row_per_token_of_each_strip():
    rows = [("A then B", TOKENS, [0, 0, 0, 0, 1, 1], SPECIAL), ("B then A", TOKENS[:3], [0, 1, 1], SPECIAL[:3])]
    table = ve.segments_figure(rows, "both").table
    assert table.index.names == ["row", "position id"] and len(table) == 9
    assert list(table.columns) == ["token", "segment id", "special"]
    assert table.loc["B then A"]["segment id"].tolist() == [0, 1, 1]
    assert table.loc["A then B"]["special"].tolist() == SPECIAL
    assert table.loc[("A then B", 2), "token"] == "bank"


def test_grouped_bars():
    chart = ve.grouped_bars(["a", "<b>"], {"one": [1.0, 0.5], "two": [0.2, 0.1]}, "t", "cosine", (-1, 1))
    fig = chart.figure.to_dict()
    assert fig["layout"]["barmode"] == "group" and list(fig["layout"]["yaxis"]["range"]) == [-1, 1]
    assert fig["layout"]["xaxis"]["ticktext"] == ["a", "&lt;b&gt;"]
    assert list(chart.table.index) == ["a", "<b>"] and list(chart.table.columns) == ["one", "two"]
    assert chart.table["two"].tolist() == [0.2, 0.1]
    with pytest.raises(ValueError, match="one has 1 values, while number of labels is 2"):
        ve.grouped_bars(["a", "b"], {"one": [1.0]}, "t", "y")


def test_layer_similarity_and_neighbours():
    layers = ["token emb", "layer 1", "layer 2"]
    chart = ve.layer_similarity_figure(layers, {"bank vs bank": [1.0, 0.8, 0.5]})
    fig = chart.figure.to_dict()
    assert fig["layout"]["xaxis"]["ticktext"] == layers
    assert fig["layout"]["yaxis"]["range"] == [0.45, 1.02]
    assert list(chart.table.index) == layers and chart.table["bank vs bank"].tolist() == [1.0, 0.8, 0.5]
    sims = np.array([[1.0, 0.2, 0.3], [0.9, 0.1, 0.4], [0.5, 0.6, 0.2]])
    chart = ve.neighbours_figure(layers, [("s1", ["a", "b", "c"], sims), ("s2", ["a", "b"], sims[:, :2])])
    fig = chart.figure.to_dict()
    assert [plotly_array(t["z"]).shape for t in fig["data"]] == [(3, 3), (3, 2)]
    assert (fig["layout"]["coloraxis"]["cmin"], fig["layout"]["coloraxis"]["cmax"]) == (0.1, 1.0)  # true range
    assert list(chart.table.columns) == [("s1", "00 a"), ("s1", "01 b"), ("s1", "02 c"), ("s2", "00 a"), ("s2", "01 b")]
    assert list(chart.table.index) == layers
    np.testing.assert_array_equal(chart.table["s2"].to_numpy(), sims[:, :2])
    blanked = sims.copy()
    blanked[:, 0] = np.nan                                  # the word itself, left out
    chart = ve.neighbours_figure(layers, [("s1", ["a", "b", "c"], blanked)])
    assert chart.figure.to_dict()["layout"]["coloraxis"]["cmax"] == 0.6
    assert chart.table[("s1", "00 a")].isna().all()


def test_tokens_that_look_like_html_are_escaped_for_plotly():
    tokens = ["[CLS]", "<b>", "&", "[SEP]"]
    rng = np.random.default_rng(1)
    parts = {"token": rng.standard_normal((4, 3)), "position": rng.standard_normal((4, 3))}
    bars = contributions(tokens, parts)
    assert bars.figure.to_dict()["layout"]["xaxis"]["ticktext"][1:3] == ["01 &lt;b&gt;", "02 &amp;"]
    assert list(bars.table.index[1:3]) == ["01 <b>", "02 &"]
    strip = ve.segments_figure([("x", tokens, [0, 0, 0, 0], [True, False, False, True])]).figure.to_dict()
    assert strip["data"][0]["text"][1] == "&lt;b&gt;"


def test_segment_strip_staggers_long_neighbouring_words_and_keeps_short_ones_in_line():
    words = "the animal didn ' t cross the street because it was too tired .".split()
    long = ve.segments_figure([("input", words, [0] * len(words), [False] * len(words))]).figure.to_dict()
    heights = list(plotly_array(long["data"][0]["y"]))
    assert heights[7] != heights[8]                  # "street" and "because" at different heights
    assert heights[7] == heights[9]                  # every other box back on the same line
    short = ve.segments_figure([("input", ["a", "b", "c"], [0, 0, 0], [False] * 3)]).figure.to_dict()
    assert len(set(plotly_array(short["data"][0]["y"]).tolist())) == 1
