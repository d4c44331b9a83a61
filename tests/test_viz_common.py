"""viz.common: the Chart a builder returns and its CSV, labels, grids."""
import dataclasses
import io

import numpy as np
import pandas as pd
import pytest

from viz.common import Chart, check_matrix, figure, plot_text, subplot_axes, subplots_layout, table_csv, token_labels
from viz.heatmap import attention_heatmap


def test_chart_is_frozen():
    chart = Chart(figure([], {}), pd.DataFrame())
    with pytest.raises(dataclasses.FrozenInstanceError):
        chart.table = pd.DataFrame()


def test_csv_of_a_heatmap_reads_back_exactly():
    p = np.random.default_rng(0).random((3, 3)).astype(np.float32)
    chart = attention_heatmap(p, ["ça", "the", "the"])
    text = chart.csv().decode("utf-8")
    assert text.splitlines()[0] == "query,00 ça,01 the,02 the"
    back = pd.read_csv(io.BytesIO(chart.csv()), index_col=0)
    assert list(back.index) == ["00 ça", "01 the", "02 the"]
    np.testing.assert_array_equal(back.to_numpy().astype(np.float32), p)      # full precision: exact round trip


def test_csv_writes_nan_as_empty_cells_and_float64_in_full():
    table = pd.DataFrame({"a": [1 / 3, np.nan]}, index=pd.Index(["x", "y"], name="row"))
    assert table_csv(table).decode() == f"row,a\nx,{1 / 3!r}\ny,\n"


def test_csv_leaves_out_a_plain_range_index_only():
    assert table_csv(pd.DataFrame({"a": [1, 2]})).decode() == "a\n1\n2\n"
    named = pd.DataFrame({"a": [1, 2]}).rename_axis("distance")
    assert table_csv(named).decode() == "distance,a\n0,1\n1,2\n"
    stacked = pd.concat({"p": pd.DataFrame({"a": [1]}, index=pd.Index(["x"], name="row"))}, names=["panel"])
    assert table_csv(stacked).decode() == "panel,row,a\np,x,1\n"


def test_token_labels_and_escaping():
    assert token_labels(["a", "a"]) == ["00 a", "01 a"]
    assert token_labels(["w"] * 101)[100] == "100 w"
    assert plot_text("<b>&") == "&lt;b&gt;&amp;"


def test_right_to_left_tokens_are_isolated_so_the_number_stays_first():
    labels = token_labels(["[CLS]", "\u062c", "##\u0644", "\u05e9\u05dc\u05d5\u05dd", "abc"])
    assert labels[0] == "00 [CLS]" and labels[4] == "04 abc"                    # left-to-right text unchanged
    assert labels[1] == "01 \u2068\u062c\u2069" and labels[2] == "02 \u2068##\u0644\u2069"   # Arabic
    assert labels[3].startswith("03 \u2068") and labels[3].endswith("\u2069")     # Hebrew


def test_check_matrix_names_both_sides():
    with pytest.raises(ValueError, match="m has 2 columns, while number of column tokens is 3"):
        check_matrix(np.zeros((1, 2)), ["r"], ["a", "b", "c"], "m")


def test_subplots_layout_matches_make_subplots_cells():
    layout = subplots_layout(2, 2, ["a", "", "c", "d"], horizontal_spacing=0.1)
    assert [a["text"] for a in layout["annotations"]] == ["a", "c", "d"]
    assert subplot_axes(2, 1, 2) == {"xaxis": "x3", "yaxis": "y3"}
    assert layout["xaxis3"]["anchor"] == "y3"
    again = subplots_layout(2, 2, ["a", "", "c", "d"], horizontal_spacing=0.1)
    again["xaxis"]["title"] = "changed"
    assert "title" not in subplots_layout(2, 2, ["a", "", "c", "d"], horizontal_spacing=0.1)["xaxis"]  # a copy
