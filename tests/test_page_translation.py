"""The Translation page through AppTest: the translation, cross-attention, the three attentions,
step-by-step generation, teacher forcing, URL state and bad input."""
from __future__ import annotations

import numpy as np
import pytest

from services import state
from test_app_frame import BAD_TEXTS, assert_clean, chart, charts, run_app, texts
from viz.common import plotly_array

PAGE = "pages/translation.py"
TINY = dict(enc=state.TINY, dec=state.TINY, mt=state.TINY)
SOURCE = "The file could not be saved."
REFERENCE = "Le fichier n'a pas pu être enregistré."


def z_of(figure: dict) -> np.ndarray:
    return plotly_array(figure["data"][0]["z"])


def test_renders_every_part_with_a_reference():
    at = run_app(PAGE, a=SOURCE, tr_ref=REFERENCE, tr_max="12", **TINY)
    assert_clean(at)
    found = charts(at)
    for key in ("cross", "cross_mean", "three", "step_top", "step_rows", "forced_probs", "forced_cross"):
        assert f"fig_{key}" in found, key
    cross = chart(at, "fig_cross")
    z = z_of(cross)
    # Rows: the decoder's steps (queries); columns: the source tokens ending in </s>; rows sum to 1.
    assert cross["layout"]["yaxis"]["title"]["text"] == "French token being produced (query)"
    assert cross["layout"]["xaxis"]["title"]["text"] == "English token read (key)"
    assert cross["layout"]["xaxis"]["ticktext"][-1].endswith("&lt;/s&gt;")  # escaped for plotly
    np.testing.assert_allclose(z.sum(axis=1), 1.0, atol=1e-5)
    # The decoder's self-attention is drawn with its causal mask: the upper triangle is blocked (NaN).
    causal = plotly_array(chart(at, "fig_three")["data"][1]["z"])     # the middle panel
    n = causal.shape[0]
    assert np.isnan(causal[np.triu(np.ones((n, n), dtype=bool), 1)]).all()
    assert np.isfinite(np.diag(causal)).all()
    # Teacher forcing: the check printed on the page holds.
    assert "agree with the parallel pass's to within float32 rounding" in texts(at.success)
    assert [m.label for m in at.metric] == ["Loss (nats per token)", "Perplexity", "Reference tokens"]
    assert len(at.get("download_button")) == len(found)
    # The every-head grid is drawn only once its expander is opened (it costs every rerun otherwise).
    assert "fig_cross_grid" not in found
    at.session_state["tr_grid_open"] = True
    assert "fig_cross_grid" in charts(at.run())


def test_without_reference_the_page_says_how_to_see_teacher_forcing():
    at = run_app(PAGE, a=SOURCE, tr_max="8", **TINY)
    assert_clean(at)
    assert "Type a reference translation" in texts(at.info)
    assert "fig_forced_probs" not in charts(at)


def test_step_slider_moves_through_the_decoding():
    at = run_app(PAGE, a=SOURCE, tr_max="10", tr_step="3", **TINY)
    assert_clean(at)
    assert at.slider(key="w_tr_step").value == 3
    rows = chart(at, "fig_step_rows")
    # At step 3 the causal row covers the start token and the three tokens written so far.
    assert len(plotly_array(rows["data"][1]["x"])) == 4
    np.testing.assert_allclose(plotly_array(rows["data"][0]["x"]).sum(), 1.0, atol=1e-5)
    at.slider(key="w_tr_step").set_value(0).run()
    assert len(plotly_array(chart(at, "fig_step_rows")["data"][1]["x"])) == 1
    assert at.query_params["tr_step"] == ["0"] or at.query_params["tr_step"] == "0"


def test_url_state_round_trips_and_the_lines_view():
    params = dict(layer="1", head="3", tr_view="lines", tr_beams="3", tr_max="9")
    at = run_app(PAGE, a=SOURCE, **params, **TINY)
    assert_clean(at)
    assert at.selectbox(key="tr_layer").value == 1 and at.selectbox(key="tr_head").value == 3
    assert at.selectbox(key="w_tr_beams").value == 3 and at.radio(key="w_tr_view").value == "lines"
    assert "beam search with 3 beams" in " ".join(m.value for m in at.markdown)
    lines = chart(at, "fig_cross")
    assert lines["layout"]["annotations"][0]["text"] == "French, being produced"
    for name, value in params.items():
        got = at.query_params[name]
        assert (got[-1] if isinstance(got, list) else got) == value


def test_an_example_fills_sentence_a_and_the_reference():
    at = run_app(PAGE, **TINY)
    assert "outside this translator's domain" in texts(at.info)
    at.button(key="tr_use_first").click().run()
    assert_clean(at)
    assert at.text_area(key="w_a").value == "Authentication is required to set the system time."
    assert at.text_input(key="w_tr_ref").value.startswith("Authentification requise")
    assert "fig_forced_probs" in charts(at)


@pytest.mark.parametrize("name", sorted(BAD_TEXTS))
def test_bad_input_is_a_sentence_and_stays_in_the_box(name):
    text = BAD_TEXTS[name]
    at = run_app(PAGE, a=text, tr_max="6", **TINY)
    assert not at.exception
    assert at.text_area(key="w_a").value == text
    if name == "spaces":
        assert "empty" in texts(at.warning)
        assert not charts(at)
        return
    ticks = " ".join(chart(at, "fig_cross")["layout"]["xaxis"]["ticktext"])
    assert "<script" not in ticks
    if name in ("chinese", "rtl"):
        assert "not in the Latin alphabet" in texts(at.info)


def test_very_long_text_is_truncated_with_a_note():
    at = run_app(PAGE, a="the file " * 3000, tr_max="4", **TINY)
    assert_clean(at)
    assert "longer than the translator's limit of 512 tokens" in texts(at.info)
    assert len(chart(at, "fig_cross")["layout"]["xaxis"]["ticktext"]) <= 512


def test_top_k_slider_sets_the_candidates_shown():
    at = run_app(PAGE, a=SOURCE, tr_max="6", tr_k="3", **TINY)
    assert_clean(at)
    assert len(plotly_array(chart(at, "fig_step_top")["data"][0]["y"])) == 3
    at.slider(key="w_tr_k").set_value(8).run()
    assert len(plotly_array(chart(at, "fig_step_top")["data"][0]["y"])) == 8


def test_the_translator_picker_loads_only_translators(monkeypatch):
    """A decoder's id typed into the translator's box is refused with a sentence; the page keeps working."""
    import model_core

    monkeypatch.setattr(model_core, "load_pretrained", lambda name: model_core.tiny_random("decoder"))
    at = run_app(PAGE, a=SOURCE, tr_max="6", **TINY)
    at.text_input(key="custom_seq2seq").set_value("someone/gpt-like")
    at.button(key="load_seq2seq").click().run()
    assert "is a decoder, not a translator \\(encoder\\-decoder\\)" in texts(at.error)   # escaped Markdown
    assert at.selectbox(key="w_mt").value == state.TINY
    assert "fig_cross" in charts(at)
