"""viz.predictions: top-k bars, the BERT masking procedure, ablation bars."""
from collections import Counter

import numpy as np
import pytest

from viz.common import plotly_array
from viz import predictions as vpred


def test_topk_figure_one_panel_per_mask():
    preds = [[("paris", 0.7), ("lyon", 0.1)], [("the", 0.5), ("a", 0.2), ("an", 0.1)]]
    fig = vpred.topk_figure(preds, ["mask 1", "mask 2"]).to_dict()
    assert [t["type"] for t in fig["data"]] == ["bar", "bar"]
    np.testing.assert_allclose(plotly_array(fig["data"][0]["x"]), [0.7, 0.1])
    assert fig["layout"]["yaxis"]["ticktext"] == ["1. paris", "2. lyon"]
    assert fig["layout"]["yaxis2"]["ticktext"][2] == "3. an"
    assert fig["data"][1]["text"][0] == "50.0%"
    assert list(fig["layout"]["xaxis"]["range"]) == [0, pytest.approx(0.91)]        # 1.3 x the largest
    assert fig["layout"]["xaxis2"]["range"] == fig["layout"]["xaxis"]["range"]
    small = vpred.topk_figure([[("a", 0.01)]], ["x"]).to_dict()
    assert list(small["layout"]["xaxis"]["range"]) == [0, 0.1]
    with pytest.raises(ValueError, match="while number of titles is 1"):
        vpred.topk_figure(preds, ["one"])


def _plan(seed, n=40):
    special = [True] + [False] * n + [True]
    ids = list(range(100, 100 + n + 2))
    return vpred.bert_mask_plan(ids, special, mask_id=103, replacement_ids=[7, 8, 9], seed=seed)


def test_mask_plan_chooses_fifteen_percent_and_never_specials():
    plan = _plan(seed=0)
    assert len(plan.chosen) == 6                       # round(0.15 * 40)
    assert plan.actions[0] == plan.actions[-1] == "special"
    assert all(plan.actions[i] in ("[MASK]", "random", "unchanged") for i in plan.chosen)
    assert sum(a == "not chosen" for a in plan.actions) == 34
    for i, action in enumerate(plan.actions):
        if action == "[MASK]":
            assert plan.input_ids[i] == 103
        elif action == "random":
            assert plan.input_ids[i] in (7, 8, 9)
        else:
            assert plan.input_ids[i] == 100 + i


def test_mask_plan_is_seeded_and_follows_80_10_10():
    assert _plan(seed=5) == _plan(seed=5)
    assert _plan(seed=5) != _plan(seed=6)
    counts = Counter(a for seed in range(400) for a in _plan(seed).actions if a not in ("special", "not chosen"))
    total = sum(counts.values())
    assert abs(counts["[MASK]"] / total - 0.8) < 0.04
    assert abs(counts["random"] / total - 0.1) < 0.03
    assert abs(counts["unchanged"] / total - 0.1) < 0.03


def test_mask_plan_short_and_empty_inputs():
    plan = vpred.bert_mask_plan([1, 2, 3], [True, False, True], 103, [7], seed=0)
    assert plan.chosen == (1,)                         # at least one token is chosen
    plan = vpred.bert_mask_plan([1, 2], [True, True], 103, [7], seed=0)
    assert plan.chosen == () and plan.actions == ("special", "special")
    with pytest.raises(ValueError, match="special-token flags number 1"):
        vpred.bert_mask_plan([1, 2], [True], 103, [7], seed=0)


def test_masking_figure_rows():
    fig = vpred.masking_figure(["[CLS]", "a", "b"], ["[CLS]", "[MASK]", "b"], ["special", "[MASK]", "not chosen"]).to_dict()
    names = [t["name"] for t in fig["data"] if t["showlegend"]]
    assert names == ["not chosen", "[MASK]", "special"]
    masked = [t for t in fig["data"] if t["name"] == "[MASK]"]
    assert [t["text"] for t in masked] == [["a"], ["[MASK]"]]
    assert fig["layout"]["yaxis"]["ticktext"] == ["sentence", "model input"]
    assert fig["layout"]["xaxis"]["ticktext"] == ["00 [CLS]", "01 a", "02 b"]


def test_ablation_figure():
    fig = vpred.ablation_figure(["paris", "lyon"], [0.6, 0.1], [0.2, 0.3], "t").to_dict()
    assert [t["name"] for t in fig["data"]] == ["all heads", "heads switched off"]
    np.testing.assert_allclose(plotly_array(fig["data"][1]["x"]), [0.2, 0.3])
    assert fig["layout"]["barmode"] == "group"


def test_tokens_that_look_like_html_are_escaped_for_plotly():
    fig = vpred.topk_figure([[("<i>", 0.5)]], ["blank at 01 <br>"]).to_dict()
    assert fig["layout"]["yaxis"]["ticktext"] == ["1. &lt;i&gt;"]
    assert fig["layout"]["annotations"][0]["text"] == "blank at 01 &lt;br&gt;"
    strip = vpred.masking_figure(["<a>"], ["[MASK]"], ["[MASK]"]).to_dict()
    assert strip["data"][0]["text"] == ["&lt;a&gt;"]
