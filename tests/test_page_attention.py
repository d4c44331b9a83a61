"""The Attention page through AppTest: figures, controls, URL state, bad input."""
from __future__ import annotations

import numpy as np
import pytest

import analysis
from services import cached, models, state, ui
from test_app_frame import BAD_TEXTS, assert_clean, chart, charts, run_app, texts
from viz.common import plotly_array

TINY = dict(enc=state.TINY, dec=state.TINY)


def z_of(figure: dict) -> np.ndarray:
    return plotly_array(figure["data"][0]["z"])


def test_renders_on_the_bundled_encoder():
    at = run_app(at_softhard="1", at_summaries="1")
    assert_clean(at)
    keys = " ".join(charts(at))
    for key in ("att_grid", "fig_att_head", "att_soft", "att_hard", "att_sum_mean", "att_sum_max", "att_sum_rollout"):
        assert key in keys
    # The default example opens with [CLS]/[SEP] hidden (its point head is found that way), each token its number.
    assert at.checkbox(key="att_hide").value and at.query_params["at_hide"] in ("1", "true")
    tokens = chart(at, "fig_att_head")["layout"]["yaxis"]["ticktext"]
    assert tokens[0] == "01 the" and tokens[-1].endswith("14 .")
    n = len(tokens)
    # 6 layers x 12 heads of the bundled MiniLM, tiled with one gap between tiles.
    assert z_of(chart(at, "att_grid")).shape == (6 * (n + 1) - 1, 12 * (n + 1) - 1)
    head = chart(at, "fig_att_head")["data"][0]
    assert (head["zmin"], head["zmax"]) == (0.0, 1.0)
    np.testing.assert_allclose(z_of(chart(at, "fig_att_head")).sum(-1), 1.0, rtol=1e-4)
    assert len(at.get("download_button")) == len(charts(at))  # every figure offers its data
    assert at.query_params["at_view"] == "heatmap"
    # The default sentence opens on the head that sends the most of "it"'s weight to "animal".
    run = analysis.attention_run(models.load("encoder", state.BUNDLED), state.DEFAULT_SENTENCE)
    layer, head, weight, q, k = analysis.point_head(run, "it", "animal")
    assert (at.query_params["layer"], at.query_params["head"]) == (str(layer), str(head)) and weight > 0.3
    finder_q, finder_k = at.selectbox(key="w_at_fq"), at.selectbox(key="w_at_fk")   # indices among the drawn
    assert finder_q.options[finder_q.value] == f"{q:02d} it" and finder_k.options[finder_k.value] == f"{k:02d} animal"
    assert any(f"gives {weight:.2f} of its weight to 'animal'" in c.value for c in at.caption)
    hidden = at.checkbox(key="att_hide").uncheck().run()      # the user's choice wins over the example's
    assert not hidden.checkbox(key="att_hide").value
    assert chart(hidden, "fig_att_head")["layout"]["yaxis"]["ticktext"][0] == "00 [CLS]"


def test_head_finder_ranks_every_head_and_follows_the_choice():
    at = run_app(a="the cat sat on the mat", at_find="previous token", **TINY)
    assert_clean(at)
    spec = chart(at, "fig_att_finder")
    run = analysis.attention_run(models.load("encoder", state.TINY), "the cat sat on the mat")
    expected = analysis.relation_weights(run.pattern)["previous token"]
    shown = np.array([float(t) for t in spec["data"][0]["text"]]).reshape(expected.shape)
    np.testing.assert_allclose(shown, expected, atol=0.006)
    best = analysis.ranked_heads(expected, top=1)[0]
    assert f"layer {best[0]}, head {best[1]}" in texts(at.caption)
    at.selectbox(key="w_at_find").set_value("a word to another word").run()
    at.selectbox(key="w_at_fq").set_value(3).run()
    at.selectbox(key="w_at_fk").set_value(2).run()
    assert_clean(at)
    assert (at.query_params["at_fq"], at.query_params["at_fk"]) == ("3", "2")
    shown = np.array([float(t) for t in chart(at, "fig_att_finder")["data"][0]["text"]])
    np.testing.assert_allclose(shown, run.pattern[:, :, 3, 2].ravel(), atol=0.006)


def test_a_chosen_example_opens_on_the_head_that_shows_its_point():
    at = run_app(layer="5", head="7")
    assert at.query_params["layer"] == "5"
    example = "The trophy did not fit in the suitcase because it was too big."
    at.selectbox(key="example_choice").set_value("Which noun is 'it'?").run()
    next(b for b in at.button if b.label == "Use this example").click().run()
    assert_clean(at)
    run = analysis.attention_run(models.load("encoder", state.BUNDLED), example)
    layer, head, *_ = analysis.point_head(run, "it", "trophy")
    assert (at.query_params["layer"], at.query_params["head"]) == (str(layer), str(head))


def test_url_reopens_the_same_view():
    at = run_app(layer="1", head="3", at_view="lines", at_hide="1", **TINY)
    assert_clean(at)
    assert at.selectbox(key="att_layer").value == 1 and at.selectbox(key="att_head").value == 3
    assert at.checkbox(key="att_hide").value is True
    lines = chart(at, "fig_att_lines")
    assert lines["layout"]["title"]["text"] == "layer 1, head 3"
    labels = [t for t in lines["data"] if t.get("name") == "query tokens"][0]["text"]
    assert not any("[CLS]" in label or "[SEP]" in label for label in labels)
    assert {k: at.query_params[k] for k in ("layer", "head", "at_view", "at_hide")} == {
        "layer": "1", "head": "3", "at_view": "lines", "at_hide": "1"}


def test_an_old_style_link_opens_the_same_view():
    """Links shared before the naming scheme (view=, hide=, softhard=) keep working, and are rewritten."""
    new = run_app(layer="1", head="3", at_view="lines", at_hide="1", at_softhard="1", **TINY)
    old = run_app(layer="1", head="3", view="lines", hide="1", softhard="1", **TINY)
    assert_clean(old)
    assert charts(old).keys() == charts(new).keys()
    assert chart(old, "fig_att_lines") == chart(new, "fig_att_lines")
    assert chart(old, "att_hard") == chart(new, "att_hard")
    assert old.query_params["at_view"] == "lines" and old.query_params["at_hide"] == "1"
    assert not {"view", "hide", "softhard"} & set(old.query_params)


def test_out_of_range_url_values_fall_back():
    at = run_app(layer="99", head="x", at_view="nonsense", **TINY)
    assert_clean(at)
    assert at.selectbox(key="att_layer").value == 0  # not a layer of this model: the default
    assert at.selectbox(key="att_head").value == 0
    assert at.radio(key="att_view").value == "heatmap"


def test_controls_change_the_figures():
    at = run_app(a="the cat sat on the mat", **TINY)
    full = chart(at, "fig_att_head")["layout"]["xaxis"]["ticktext"]
    at.selectbox(key="att_head").select(2).run()
    assert chart(at, "fig_att_head")["layout"]["title"]["text"].startswith("layer 0, head 2")
    assert at.query_params["head"] == "2"
    at.checkbox(key="att_hide").check().run()
    hidden = chart(at, "fig_att_head")["layout"]["xaxis"]["ticktext"]
    assert len(hidden) == len(full) - 2 and "[CLS]" not in " ".join(hidden)
    np.testing.assert_allclose(z_of(chart(at, "fig_att_head")).sum(-1), 1.0, rtol=1e-4)
    at.radio(key="att_view").set_value("lines").run()
    assert "fig_att_lines" in " ".join(charts(at)) and "fig_att_head" not in " ".join(charts(at))
    assert_clean(at)


def test_soft_hard_and_summaries_are_drawn_on_request():
    at = run_app(a="the cat sat on the mat", **TINY)
    assert_clean(at)
    assert set(charts(at)) == {"fig_att_grid", "fig_att_head", "fig_att_finder"}
    at.checkbox(key="att_summaries").check().run()
    assert {"fig_att_sum_mean", "fig_att_sum_max", "fig_att_sum_rollout"} <= set(charts(at))
    assert at.query_params["at_summaries"] == "1"
    rollout = z_of(chart(at, "att_sum_rollout"))
    np.testing.assert_allclose(rollout.sum(-1), 1.0, rtol=1e-4)  # rollout rows stay distributions
    assert "layers 0 to 0" not in texts(at.markdown) and "from layer 0" in texts(at.markdown)   # at layer 0
    assert chart(at, "att_sum_rollout")["layout"]["title"]["text"] == "rollout of layer 0 alone"
    at.checkbox(key="att_softhard").check().run()
    assert {"fig_att_soft", "fig_att_hard"} <= set(charts(at))
    assert len(at.get("download_button")) == len(charts(at))


def test_soft_vs_hard_is_the_arg_max():
    at = run_app(a="the cat sat on the mat", at_softhard="1", **TINY)
    soft, hard = z_of(chart(at, "att_soft")), z_of(chart(at, "att_hard"))
    assert hard.sum(-1).tolist() == [1.0] * len(hard)
    assert hard.argmax(-1).tolist() == soft.argmax(-1).tolist()


def test_decoder_is_causal():
    at = run_app(a="the cat sat on the mat", model="decoder", **TINY)
    assert_clean(at)
    spec = chart(at, "fig_att_head")
    z = z_of(spec)
    # the future is masked: grey gaps with a legend entry, not weight-0 colour; the past sums to 1
    assert np.isnan(z[np.triu_indices(len(z), k=1)]).all() and np.isfinite(z[np.tril_indices(len(z))]).all()
    np.testing.assert_allclose(np.nansum(z, -1), 1.0, rtol=1e-4)
    assert any(t.get("name") == "masked (not allowed)" for t in spec["data"])
    at.checkbox(key="att_hide").check().run()      # hiding markers keeps the mask on the remaining positions
    z = z_of(chart(at, "fig_att_head"))
    assert np.isnan(z[np.triu_indices(len(z), k=1)]).all()


def test_sentence_pair_colours_a_and_b():
    at = run_app(a="the cat sat", b="it was tired", **TINY)
    assert_clean(at)
    names = [t.get("name") for t in chart(at, "fig_att_head")["data"]]
    assert "sentence A" in names and "sentence B" in names
    at = run_app(a="the cat sat", b="it was tired", model="decoder", **TINY)
    assert "one text" in " ".join(c.value for c in at.caption)


def test_512_tokens_still_render_with_a_note():
    at = run_app(a=" ".join(["word"] * 5000), **TINY)
    assert_clean(at)
    notes = texts(at.info)
    assert "limit of 512 tokens" in notes and "blocks of 11x11 tokens" in notes
    grid = z_of(chart(at, "att_grid"))
    assert grid.shape == (2 * 48 - 1, 4 * 48 - 1)  # 2 layers x 4 heads, 512/11 -> 47 cells a side + gaps
    assert z_of(chart(at, "fig_att_head")).shape == (512, 512)
    assert at.text_area(key="w_a").value.startswith("word word")
    assert "too long to travel in a link" in " ".join(c.value for c in at.caption)
    assert "a" not in at.query_params  # left out of the URL rather than breaking it


@pytest.mark.parametrize("name", sorted(BAD_TEXTS))
def test_bad_input_is_a_sentence_and_stays_in_the_box(name):
    text = BAD_TEXTS[name]
    at = run_app(a=text, **TINY)
    assert not at.exception
    assert at.text_area(key="w_a").value == text
    if name == "spaces":
        assert "empty" in texts(at.warning)
        assert not charts(at)
        return
    assert chart(at, "fig_att_head")
    labels = " ".join(chart(at, "fig_att_head")["layout"]["xaxis"]["ticktext"])
    assert "<script" not in labels  # markup in tokens is escaped for plotly
    if name == "emoji":
        assert "became \\[UNK\\]" in texts(at.info)  # escaped for Markdown
    if name == "special":
        assert "special tokens" in texts(at.info)
    if name == "script":
        assert "&lt;" in labels


def test_empty_sentence_says_what_to_do():
    at = run_app(a="", **TINY)
    assert not at.exception
    assert "Sentence A is empty" in texts(at.warning)


def test_the_check_button_prints_the_largest_difference():
    at = run_app()
    at.checkbox(key="att_check").check().run()
    assert_clean(at)
    assert "Every number agrees to within 1e-05" in texts(at.markdown)
    table = at.dataframe[0].value
    assert list(table["compared"]) == [f"layer {i} attention" for i in range(6)] + ["logits (relative)"]
    tiny = run_app(**TINY)
    tiny.checkbox(key="att_check").check().run()
    assert not tiny.exception and "built in memory" in texts(tiny.info)


def test_follow_a_token_outlines_its_row_and_column_everywhere():
    at = run_app(a="the cat sat on the mat", at_follow="2", **TINY)
    assert_clean(at)
    head_shapes = chart(at, "fig_att_head")["layout"]["shapes"]
    rows = [s for s in head_shapes if s["line"].get("dash") != "dot"]
    cols = [s for s in head_shapes if s["line"].get("dash") == "dot"]
    assert len(rows) == len(cols) == 1
    assert (rows[0]["y0"], rows[0]["y1"]) == (1.5, 2.5) and (cols[0]["x0"], cols[0]["x1"]) == (1.5, 2.5)
    grid = [s for s in chart(at, "att_grid")["layout"]["shapes"] if s["line"]["color"] == "#D55E00"]
    assert len(grid) == 2 * 2 * 4                         # a row and a column in each of 2 x 4 tiles
    assert at.query_params["at_follow"] == "2"
    at.selectbox(key="w_at_follow").set_value(-1).run()
    assert not [s for s in chart(at, "fig_att_head")["layout"].get("shapes", []) if s["line"]["color"] == "#D55E00"]


def test_hiding_markers_keeps_every_tokens_own_number():
    at = run_app(a="the cat sat", at_hide="1", **TINY)
    assert_clean(at)
    ticks = chart(at, "fig_att_head")["layout"]["xaxis"]["ticktext"]
    assert ticks == ["01 the", "02 cat", "03 sat"]                      # [CLS] is 00 and hidden; no renumbering
    assert chart(at, "att_finder")                                        # the finder draws on the same tokens


def test_the_decoders_start_token_is_named_and_explained():
    at = run_app(a="the cat sat", model="decoder", enc="tiny")
    assert_clean(at)
    assert chart(at, "fig_att_head")["layout"]["xaxis"]["ticktext"][0] == "00 ⟨start⟩"
    assert "start-of-text token the decoder reads before your first word" in texts(at.caption)


def test_head_finder_ranks_the_previous_token_head_of_the_bundled_encoder_first():
    sentence = "The keys to the old wooden cabinet are on the table."
    at = run_app(a=sentence, at_find="previous token")
    assert_clean(at)
    # Independently of analysis: one forward pass of the core, each head's mean weight on the previous token.
    import model_core

    model = models.load("encoder", state.BUNDLED)
    enc = model_core.encode(model, sentence)
    trace = model(enc.input_ids, enc.attention_mask, enc.token_type_ids, record=("blocks.*.attn.pattern",)).trace
    n = enc.input_ids.shape[1]
    weight = np.array([[float(np.mean([trace[f"blocks.{l}.attn.pattern"][0, h, q, q - 1] for q in range(1, n)]))
                        for h in range(12)] for l in range(6)])
    layer, head = divmod(int(weight.argmax()), 12)
    assert f"Strongest: layer {layer}, head {head} ({weight.max():.2f})" in texts(at.caption)
    assert weight.max() > 0.9
