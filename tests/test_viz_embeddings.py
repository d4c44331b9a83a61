"""viz.embeddings: stacked contributions, dimension heatmaps, segments, polysemy figures."""
import numpy as np
import pytest

from viz.common import SEGMENT_COLOURS, plotly_array
from viz import embeddings as ve

TOKENS = ["[CLS]", "the", "bank", "[SEP]", "the", "[SEP]"]


@pytest.fixture(scope="module")
def parts():
    rng = np.random.default_rng(0)
    return {name: rng.standard_normal((len(TOKENS), 8)) for name in ("token", "segment", "position")}


def test_projections_add_up_to_the_norm_of_the_sum(parts):
    total = sum(parts.values())
    along = ve.projections_onto(total, parts)
    np.testing.assert_allclose(sum(along.values()), np.linalg.norm(total, axis=1), atol=1e-12)


def test_contribution_figure_stacks_bars(parts):
    total = sum(parts.values())
    fig = ve.contribution_figure(TOKENS, parts, total).to_dict()
    assert [t["type"] for t in fig["data"]] == ["bar", "bar", "bar", "scatter"]
    assert fig["layout"]["barmode"] == "relative"
    assert fig["layout"]["xaxis"]["ticktext"] == ["00 [CLS]", "01 the", "02 bank", "03 [SEP]", "04 the", "05 [SEP]"]
    stacked = sum(plotly_array(t["y"]) for t in fig["data"][:3])
    np.testing.assert_allclose(stacked, plotly_array(fig["data"][3]["y"]), atol=1e-12)


def test_contribution_figure_names_both_sides_on_mismatch(parts):
    with pytest.raises(ValueError, match="while number of tokens is 5"):
        ve.contribution_figure(TOKENS[:5], parts, sum(parts.values()))


def test_component_norms_frame(parts):
    frame = ve.component_norms(TOKENS, parts)
    assert list(frame.columns) == ["|token|", "|segment|", "|position|"]
    assert frame.index[2] == "02 bank"


def test_dims_figure_two_colour_ranges(parts):
    total = sum(parts.values())
    shown = {**parts, "sum": total, "LayerNorm": total * 10}
    fig = ve.dims_figure(TOKENS, shown, dims=[0, 3, 5], separate=["LayerNorm"]).to_dict()
    assert len(fig["data"]) == 5
    assert all(plotly_array(t["z"]).shape == (6, 3) for t in fig["data"])
    assert fig["data"][4]["coloraxis"] == "coloraxis2"
    layout = fig["layout"]
    assert layout["coloraxis"]["cmax"] == pytest.approx(max(np.abs(m[:, [0, 3, 5]]).max() for m in (*parts.values(), total)))
    assert layout["coloraxis2"]["cmax"] == pytest.approx(np.abs(total[:, [0, 3, 5]] * 10).max())
    assert layout["xaxis"]["ticktext"] == ["0", "3", "5"]


def test_dims_figure_rejects_dimensions_outside(parts):
    with pytest.raises(ValueError, match="between 0 and 7"):
        ve.dims_figure(TOKENS, parts, dims=[8])


def test_segments_figure_colours_and_ids():
    fig = ve.segments_figure([("A then B", TOKENS, [0, 0, 0, 0, 1, 1])], "pair").to_dict()
    assert fig["layout"]["title"]["text"] == "pair"
    cells = [t for t in fig["data"] if t["mode"] == "markers+text"]
    assert [c["marker"]["color"] for c in cells] == list(SEGMENT_COLOURS)
    assert cells[0]["text"] == ["[CLS]", "the", "bank", "[SEP]"]
    assert cells[0]["marker"]["symbol"] == ["diamond", "square", "square", "diamond"]
    ids = [t for t in fig["data"] if t["mode"] == "text"]
    assert ids[1]["text"] == ["1", "1"]
    assert fig["layout"]["yaxis"]["ticktext"] == ["A then B", "segment id"]
    with pytest.raises(ValueError, match="while number of segment ids is 2"):
        ve.segments_figure([("x", TOKENS, [0, 1])])


def test_grouped_bars_and_cosine():
    fig = ve.grouped_bars(["a", "b"], {"one": [1.0, 0.5], "two": [0.2, 0.1]}, "t", "cosine", (-1, 1)).to_dict()
    assert fig["layout"]["barmode"] == "group" and list(fig["layout"]["yaxis"]["range"]) == [-1, 1]
    assert ve.cosine(np.array([1.0, 0.0]), np.array([0.0, 2.0])) == 0.0
    assert ve.cosine(np.array([0.0, 0.0]), np.array([0.0, 2.0])) == 0.0
    np.testing.assert_allclose(ve.cosine(np.array([[1.0, 1.0]]), np.array([[2.0, 2.0]])), [1.0])


def test_span_scores_are_distributions_over_the_passage():
    outputs = np.random.default_rng(3).standard_normal((7, 16))
    result = ve.span_scores(outputs, passage=[3, 4, 5], seed=1, max_len=2)
    assert result["p_start"].shape == (3,) and result["p_start"].sum() == pytest.approx(1.0)
    assert result["p_end"].sum() == pytest.approx(1.0)
    i, j = result["best"]
    assert 0 <= i <= j < min(3, i + 2)
    start, end = outputs[[3, 4, 5]] @ result["S"], outputs[[3, 4, 5]] @ result["E"]
    assert start[i] + end[j] == pytest.approx(max(start[a] + end[b] for a in range(3) for b in range(a, min(3, a + 2))))
    again = ve.span_scores(outputs, passage=[3, 4, 5], seed=1, max_len=2)
    np.testing.assert_array_equal(again["S"], result["S"])


def test_layer_similarity_and_neighbours():
    layers = ["token emb", "layer 1", "layer 2"]
    fig = ve.layer_similarity_figure(layers, {"bank vs bank": [1.0, 0.8, 0.5]}).to_dict()
    assert fig["layout"]["xaxis"]["ticktext"] == layers
    assert fig["layout"]["yaxis"]["range"] == [0.45, 1.02]
    sims = np.array([[1.0, 0.2, 0.3], [0.9, 0.1, 0.4], [0.5, 0.6, 0.2]])
    fig = ve.neighbours_figure(layers, [("s1", ["a", "b", "c"], sims), ("s2", ["a", "b", "c"], sims)]).to_dict()
    assert [plotly_array(t["z"]).shape for t in fig["data"]] == [(3, 3), (3, 3)]
    assert (fig["layout"]["coloraxis"]["cmin"], fig["layout"]["coloraxis"]["cmax"]) == (0.1, 1.0)  # true range
    blanked = sims.copy()
    blanked[:, 0] = np.nan                                  # the word itself, left out
    fig = ve.neighbours_figure(layers, [("s1", ["a", "b", "c"], blanked)]).to_dict()
    assert fig["layout"]["coloraxis"]["cmax"] == 0.6
    assert ve.nearest_tokens(["a", "b", "c"], sims[2], word_pos=2, k=1) == [("01 b", 0.6)]


def test_tokens_that_look_like_html_are_escaped_for_plotly():
    tokens = ["[CLS]", "<b>", "&", "[SEP]"]
    rng = np.random.default_rng(1)
    parts = {"token": rng.standard_normal((4, 3)), "position": rng.standard_normal((4, 3))}
    bars = ve.contribution_figure(tokens, parts, sum(parts.values())).to_dict()
    assert bars["layout"]["xaxis"]["ticktext"][1:3] == ["01 &lt;b&gt;", "02 &amp;"]
    strip = ve.segments_figure([("x", tokens, [0, 0, 0, 0])]).to_dict()
    assert strip["data"][0]["text"][1] == "&lt;b&gt;"
