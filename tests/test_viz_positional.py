"""viz.positional: figures checked on chart.figure.to_dict(), tables on chart.table."""
import numpy as np
import pytest

import analysis
import model_core
from viz.common import plotly_array
from viz import positional as vp


@pytest.fixture(scope="module")
def table():
    return np.asarray(model_core.sinusoidal_table(64, 32), dtype=np.float64)


def test_wave_figure_has_one_line_per_dimension(table):
    chart = vp.wave_figure(table, [0, 1, 6])
    fig = chart.figure.to_dict()
    assert [t["type"] for t in fig["data"]] == ["scatter"] * 3
    assert [t["name"] for t in fig["data"]] == ["dim 0 (sin)", "dim 1 (cos)", "dim 6 (sin)"]
    np.testing.assert_allclose(plotly_array(fig["data"][1]["y"]), table[:, 1])
    assert plotly_array(fig["data"][0]["x"]).tolist() == list(range(64))
    assert list(chart.table.columns) == ["dim 0 (sin)", "dim 1 (cos)", "dim 6 (sin)"]
    assert chart.table.index.name == "pos" and list(chart.table.index) == list(range(64))
    np.testing.assert_array_equal(chart.table.to_numpy(), table[:, [0, 1, 6]])


def test_wave_figure_rejects_dimension_outside_table(table):
    with pytest.raises(ValueError, match="outside the table's d_model of 32"):
        vp.wave_figure(table, [32])


def test_table_heatmap_shape_and_symmetric_range(table):
    chart = vp.table_heatmap(table, "t")
    data = chart.figure.to_dict()["data"][0]
    assert data["type"] == "heatmap"
    assert plotly_array(data["z"]).shape == (64, 32)
    assert data["zmin"] == -data["zmax"] and data["zmax"] == pytest.approx(np.abs(table).max())
    np.testing.assert_allclose(chart.table.to_numpy(), table, rtol=1e-6)
    assert (chart.table.index.name, chart.table.columns.name) == ("pos", "d_model index")
    shifted = vp.table_heatmap(table[1:], "t", first_pos=1)
    assert plotly_array(shifted.figure.to_dict()["data"][0]["y"])[0] == 1 and shifted.table.index[0] == 1
    big = vp.table_heatmap(table, "big", max_cells=1024)      # 64 x 32 = 2048 cells
    fig = big.figure.to_dict()
    assert plotly_array(fig["data"][0]["z"]).shape == (32, 32) and plotly_array(fig["data"][0]["y"])[1] == 2
    assert fig["layout"]["title"]["text"] == "big (one position in 2 shown)"
    assert big.table.shape == (32, 32) and list(big.table.index[:3]) == [0, 2, 4]   # only the rows drawn


def test_similarity_heatmap_table_is_the_matrix(table):
    sim = analysis.similarity_matrix(table[5:])
    chart = vp.similarity_heatmap(sim, "s", first_pos=5)
    data = chart.figure.to_dict()["data"][0]
    assert plotly_array(data["x"])[0] == 5 and (data["zmin"], data["zmax"]) == (-1.0, 1.0)
    np.testing.assert_allclose(chart.table.to_numpy(), sim, rtol=1e-6)
    assert list(chart.table.index) == list(range(5, 64)) and list(chart.table.columns) == list(range(5, 64))


def test_distance_figure_has_band_and_line_per_table(table):
    curve = analysis.similarity_by_distance(analysis.similarity_matrix(table))
    short = analysis.similarity_by_distance(analysis.similarity_matrix(table), max_distance=4)
    chart = vp.distance_figure({"sinusoidal": curve, "other": short})
    fig = chart.figure.to_dict()
    names = [t["name"] for t in fig["data"]]
    assert names == ["sinusoidal spread", "sinusoidal", "other spread", "other"]
    assert fig["layout"]["xaxis"]["title"]["text"] == "distance |p - q|"
    assert list(chart.table.columns) == ["sinusoidal mean", "sinusoidal std", "other mean", "other std"]
    assert chart.table.index.name == "distance" and len(chart.table) == 64
    np.testing.assert_array_equal(chart.table["sinusoidal mean"], curve[0])
    assert chart.table["other std"].notna().sum() == 5            # a shorter curve: blank after its end


def test_offset_figure_panels(table):
    rotation = analysis.offset_rotation(32, 3)
    chart = vp.offset_figure(rotation, table[5], table[8], p=5, k=3, shown_dims=8)
    fig = chart.figure.to_dict()
    assert [t["type"] for t in fig["data"]] == ["heatmap", "scatter", "scatter"]
    assert plotly_array(fig["data"][0]["z"]).shape == (8, 8)
    np.testing.assert_allclose(plotly_array(fig["data"][2]["y"]), plotly_array(fig["data"][1]["y"]), atol=1e-5)
    assert list(chart.table.columns[:3]) == ["PE(8)", "M_3 PE(5)", "M_3 col 0"] and chart.table.shape == (32, 10)
    np.testing.assert_array_equal(chart.table["PE(8)"], table[8])
    np.testing.assert_array_equal(chart.table.iloc[:8, 2:].to_numpy(), rotation[:8, :8])
    assert chart.table.iloc[8:, 2:].isna().all().all()


def test_pca_figure(table):
    coords, ratios = analysis.pca_2d(table)
    chart = vp.pca_figure(coords, ratios, "p")
    fig = chart.figure.to_dict()
    marker = fig["data"][1]["marker"]
    assert marker["cmin"] == 0 and marker["cmax"] == 63
    later = vp.pca_figure(coords[1:], ratios, "p", first_pos=1)
    points = later.figure.to_dict()["data"][1]
    assert points["marker"]["cmin"] == 1 and plotly_array(points["customdata"])[0] == 1
    assert fig["layout"]["xaxis"]["title"]["text"].startswith("PC1 (")
    assert list(chart.table.columns) == ["PC1", "PC2"] and later.table.index[0] == 1
    np.testing.assert_array_equal(chart.table.to_numpy(), coords)
