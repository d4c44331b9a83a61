"""viz.predictions: top-k bars, what BERT's masking did, ablation bars."""
import numpy as np
import pytest

from viz.common import plotly_array
from viz import predictions as vpred


def test_topk_figure_one_panel_per_mask():
    preds = [[("paris", 0.7), ("lyon", 0.1)], [("the", 0.5), ("a", 0.2), ("an", 0.1)]]
    fig = vpred.topk_figure(preds, ["mask 1", "mask 2"]).figure.to_dict()
    assert [t["type"] for t in fig["data"]] == ["bar", "bar"]
    np.testing.assert_allclose(plotly_array(fig["data"][0]["x"]), [0.7, 0.1])
    assert fig["layout"]["yaxis"]["ticktext"] == ["1. paris", "2. lyon"]
    assert fig["layout"]["yaxis2"]["ticktext"][2] == "3. an"
    assert fig["data"][1]["text"][0] == "50.0%"
    assert list(fig["layout"]["xaxis"]["range"]) == [0, pytest.approx(0.91)]        # 1.3 x the largest
    assert fig["layout"]["xaxis2"]["range"] == fig["layout"]["xaxis"]["range"]
    small = vpred.topk_figure([[("a", 0.01)]], ["x"]).figure.to_dict()
    assert list(small["layout"]["xaxis"]["range"]) == [0, 0.1]
    with pytest.raises(ValueError, match="while number of titles is 1"):
        vpred.topk_figure(preds, ["one"])


def test_topk_table_has_a_row_per_bar():
    preds = [[("paris", 0.7), ("<i>", 0.1)], [("the", 0.5)]]
    table = vpred.topk_figure(preds, ["mask 1", "mask <2>"]).table
    assert table.index.names == ["panel", "rank"]
    assert table.index.tolist() == [("mask 1", 1), ("mask 1", 2), ("mask <2>", 1)]
    assert table["token"].tolist() == ["paris", "<i>", "the"] and table["probability"].tolist() == [0.7, 0.1, 0.5]


def test_masking_figure_rows():
    chart = vpred.masking_figure(["[CLS]", "a", "b"], ["[CLS]", "[MASK]", "b"], ["special", "[MASK]", "not chosen"])
    fig = chart.figure.to_dict()
    names = [t["name"] for t in fig["data"] if t["showlegend"]]
    assert names == ["not chosen", "[MASK]", "special"]
    masked = [t for t in fig["data"] if t["name"] == "[MASK]"]
    assert [t["text"] for t in masked] == [["a"], ["[MASK]"]]
    assert fig["layout"]["yaxis"]["ticktext"] == ["sentence", "model input"]
    assert fig["layout"]["xaxis"]["ticktext"] == ["00 [CLS]", "01 a", "02 b"]
    assert list(chart.table.index) == ["00 [CLS]", "01 a", "02 b"]
    assert chart.table.to_dict("list") == {"token": ["[CLS]", "a", "b"], "model input": ["[CLS]", "[MASK]", "b"],
                                           "what happened": ["special", "[MASK]", "not chosen"]}


def test_ablation_figure():
    chart = vpred.ablation_figure(["paris", "lyon"], [0.6, 0.1], [0.2, 0.3], "t")
    fig = chart.figure.to_dict()
    assert [t["name"] for t in fig["data"]] == ["all heads", "heads switched off"]
    np.testing.assert_allclose(plotly_array(fig["data"][1]["x"]), [0.2, 0.3])
    assert fig["layout"]["barmode"] == "group"
    assert list(chart.table.index) == ["paris", "lyon"]
    assert chart.table["heads switched off"].tolist() == [0.2, 0.3]
    assert list(fig["data"][1]["text"]) == ["-40.0%", "+20.0%"]          # each change printed on its bar


def test_ablation_axis_fits_small_probabilities():
    fig = vpred.ablation_figure(["a", "b"], [0.020, 0.010], [0.024, 0.008], "t").figure.to_dict()
    assert fig["layout"]["xaxis"]["range"] == [0, 0.024 * 1.25]        # not 0-100%: the change stays visible


def test_tokens_that_look_like_html_are_escaped_for_plotly():
    fig = vpred.topk_figure([[("<i>", 0.5)]], ["blank at 01 <br>"]).figure.to_dict()
    assert fig["layout"]["yaxis"]["ticktext"] == ["1. &lt;i&gt;"]
    assert fig["layout"]["annotations"][0]["text"] == "blank at 01 &lt;br&gt;"
    chart = vpred.masking_figure(["<a>"], ["[MASK]"], ["[MASK]"])
    assert chart.figure.to_dict()["data"][0]["text"] == ["&lt;a&gt;"]
    assert chart.table["token"].tolist() == ["<a>"]                 # the table keeps the text as typed


def test_attention_row_figure_marks_written_tokens_and_keeps_repeats_apart():
    chart = vpred.attention_row_figure(["<s>", "the", "cat", "the"], [0.1, 0.2, 0.3, 0.4], "t", new_from=3)
    fig = chart.figure.to_dict()
    assert fig["layout"]["xaxis"]["ticktext"] == ["00 &lt;s&gt;", "01 the", "02 cat", "03 the"]
    assert fig["data"][0]["marker"]["color"] == ["#0072B2"] * 3 + ["#D55E00"]
    assert chart.table["attention weight"].tolist() == [0.1, 0.2, 0.3, 0.4]
    with pytest.raises(ValueError, match="3 tokens but 2"):
        vpred.attention_row_figure(["a", "b", "c"], [0.5, 0.5], "t")


def test_topk_figure_highlights_the_chosen_token():
    fig = vpred.topk_figure([[("a", 0.5), ("b", 0.3)]], ["x"], highlight="b").figure.to_dict()
    assert fig["data"][0]["marker"]["color"] == ["#0072B2", "#D55E00"]


def test_titles_of_three_panels_wrap_instead_of_running_off():
    titles = [f"blank at 0{i} [MASK] (hidden: [MASK])" for i in (1, 2, 3)]
    fig = vpred.topk_figure([[("a", 0.5)]] * 3, titles).figure.to_dict()
    shown = [a["text"] for a in fig["layout"]["annotations"]]
    assert all("<br>" in t and max(len(line) for line in t.split("<br>")) <= 30 for t in shown)
    assert shown[0].replace("<br>", " ") == titles[0]
    single = vpred.topk_figure([[("a", 0.5)]], [titles[0]]).figure.to_dict()
    assert single["layout"]["annotations"][0]["text"] == titles[0]           # one panel: room enough
