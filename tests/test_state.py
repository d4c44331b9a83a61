"""The view state's table: every parameter a page uses is in it, aliases point at real names,
and the one private Streamlit name the app relies on still exists."""
from __future__ import annotations

import ast
from pathlib import Path

from services import state

ROOT = Path(__file__).resolve().parents[1]
URL_FUNCTIONS = {"url_widget": 1, "url_multiselect": 0, "param_value": 0, "set_param": 0}


def names_used(path: Path) -> set[str]:
    """The parameter names passed (as string literals) to the state functions in ``path``."""
    used = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in URL_FUNCTIONS:
            arg = node.args[URL_FUNCTIONS[node.func.attr]] if len(node.args) > URL_FUNCTIONS[node.func.attr] else None
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                used.add(arg.value)
    return used


def test_every_parameter_a_page_uses_is_in_the_table():
    used = set()
    for path in [ROOT / "app.py", *sorted((ROOT / "pages").glob("*.py")), ROOT / "services" / "ui.py"]:
        used |= names_used(path)
    assert len(used) > 30, "the reader found the pages' parameters"
    assert used <= set(state.PARAMS), f"missing from services.state.PARAMS: {sorted(used - set(state.PARAMS))}"


def test_names_follow_the_scheme():
    shared = {"a", "b", "enc", "dec", "mt", "big", "scale", "img", "tour", "step", "lesson", "model", "layer", "head", "custom_encoder",
              "custom_decoder", "custom_seq2seq"}
    prefixes = ("at_", "mk_", "pe_", "em_", "pr_", "wt_", "tr_", "ob_")
    odd = [name for name in state.PARAMS if name not in shared and not name.startswith(prefixes)]
    assert not odd, f"page parameters carry their page's prefix: {odd}"


def test_aliases_point_at_parameters_and_do_not_shadow_them():
    assert set(state.ALIASES.values()) <= set(state.PARAMS)
    assert not set(state.ALIASES) & set(state.PARAMS)


def test_streamlit_still_has_the_legacy_pages_flag():
    """state.leave_legacy_pages_mode sets this private flag (no public switch exists): fail loudly if it goes."""
    from streamlit.runtime.pages_manager import PagesManager

    assert "uses_pages_directory" in vars(PagesManager), (
        "Streamlit no longer has PagesManager.uses_pages_directory: services.state.leave_legacy_pages_mode "
        "must find the new way to leave the legacy pages/ mode")
    import streamlit.commands.navigation as navigation

    assert "uses_pages_directory = False" in Path(navigation.__file__).read_text(), (
        "st.navigation no longer switches the legacy mode off the way leave_legacy_pages_mode copies")


def test_the_predictions_page_starts_with_the_default_decoding():
    """The page's decoding defaults are model_core.DEFAULT_DECODING, which the decoder's card shows."""
    import model_core

    d = model_core.DEFAULT_DECODING
    page = (state.PARAMS["pr_dec"].default, state.PARAMS["pr_gt"].default, state.PARAMS["pr_topk"].default or None,
            state.PARAMS["pr_topp"].default if state.PARAMS["pr_topp"].default < 1 else None,
            state.PARAMS["pr_rep"].default, state.PARAMS["pr_gseed"].default)
    assert page == (d.strategy, d.temperature, d.top_k, d.top_p, d.no_repeat_ngram, d.seed)


def test_a_page_run_started_without_the_frame_is_caught(monkeypatch):
    """Many students reconnecting to a restarted replica at once: a run that began on a page script alone
    (Streamlit's legacy pages/ mode) after another session cleared the flag must still rerun through app.py."""
    import types

    import streamlit.runtime.scriptrunner as scriptrunner

    from services import state

    app = Path(__file__).resolve().parents[1] / "app.py"
    monkeypatch.setattr(scriptrunner, "get_script_run_ctx", lambda: types.SimpleNamespace(main_script_path=str(app)))
    assert state.outside_the_frame()                     # called from here: no app.py in the stack
    framed: dict = {}
    exec(compile("framed['outside'] = outside_the_frame()", str(app), "exec"),
         {"outside_the_frame": state.outside_the_frame, "framed": framed})
    assert framed["outside"] is False                    # called from code running as app.py
    page_alone = types.SimpleNamespace(main_script_path=str(app.parent / "pages" / "masks.py"))
    monkeypatch.setattr(scriptrunner, "get_script_run_ctx", lambda: page_alone)
    assert not state.outside_the_frame()                 # a page tested on its own serves no app.py
