"""A teacher's lesson: views collected as you go, each with a note, reordered, saved as a small JSON file.

A view is a page and its query parameters (what a copied link holds), so a lesson prepared at home opens
unchanged on the classroom server. The file is checked when it is opened: only known pages and known
parameters are taken, so a hand-edited or foreign file cannot smuggle anything in.

    {"lesson": 1, "views": [{"page": "Attention", "params": {"a": "...", "layer": "3"}, "note": "..."}]}
"""
from __future__ import annotations

import base64
import json
import zlib
from typing import Any

import streamlit as st

from .params import PARAMS
from .state import MAX_URL_TEXT, preset

VIEWS = "_lesson_views"     # session key: the lesson being built, a list of view dicts
VERSION = 1
MAX_VIEWS = 50
MAX_NOTE = 500


class LessonError(ValueError):
    """A lesson file that cannot be opened; the message says why and what to do."""


def views() -> list[dict]:
    return st.session_state.setdefault(VIEWS, [])


def current_view(page: str, note: str) -> dict:
    """The view in the browser now: its page, the URL's parameters (known ones only) and a note."""
    params = {k: str(v) for k, v in st.query_params.to_dict().items()
              if k in PARAMS and PARAMS[k].in_url and k != "lesson"}
    return {"page": page, "params": params, "note": note.strip()[:MAX_NOTE]}


def to_json(lesson: list[dict]) -> str:
    return json.dumps({"lesson": VERSION, "views": lesson}, ensure_ascii=False, indent=1)


def from_json(text: str | bytes, pages: set[str]) -> list[dict]:
    """The views of a lesson file, checked: known pages and parameters, text values, at most MAX_VIEWS."""
    try:
        data = json.loads(text)
    except (ValueError, UnicodeDecodeError):
        raise LessonError("This file is not a lesson (it is not JSON); download a lesson from this app and open "
                          "that file.") from None
    if not isinstance(data, dict) or data.get("lesson") != VERSION or not isinstance(data.get("views"), list):
        raise LessonError("This file is not a lesson of this app (it has no list of views); open a file saved "
                          "with 'Download the lesson'.")
    if len(data["views"]) > MAX_VIEWS:
        raise LessonError(f"This lesson has {len(data['views'])} views; a lesson holds at most {MAX_VIEWS}.")
    checked = []
    for number, view in enumerate(data["views"], start=1):
        if not isinstance(view, dict) or view.get("page") not in pages or not isinstance(view.get("params"), dict):
            raise LessonError(f"View {number} of the lesson names no page of this app; fix or remove it.")
        params = {str(k): str(v) for k, v in view["params"].items()
                  if k in PARAMS and PARAMS[k].in_url and k != "lesson"}
        checked.append({"page": view["page"], "params": params, "note": str(view.get("note", ""))[:MAX_NOTE]})
    return checked


def to_link_value(lesson: list[dict]) -> str | None:
    """The lesson packed for a link (``?lesson=...``), or None when it would be too long for a URL."""
    packed = base64.urlsafe_b64encode(zlib.compress(to_json(lesson).encode(), 9)).decode().rstrip("=")
    return packed if len(packed) <= MAX_URL_TEXT else None


def from_link_value(value: str, pages: set[str]) -> list[dict]:
    try:
        raw = zlib.decompress(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)))
    except (ValueError, zlib.error):
        raise LessonError("The lesson in this link is damaged; ask for the link again or open the lesson file.") \
            from None
    return from_json(raw, pages)


def open_view(view: dict) -> None:
    """Make ``view`` the one in view (from a callback): its parameters for the widgets, then its page."""
    preset(view["params"])
    st.session_state["_lesson_page"] = view["page"]


def add(page: str) -> None:
    """Button callback: the view in the browser, with the note typed, at the end of the lesson."""
    views().append(current_view(page, str(st.session_state.get("lesson_note", ""))))
    st.session_state["lesson_note"] = ""


def move(index: int, by: int) -> None:
    lesson = views()
    target = index + by
    if 0 <= target < len(lesson):
        lesson[index], lesson[target] = lesson[target], lesson[index]


def remove(index: int) -> None:
    views().pop(index)


def sidebar(page: str, pages: dict[str, Any]) -> None:
    """The sidebar's lesson box: add this view, the list (open, up, down, remove), download, open a file."""
    wanted = st.session_state.pop("_lesson_page", None)
    if wanted is not None and wanted != page:
        st.switch_page(pages[wanted])
    lesson = views()
    packed = st.query_params.get("lesson")
    if packed and not lesson and st.session_state.get("_lesson_link_seen") != packed:
        st.session_state["_lesson_link_seen"] = packed
        try:
            lesson[:] = from_link_value(packed, set(pages))
        except LessonError as err:
            st.warning(str(err))
    # The label stays the same as views are added: a new label is a new expander, which opens closed.
    with st.expander("Lesson: views to show in class"):
        st.caption(f"{len(lesson)} of {MAX_VIEWS} views" if lesson else
                   "Collect views as you go: each keeps its page, sentence and options, with a note.")
        st.text_input("Note for this view", key="lesson_note", max_chars=MAX_NOTE,
                      placeholder="what to say or ask here")
        st.button("Add this view", key="lesson_add", disabled=len(lesson) >= MAX_VIEWS, on_click=add, args=(page,))
        for i, view in enumerate(lesson):
            st.markdown(f"**{i + 1}. {view['page']}**" + (f": {_plain(view['note'])}" if view["note"] else ""))
            cells = st.columns(4)
            cells[0].button("Open", key=f"lesson_open_{i}", on_click=open_view, args=(view,))
            cells[1].button("Up", key=f"lesson_up_{i}", on_click=move, args=(i, -1), disabled=i == 0)
            cells[2].button("Down", key=f"lesson_down_{i}", on_click=move, args=(i, 1), disabled=i + 1 == len(lesson))
            cells[3].button("Remove", key=f"lesson_rm_{i}", on_click=remove, args=(i,))
        if lesson:
            st.download_button("Download the lesson", to_json(lesson), file_name="lesson.json",
                               mime="application/json", key="lesson_download")
            link = to_link_value(lesson)
            st.caption("As a link: add ?lesson=" + link + " to the app's address." if link else
                       "This lesson is too long for a link; share the file.")
        # read in the uploader's callback, before this run draws the list, so the list shows the file at once
        st.file_uploader("Open a lesson file", type=["json"], key="lesson_file", on_change=_open_file, args=(set(pages),))
        if "_lesson_file_error" in st.session_state:
            st.warning(st.session_state.pop("_lesson_file_error"))


def _open_file(pages: set[str]) -> None:
    upload = st.session_state.get("lesson_file")
    if upload is None:
        return
    try:
        views()[:] = from_json(upload.getvalue(), pages)
    except LessonError as err:
        st.session_state["_lesson_file_error"] = str(err)


def _plain(text: str) -> str:
    """A note as plain text in markdown (no links, emphasis or HTML)."""
    return "".join("\\" + ch if ch in "\\`*_{}[]()<>#+-.!|~" else ch for ch in text)
