"""The Masks page through AppTest: the four steps, padding, BERT vs GPT, the prefix experiment."""
from __future__ import annotations

import numpy as np
import pytest

from services import cached, models, state, ui
from test_app_frame import BAD_TEXTS, assert_clean, chart, charts, run_app, texts, without_bundled_decoder
from viz.common import plotly_array

PAGE = "pages/masks.py"
TINY = dict(enc=state.TINY, dec=state.TINY)


def panels(at) -> list[np.ndarray]:
    """The z matrices of the four step panels (raw, scaled, masked, softmax)."""
    return [plotly_array(t["z"]) for t in chart(at, "mask_steps")["data"] if t["type"] == "heatmap"]


def test_renders_on_the_bundled_encoder_with_a_tiny_decoder():
    at = run_app(PAGE, a="The cat sat on the warm mat today.", b="A dog barked.", dec=state.TINY)
    assert_clean(at)
    raw, scaled, masked, soft = panels(at)
    # Row B (the shorter sentence) is shown first: its [PAD] columns are masked (NaN = grey).
    assert at.radio(key="mask_row").value == 1
    ticks = chart(at, "mask_steps")["layout"]["xaxis"]["ticktext"]
    n_real = sum(1 for t in ticks if "[PAD]" not in t)
    assert np.isnan(masked[:, n_real:]).all() and np.isfinite(masked[:, :n_real]).all()
    # Scaling divides by sqrt(d_head) = sqrt(32) for MiniLM.
    np.testing.assert_allclose(scaled, raw / np.sqrt(32), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(np.nansum(soft, -1), 1.0, rtol=1e-4)
    assert np.isnan(soft[:, n_real:]).all()          # padding gets no weight, drawn grey like the masked scores
    assert "padding changed nothing" in texts(at.success)
    # The prefix experiment on the real encoder: rows change; on the causal decoder they do not.
    assert "Encoder (bidirectional): 0 of" in texts(at.warning)
    decoder_line = [s.value for s in at.success if s.value.startswith("Decoder (causal)")][0]
    shared = int(decoder_line.split(" of ")[1].split()[0])
    assert decoder_line.startswith(f"Decoder (causal): {shared} of {shared} earlier rows are identical")
    # Every figure offers the data it draws.
    assert len(at.get("download_button")) == len(charts(at))


def test_decoder_mask_is_causal_and_padded():
    at = run_app(PAGE, a="the cat sat on the mat", b="a dog", model="decoder", **TINY)
    assert_clean(at)
    masked = panels(at)[2]
    n = masked.shape[0]
    upper = np.triu(np.ones((n, n), dtype=bool), k=1)
    assert np.isnan(masked[upper]).all()
    allowed = plotly_array(chart(at, "mask_pad_allowed_1")["data"][0]["z"])
    assert allowed[0].tolist() == [1] + [0] * (n - 1)  # causal
    assert allowed[:, 2:].sum() == 0  # "a dog" is two tokens: later columns are padding or future


def test_url_state_round_trips():
    params = dict(layer="1", head="2", mk_row="0", model="decoder", mk_append="tomorrow", mk_align="0", mk_prefix="1")
    at = run_app(PAGE, a="the cat sat on the mat", **params, **TINY)
    assert_clean(at)
    assert at.selectbox(key="mask_layer").value == 1 and at.selectbox(key="mask_head").value == 2
    assert at.radio(key="mask_row").value == 0 and at.radio(key="mask_model").value == "decoder"
    assert at.text_input(key="mask_append").value == "tomorrow"
    assert {k: at.query_params[k] for k in params} == params
    assert "tomorrow" in " ".join(chart(at, "mask_prefix_decoder")["layout"]["xaxis"]["ticktext"])
    old = run_app(PAGE, a="the cat sat on the mat", layer="1", head="2", row="0", model="decoder",
                  append="tomorrow", align="0", mk_prefix="1", **TINY)       # a link from before the naming scheme
    assert charts(old) == charts(at)
    assert {k: old.query_params[k] for k in params} == params


def test_controls_change_what_is_drawn():
    at = run_app(PAGE, a="the cat sat on the mat", **TINY)
    assert np.isnan(panels(at)[2]).any()  # the shorter row: padding masked
    at.radio(key="mask_row").set_value(0).run()
    assert not np.isnan(panels(at)[2]).any()  # the longer row: nothing masked in an encoder
    at.selectbox(key="mask_head").select(3).run()
    assert "head 3" in " ".join(s.value for s in at.subheader)
    assert at.query_params["head"] == "3"
    aligned = chart(at, "mask_vs_encoder")["layout"]["xaxis"]["ticktext"]
    assert aligned == chart(at, "mask_vs_decoder")["layout"]["xaxis"]["ticktext"]  # token for token
    at.checkbox(key="mask_align").uncheck().run()
    assert chart(at, "mask_vs_encoder")["layout"]["xaxis"]["ticktext"][0] == "00 [CLS]"
    z_dec = plotly_array(chart(at, "mask_vs_decoder")["data"][0]["z"])
    assert np.isnan(z_dec[np.triu_indices(len(z_dec), k=1)]).all()        # the future drawn grey
    assert np.isfinite(z_dec[np.tril_indices(len(z_dec))]).all()
    at.text_input(key="mask_append").input("   ").run()
    assert "Type a word to append" in texts(at.warning)
    assert_clean(at)


def test_prefix_figures_are_drawn_on_request_and_the_verdicts_always():
    at = run_app(PAGE, a="the cat sat on the mat", **TINY)
    assert_clean(at)
    assert "Decoder (causal): 6 of 6 earlier rows are identical" in texts(at.success)
    assert not [key for key in charts(at) if "prefix" in key]
    at.checkbox(key="mask_prefix").check().run()
    assert {"fig_mask_prefix_encoder", "fig_mask_prefix_decoder", "fig_mask_prefix_bars_encoder",
            "fig_mask_prefix_bars_decoder"} <= set(charts(at))
    assert at.query_params["mk_prefix"] == "1"


def test_same_length_sentences_say_there_is_no_padding():
    at = run_app(PAGE, a="the cat sat", b="a dog ran", **TINY)
    assert_clean(at)
    assert "no padding" in texts(at.info)


def test_prefix_experiment_numbers():
    result = cached.prefix_experiment("decoder", state.TINY, "the cat sat on the mat", "today")
    assert result.shared == 6 and result.max_change <= 1e-6
    result = cached.prefix_experiment("encoder", state.TINY, "the cat sat on the mat", "today")
    assert result.shared == 7 and (result.row_change > 1e-6).all()


def test_missing_decoder_keeps_the_encoder_views(monkeypatch):
    without_bundled_decoder(monkeypatch)
    at = run_app(PAGE, a="the cat sat on the mat", enc=state.TINY, mk_prefix="1")
    assert not at.exception
    assert "bundled decoder is not available" in texts(at.info)
    keys = " ".join(charts(at))
    assert "mask_steps" in keys and "mask_prefix_encoder" in keys
    assert "mask_vs_decoder" not in keys and "mask_prefix_decoder" not in keys


@pytest.mark.parametrize("name", sorted(BAD_TEXTS))
def test_bad_input(name):
    text = BAD_TEXTS[name]
    at = run_app(PAGE, a=text, **TINY)
    assert not at.exception
    assert at.text_area(key="w_a").value == text
    if name == "spaces":
        assert "empty" in texts(at.warning) and not charts(at)
        return
    labels = " ".join(chart(at, "mask_steps")["layout"]["xaxis"]["ticktext"])
    assert "<script" not in labels  # markup in tokens is escaped for plotly
    if name == "script":
        assert "&lt;" in labels
    if name == "emoji":
        assert "became \\[UNK\\]" in texts(at.info)
    if name == "special":
        assert "special tokens" in texts(at.info)


def test_long_text_is_cut_with_a_note():
    at = run_app(PAGE, a=" ".join(["word"] * 5000), **TINY)
    assert not at.exception
    notes = texts(at.info)
    assert "limit of 512 tokens, so only its first 512 tokens are read" in notes and "first 96 positions" in notes
    assert "1024" not in notes                       # the two batch rows are not added up
    assert panels(at)[0].shape == (96, 96)
    assert "appended word was cut off" in notes


def test_notes_count_the_typed_text_once_and_the_derived_row_says_what_it_is():
    at = run_app(PAGE, a="I love 😀 pizza and 😀 pasta", **TINY)
    assert not at.exception
    assert texts(at.info).startswith("2 piece\\(s\\) of your text")   # not 4: row B is derived from A
    labels = at.radio(key="mask_row").options
    assert labels[1].startswith("first half of A (")
