"""AppTest of the Positional encoding page: figures, controls, URL state, bad links."""
import re

from test_app_frame import chart, run_app
from viz.common import plotly_array

PAGE = "pages/positional.py"


def open_page(**params):
    return run_app(PAGE, **params)


def page_texts(at) -> str:
    """Everything the page wrote as text (markdown, info, caption, warning, code), one line each.

    Shared by the issue-5 page tests."""
    return "\n".join(el.value for group in (at.markdown, at.info, at.caption, at.warning, at.code) for el in group)


def url_param(at, name: str) -> str:
    """The current value of ?name= (the last one when repeated). Shared by the issue-5 page tests."""
    value = at.query_params[name]
    return value[-1] if isinstance(value, list) else value


def test_default_view_on_the_bundled_encoder():
    at = open_page()
    assert not at.exception
    waves = chart(at, "fig_waves")
    assert [t["name"] for t in waves["data"]] == ["dim 0 (sin)", "dim 1 (cos)", "dim 6 (sin)", "dim 7 (cos)", "dim 62 (sin)"]
    assert plotly_array(chart(at, "fig_table")["data"][0]["z"]).shape == (100, 64)
    # The offset check is computed on the page and tiny.
    error = float(re.search(r"max \|M_3 PE\(5\) − PE\(8\)\| = \*\*([0-9.e+-]+)\*\*", page_texts(at)).group(1))
    assert error < 1e-5
    learned = chart(at, "fig_learned_table")
    assert learned["layout"]["title"]["text"].endswith("positions 1 to 127")   # position 0 left out by default
    assert plotly_array(learned["data"][0]["z"]).shape == (127, 384)
    assert plotly_array(learned["data"][0]["y"])[0] == 1
    distance = chart(at, "fig_distance")
    names = [t["name"] for t in distance["data"] if t.get("mode") == "lines"]
    assert names[0] == "sinusoidal (d_model 384)" and names[1].startswith("encoder, learned: ")
    # The decoder's and the translator's tables are drawn when they exist, otherwise their absence is explained.
    assert any(n.startswith("decoder, learned: ") for n in names) or "decoder" in " ".join(i.value for i in at.info)
    assert (any(n.startswith("translator, sinusoidal: ") for n in names)
            or "translator" in " ".join(i.value for i in at.info))
    pca = chart(at, "fig_pca")
    assert pca["layout"]["title"]["text"].startswith("encoder, learned: all-MiniLM-L6-v2")
    assert pca["layout"]["xaxis"]["title"]["text"].startswith("PC1 (")
    assert plotly_array(pca["data"][1]["x"]).shape == (127,) and pca["data"][1]["marker"]["cmin"] == 1
    assert len(at.get("download_button")) == len(at.get("plotly_chart"))


def test_controls_change_figures_and_url():
    at = open_page()
    at.select_slider(key="w_pe_d").set_value(16)
    at.slider(key="w_pe_n").set_value(30)
    at.run()
    assert plotly_array(chart(at, "fig_table")["data"][0]["z"]).shape == (30, 16)
    # dimension 62 no longer exists at d_model 16: it is dropped, the others stay
    assert at.multiselect(key="w_pe_dims").value == [0, 1, 6, 7]
    at.multiselect(key="w_pe_dims").set_value([4, 5]).run()
    assert [t["name"] for t in chart(at, "fig_waves")["data"]] == ["dim 4 (sin)", "dim 5 (cos)"]
    at.toggle(key="w_pe_cos").set_value(False).run()
    assert chart(at, "fig_distance")["layout"]["title"]["text"] == "Dot product of two positions by their distance"
    assert at.query_params["pe_d"] == ["16"] or at.query_params["pe_d"] == "16"
    params = {k: (v[-1] if isinstance(v, list) else v) for k, v in at.query_params.items()}
    assert params["pe_n"] == "30" and params["pe_dims"] == "4,5" and params["pe_cos"] == "0"


def test_url_restores_the_view():
    at = open_page(pe_d="32", pe_n="40", pe_dims="2,3", pe_k="4", pe_p="1", pe_t="sinusoidal", pe_lp="20", pe_s0="0")
    assert not at.exception
    assert at.select_slider(key="w_pe_d").value == 32
    assert [t["name"] for t in chart(at, "fig_waves")["data"]] == ["dim 2 (sin)", "dim 3 (cos)"]
    offset = chart(at, "fig_offset")
    assert offset["layout"]["annotations"][1]["text"] == "PE(5) and M_4 PE(1)"
    learned = chart(at, "fig_learned_table")
    assert learned["layout"]["title"]["text"] == "sinusoidal (d_model 384): positions 0 to 19"
    assert plotly_array(learned["data"][0]["z"]).shape == (20, 384)


def test_bad_links_fall_back_and_explain():
    at = open_page(pe_d="7", pe_n="-5", pe_dims="abc,999,1", pe_k="200", pe_p="1000", pe_t="nonsense")
    assert not at.exception
    assert at.select_slider(key="w_pe_d").value == 64
    assert at.multiselect(key="w_pe_dims").value == [1]
    assert at.selectbox(key="w_pe_t").value == "encoder"
    assert any("past the" in i.value and "positions of the table" in i.value for i in at.info)


def test_no_dimension_chosen_says_what_to_do():
    at = open_page(pe_dims="")
    assert not at.exception
    assert any("Pick at least one dimension" in i.value for i in at.info)


def test_without_any_model_the_sinusoidal_table_stands_alone(monkeypatch):
    from services import cached, models

    def unavailable(family, model_id):
        raise models.Problem(f"The {family} is not here.")

    monkeypatch.setattr(cached, "position_embeddings", unavailable)
    at = open_page()
    assert not at.exception
    messages = " ".join(i.value for i in at.info)
    assert "encoder is not here" in messages and "decoder is not here" in messages
    assert "sinusoidal table of part 1 alone" in page_texts(at)
    learned = chart(at, "fig_learned_table")
    assert learned["layout"]["title"]["text"] == "sinusoidal (d_model 64): positions 1 to 99"
    assert plotly_array(learned["data"][0]["z"]).shape == (99, 64)
