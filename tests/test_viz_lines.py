"""viz.lines: one head as lines from queries to keys."""
import numpy as np

from viz import lines as vl

TOKENS = ["[CLS]", "the", "cat", "the", "<script>", "[SEP]"]


def test_lines_view_bins_links_and_labels_tokens():
    p = np.eye(6, dtype=np.float32) * 0.7 + 0.05
    p /= p.sum(-1, keepdims=True)
    chart = vl.lines(p, TOKENS, min_weight=0.1)
    data = chart.figure.to_dict()["data"]
    line_traces = [t for t in data if t.get("mode") == "lines"]
    assert line_traces, "expected at least one line trace"
    # Only the diagonal (weight ~0.72) passes 0.1: six links, each x 0 -> 1.
    xs = [x for t in line_traces for x in t["x"] if x is not None]
    assert xs.count(0.0) == 6 and xs.count(1.0) == 6
    texts = [t for t in data if t.get("mode") == "text"]
    assert [t["text"] for t in texts][0][4] == "04 &lt;script&gt;"
    hover = [t for t in data if t.get("name") == "links"][0]
    assert len(hover["customdata"]) == 6
    # The table: one row per link drawn, (query, key) -> weight, with the unescaped labels.
    assert chart.table.shape == (6, 1) and chart.table.index.names == ["query", "key"]
    assert chart.table.index[4] == ("04 <script>", "04 <script>")
    np.testing.assert_allclose(chart.table["weight"], np.diag(p))


def test_lines_top_k_limits_links():
    rng = np.random.default_rng(0)
    p = rng.random((6, 6)).astype(np.float32)
    p /= p.sum(-1, keepdims=True)
    chart = vl.lines(p, TOKENS, min_weight=0.0, top_k=2)
    hover = [t for t in chart.figure.to_dict()["data"] if t.get("name") == "links"][0]
    assert len(hover["customdata"]) == 12 and len(chart.table) == 12


def test_lines_colour_sentence_b_links():
    p = np.full((4, 4), 0.25, dtype=np.float32)
    data = vl.lines(p, ["a", "b", "c", "d"], segments=[0, 0, 1, 1]).figure.to_dict()["data"]
    colours = {t["line"]["color"] for t in data if t.get("mode") == "lines"}
    assert colours == {"#0072B2", "#E69F00"}
