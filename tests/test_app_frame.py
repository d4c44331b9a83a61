"""The shared frame (app.py + services): sidebar, URL state, model pickers, navigation.

AppTest runs the real app.py in-process. Tiny random models (model id
"tiny") keep most runs fast; the bundled encoder is the default and is used
where a test does not ask otherwise. Helpers here are shared by the page tests.
"""
from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

import model_core
from services import cached, models, state, ui

ROOT = Path(__file__).resolve().parents[1]
APP = str(ROOT / "app.py")
PAGES = ("pages/attention.py", "pages/masks.py", "pages/positional.py", "pages/embeddings.py",
         "pages/predictions.py", "pages/walkthrough.py", "pages/translation.py", "pages/objectives.py")
# The list of bad inputs (besides hub ids, tested below).
BAD_TEXTS = {
    "spaces": "    ",
    "emoji": "I love pizza 🍕🍕 so much 😀",
    "chinese": "我爱自然语言处理",
    "rtl": "שלום עולם مرحبا بالعالم",
    "script": "<script>alert('x')</script> hello",
    "special": "the [MASK] sat on [SEP] the mat",
}


def run_app(page: str | None = None, **params: str) -> AppTest:
    """Run app.py with these URL query params (then switch to ``page``); returns the AppTest."""
    at = AppTest.from_file(APP, default_timeout=180)
    for name, value in params.items():
        at.query_params[name] = value
    at.run()
    if page is not None:
        at.switch_page(page).run()
    return at


def charts(at: AppTest) -> dict[str, dict]:
    """Every plotly chart of the run as {widget key: figure dict}."""
    out = {}
    for i, element in enumerate(at.get("plotly_chart")):
        key = element.proto.id.rsplit("-", 1)[-1] if element.proto.id else str(i)
        out[key] = json.loads(element.proto.spec)
    return out


def chart(at: AppTest, key: str) -> dict:
    found = {k: v for k, v in charts(at).items() if k.endswith(key)}
    assert found, f"no chart with key {key!r}; charts: {sorted(charts(at))}"
    return next(iter(found.values()))


def texts(elements) -> str:
    return " | ".join(str(e.value) for e in elements)


def assert_clean(at: AppTest) -> None:
    """No exception element and no error box on the page."""
    assert not at.exception, at.exception[0].value if at.exception else ""
    assert not at.error, texts(at.error)


# ---------------------------------------------------------------- tests


def test_every_page_is_registered_and_attention_is_the_default():
    at = run_app(enc=state.TINY, dec=state.TINY)
    assert_clean(at)
    assert at.title[0].value == "Attention"
    for page in PAGES:
        at.switch_page(page)  # raises when st.navigation does not know the page


def test_sidebar_reads_the_url_and_writes_it_back():
    at = run_app(a="the cat sat", b="a dog ran", enc=state.TINY, dec=state.TINY)
    assert_clean(at)
    assert at.text_area(key="w_a").value == "the cat sat"
    assert at.text_input(key="w_b").value == "a dog ran"
    assert at.selectbox(key="w_enc").value == state.TINY
    assert at.query_params["a"] == "the cat sat" and at.query_params["b"] == "a dog ran"
    assert at.query_params["enc"] == state.TINY and at.query_params["dec"] == state.TINY


def test_defaults_without_url_use_bundled_encoder():
    at = run_app()
    assert at.selectbox(key="w_enc").value == state.BUNDLED
    assert at.query_params["a"] == state.DEFAULT_SENTENCE
    assert not at.exception


def test_typing_a_sentence_updates_url_and_page():
    at = run_app(enc=state.TINY, dec=state.TINY)
    at.text_area(key="w_a").input("dogs bark loudly").run()
    assert_clean(at)
    assert at.query_params["a"] == "dogs bark loudly"
    assert "01 dogs" in chart(at, "fig_att_head")["layout"]["yaxis"]["ticktext"]
    # The page's own state survives the rerun too.
    at.selectbox(key="att_head").select(2).run()
    assert at.query_params["a"] == "dogs bark loudly" and at.query_params["head"] == "2"


def test_example_button_fills_both_sentences():
    at = run_app(enc=state.TINY, dec=state.TINY)
    at.selectbox(key="example_choice").select("Two meanings of 'bank'")
    at.button[0].click().run()
    assert_clean(at)
    assert at.query_params["a"] == "She sat on the bank of the river."
    assert at.query_params["b"] == "He paid the money into the bank."


def _press_load(at: AppTest, family: str, model_id: str) -> AppTest:
    at.text_input(key=f"custom_{family}").input(model_id)
    return at.button(key=f"load_{family}").click().run()


def test_unknown_hub_id_says_why_and_keeps_the_model():
    at = run_app(enc=state.TINY, dec=state.TINY)
    _press_load(at, "encoder", "no-such-user/surely-not-a-model-0x5eed")
    assert not at.exception
    message = texts(at.error)
    assert "surely" in message and "Could not load" in message
    assert at.query_params["enc"] == state.TINY  # unchanged
    assert at.text_input(key="custom_encoder").value == "no-such-user/surely-not-a-model-0x5eed"
    assert chart(at, "att_grid")  # the page still works


def test_load_button_without_text_says_what_to_type():
    at = run_app(enc=state.TINY, dec=state.TINY)
    at.button(key="load_decoder").click().run()
    assert "Type a hub id" in texts(at.warning)


def test_loading_a_model_switches_the_picker(monkeypatch):
    monkeypatch.setattr(models, "_load_other", lambda model_id: model_core.tiny_random("encoder", seed=1))
    at = run_app(enc=state.TINY, dec=state.TINY)
    _press_load(at, "encoder", "my/local-bert")
    assert_clean(at)
    assert at.query_params["enc"] == "my/local-bert"
    assert at.selectbox(key="w_enc").value == "my/local-bert"


def test_offline_hub_id_shows_model_core_message(monkeypatch):
    sentence = "Could not load the model 'bert-base-uncased': the Hugging Face hub cannot be reached from here."

    def offline(name):
        raise model_core.ModelUnavailable(sentence)

    monkeypatch.setattr(model_core, "load_pretrained", offline)
    at = run_app(enc=state.TINY, dec=state.TINY)
    _press_load(at, "encoder", "bert-base-uncased")
    assert not at.exception
    assert "hub cannot be reached" in texts(at.error)
    assert at.text_input(key="custom_encoder").value == "bert-base-uncased"  # the text stays in the box
    # Opened from a shared link, the same failure is shown and the app carries on.
    at = run_app(enc="bert-base-uncased", dec=state.TINY)
    assert not at.exception
    assert "hub cannot be reached" in texts(at.error)
    assert at.query_params["enc"] == state.BUNDLED
    assert chart(at, "att_grid")


def test_decoder_loaded_as_encoder_is_refused(monkeypatch):
    monkeypatch.setattr(models, "_load_other", lambda model_id: model_core.tiny_random("decoder"))
    failure = models.try_load("encoder", "someone/gpt-like", retry=True)
    assert failure == ("'someone/gpt-like' is a decoder, not an encoder: "
                       "load it with the Decoder picker instead.")


def test_bad_model_in_url_falls_back_to_bundled(monkeypatch):
    def offline(name):
        raise model_core.ModelUnavailable(f"Could not load the model '{name}': no internet here.")

    monkeypatch.setattr(model_core, "load_pretrained", offline)
    at = run_app(enc="someone/missing-model", dec=state.TINY)
    assert not at.exception
    assert "someone/missing\\-model" in texts(at.error) or "someone/missing-model" in texts(at.error)
    assert at.query_params["enc"] == state.BUNDLED
    assert chart(at, "att_grid")  # the bundled encoder carries on


def without_bundled_decoder(monkeypatch) -> None:
    """Make the bundled decoder unavailable (as before it is trained), whatever is cached."""
    real = models._load_default

    def no_decoder(family, model_id):
        if family == "decoder" and model_id == state.BUNDLED:
            raise model_core.ModelUnavailable("The bundled decoder has not been trained yet.")
        return real(family, model_id)

    monkeypatch.setattr(models, "_load_default", no_decoder)


def test_missing_bundled_decoder_is_a_sentence_not_a_crash(monkeypatch):
    without_bundled_decoder(monkeypatch)
    at = run_app(enc=state.TINY, model="decoder")
    assert not at.exception
    assert "bundled decoder is not available" in texts(at.info)
    assert not charts(at)  # the decoder view says so instead of drawing


def test_view_is_a_frozen_dataclass():
    v = state.View("a", "", state.BUNDLED, state.TINY)
    with pytest.raises(AttributeError):
        v.sentence_a = "b"  # type: ignore[misc]
    assert v.has_text and not v.has_pair and v.model("decoder") == state.TINY


def test_markdown_escape_neutralises_user_text():
    escaped = ui.escape_markdown("<script>**x**</script> [a](b)")
    assert "<" not in escaped.replace("\\<", "") and "**" not in escaped.replace("\\*", "")


def test_nothing_leaves_the_machine():
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["browser"]["gatherUsageStats"] is False
    assert config["server"]["headless"] is True
    assert config["server"]["fileWatcherType"] == "none"
    for path in ("app.py", *PAGES):
        source = (ROOT / path).read_text()
        assert ":material/" not in source  # icon fonts come from the internet
        assert "unsafe_allow_html" not in source


# ---------------------------------------------------------------- a real browser


@pytest.mark.browser
def test_in_a_real_browser_deep_link_typing_and_navigation(tmp_path):
    """A fresh server, a shared deep link, typing in the sidebar, switching page: the view holds."""
    from playwright.sync_api import sync_playwright

    from services.server import AppServer, launch_chromium

    with AppServer(log_path=tmp_path / "streamlit.log") as server:
        base = server.url
        with sync_playwright() as p:
            browser = launch_chromium(p)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            outside = []
            page.on("request", lambda r: outside.append(r.url) if not r.url.startswith(base) else None)
            # The first visit of a fresh server is a deep link to the second page.
            page.goto(f"{base}/masks?a=the+cat+sat+on+the+mat&enc=tiny&dec=tiny&layer=1")
            page.get_by_text("One head, step by step (layer 1, head 0)").wait_for(timeout=90_000)
            box = page.locator("textarea").first
            assert box.input_value() == "the cat sat on the mat"  # the sidebar (app.py) ran
            box.fill("dogs bark at night")
            box.press("Control+Enter")
            page.wait_for_url("**a=dogs+bark+at+night**", timeout=60_000)
            page.get_by_role("link", name="Attention").first.click()
            page.get_by_text("Every layer and head at a glance").wait_for(timeout=60_000)
            assert page.locator("textarea").first.input_value() == "dogs bark at night"
            assert "a=dogs+bark+at+night" in page.url and "enc=tiny" in page.url
            # Clicking a tile's marker in the overview opens that head (tiny: 4 heads a layer).
            page.locator(".js-plotly-plot").first.locator(".scatterlayer .point").nth(6).click(force=True)
            page.wait_for_url("**layer=1&head=2**", timeout=60_000)
            page.get_by_text("Layer 1, head 2", exact=True).wait_for(timeout=60_000)
            # The default page also answers /attention (no "Page not found" dialog).
            page.goto(f"{base}/attention?enc=tiny&dec=tiny&head=3")
            page.get_by_text("Layer 0, head 3", exact=True).wait_for(timeout=60_000)
            assert page.get_by_role("dialog").count() == 0
            assert page.get_by_text("Traceback").count() == 0
            browser.close()
        assert not outside, f"requests left the machine: {outside[:3]}"


# Every attention-weight figure of each page, by chart key: the colour scale switch reaches all of them.
WEIGHT_FIGURES = {
    "pages/attention.py": ("fig_att_head", "fig_att_grid"),
    "pages/masks.py": ("mask_vs_encoder", "mask_vs_decoder"),
    "pages/walkthrough.py": ("fig_pattern",),
    "pages/translation.py": ("fig_cross", "fig_three", "fig_cross_grid"),
}
# Expanders whose figures are drawn only while they are open.
OPENED = {"pages/translation.py": "tr_grid_open"}


@pytest.mark.parametrize("page", sorted(WEIGHT_FIGURES))
def test_one_colour_scale_switch_for_every_page(page):
    import numpy as np

    from viz.common import plotly_array

    fixed = run_app(page, a="the cat sat on the mat", enc="tiny", dec="tiny", mt="tiny")
    fitted = run_app(page, a="the cat sat on the mat", enc="tiny", dec="tiny", mt="tiny", scale="fit")
    if page in OPENED:
        for at in (fixed, fitted):
            at.session_state[OPENED[page]] = True
            at.run()
    assert not fixed.exception and not fitted.exception
    assert fitted.query_params["scale"] == "fit"
    for key in WEIGHT_FIGURES[page]:
        trace = next(t for t in chart(fixed, key)["data"] if t["type"] == "heatmap")
        assert (trace.get("zmin", 0.0), trace["zmax"]) == (0.0, 1.0), key
        traces = [t for t in chart(fitted, key)["data"] if t["type"] == "heatmap"]
        trace = traces[0]
        z = np.concatenate([plotly_array(t["z"]).astype(float).ravel() for t in traces])
        assert trace["zmax"] == pytest.approx(float(np.nanmax(z)), rel=1e-3), key


def _fonts(node, inside=False):
    """Every (size, colour) of a font dict in a figure spec."""
    if isinstance(node, dict):
        if inside:
            yield node.get("size"), node.get("color")
        for key, value in node.items():
            yield from _fonts(value, key.endswith("font"))
    elif isinstance(node, list):
        for item in node:
            yield from _fonts(item)


@pytest.mark.parametrize("page", PAGES)
def test_projector_mode_writes_every_figure_large_and_dark(page):
    at = run_app(page, enc="tiny", dec="tiny", mt="tiny", big="1")
    assert not at.exception
    assert at.query_params["big"] == "true" or at.query_params["big"] == "1"
    found = charts(at)
    assert found, page
    for key, spec in found.items():
        assert spec["layout"]["font"]["size"] >= 18 and spec["layout"]["font"]["color"] == "#111111", key
        for size, colour in _fonts(spec):
            assert isinstance(size, list) or size >= 16, (key, size)
            assert isinstance(colour, list) or colour in ("#111111", "white", "#ffffff"), (key, colour)
        for name, axis in spec["layout"].items():
            # plotly labels a log axis's 2s and 5s at three quarters of the tick font unless the ticks are given
            if name.startswith(("xaxis", "yaxis")) and axis.get("type") == "log":
                assert "dtick" in axis or "tickvals" in axis, (key, name)
        for trace in spec["data"]:
            if trace.get("type") == "scatter" and "lines" in str(trace.get("mode", "lines")):
                width = trace["line"]["width"]
                assert isinstance(width, list) or width >= 3, key


def test_projector_mode_draws_summaries_full_width_and_square_heatmaps():
    at = run_app(a="the cat sat on the mat", enc="tiny", big="1", at_summaries="1")
    assert not at.exception
    assert chart(at, "fig_att_head")["layout"]["yaxis"]["scaleanchor"] == "x"
    normal = run_app(a="the cat sat on the mat", enc="tiny", at_summaries="1")
    assert "scaleanchor" not in chart(normal, "fig_att_head")["layout"]["yaxis"]
    # three columns side by side normally; one under the other in projector mode
    assert len(normal.columns) > len(at.columns)


def test_every_figure_saves_as_png_or_svg_as_the_sidebar_says():
    at = run_app(a="the cat sat", enc="tiny", dec="tiny")
    configs = [json.loads(e.proto.config) for e in at.get("plotly_chart")]
    assert configs and all(c["toImageButtonOptions"]["format"] == "png" for c in configs)
    at = run_app(a="the cat sat", enc="tiny", dec="tiny", img="svg")
    configs = [json.loads(e.proto.config) for e in at.get("plotly_chart")]
    assert all(c["toImageButtonOptions"]["format"] == "svg" and c["toImageButtonOptions"]["filename"]
               for c in configs)
    assert at.query_params["img"] == "svg"
