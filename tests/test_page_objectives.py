"""The Objectives page through AppTest: every card, each control, the side-by-side layout, bad input."""
from __future__ import annotations

import numpy as np
import pytest

from services import state
from test_app_frame import BAD_TEXTS, assert_clean, chart, charts, run_app, texts
from viz.common import plotly_array

PAGE = "pages/objectives.py"
TINY = dict(enc=state.TINY, dec=state.TINY, mt=state.TINY)
TEXT = "the quick brown fox jumps over the lazy dog"


def allowed_of(at, key: str) -> np.ndarray:
    return plotly_array(chart(at, key)["data"][0]["z"])


def test_every_card_draws_its_mask_on_the_real_tokens():
    at = run_app(PAGE, a=TEXT, **TINY)
    assert_clean(at)
    n = 11                                                        # [CLS] + 9 words + [SEP]
    assert allowed_of(at, "fig_ob_bert_mask").shape == (n, n) and allowed_of(at, "fig_ob_bert_mask").all()
    causal = allowed_of(at, "fig_ob_gpt_mask")
    assert (causal == np.tril(np.ones((n, n)))).all()
    assert (allowed_of(at, "fig_ob_elmo_b") == np.triu(np.ones((n, n)))).all()
    assert allowed_of(at, "fig_ob_mass_cross").shape == (2, n)    # span length 2 x the whole input
    for key in ("fig_ob_static", "fig_ob_dynamic", "fig_ob_xlnet_mask", "fig_ob_prefix_pattern", "fig_ob_xlm_mask",
                "fig_ob_heads", "fig_ob_race", "fig_ob_losses"):
        assert key in charts(at), key
    assert len(at.get("download_button")) == len(charts(at))
    assert "Load an ALBERT checkpoint" in texts(at.info)


def test_a_typed_order_sets_what_the_position_reads():
    at = run_app(PAGE, a="the quick brown fox jumps", ob_show="xlnet", ob_order="3 1 2 4 5", ob_pos="3", **TINY)
    assert_clean(at)
    mask = allowed_of(at, "fig_ob_xlnet_mask")
    assert mask[3, 1:6].tolist() == [0, 0, 1, 0, 0]               # first in the order: only its own slot
    assert "may read: no word" in " ".join(m.value for m in at.markdown)
    at.text_input(key="w_ob_order").set_value("1 2 4 5 3").run()
    assert allowed_of(at, "fig_ob_xlnet_mask")[3, 1:6].tolist() == [1, 1, 1, 1, 1]
    at.text_input(key="w_ob_order").set_value("1 1 2").run()
    assert "lists every word position exactly once" in texts(at.warning)
    assert not at.exception


def test_mass_and_prefix_controls_move_the_masks():
    at = run_app(PAGE, a=TEXT, ob_show="mass,unilm", ob_start="4", ob_len="3", ob_prefix="4", **TINY)
    assert_clean(at)
    assert allowed_of(at, "fig_ob_mass_dec").shape == (3, 3)
    prefix = allowed_of(at, "fig_ob_prefix_mask")
    assert prefix[0, :4].all() and not prefix[0, 4:].any() and prefix[5, :6].all()
    table = at.dataframe[0].value
    assert list(table["hidden"]) == ["fox", "jumps", "over"]


def test_side_by_side_and_the_seed():
    at = run_app(PAGE, a=TEXT, ob_show="bert,roberta", ob_pair="1", **TINY)
    assert_clean(at)
    assert at.toggle(key="w_ob_pair").value is True
    first = chart(at, "fig_ob_dynamic")["data"]
    at.number_input(key="w_ob_seed").set_value(7).run()
    assert chart(at, "fig_ob_dynamic")["data"] != first
    assert at.query_params["ob_seed"] in ("7", ["7"])


def test_fine_tuning_span_head_and_the_optimiser_controls():
    at = run_app(PAGE, a="where did the cat sleep?", b="the cat slept on the warm mat.", ob_show="gpt", ob_steps="50",
                 ob_wd="0.5", **TINY)
    assert_clean(at)
    heads = chart(at, "fig_ob_heads")
    assert len([t for t in heads["data"] if t["type"] == "bar"]) == 3
    assert "best answer" in " ".join(m.value for m in at.markdown)
    race = chart(at, "fig_ob_race")
    paths = [t for t in race["data"] if t.get("mode") == "lines+markers"]
    assert len(paths) == 6 and all(len(plotly_array(t["x"])) == 51 for t in paths)


@pytest.mark.parametrize("name", sorted(BAD_TEXTS))
def test_bad_input_is_a_sentence_and_stays_in_the_box(name):
    text = BAD_TEXTS[name]
    at = run_app(PAGE, a=text, ob_show="bert,xlnet,mass", **TINY)
    assert not at.exception
    assert at.text_area(key="w_a").value == text
    if name == "spaces":
        assert "empty" in texts(at.warning)
        assert not charts(at)


def test_head_seed_and_learning_rate_factor_change_what_is_drawn():
    at = run_app(PAGE, a="where did the cat sleep?", b="on the mat.", ob_show="gpt", ob_steps="30", **TINY)
    assert_clean(at)
    before_heads = chart(at, "fig_ob_heads")["data"][0]["y"]
    before_path = chart(at, "fig_ob_race")["data"][1]["x"]
    at.number_input(key="w_ob_ft").set_value(5).run()
    assert chart(at, "fig_ob_heads")["data"][0]["y"] != before_heads
    at.slider(key="w_ob_lr").set_value(2.0).run()
    assert chart(at, "fig_ob_race")["data"][1]["x"] != before_path
    assert "SGD 0.02" in texts(at.caption)


def test_a_very_long_text_is_cut_for_the_masks_with_a_note():
    at = run_app(PAGE, a="the cat sat on the mat " * 800, ob_show="bert,xlnet,gpt", **TINY)
    assert_clean(at)
    assert "the cards use its first 48 tokens" in texts(at.info)
    assert allowed_of(at, "fig_ob_bert_mask").shape == (48, 48)
    assert at.text_area(key="w_a").value.startswith("the cat sat")   # what the user typed stays in the box
