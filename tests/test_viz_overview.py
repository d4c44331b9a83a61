"""viz.overview: every head at a glance, from a pattern already shrunk by analysis.downsample."""
import numpy as np
import pytest

from viz import overview as vo
from viz.common import plotly_array

TOKENS = ["[CLS]", "the", "cat", "the", "<script>", "[SEP]"]


def random_patterns(layers=2, heads=3, n=len(TOKENS)):
    """[layer, head, query_pos, key_pos], each row a distribution over the keys."""
    return np.random.default_rng(0).dirichlet(np.ones(n), size=(layers, heads, n)).astype(np.float32)


def test_heads_grid_tiles_every_head_with_click_markers():
    p = random_patterns(layers=2, heads=3)
    fig = vo.heads_grid(p, TOKENS, 1, selected=(1, 2)).figure
    data = fig.to_dict()["data"]
    assert [t["type"] for t in data] == ["heatmap", "scatter"]   # the tiles, and one click target per tile
    z = plotly_array(data[0]["z"])
    assert z.shape == (2 * 7 - 1, 3 * 7 - 1)  # tiles of 6 plus one NaN gap
    np.testing.assert_allclose(z[7:13, 14:20], p[1, 2], rtol=1e-6)
    assert np.isnan(z[6]).all()
    assert (data[0]["zmin"], data[0]["zmax"]) == (0.0, 1.0)
    assert [list(c) for c in data[1]["customdata"]] == [[l, h] for l in range(2) for h in range(3)]
    assert fig.to_dict()["layout"]["xaxis"]["ticktext"] == ["head 0", "head 1", "head 2"]
    assert fig.to_dict()["layout"]["yaxis"]["ticktext"] == ["layer 0", "layer 1"]
    # The hover names layer, head, both tokens (by index) and the weight from one label per row and
    # column of the mosaic (category axes), not from a text per cell.
    assert data[0].get("text") is None
    assert data[0]["hovertemplate"] == "%{y}<br>%{x}<br>weight %{z:.3f}<extra></extra>"
    assert data[0]["y"][7] == "layer 1 · query 00 [CLS]" and data[0]["x"][14 + 4] == "head 2 · key 04 &lt;script&gt;"
    assert len(data[0]["x"]) == z.shape[1] and len(set(data[0]["x"])) == z.shape[1]
    assert len(data[0]["y"]) == z.shape[0] and len(set(data[0]["y"])) == z.shape[0]
    # Each head's marker sits on its own tile: the category of the tile's row and column.
    assert data[1]["x"][5].startswith("head 2 · ") and data[1]["y"][5].startswith("layer 1 · ")
    assert fig.to_dict()["layout"]["shapes"][0]["line"]["color"] == "#E69F00"  # the selected head


def test_heads_grid_table_has_a_row_per_layer_head_and_query():
    p = random_patterns()
    table = vo.heads_grid(p, TOKENS, 1).table
    assert table.shape == (2 * 3 * 6, 6)
    assert table.index.names == ["layer", "head", "query"]
    assert table.index[7] == (0, 1, "01 the")
    assert list(table.columns) == ["00 [CLS]", "01 the", "02 cat", "03 the", "04 <script>", "05 [SEP]"]
    np.testing.assert_array_equal(table.loc[(1, 2)].to_numpy(), p[1, 2])


def test_heads_grid_in_blocks_names_token_ranges():
    # What analysis.downsample(pattern [1, 2, 100, 100], MAX_TILE, how="mass") returns: blocks of 3.
    small = np.full((1, 2, 34, 34), 1.0 / 34, dtype=np.float32)
    chart = vo.heads_grid(small, [f"w{i}" for i in range(100)], 3)
    data = chart.figure.to_dict()["data"]
    assert plotly_array(data[0]["z"]).shape == (34, 2 * 35 - 1)
    assert data[0]["x"][:2] == ["head 0 · key tokens 0-2", "head 0 · key tokens 3-5"]
    assert data[0]["y"][33] == "layer 0 · query tokens 99-99"
    assert chart.table.shape == (2 * 34, 34) and chart.table.columns[-1] == "tokens 99-99"


def test_heads_grid_names_both_sides_on_mismatch():
    with pytest.raises(ValueError, match="6x6 positions, while number of tokens is 5"):
        vo.heads_grid(random_patterns(), TOKENS[:5], 1)
    with pytest.raises(ValueError, match="34 blocks of 3 tokens, while 90 tokens make 30 blocks"):
        vo.heads_grid(np.zeros((1, 1, 34, 34)), ["w"] * 90, 3)
    with pytest.raises(ValueError, match="layer, head, query_pos, key_pos"):
        vo.heads_grid(random_patterns()[0], TOKENS, 1)


def test_head_scores_figure_is_a_grid_of_clickable_heads():
    scores = np.arange(6, dtype=float).reshape(2, 3) / 10
    chart = vo.head_scores_figure(scores, "ranked", selected=(1, 0))
    fig = chart.figure.to_dict()
    squares = fig["data"][0]
    assert [list(c) for c in squares["customdata"]] == [[0, 0], [0, 1], [0, 2], [1, 0], [1, 1], [1, 2]]
    assert list(squares["marker"]["line"]["width"]) == [0, 0, 0, 3, 0, 0]          # the head in view outlined
    assert list(squares["text"]) == ["0.00", "0.10", "0.20", "0.30", "0.40", "0.50"]
    assert squares["marker"]["cmax"] == 0.5                                         # fitted to what is drawn
    assert chart.table.loc[1, "head 2"] == 0.5
    with pytest.raises(ValueError, match="layer, head"):
        vo.head_scores_figure(np.zeros(3), "t")


def test_every_tile_is_one_large_click_target():
    patterns = np.full((2, 3, 4, 4), 0.25)
    data = vo.heads_grid(patterns, ["a", "b", "c", "d"], 1).figure.to_dict()["data"]
    targets = data[1]
    assert [list(c) for c in targets["customdata"]] == [[l, h] for l in range(2) for h in range(3)]
    assert targets["marker"]["color"] == "rgba(0,0,0,0)" and targets["marker"]["size"] >= 40
    assert targets["x"][0].startswith("head 0 · key 02") and targets["y"][0].startswith("layer 0 · query 02")
