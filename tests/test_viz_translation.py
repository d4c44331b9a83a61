"""Figures of the Translation page: labelled axes, masks drawn, tables equal to what is drawn."""
from __future__ import annotations

import numpy as np

from viz import translation as vt
from viz.common import plotly_array

SOURCE = ("▁The", "▁file", "▁could", "▁not", "▁be", "▁saved", ".", "</s>")
PRODUCED = ("▁Le", "▁fichier", "▁n'a", "▁pas", "▁pu", "</s>")
INPUTS = ("<pad>",) + PRODUCED[:-1]


def rows_of(n_rows, n_cols, seed=0):
    m = np.random.default_rng(seed).random((n_rows, n_cols)).astype(np.float32)
    return m / m.sum(axis=1, keepdims=True)


def test_cross_heatmap_names_both_axes_and_its_table_is_the_matrix():
    pattern = rows_of(len(PRODUCED), len(SOURCE))
    chart = vt.cross_heatmap(pattern, SOURCE, PRODUCED, title="L0 H0")
    layout = chart.figure.to_dict()["layout"]
    assert layout["yaxis"]["title"]["text"] == "French token being produced (query)"
    assert layout["xaxis"]["title"]["text"] == "English token read (key)"
    other = vt.cross_heatmap(pattern, SOURCE, PRODUCED, languages=("source", "target")).figure.to_dict()["layout"]
    assert other["yaxis"]["title"]["text"] == "target token being produced (query)"
    np.testing.assert_allclose(chart.table.to_numpy(), pattern)
    assert list(chart.table.index)[1] == "01 ▁fichier" and list(chart.table.columns)[-1] == "07 </s>"


def test_cross_lines_join_the_two_sentences():
    pattern = np.zeros((len(PRODUCED), len(SOURCE)), dtype=np.float32)
    pattern[np.arange(len(PRODUCED)), [0, 1, 3, 3, 5, 7]] = 1.0
    chart = vt.cross_lines(pattern, SOURCE, PRODUCED)
    assert list(chart.table.index.names) == ["target", "source"]
    assert ("01 ▁fichier", "01 ▁file") in set(chart.table.index)
    text_traces = [t for t in chart.figure.to_dict()["data"] if t.get("mode") == "text"]
    assert [len(t["text"]) for t in text_traces] == [len(PRODUCED), len(SOURCE)]


def test_cross_grid_has_one_tile_per_head_and_caps_long_inputs():
    cross = np.stack([np.stack([rows_of(len(PRODUCED), len(SOURCE), 3 * l + h) for h in range(3)]) for l in range(2)])
    chart = vt.cross_grid(cross, SOURCE, PRODUCED, selected=(1, 2))
    heatmaps = [t for t in chart.figure.to_dict()["data"] if t["type"] == "heatmap"]
    assert len(heatmaps) == 6
    np.testing.assert_allclose(plotly_array(heatmaps[5]["z"]), cross[1, 2])
    outlined = chart.figure.to_dict()["layout"]["shapes"]                   # the selected head, L1 H2
    assert [(s["xref"], s["yref"]) for s in outlined] == [("x6 domain", "y6 domain")]
    tiles = [t for t in chart.figure.to_dict()["data"] if t["type"] == "scatter" and t["name"] == "tiles"]
    assert [list(t["customdata"][0]) for t in tiles] == [[l, h] for l in range(2) for h in range(3)]
    assert all(t["marker"]["color"] == "rgba(0,0,0,0)" for t in tiles)     # the whole tile is a click target
    assert chart.table.shape == (2 * 3 * len(PRODUCED), len(SOURCE))
    long = np.full((1, 1, 50, 60), 1 / 60, dtype=np.float32)
    big = vt.cross_grid(long, [f"s{i}" for i in range(60)], [f"t{i}" for i in range(50)])
    assert big.table.shape == (vt.GRID_MAX, vt.GRID_MAX)
    assert f"first {vt.GRID_MAX} target" in big.figure.to_dict()["layout"]["title"]["text"]


def test_three_attentions_draw_each_mask():
    n_s, n_t = len(SOURCE), len(PRODUCED)
    causal = np.tril(rows_of(n_t, n_t))
    chart = vt.three_attentions(rows_of(n_s, n_s), causal, rows_of(n_t, n_s), SOURCE, INPUTS, PRODUCED)
    data = chart.figure.to_dict()["data"]
    encoder_z, decoder_z, cross_z = (plotly_array(t["z"]) for t in data[:3])
    assert np.isnan(decoder_z[np.triu(np.ones((n_t, n_t), dtype=bool), 1)]).all()
    assert np.isfinite(encoder_z).all() and np.isfinite(cross_z).all() and cross_z.shape == (n_t, n_s)
    assert [t["showscale"] for t in data[:3]] == [False, False, True]          # one colour scale for the three
    table = chart.table
    assert set(table.index.get_level_values("attention")) == {"encoder self-attention", "decoder masked self-attention",
                                                              "cross-attention"}
    assert table.loc[("decoder masked self-attention", "01 ▁fichier", "00 <pad>"), "weight"] == causal[1, 0]
    assert np.isnan(table.loc[("decoder masked self-attention", "01 ▁fichier", "02 ▁fichier"), "weight"])


def test_step_rows_and_reference_probabilities():
    chart = vt.step_rows(rows_of(1, len(SOURCE))[0], np.array([0.25, 0.75]), SOURCE, INPUTS[:2])
    assert "cross-attention: English tokens read" in chart.table.index.get_level_values(0)
    assert chart.table.loc["masked self-attention: French tokens so far"]["weight"].tolist() == [0.25, 0.75]
    probs = vt.reference_probs(PRODUCED, [0.5, 0.9, 0.1, 0.8, 0.7, 0.99])
    np.testing.assert_allclose(probs.table["loss (nats)"].to_numpy(), -np.log([0.5, 0.9, 0.1, 0.8, 0.7, 0.99]))
