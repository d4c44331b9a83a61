"""AppTest of the Walkthrough page: one head's real numbers, the sqrt(d_k) experiment, GELU, norms."""
import re

import numpy as np
import pytest

from test_app_frame import chart, run_app
from test_page_positional import page_texts as texts, url_param as param
from viz.common import plotly_array

PAGE = "pages/walkthrough.py"


def open_page(**params):
    return run_app(PAGE, **params)


def test_one_head_of_the_bundled_encoder_step_by_step():
    at = open_page(a="The animal didn't cross the street because it was too tired.", layer="2", head="5")
    assert not at.exception
    errors = [float(x) for x in re.findall(r"= ([0-9.]+e[+-][0-9]+)", texts(at))]
    assert len(errors) >= 4 and max(errors) < 1e-4      # q, k, v and attn.out checked against the trace
    pattern = chart(at, "fig_pattern")
    weights = plotly_array(pattern["data"][0]["z"])
    n = weights.shape[0]
    np.testing.assert_allclose(weights.sum(axis=1), 1.0, atol=1e-5)
    assert pattern["layout"]["xaxis"]["ticktext"][0] == "00 [CLS]"
    assert pattern["data"][0]["zmin"] >= 0 and pattern["data"][0]["zmax"] <= 1
    scaled = chart(at, "fig_scores")
    assert scaled["layout"]["title"]["text"] == "scores = q·k / √32"
    scores = plotly_array(scaled["data"][0]["z"])
    raw = plotly_array(chart(at, "fig_raw_scores")["data"][0]["z"])
    np.testing.assert_allclose(scores, raw / np.sqrt(32), rtol=1e-4, atol=1e-5)
    concat = chart(at, "fig_concat")
    assert plotly_array(concat["data"][0]["z"]).shape == (n, 384)
    rect = [s for s in concat["layout"]["shapes"] if s["type"] == "rect"][0]
    assert rect["x0"] == 5 * 32 - 0.5                       # head 5's block is outlined
    x_table = at.dataframe[0].value
    assert x_table.shape == (n, 8) and x_table.index[1] == "01 the"
    assert "the first 8 of 384 columns" in texts(at)
    assert "blocks 0 of" in texts(at)                       # a single sentence: no padding mask


def test_one_query_row_taken_apart():
    at = open_page(a="Cats sleep on warm mats.", enc="tiny", wt_q="2")
    assert not at.exception
    assert at.selectbox(key="w_wt_q").value == 2
    table = [d.value for d in at.dataframe if "cos θ" in d.value.columns][0]
    raw = plotly_array(chart(at, "fig_raw_scores")["data"][0]["z"])[2]
    np.testing.assert_allclose(table["q·k (recorded)"], raw, atol=1e-3)
    np.testing.assert_allclose(table["|q| |k| cos θ"], table["q·k (recorded)"], atol=2e-3)
    at.selectbox(key="w_wt_q").set_value(0).run()
    assert param(at, "wt_q") == "0"


def test_layer_head_and_model_choice_in_the_url():
    at = open_page(a="Cats sleep.", enc="tiny", dec="tiny")
    assert not at.exception
    at.selectbox(key="wt_layer").set_value(1).run()
    at.selectbox(key="wt_head").set_value(3).run()
    assert (param(at, "layer"), param(at, "head")) == ("1", "3")
    at.radio(key="w_wt_fam").set_value("decoder").run()
    assert not at.exception and param(at, "model") == "decoder"
    masked = chart(at, "fig_masked_scores")
    cells = plotly_array(masked["data"][0]["z"])
    n = cells.shape[0]
    assert np.isnan(cells[np.triu_indices(n, 1)]).all()     # causal: no looking ahead
    assert f"blocks {n * (n - 1) // 2} of {n * n}" in texts(at)
    again = open_page(a="Cats sleep.", enc="tiny", dec="tiny", model="decoder", layer="1", head="3")
    assert again.radio(key="w_wt_fam").value == "decoder"
    assert (again.selectbox(key="wt_layer").value, again.selectbox(key="wt_head").value) == (1, 3)
    # A link from before the naming scheme opens the same view, and the URL is rewritten.
    old = open_page(a="Cats sleep.", enc="tiny", dec="tiny", wt_fam="decoder", wt_l="1", wt_h="3")
    assert old.radio(key="w_wt_fam").value == "decoder"
    assert (old.selectbox(key="wt_layer").value, old.selectbox(key="wt_head").value) == (1, 3)
    assert (param(old, "model"), param(old, "layer"), param(old, "head")) == ("decoder", "1", "3")


def test_scaling_gelu_and_norm_sections():
    at = open_page(a="Cats sleep.", enc="tiny", wt_nk="32", wt_seed="5")
    assert not at.exception
    scaling = chart(at, "fig_scaling")
    raw_var = plotly_array(scaling["data"][0]["y"])
    assert raw_var[-1] > 500 and plotly_array(scaling["data"][1]["y"])[-1] < 2
    assert at.slider(key="w_wt_nk").value == 32 and at.number_input(key="w_wt_seed").value == 5
    at.number_input(key="w_wt_seed").set_value(6).run()
    assert not np.array_equal(plotly_array(chart(at, "fig_scaling")["data"][0]["y"]), raw_var)
    gelu = chart(at, "fig_gelu")
    assert [t["name"] for t in gelu["data"] if t.get("showlegend") is not False] == ["GELU exact", "GELU tanh", "ReLU"]
    gap = float(re.search(r"Largest \|GELU tanh − GELU exact\| on this range: ([0-9.]+e[+-][0-9]+)", texts(at)).group(1))
    assert 1e-5 < gap < 1e-3
    norms = chart(at, "fig_norms")
    assert plotly_array(norms["data"][0]["z"]).shape == (5, 6)     # [CLS] cats sleep . [SEP], 6 features
    at.slider(key="w_wt_nf").set_value(3).run()
    assert plotly_array(chart(at, "fig_norms")["data"][0]["z"]).shape[1] == 3


def test_missing_decoder_or_sentence_keeps_the_math_sections():
    at = open_page(a="", wt_fam="decoder")
    assert not at.exception
    messages = " ".join(i.value for i in at.info)
    assert "Type a sentence" in messages or "decoder" in messages
    chart(at, "fig_scaling")
    chart(at, "fig_gelu")
    assert "random numbers" in texts(at)


@pytest.mark.parametrize("text", ["   ", "😀🎉", "<script>alert(1)</script>", "我爱自然语言处理", "שלום עולם",
                                  "word " * 5000, "[MASK] [SEP] [CLS]"])
def test_bad_input_gives_a_sentence_not_an_exception(text):
    at = open_page(a=text, enc="tiny")
    assert not at.exception
    if not text.strip():
        assert any("Type a sentence" in i.value for i in at.info)
    else:
        chart(at, "fig_pattern")
    if text.startswith("word"):
        assert "Showing the first 48 of 512 tokens" in texts(at) and "longer than this model" in texts(at)
    if text.startswith("[MASK]"):
        assert "special tokens" in texts(at)


def test_unknown_hub_id_falls_back_to_the_bundled_encoder():
    at = open_page(a="Cats sleep.", enc="no-such-org/no-such-model")
    assert not at.exception
    # (the sidebar's error sentence is the frame's, tested in test_app_frame.py)
    assert param(at, "enc") == "bundled"
    assert chart(at, "fig_scores")["layout"]["title"]["text"] == "scores = q·k / √32"   # bundled: d_head 32


def test_crafted_links_are_fitted_not_fatal():
    at = open_page(a="Cats sleep.", enc="tiny", wt_l="99", wt_h="-3", wt_q="1000", wt_nk="100000", wt_seed="x",
                   wt_fam="gpt", wt_nf="0")
    assert not at.exception
    assert (at.selectbox(key="wt_layer").value, at.selectbox(key="wt_head").value) == (0, 0)   # the defaults
    assert at.slider(key="w_wt_nk").value == 128 and at.slider(key="w_wt_nf").value == 2
    assert at.radio(key="w_wt_fam").value == "encoder"


def test_same_weights_on_another_sentence_give_other_attention():
    at = run_app(PAGE, a="the cat sat on the mat", enc="tiny", dec="tiny")
    assert not at.exception
    a, b = (plotly_array(chart(at, key)["data"][0]["z"]) for key in ("fig_pattern_a", "fig_pattern_b"))
    assert a.shape != b.shape or not np.allclose(a, b, equal_nan=True)
    assert "W_Q, W_K and W_V is 0.0e+00" in " ".join(c.value for c in at.caption)
