"""viz.masks: the step figures, the allowed matrix, padding marks, the prefix experiment figures."""
import numpy as np

from viz import masks as vm
from viz.common import MASKED_COLOUR, plotly_array

TOKENS = ["[CLS]", "a", "dog", "[SEP]", "[PAD]", "[PAD]"]


def steps_and_allowed(seed=0):
    rng = np.random.default_rng(seed)
    raw = rng.normal(scale=8.0, size=(6, 6)).astype(np.float32)
    scores = raw / np.sqrt(16)
    allowed = np.zeros((6, 6), dtype=bool)
    allowed[:, :4] = True  # padding columns blocked
    masked = np.where(allowed, scores, np.finfo(np.float32).min)
    e = np.exp(np.where(allowed, scores - scores.max(-1, keepdims=True), -np.inf))
    pattern = e / e.sum(-1, keepdims=True)
    steps = {"raw_scores": raw, "scores": scores, "masked_scores": np.where(allowed, masked, np.nan), "pattern": pattern}
    return steps, allowed


LABELS = ["00 [CLS]", "01 a", "02 dog", "03 [SEP]", "04 [PAD]", "05 [PAD]"]


def heat(fig):
    return [t for t in fig.to_dict()["data"] if t["type"] == "heatmap"][0]


def heats(fig):
    return [t for t in fig.to_dict()["data"] if t["type"] == "heatmap"]


def test_four_steps_in_a_row_with_true_ranges():
    steps, allowed = steps_and_allowed()
    fig = vm.steps_figure(steps, TOKENS, allowed).figure
    panels = heats(fig)
    assert len(panels) == 4
    assert [p["xaxis"] for p in panels] == ["x", "x2", "x3", "x4"]
    titles = [a["text"] for a in fig.to_dict()["layout"]["annotations"]]
    assert titles[0].startswith("1. raw scores") and titles[3].startswith("4. after softmax")
    raw = panels[0]
    bound = float(np.abs(steps["raw_scores"]).max())
    assert raw["zmin"] == -raw["zmax"] and abs(raw["zmax"] - bound) < 1e-5
    assert raw["colorscale"][0][1].lower() != raw["colorscale"][-1][1].lower()  # diverging
    # Scaling shrinks the range by sqrt(d_head) = 4.
    assert abs(panels[1]["zmax"] - bound / 4) < 1e-5
    assert (panels[3]["zmin"], panels[3]["zmax"]) == (0.0, 1.0)
    assert plotly_array(panels[3]["z"]).shape == (6, 6)
    layout = fig.to_dict()["layout"]
    assert layout["xaxis"]["ticktext"][4] == "04 [PAD]"
    assert layout["yaxis"]["ticktext"][0] == "00 [CLS]"
    assert all(p["colorbar"]["orientation"] == "h" for p in panels)


def test_masked_cells_are_gaps_drawn_grey_with_a_legend():
    steps, allowed = steps_and_allowed()
    fig = vm.steps_figure(steps, TOKENS, allowed).figure
    masked_panel = heats(fig)[2]
    z = plotly_array(masked_panel["z"])
    assert np.isnan(z[:, 4:]).all() and np.isfinite(z[:, :4]).all()
    # The colour range comes from the allowed cells, never from the dtype minimum.
    assert masked_panel["zmin"] > -1e3
    grey = [s for s in fig.to_dict()["layout"]["shapes"] if s.get("fillcolor") == MASKED_COLOUR]
    assert grey and grey[0]["xref"] == "x3 domain"
    keys = [t for t in fig.to_dict()["data"] if t.get("name") == "masked (not allowed)"]
    assert [t.get("showlegend", True) for t in keys].count(True) == 1     # one legend entry for all panels


def test_no_legend_when_nothing_is_masked():
    steps, _ = steps_and_allowed()
    everything = np.ones((6, 6), dtype=bool)
    steps["masked_scores"] = steps["scores"]
    fig = vm.steps_figure(steps, TOKENS, everything).figure
    assert fig.to_dict()["layout"]["showlegend"] is False


def test_allowed_figure_is_two_colours_with_named_ticks():
    _, allowed = steps_and_allowed()
    chart = vm.allowed_figure(allowed, TOKENS)
    fig = chart.figure
    trace = heat(fig)
    np.testing.assert_array_equal(plotly_array(trace["z"]), allowed.astype(np.float32))
    assert trace["colorbar"]["ticktext"] == ["blocked", "allowed"]
    assert (trace["zmin"], trace["zmax"]) == (0.0, 1.0)
    assert fig.to_dict()["layout"]["xaxis"]["ticktext"][4] == "04 [PAD]"
    assert chart.table.to_numpy().tolist() == allowed.astype(int).tolist()
    assert list(chart.table.index) == LABELS and list(chart.table.columns) == LABELS


def test_causal_allowed_matrix():
    causal = np.tril(np.ones((4, 4), dtype=bool))
    z = plotly_array(heat(vm.allowed_figure(causal, ["a", "b", "c", "d"]).figure)["z"])
    assert z[0].tolist() == [1, 0, 0, 0] and z[3].tolist() == [1, 1, 1, 1]


def test_padding_marks_outline_rows_and_columns():
    steps, allowed = steps_and_allowed()
    chart_allowed, chart_pattern = vm.padded_figures(allowed, steps["pattern"], TOKENS, 4, name="row B")
    for chart in (chart_allowed, chart_pattern):
        fig = chart.figure
        rects = [s for s in fig.to_dict()["layout"]["shapes"] if s["type"] == "rect"]
        assert {(r["x0"], r["y0"]) for r in rects} >= {(3.5, -0.5), (-0.5, 3.5)}
        assert any(t.get("name") == "padding rows / columns" for t in fig.to_dict()["data"])
        assert list(chart.table.index) == LABELS and list(chart.table.columns) == LABELS
    assert chart_allowed.table.to_numpy().tolist() == allowed.astype(int).tolist()
    shown = chart_pattern.table.to_numpy()
    assert np.isnan(shown[:, 4:]).all()                                   # masked: NaN, as drawn
    np.testing.assert_allclose(shown[:, :4], steps["pattern"][:, :4], rtol=1e-6)
    plain = vm.allowed_figure(allowed, TOKENS)
    no_pad = vm.mark_padding(plain, 6, 6)
    assert not no_pad.figure.to_dict()["layout"].get("shapes") and no_pad.table is plain.table
    padded = vm.mark_padding(plain, 4, 6)
    assert padded.figure.to_dict()["layout"]["shapes"] and not plain.figure.to_dict()["layout"].get("shapes")


def test_prefix_figures_mark_unchanged_rows():
    pattern = np.full((5, 5), 0.2, dtype=np.float32)
    change = np.array([0.0, 2e-7, 0.3], dtype=np.float32)
    chart = vm.prefix_figure(pattern, ["a", "b", "c", "d", "e"], change, 1e-6)
    rects = [s for s in chart.figure.to_dict()["layout"]["shapes"] if s["type"] == "rect"]
    assert [r["line"]["color"] for r in rects] == [vm.UNCHANGED_COLOUR] * 2 + [vm.PAD_OUTLINE]
    assert chart.table.shape == (5, 5) and chart.table.index[4] == "04 e"
    np.testing.assert_array_equal(chart.table.to_numpy(), pattern)
    bar_chart = vm.row_change_figure(change, ["a", "b", "c", "d", "e"], 1e-6)
    bars = bar_chart.figure.to_dict()
    assert bars["data"][0]["type"] == "bar"
    assert bars["data"][0]["marker"]["color"] == [vm.UNCHANGED_COLOUR] * 2 + [vm.PAD_OUTLINE]
    assert bars["layout"]["yaxis"]["type"] == "log"
    assert bars["layout"]["xaxis"]["ticktext"] == ["00 a", "01 b", "02 c"]
    # The table has the true change (the log axis draws 0 at a floor) and the colour's verdict.
    assert list(bar_chart.table.index) == ["00 a", "01 b", "02 c"]
    np.testing.assert_array_equal(bar_chart.table["largest change"], change)
    assert bar_chart.table["unchanged"].tolist() == [True, True, False]


def test_steps_table_stacks_the_four_matrices_drawn():
    steps, allowed = steps_and_allowed()
    chart = vm.steps_figure(steps, TOKENS, allowed)
    table = chart.table
    assert table.index.names == ["step", "query"] and table.shape == (4 * 6, 6)
    assert list(table.index.get_level_values("step").unique()) == list(vm.STEP_TITLES)
    assert list(table.columns) == LABELS and list(table.loc["pattern"].index) == LABELS
    for name, trace in zip(vm.STEP_TITLES, heats(chart.figure)):
        np.testing.assert_array_equal(table.loc[name].to_numpy(), plotly_array(trace["z"]))
    assert np.isnan(table.loc["masked_scores"].to_numpy()[:, 4:]).all()
    np.testing.assert_allclose(table.loc["raw_scores"].to_numpy(), steps["raw_scores"])


def test_four_narrow_panels_label_at_most_twelve_keys_each():
    n = 30
    tokens = [f"t{i}" for i in range(n)]
    steps = {name: np.zeros((n, n)) for name in ("raw_scores", "scores", "masked_scores", "pattern")}
    fig = vm.steps_figure(steps, tokens, np.ones((n, n), dtype=bool)).figure.to_dict()
    for axis in ("xaxis", "xaxis2", "xaxis3", "xaxis4"):
        assert 1 < len(fig["layout"][axis]["ticktext"]) <= vm.PANEL_TICKS
