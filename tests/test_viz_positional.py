"""viz.positional: figures checked on fig.to_dict(), the offset map checked numerically."""
import numpy as np
import pytest

import model_core
from viz.common import plotly_array
from viz import positional as vp


@pytest.fixture(scope="module")
def table():
    return model_core.sinusoidal_table(64, 32)


def test_wave_figure_has_one_line_per_dimension(table):
    fig = vp.wave_figure(table, [0, 1, 6]).to_dict()
    assert [t["type"] for t in fig["data"]] == ["scatter"] * 3
    assert [t["name"] for t in fig["data"]] == ["dim 0 (sin)", "dim 1 (cos)", "dim 6 (sin)"]
    np.testing.assert_allclose(plotly_array(fig["data"][1]["y"]), table[:, 1])
    assert plotly_array(fig["data"][0]["x"]).tolist() == list(range(64))


def test_wave_figure_rejects_dimension_outside_table(table):
    with pytest.raises(ValueError, match="outside the table's d_model of 32"):
        vp.wave_figure(table, [32])


def test_table_heatmap_shape_and_symmetric_range(table):
    data = vp.table_heatmap(table, "t").to_dict()["data"][0]
    assert data["type"] == "heatmap"
    assert plotly_array(data["z"]).shape == (64, 32)
    assert data["zmin"] == -data["zmax"] and data["zmax"] == pytest.approx(np.abs(table).max())
    shifted = vp.table_heatmap(table[1:], "t", first_pos=1).to_dict()["data"][0]
    assert plotly_array(shifted["y"])[0] == 1
    big = vp.table_heatmap(table, "big", max_cells=1024).to_dict()      # 64 x 32 = 2048 cells
    assert plotly_array(big["data"][0]["z"]).shape == (32, 32) and plotly_array(big["data"][0]["y"])[1] == 2
    assert big["layout"]["title"]["text"] == "big (one position in 2 shown)"
    sim = vp.similarity_heatmap(vp.similarity_matrix(table[5:]), "s", first_pos=5).to_dict()["data"][0]
    assert plotly_array(sim["x"])[0] == 5 and (sim["zmin"], sim["zmax"]) == (-1.0, 1.0)


def test_sinusoidal_similarity_depends_only_on_distance(table):
    sim = vp.similarity_matrix(table, cosine=True)
    means, stds = vp.similarity_by_distance(sim, max_distance=20)
    assert means.shape == (21,) and means[0] == pytest.approx(1.0, abs=1e-6)
    assert stds.max() < 1e-5  # the same value for every pair at the same distance
    assert means[1] < means[0]


def test_distance_figure_has_band_and_line_per_table(table):
    curve = vp.similarity_by_distance(vp.similarity_matrix(table))
    fig = vp.distance_figure({"sinusoidal": curve, "other": curve}).to_dict()
    names = [t["name"] for t in fig["data"]]
    assert names == ["sinusoidal spread", "sinusoidal", "other spread", "other"]
    assert fig["layout"]["xaxis"]["title"]["text"] == "distance |p - q|"


@pytest.mark.parametrize("offset", [1, 7, 40])
def test_offset_rotation_maps_every_position(table, offset):
    rotation = vp.offset_rotation(32, offset)
    mapped = table[: 64 - offset] @ rotation.T                     # row p -> M_k PE(p)
    np.testing.assert_allclose(mapped, table[offset:], atol=1e-5)
    np.testing.assert_allclose(rotation @ rotation.T, np.eye(32), atol=1e-12)  # a rotation


def test_offset_rotation_needs_even_d_model():
    with pytest.raises(ValueError, match="even d_model"):
        vp.offset_rotation(7, 1)


def test_offset_figure_panels(table):
    rotation = vp.offset_rotation(32, 3)
    fig = vp.offset_figure(rotation, table[5], table[8], p=5, k=3, shown_dims=8).to_dict()
    assert [t["type"] for t in fig["data"]] == ["heatmap", "scatter", "scatter"]
    assert plotly_array(fig["data"][0]["z"]).shape == (8, 8)
    np.testing.assert_allclose(plotly_array(fig["data"][2]["y"]), plotly_array(fig["data"][1]["y"]), atol=1e-5)


def test_pca_projects_to_two_axes(table):
    coords, ratios = vp.pca_2d(table)
    assert coords.shape == (64, 2) and ratios.shape == (2,)
    assert 0 < ratios[1] <= ratios[0] <= 1
    fig = vp.pca_figure(coords, ratios, "p").to_dict()
    marker = fig["data"][1]["marker"]
    assert marker["cmin"] == 0 and marker["cmax"] == 63
    later = vp.pca_figure(coords[1:], ratios, "p", first_pos=1).to_dict()["data"][1]
    assert later["marker"]["cmin"] == 1 and plotly_array(later["customdata"])[0] == 1
    assert fig["layout"]["xaxis"]["title"]["text"].startswith("PC1 (")


@pytest.mark.parametrize("shape", [(6, 20), (30, 5)])
def test_pca_matches_the_svd_projection(shape):
    table = np.random.default_rng(4).standard_normal(shape)
    coords, ratios = vp.pca_2d(table)
    centred = table - table.mean(axis=0)
    _, singular, vt = np.linalg.svd(centred, full_matrices=False)
    expected = centred @ vt[:2].T
    np.testing.assert_allclose(np.abs(coords), np.abs(expected), atol=1e-9)   # equal up to each axis's sign
    np.testing.assert_allclose(ratios, singular[:2] ** 2 / (singular ** 2).sum())


def test_pca_of_a_single_dimension_still_has_two_axes():
    coords, ratios = vp.pca_2d(np.arange(5.0)[:, None])
    assert coords.shape == (5, 2) and ratios.shape == (2,)
