"""A teacher's lesson: views added with notes, reordered, saved, opened again, and checked when opened."""
from __future__ import annotations

import json

import pytest

from services import lesson
from test_app_frame import assert_clean, run_app, texts

PAGES = {"Attention", "Masks", "Positional encoding", "Embeddings", "Predictions", "Walkthrough", "Translation",
         "Objectives"}


def test_the_file_round_trips_and_the_link_too():
    views = [{"page": "Attention", "params": {"a": "the cat sat", "layer": "3", "head": "1"}, "note": "look at 'it'"},
             {"page": "Masks", "params": {"a": "the cat sat", "model": "decoder"}, "note": ""}]
    assert lesson.from_json(lesson.to_json(views), PAGES) == views
    link = lesson.to_link_value(views)
    assert link and lesson.from_link_value(link, PAGES) == views


@pytest.mark.parametrize("text, words", [
    ("not json", "not JSON"),
    ('{"views": []}', "not a lesson of this app"),
    ('{"lesson": 1, "views": [{"page": "Evil", "params": {}}]}', "names no page"),
    (json.dumps({"lesson": 1, "views": [{"page": "Masks", "params": {}}] * 51}), "at most 50"),
])
def test_a_bad_file_says_what_is_wrong(text, words):
    with pytest.raises(lesson.LessonError, match=words):
        lesson.from_json(text, PAGES)


def test_unknown_parameters_are_dropped_when_opening():
    text = json.dumps({"lesson": 1, "views": [{"page": "Masks", "params": {"a": "x", "evil": "<script>", "lesson": "y"},
                                              "note": "n" * 900}]})
    (view,) = lesson.from_json(text, PAGES)
    assert view["params"] == {"a": "x"} and len(view["note"]) == lesson.MAX_NOTE


def test_a_link_too_long_for_a_url_is_not_offered():
    views = [{"page": "Attention", "params": {"a": " ".join(str(i * 7919 + j * 104729) for j in range(40))},
              "note": f"{i}"} for i in range(40)]
    assert lesson.to_link_value(views) is None


def test_add_reorder_and_open_views_in_the_app():
    at = run_app(a="the cat sat on the mat", enc="tiny", dec="tiny", layer="1")
    assert_clean(at)
    at.text_input(key="lesson_note").input("first view").run()
    at.button(key="lesson_add").click().run()
    at.selectbox(key="att_layer").set_value(0).run()
    assert at.text_input(key="lesson_note").value == ""          # the note box is emptied for the next view
    at.text_input(key="lesson_note").input("second view").run()
    at.button(key="lesson_add").click().run()
    saved = at.session_state[lesson.VIEWS]
    assert [v["note"] for v in saved] == ["first view", "second view"]
    assert [v["params"]["layer"] for v in saved] == ["1", "0"] and all(v["page"] == "Attention" for v in saved)
    at.button(key="lesson_down_0").click().run()
    assert [v["note"] for v in at.session_state[lesson.VIEWS]] == ["second view", "first view"]
    at.button(key="lesson_open_1").click().run()                 # "first view": layer 1
    assert_clean(at)
    assert at.query_params["layer"] == "1" and at.selectbox(key="att_layer").value == 1


def test_a_lesson_link_opens_its_views():
    views = [{"page": "Masks", "params": {"a": "hello there", "model": "decoder"}, "note": "the causal mask"}]
    at = run_app(enc="tiny", dec="tiny", lesson=lesson.to_link_value(views))
    assert_clean(at)
    assert at.session_state[lesson.VIEWS] == views
    assert "the causal mask" in texts(at.markdown)
