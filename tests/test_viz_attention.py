"""viz.attention: summaries checked numerically, figures checked on fig.to_dict()."""
import numpy as np
import pytest

from viz import attention as va
from viz.common import SEQUENTIAL, plotly_array

TOKENS = ["[CLS]", "the", "cat", "the", "<script>", "[SEP]"]


def random_patterns(layers=2, heads=3, n=len(TOKENS), seed=0):
    rng = np.random.default_rng(seed)
    x = rng.random((layers, heads, n, n)).astype(np.float32) ** 3
    return x / x.sum(axis=-1, keepdims=True)


def heatmap_trace(fig):
    return [t for t in fig.to_dict()["data"] if t["type"] == "heatmap"][0]


def test_attention_heatmap_labels_range_and_hover():
    p = random_patterns()[0, 0]
    fig = va.attention_heatmap(p, TOKENS, title="t")
    trace = heatmap_trace(fig)
    assert plotly_array(trace["z"]).shape == (6, 6)
    np.testing.assert_allclose(plotly_array(trace["z"]), p, rtol=1e-6)
    assert (trace["zmin"], trace["zmax"]) == (0.0, 1.0)
    assert trace["colorscale"] == fig.to_dict()["data"][0]["colorscale"]
    layout = fig.to_dict()["layout"]
    # Repeated tokens stay distinct; markup in user text is escaped, never interpreted.
    assert layout["xaxis"]["ticktext"] == ["00 [CLS]", "01 the", "02 cat", "03 the", "04 &lt;script&gt;", "05 [SEP]"]
    assert layout["yaxis"]["ticktext"] == layout["xaxis"]["ticktext"]
    assert layout["yaxis"]["autorange"] == "reversed"
    # Cells sit on category axes named by the unique labels: the hover names both tokens.
    assert layout["xaxis"]["type"] == "category"
    assert list(trace["x"]) == layout["xaxis"]["ticktext"] and list(trace["y"]) == layout["xaxis"]["ticktext"]
    assert trace["hovertemplate"].startswith("query %{y}<br>key %{x}<br>weight %{z")


def test_heatmap_uses_named_palette():
    fig = va.attention_heatmap(random_patterns()[0, 0], TOKENS)
    assert heatmap_trace(fig)["colorscale"][0][1].lower() == "#440154"  # viridis starts dark purple
    assert SEQUENTIAL == "Viridis"


def test_heatmap_rejects_mismatched_tokens():
    with pytest.raises(ValueError, match="6 rows, while number of row tokens is 5"):
        va.attention_heatmap(random_patterns()[0, 0], TOKENS[:5])


def test_long_input_thins_ticks_but_keeps_every_cell():
    n = 300
    p = np.full((n, n), 1.0 / n, dtype=np.float32)
    fig = va.attention_heatmap(p, [f"w{i}" for i in range(n)])
    trace = heatmap_trace(fig)
    assert len(trace["x"]) == n and plotly_array(trace["z"]).shape == (n, n)
    assert trace.get("text") is None  # no per-cell payload
    ticks = fig.to_dict()["layout"]["xaxis"]
    assert len(ticks["ticktext"]) <= va.MAX_TICKS and ticks["tickvals"] == ticks["ticktext"]


def test_heatmap_refuses_repeated_labels():
    with pytest.raises(ValueError, match="unique"):
        va.heatmap(np.zeros((2, 2)), ["the", "the"], ["a", "b"])


def test_segments_add_a_and_b_legend_and_boundary():
    fig = va.attention_heatmap(random_patterns()[0, 0], TOKENS, segments=[0, 0, 0, 1, 1, 1])
    names = [t.get("name") for t in fig.to_dict()["data"]]
    assert "sentence A" in names and "sentence B" in names
    lines = [s for s in fig.to_dict()["layout"]["shapes"] if s["type"] == "line"]
    assert {s.get("x0") for s in lines} >= {2.5}


def test_restrict_renormalises_rows():
    p = random_patterns()
    keep = va.keep_positions(TOKENS)
    assert keep.tolist() == [1, 2, 3, 4]
    sub = va.restrict(p, keep)
    assert sub.shape == (2, 3, 4, 4)
    np.testing.assert_allclose(sub.sum(-1), 1.0, rtol=1e-5)
    raw = va.restrict(p, keep, renormalise=False)
    np.testing.assert_allclose(raw, p[:, :, 1:5, 1:5])


def test_restrict_keeps_all_zero_rows_zero():
    p = np.zeros((3, 3), dtype=np.float32)
    p[:, 0] = 1.0  # everything on [CLS]
    sub = va.restrict(p, np.array([1, 2]))
    assert np.all(sub == 0)


def test_rollout_matches_hand_computation():
    p = random_patterns(layers=3)
    eye = np.eye(6)
    steps = [(p[l].mean(0) + eye) / (p[l].mean(0) + eye).sum(-1, keepdims=True) for l in range(3)]
    expected = steps[2] @ steps[1] @ steps[0]
    out = va.rollout(p)
    assert out.shape == (3, 6, 6)
    np.testing.assert_allclose(out[2], expected, rtol=1e-5)
    np.testing.assert_allclose(out.sum(-1), 1.0, rtol=1e-5)


def test_mean_max_and_hard():
    p = random_patterns()
    np.testing.assert_allclose(va.head_mean(p), p.mean(1))
    np.testing.assert_allclose(va.head_max(p), p.max(1))
    hard = va.hard_attention(p[0, 0])
    assert hard.sum(-1).tolist() == [1.0] * 6
    assert hard.argmax(-1).tolist() == p[0, 0].argmax(-1).tolist()


def test_downsample_block_mean():
    m = np.arange(16, dtype=np.float32).reshape(4, 4)
    small, block = va.downsample(m, 2)
    assert block == 2
    np.testing.assert_allclose(small, [[2.5, 4.5], [10.5, 12.5]])
    same, block = va.downsample(m, 4)
    assert block == 1 and same is m


def test_downsample_mass_keeps_rows_summing_to_one():
    p = random_patterns(n=7)[0, 0]  # 7 tokens in blocks of 2: the last block is partial
    small, block = va.downsample(p, 4, how="mass")
    assert block == 2 and small.shape == (4, 4)
    np.testing.assert_allclose(small.sum(-1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(small[0, 0], p[0:2, 0:2].sum(-1).mean(), rtol=1e-6)
    np.testing.assert_allclose(small[3, 3], p[6, 6], rtol=1e-6)  # the partial block: one query, one key


def test_heads_grid_tiles_every_head_with_click_markers():
    p = random_patterns(layers=2, heads=3)
    fig, block = va.heads_grid(p, TOKENS, selected=(1, 2))
    data = fig.to_dict()["data"]
    assert block == 1
    assert [t["type"] for t in data] == ["heatmap", "scatter"]
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


def test_heads_grid_downsamples_512_tokens():
    n = 512
    p = np.full((2, 2, n, n), 1.0 / n, dtype=np.float32)
    fig, block = va.heads_grid(p, [f"w{i}" for i in range(n)])
    assert block == 11
    z = plotly_array(fig.to_dict()["data"][0]["z"])
    assert z.shape[1] == 2 * (47 + 1) - 1  # ceil(512 / 11) = 47 <= MAX_TILE cells a side
    assert fig.to_dict()["data"][0].get("text") is None
    assert fig.to_dict()["data"][0]["x"][:2] == ["head 0 · key tokens 0-10", "head 0 · key tokens 11-21"]
    assert fig.to_dict()["data"][0]["y"][46] == "layer 0 · query tokens 506-511"


def test_heads_grid_names_both_sides_on_mismatch():
    with pytest.raises(ValueError, match="6x6 positions, while number of tokens is 5"):
        va.heads_grid(random_patterns(), TOKENS[:5])


def test_lines_view_bins_links_and_labels_tokens():
    p = np.eye(6, dtype=np.float32) * 0.7 + 0.05
    p /= p.sum(-1, keepdims=True)
    fig = va.lines(p, TOKENS, min_weight=0.1)
    data = fig.to_dict()["data"]
    line_traces = [t for t in data if t.get("mode") == "lines"]
    assert line_traces, "expected at least one line trace"
    # Only the diagonal (weight ~0.72) passes 0.1: six links, each x 0 -> 1.
    xs = [x for t in line_traces for x in t["x"] if x is not None]
    assert xs.count(0.0) == 6 and xs.count(1.0) == 6
    texts = [t for t in data if t.get("mode") == "text"]
    assert [t["text"] for t in texts][0][4] == "04 &lt;script&gt;"
    hover = [t for t in data if t.get("name") == "links"][0]
    assert len(hover["customdata"]) == 6


def test_lines_top_k_limits_links():
    p = random_patterns()[0, 0]
    fig = va.lines(p, TOKENS, min_weight=0.0, top_k=2)
    hover = [t for t in fig.to_dict()["data"] if t.get("name") == "links"][0]
    assert len(hover["customdata"]) == 12


def test_grid_csv_matrix_names_tokens():
    p = random_patterns()
    matrix, rows, cols = va.grid_csv_matrix(p, TOKENS)
    assert matrix.shape == (2 * 3 * 6, 6) and len(rows) == 36
    assert cols[0] == "00 [CLS]" and rows[7] == "layer 0 head 1 query 01 the"
    small, block = va.downsample(random_patterns(n=7), 4, how="mass")
    _, rows, cols = va.grid_csv_matrix(small, [f"w{i}" for i in range(7)], block)
    assert cols == ["tokens 0-1", "tokens 2-3", "tokens 4-5", "tokens 6-6"]
