"""AppTest of the Embeddings page: the sum checked, segments, swap, polysemy, URL state, bad input."""
import re

import numpy as np
import pytest

from test_app_frame import chart, run_app
from test_page_positional import page_texts as texts, url_param as param
from viz.common import plotly_array

PAGE = "pages/embeddings.py"
BANK = {"a": "She sat on the bank of the river.", "b": "He paid the money into the bank."}


def open_page(**params):
    return run_app(PAGE, **params)


def test_bank_pair_on_the_bundled_encoder():
    at = open_page(**BANK)
    assert not at.exception
    error = float(re.search(r"max \|token \+ segment \+ position − sum\| = \*\*([0-9.e+-]+)\*\*", texts(at)).group(1))
    assert error < 1e-6
    bars = chart(at, "fig_contributions")
    ticks = bars["layout"]["xaxis"]["ticktext"]
    assert ticks[0] == "00 [CLS]" and ticks[5] == "05 bank" and ticks[-1] == "19 [SEP]"
    stacked = sum(plotly_array(t["y"]) for t in bars["data"][:3])
    np.testing.assert_allclose(stacked, plotly_array(bars["data"][3]["y"]), rtol=1e-4)
    segments = chart(at, "fig_segments")
    seg_cells = [t for t in segments["data"] if t["mode"] == "markers+text"]
    assert seg_cells[0]["text"][0] == "[CLS]" and seg_cells[1]["text"][-1] == "[SEP]"
    # polysemy: 'bank' is found in both sentences, identical at the token embedding, different after the blocks
    assert at.selectbox(key="w_em_w").value == "bank"
    curve = plotly_array(chart(at, "fig_polysemy")["data"][0]["y"])
    assert curve[0] == pytest.approx(1.0, abs=1e-5) and curve[-1] < 0.95
    assert len(at.get("download_button")) == len(at.get("plotly_chart"))


def test_swap_shows_both_orders_and_changes_cls():
    at = open_page(a="The dog chased the cat.", b="The cat chased the dog.", em_sl="2")
    assert not at.exception
    assert chart(at, "fig_segments")["layout"]["yaxis"]["ticktext"] == ["input", "segment id"]
    swap = chart(at, "fig_swap_segments")
    assert swap["layout"]["yaxis"]["ticktext"] == ["A then B", "segment id", "B then A", "segment id"]
    bars = chart(at, "fig_swap")
    assert [t["name"] for t in bars["data"]] == ["input (after embeddings)", "after block 0"]
    assert "cosine similarity" in texts(at) and "between the two orders" in texts(at)
    at.selectbox(key="w_em_sl").set_value(7).run()
    assert [t["name"] for t in chart(at, "fig_swap")["data"]][1] == "after block 5"
    assert param(at, "em_sl") == "7"


def test_controls_and_url_round_trip():
    at = open_page(**BANK, em_w="the", em_dims="3,5", em_nl="1")
    assert not at.exception
    assert at.selectbox(key="w_em_w").value == "the"
    dims = chart(at, "fig_dims")
    assert dims["layout"]["xaxis"]["ticktext"] == ["3", "5"]
    at.multiselect(key="w_em_dims").set_value([0, 1, 2]).run()
    assert chart(at, "fig_dims")["layout"]["xaxis"]["ticktext"] == ["0", "1", "2"]
    assert param(at, "em_dims") == "0,1,2"
    at.selectbox(key="w_em_w").set_value("bank").run()
    assert param(at, "em_w") == "bank"
    nearest = at.dataframe[-1].value
    assert list(nearest.columns) == ["sentence A", "sentence B"]


def test_span_scores_for_a_question_and_passage():
    at = open_page(a="Where did the cat sleep?", b="The cat slept on the warm mat.", enc="tiny", em_seed="4")
    assert not at.exception
    bars = chart(at, "fig_span")
    assert bars["layout"]["xaxis"]["ticktext"] == ["08 the", "09 cat", "10 slept", "11 on", "12 the", "13 warm",
                                                   "14 mat", "15 ."]
    assert plotly_array(bars["data"][0]["y"]).sum() == pytest.approx(1.0, abs=1e-6)
    assert at.number_input(key="w_em_seed").value == 4
    answer = [c.value for c in at.code][-1]
    assert answer and all(word in "the cat slept on the warm mat ." for word in answer.split())
    at.number_input(key="w_em_seed").set_value(5).run()
    assert param(at, "em_seed") == "5"


def test_single_sentence_and_no_shared_word():
    at = open_page(a="Cats sleep a lot.", b="")
    assert not at.exception
    assert "segment 1" in texts(at) and "Type sentence B" in texts(at)
    at = open_page(a="Cats sleep.", b="Dogs bark!", enc="tiny")
    assert not at.exception
    assert "share no word" in texts(at)


@pytest.mark.parametrize("text", ["", "   ", "😀🎉 <script>alert(1)</script>", "我爱自然语言处理", "שלום עולם",
                                  "word " * 5000, "[MASK] [MASK] [SEP]"])
def test_bad_input_gives_a_sentence_not_an_exception(text):
    at = open_page(a=text, b="the bank", enc="tiny")
    assert not at.exception
    if not text.strip():
        assert any("Type a sentence" in i.value for i in at.info)
    else:
        assert at.get("plotly_chart"), texts(at)
    if text.startswith("word"):
        assert "longer than this model" in texts(at) and "Showing the first 48" in texts(at)


def test_crafted_links_are_fitted_not_fatal():
    at = open_page(a="a bank", b="the bank", enc="tiny", em_dims=",".join(str(i) for i in range(40)) + ",x,-3",
                   em_sl="99", em_fam="nonsense", em_w="<b>", em_nl="-1", em_seed="abc")
    assert not at.exception
    assert len(at.multiselect(key="w_em_dims").value) == 24                       # max_selections
    assert at.radio(key="w_em_fam").value == "encoder" and at.selectbox(key="w_em_w").value == "bank"
