"""Guided tours: every step names a real page and real options; a step opened by its URL shows the same view."""
from __future__ import annotations

import pytest

from services import state, tours
from test_app_frame import assert_clean, run_app, texts

APP_PAGES = {"Attention", "Masks", "Positional encoding", "Embeddings", "Predictions", "Walkthrough", "Translation",
             "Objectives"}


@pytest.mark.parametrize("name", sorted(tours.TOURS))
def test_every_step_is_a_page_a_question_and_known_options(name):
    tour = tours.TOURS[name]
    assert 8 <= len(tour.steps) <= 12
    for step in tour.steps:
        assert step.page in APP_PAGES, step.title
        assert "?" in step.question and len(step.text.split()) >= 12, step.title
        assert set(step.presets) <= set(state.PARAMS), step.title
        assert "a" not in step.presets and "b" not in step.presets          # the user's own sentence stays


def test_a_step_opened_by_its_url_shows_the_step_and_applies_its_view():
    at = run_app(tour="bert", step="3", enc="tiny", dec="tiny", a="the cat sat on the mat")
    assert_clean(at)
    shown = texts(at.markdown)
    assert "step 3 of 10" in shown and "What does" in shown
    assert "Ask the class: Does one head resolve the pronoun" in texts(at.info)
    assert at.query_params["at_hide"] in ("1", "true") and at.query_params["step"] == "3"
    assert at.checkbox(key="att_hide").value is True
    assert at.query_params["a"] == "the cat sat on the mat"                  # the user's sentence, not the tour's


def test_a_step_on_another_page_opens_that_page():
    at = run_app(tour="gpt", step="7", enc="tiny", dec="tiny", a="once upon a time")
    assert_clean(at)
    assert "Let the decoder write" in " ".join(h.value for h in at.header)   # the Predictions page
    assert at.query_params["pr_rep"] == "0" and at.radio(key="w_pr_dec").value == "greedy"


def test_next_and_back_move_through_the_tour():
    at = run_app(tour="mt", step="1", mt="tiny", a="The file could not be saved.")
    assert_clean(at)
    at.button(key="tour_next").click().run()
    assert_clean(at)
    assert at.query_params["step"] == "2" and at.query_params["tr_view"] == "heatmap"
    at.button(key="tour_next").click().run()
    assert at.query_params["step"] == "3" and at.query_params["tr_view"] == "lines"
    at.button(key="tour_back").click().run()
    assert at.query_params["step"] == "2" and at.query_params["tr_view"] == "heatmap"
    at.button(key="tour_end").click().run()
    assert_clean(at)
    assert "Tour:" not in texts(at.markdown)


def test_an_unknown_tour_or_step_is_harmless():
    at = run_app(tour="nope", step="99", enc="tiny", dec="tiny")
    assert_clean(at) and "Tour:" not in texts(at.markdown)
    at = run_app(tour="bert", step="99", enc="tiny", dec="tiny")
    assert_clean(at)
    assert "step 10 of 10" in texts(at.markdown)                            # the last step
