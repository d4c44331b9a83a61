"""analysis: the numpy summaries and experiments behind the figures, checked numerically.

(Moved from the viz tests when the computations moved from viz to analysis.)
"""
from collections import Counter

import numpy as np
import pytest

import analysis
import model_core

TOKENS = ["[CLS]", "the", "cat", "the", "<script>", "[SEP]"]


def random_patterns(layers=2, heads=3, n=len(TOKENS), seed=0):
    rng = np.random.default_rng(seed)
    x = rng.random((layers, heads, n, n)).astype(np.float32) ** 3
    return x / x.sum(axis=-1, keepdims=True)


# ---------------------------------------------------------------- attention summaries


def test_restrict_renormalises_rows():
    p = random_patterns()
    keep = analysis.keep_positions(TOKENS)
    assert keep.tolist() == [1, 2, 3, 4]
    sub = analysis.restrict(p, keep)
    assert sub.shape == (2, 3, 4, 4)
    np.testing.assert_allclose(sub.sum(-1), 1.0, rtol=1e-5)
    raw = analysis.restrict(p, keep, renormalise=False)
    np.testing.assert_allclose(raw, p[:, :, 1:5, 1:5])


def test_restrict_keeps_all_zero_rows_zero():
    p = np.zeros((3, 3), dtype=np.float32)
    p[:, 0] = 1.0  # everything on [CLS]
    sub = analysis.restrict(p, np.array([1, 2]))
    assert np.all(sub == 0)


def test_rollout_matches_hand_computation():
    p = random_patterns(layers=3)
    eye = np.eye(6)
    steps = [(p[l].mean(0) + eye) / (p[l].mean(0) + eye).sum(-1, keepdims=True) for l in range(3)]
    expected = steps[2] @ steps[1] @ steps[0]
    out = analysis.rollout(p)
    assert out.shape == (3, 6, 6)
    np.testing.assert_allclose(out[2], expected, rtol=1e-5)
    np.testing.assert_allclose(out.sum(-1), 1.0, rtol=1e-5)


def test_mean_max_and_hard():
    p = random_patterns()
    np.testing.assert_allclose(analysis.head_mean(p), p.mean(1))
    np.testing.assert_allclose(analysis.head_max(p), p.max(1))
    hard = analysis.hard_attention(p[0, 0])
    assert hard.sum(-1).tolist() == [1.0] * 6
    assert hard.argmax(-1).tolist() == p[0, 0].argmax(-1).tolist()


def test_downsample_block_mean():
    m = np.arange(16, dtype=np.float32).reshape(4, 4)
    small, block = analysis.downsample(m, 2)
    assert block == 2
    np.testing.assert_allclose(small, [[2.5, 4.5], [10.5, 12.5]])
    same, block = analysis.downsample(m, 4)
    assert block == 1 and same is m


def test_downsample_mass_keeps_rows_summing_to_one():
    p = random_patterns(n=7)[0, 0]  # 7 tokens in blocks of 2: the last block is partial
    small, block = analysis.downsample(p, 4, how="mass")
    assert block == 2 and small.shape == (4, 4)
    np.testing.assert_allclose(small.sum(-1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(small[0, 0], p[0:2, 0:2].sum(-1).mean(), rtol=1e-6)
    np.testing.assert_allclose(small[3, 3], p[6, 6], rtol=1e-6)  # the partial block: one query, one key


def test_downsample_512_tokens_fits_the_overview():
    from viz.overview import MAX_TILE

    small, block = analysis.downsample(np.full((2, 2, 512, 512), 1.0 / 512, np.float32), MAX_TILE, how="mass")
    assert block == 11 and small.shape == (2, 2, 47, 47)  # ceil(512 / 11) = 47 <= MAX_TILE


# ---------------------------------------------------------------- positional


@pytest.fixture(scope="module")
def table():
    return np.asarray(model_core.sinusoidal_table(64, 32), dtype=np.float64)


def test_sinusoidal_similarity_depends_only_on_distance(table):
    sim = analysis.similarity_matrix(table, cosine=True)
    means, stds = analysis.similarity_by_distance(sim, max_distance=20)
    assert means.shape == (21,) and means[0] == pytest.approx(1.0, abs=1e-6)
    assert stds.max() < 1e-5  # the same value for every pair at the same distance
    assert means[1] < means[0]


@pytest.mark.parametrize("offset", [1, 7, 40])
def test_offset_rotation_maps_every_position(table, offset):
    rotation = analysis.offset_rotation(32, offset)
    mapped = table[: 64 - offset] @ rotation.T                     # row p -> M_k PE(p)
    np.testing.assert_allclose(mapped, table[offset:], atol=1e-5)
    np.testing.assert_allclose(rotation @ rotation.T, np.eye(32), atol=1e-12)  # a rotation


def test_offset_rotation_needs_even_d_model():
    with pytest.raises(ValueError, match="even d_model"):
        analysis.offset_rotation(7, 1)


def test_pca_projects_to_two_axes(table):
    coords, ratios = analysis.pca_2d(table)
    assert coords.shape == (64, 2) and ratios.shape == (2,)
    assert 0 < ratios[1] <= ratios[0] <= 1


@pytest.mark.parametrize("shape", [(6, 20), (30, 5)])
def test_pca_matches_the_svd_projection(shape):
    table = np.random.default_rng(4).standard_normal(shape)
    coords, ratios = analysis.pca_2d(table)
    centred = table - table.mean(axis=0)
    _, singular, vt = np.linalg.svd(centred, full_matrices=False)
    expected = centred @ vt[:2].T
    np.testing.assert_allclose(np.abs(coords), np.abs(expected), atol=1e-9)   # equal up to each axis's sign
    np.testing.assert_allclose(ratios, singular[:2] ** 2 / (singular ** 2).sum())


def test_pca_of_a_single_dimension_still_has_two_axes():
    coords, ratios = analysis.pca_2d(np.arange(5.0)[:, None])
    assert coords.shape == (5, 2) and ratios.shape == (2,)


# ---------------------------------------------------------------- BERT's masking recipe


def _plan(seed, n=40):
    special = [True] + [False] * n + [True]
    ids = list(range(100, 100 + n + 2))
    return analysis.bert_mask_plan(ids, special, mask_id=103, replacement_ids=[7, 8, 9], seed=seed)


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
    plan = analysis.bert_mask_plan([1, 2, 3], [True, False, True], 103, [7], seed=0)
    assert plan.chosen == (1,)                         # at least one token is chosen
    plan = analysis.bert_mask_plan([1, 2], [True, True], 103, [7], seed=0)
    assert plan.chosen == () and plan.actions == ("special", "special")
    with pytest.raises(ValueError, match="special-token flags number 1"):
        analysis.bert_mask_plan([1, 2], [True], 103, [7], seed=0)


# ---------------------------------------------------------------- walkthrough experiments


def test_score_decomposition_matches_the_dot_product():
    rng = np.random.default_rng(2)
    q, k = rng.standard_normal(4), rng.standard_normal((3, 4))
    frame = analysis.score_decomposition(q, k, k @ q, ["a", "b", "c"])
    assert list(frame.columns) == ["|q|", "|k|", "cos θ", "θ (degrees)", "|q| |k| cos θ", "at the mean |k|",
                                   "q·k (recorded)"]
    np.testing.assert_allclose(frame["|q| |k| cos θ"], frame["q·k (recorded)"], atol=2e-4)
    np.testing.assert_allclose(np.cos(np.radians(frame["θ (degrees)"])), frame["cos θ"], atol=2e-3)
    # at the mean key length only the angle differs between keys: the ranking is the cosines'
    assert list(np.argsort(-frame["at the mean |k|"].to_numpy())) == list(np.argsort(-frame["cos θ"].to_numpy()))
    assert frame["cos θ"].abs().max() <= 1


def test_scaling_experiment_variance_grows_with_d_k_unless_scaled():
    result = analysis.scaling_experiment([1, 16, 256], n_samples=200, seed=3)
    assert result["d_k"].tolist() == [1, 16, 256]
    np.testing.assert_allclose(result["variance_raw"], [1, 16, 256], rtol=0.2)
    np.testing.assert_allclose(result["variance_scaled"], 1.0, rtol=0.2)
    assert result["max_weight_raw"].iloc[-1] > 0.85 > result["max_weight_scaled"].iloc[-1]
    assert result["jacobian_raw"].iloc[-1] < result["jacobian_scaled"].iloc[-1] / 2


def test_scaling_experiment_is_seeded():
    a = analysis.scaling_experiment([4, 8], n_samples=50, seed=1)
    b = analysis.scaling_experiment([4, 8], n_samples=50, seed=1)
    c = analysis.scaling_experiment([4, 8], n_samples=50, seed=2)
    assert a.equals(b) and not a.equals(c)


def test_layer_and_batch_norm_axes():
    x = np.random.default_rng(0).standard_normal((4, 6)) * 3 + 1
    ln, bn = analysis.layer_norm(x), analysis.batch_norm(x)
    np.testing.assert_allclose(ln.mean(axis=1), 0, atol=1e-12)
    np.testing.assert_allclose(ln.std(axis=1), 1, atol=1e-3)
    np.testing.assert_allclose(bn.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(bn.std(axis=0), 1, atol=1e-3)  # eps shrinks small variances a little
    stats = analysis.norm_stats(x)
    assert len(stats) == 4


# ---------------------------------------------------------------- embeddings


@pytest.fixture(scope="module")
def parts():
    rng = np.random.default_rng(0)
    return {name: rng.standard_normal((6, 8)) for name in ("token", "segment", "position")}


def test_projections_add_up_to_the_norm_of_the_sum(parts):
    total = sum(parts.values())
    along = analysis.projections_onto(total, parts)
    np.testing.assert_allclose(sum(along.values()), np.linalg.norm(total, axis=1), atol=1e-12)


def test_component_norms(parts):
    norms = analysis.component_norms(parts)
    assert list(norms) == ["|token|", "|segment|", "|position|"]
    np.testing.assert_allclose(norms["|segment|"], np.linalg.norm(parts["segment"], axis=1))


def test_cosine():
    assert analysis.cosine(np.array([1.0, 0.0]), np.array([0.0, 2.0])) == 0.0
    assert analysis.cosine(np.array([0.0, 0.0]), np.array([0.0, 2.0])) == 0.0
    np.testing.assert_allclose(analysis.cosine(np.array([[1.0, 1.0]]), np.array([[2.0, 2.0]])), [1.0])


def test_span_scores_are_distributions_over_the_passage():
    outputs = np.random.default_rng(3).standard_normal((7, 16))
    result = analysis.span_scores(outputs, passage=[3, 4, 5], seed=1, max_len=2)
    assert result.p_start.shape == (3,) and result.p_start.sum() == pytest.approx(1.0)
    assert result.p_end.sum() == pytest.approx(1.0)
    i, j = result.best
    assert 0 <= i <= j < min(3, i + 2)
    start, end = outputs[[3, 4, 5]] @ result.start_vector, outputs[[3, 4, 5]] @ result.end_vector
    assert start[i] + end[j] == pytest.approx(max(start[a] + end[b] for a in range(3) for b in range(a, min(3, a + 2))))
    again = analysis.span_scores(outputs, passage=[3, 4, 5], seed=1, max_len=2)
    np.testing.assert_array_equal(again.start_vector, result.start_vector)


def test_nearest_tokens_leave_out_the_word_itself():
    sims = np.array([0.5, 0.6, 0.2])
    assert analysis.nearest_tokens(sims, word_pos=2, k=1) == [(1, 0.6)]
    assert analysis.nearest_tokens(sims, word_pos=1, k=3) == [(0, 0.5), (2, 0.2)]
