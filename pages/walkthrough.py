"""Walkthrough: one head's computation with its real numbers, step by step; why scores are scaled
by 1/sqrt(d_k); GELU exact vs tanh vs ReLU; LayerNorm vs BatchNorm."""
from functools import partial

import numpy as np
import pandas as pd
import streamlit as st

import analysis
from services import cached, models, state, ui
from viz import walkthrough as vw
from viz.common import table_csv, token_labels

# Heatmaps label every token: beyond this many the page shows the first ones only.
MAX_SHOWN = 48
D_KS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024]

st.title("Walkthrough: one attention head, number by number")
st.markdown(
    "Here is everything one attention head computes for your sentence, with the model's own "
    "numbers. Each token's vector is projected three ways: a **query** (what am I looking for?), "
    "a **key** (what do I offer?) and a **value** (what do I pass on?). Every query is scored "
    "against every key, the scores become weights with softmax, and each token's output is the "
    "weighted average of the values. Several heads do this side by side; their outputs are "
    "concatenated and projected back to the model's width."
)
st.latex(r"\mathrm{Attention}(Q, K, V) = \mathrm{softmax}\!\left(\frac{QK^{\top}}{\sqrt{d_k}} + M\right)V,\qquad "
         r"Q = XW_Q + b_Q,\; K = XW_K + b_K,\; V = XW_V + b_V")

view = state.view()


def table(name: str, matrix: np.ndarray, rows: list, cols: list, key: str) -> None:
    """A rounded, truncated table of `matrix` with a note about what was cut, and its full CSV."""
    frame, note = vw.matrix_frame(matrix, rows, cols, max_rows=24)
    st.dataframe(frame, key=f"table_{key}")
    if note:
        st.caption(note)
    ui.download_csv(partial(table_csv, pd.DataFrame(matrix, index=list(rows), columns=list(cols))), f"{name}.csv",
                    key=f"csv_{key}")


def heatmap(matrix: np.ndarray, title: str, key: str, labels: list, allowed: np.ndarray | None = None,
            signed: bool = True, value_name: str = "score", weight_max: float | None = None) -> None:
    """A query x key heatmap of the first MAX_SHOWN tokens, with the matrix drawn as CSV."""
    n = min(len(labels), MAX_SHOWN)
    if len(labels) > MAX_SHOWN:
        st.caption(f"Showing the first {MAX_SHOWN} of {len(labels)} tokens (the CSV too).")
    chart = vw.step_heatmap(matrix[:n, :n], labels[:n], labels[:n], title,
                            allowed=None if allowed is None else allowed[:n, :n], signed=signed, value_name=value_name,
                            weight_max=weight_max)
    ui.show_figure(chart, key, f"{key}.csv")


OTHER_SENTENCE = "The cat sat on the warm mat."

# ---------------------------------------------------------------- choose the head
family = ui.family_radio(key="w_wt_fam", labels=ui.model_labels(view))
steps = None
info = ui.compute(models.model_info, family, view.model(family), kind="info")
if info is not None and not view.has_text:
    st.info("Type a sentence into sentence A in the sidebar (it is empty), or pick an example, to walk "
            "through its numbers. The sections further down work without one.")
elif info is not None:
    layer, head = ui.layer_head(info, "wt")
    steps = ui.compute(cached.head_steps, family, view.model(family), view.sentence_a, layer, head)

if steps is not None:
    labels = token_labels(steps.tokens)
    d_head, n_heads = steps.d_head, steps.n_heads
    dims = [f"d{j}" for j in range(steps.X.shape[1])]
    head_dims = [f"dim{j}" for j in range(d_head)]   # dimensions of one head (not head numbers)
    ui.show_notes(view.sentence_a, steps.tokens, steps.truncated, info.n_positions)
    st.markdown(f"{ui.escape_markdown(info.name)}: d_model = {info.d_model}, "
                f"{n_heads} heads of d_head = {d_head} "
                f"(the original Transformer: d_model 512, 8 heads of 64, feed-forward 2048).")

    st.header("Step 1. The input X")
    st.markdown(
        "One row per token: the vector this layer reads. "
        + ("In this post-LN encoder that is the previous block's output (for layer 0, the embeddings)."
           if family == "encoder" else
           "In this pre-LN decoder it is the residual stream after the block's first LayerNorm.")
    )
    table("X", steps.X, labels, dims, "x")

    st.header("Step 2. This head's projection matrices")
    st.markdown(f"W_Q, W_K and W_V each map d_model = {info.d_model} numbers to this head's d_head = "
                f"{d_head}. They are slices of the layer's big projection: head {head} owns columns "
                f"{head * d_head} to {(head + 1) * d_head - 1}.")
    tabs = st.tabs(["W_Q", "W_K", "W_V", "biases"])
    for tab, name in zip(tabs, ("W_Q", "W_K", "W_V")):
        with tab:
            table(name, getattr(steps, name), dims, head_dims, name.lower())
    with tabs[3]:
        table("biases", np.stack([steps.b_Q, steps.b_K, steps.b_V]), ["b_Q", "b_K", "b_V"], head_dims, "b")

    st.header("Step 3. Queries, keys and values")
    st.latex(r"Q = XW_Q + b_Q \qquad K = XW_K + b_K \qquad V = XW_V + b_V")
    checks = steps.checks
    st.markdown("Checked: the model's recorded q, k, v equal X W + b up to float rounding — "
                + ", ".join(f"max |{name.split(' = ')[1]} − {name.split(' = ')[0]}| = {err:.1e}"
                            for name, err in checks.items() if not name.startswith("attn.out")) + ".")
    tabs = st.tabs(["Q", "K", "V"])
    for tab, name in zip(tabs, ("q", "k", "v")):
        with tab:
            table(name.upper(), getattr(steps, name), labels, head_dims, name)

    st.header("Step 4. Scores, scaling, mask, softmax")
    st.markdown(
        "Each query is compared with each key by a dot product: large when they point the same way "
        "and are long (q·k = |q||k|cos θ). The scores are divided by √d_head, then the mask removes "
        "the pairs a token may not look at (padding; for the decoder every later token), and softmax "
        "turns each row into weights that add up to 1. Masked cells are drawn grey, not as numbers."
    )
    heatmap(steps.raw_scores, "q·k (raw scores)", "raw_scores", labels)
    query = state.url_widget(st.selectbox, "wt_q", "Look at one query row", default=min(1, len(labels) - 1),
                             options=list(range(len(labels))), format_func=lambda i: labels[i])
    st.markdown("Its scores taken apart: the length of the query, the length of each key, and the cosine "
                "of the angle between them multiply to the recorded score. The column *at the mean |k|* keeps "
                "each key's angle but gives it the average length: the angle alone would rank the keys so.")
    decomposition = analysis.score_decomposition(steps.q[query], steps.k, steps.raw_scores[query], labels)
    st.dataframe(decomposition, key="decomposition")
    best = int(np.argmax(steps.raw_scores[query]))
    by_angle = int(np.argmax(decomposition["at the mean |k|"].to_numpy()))
    st.markdown(
        f"For {ui.escape_markdown(labels[query])} the highest score goes to {ui.escape_markdown(labels[best])} "
        f"(angle {decomposition['θ (degrees)'].iloc[best]:.0f}°, |k| = {decomposition['|k|'].iloc[best]:.2f}; "
        f"the mean |k| is {decomposition['|k|'].mean():.2f}). "
        + ("The smallest angle wins here too: direction decides." if by_angle == best else
           f"By angle alone {ui.escape_markdown(labels[by_angle])} would win: this key's length tips the score.")
    )
    ui.download_csv(partial(table_csv, decomposition), "score_decomposition.csv", key="csv_decomposition")
    st.latex(rf"\text{{scores}} = \frac{{QK^\top}}{{\sqrt{{d_{{head}}}}}} = \frac{{QK^\top}}{{\sqrt{{{d_head}}}}}"
             rf" = \frac{{QK^\top}}{{{np.sqrt(d_head):.3f}}}")
    heatmap(steps.scores, f"scores = q·k / √{d_head}", "scores", labels)
    n_blocked = int((~steps.allowed).sum())
    st.markdown(f"The mask blocks {n_blocked} of {steps.allowed.size} query-key pairs here"
                + (" (a single sentence has no padding, so an encoder blocks none)." if n_blocked == 0 else "."))
    heatmap(steps.masked_scores, "masked scores", "masked_scores", labels, allowed=steps.allowed)
    heatmap(steps.pattern, "softmax: attention weights (rows add up to 1)", "pattern", labels,
            allowed=steps.allowed, signed=False, value_name="weight", weight_max=ui.weight_max())

    st.header("Step 5. Weighted sum of the values")
    st.latex(r"z_i = \sum_j \mathrm{weight}_{ij}\, v_j \qquad Z = \mathrm{softmax}(\cdot)\, V")
    table("z", steps.z, labels, head_dims, "z")

    st.header("Step 6. All heads together, then W_O")
    st.markdown(
        f"Every one of the {n_heads} heads does steps 2 to 5 with its own matrices. Their z's are "
        f"put side by side ({n_heads} × {d_head} = {n_heads * d_head} columns) and multiplied by "
        "the output matrix W_O, which mixes what the heads found and returns to the model's width."
    )
    st.latex(r"\mathrm{MultiHead}(X) = \mathrm{Concat}(z^{(1)}, \dots, z^{(h)})\,W_O + b_O")
    st.markdown(f"Checked: max |concat(z) W_O + b_O − attn.out| = {checks['attn.out = concat(z) W_O + b_O']:.1e}. "
                f"The outlined block is head {head}.")
    n = min(len(labels), MAX_SHOWN)
    ui.show_figure(vw.concat_figure(steps.z_all[:, :n], steps.out[:n], steps.tokens[:n], head),
                   "concat", "concat_heads.csv")
    st.markdown(f"The rows of W_O that head {head}'s {d_head} numbers multiply:")
    table("W_O", steps.W_O, head_dims, dims, "w_o")

    st.header("Same weights, another sentence: attention is computed from the input")
    other = view.sentence_b if view.has_pair else OTHER_SENTENCE
    st.markdown(
        "A fully connected layer that mixed the tokens would hold one fixed matrix of mixing weights, the same "
        "for every sentence. Attention's mixing weights are *computed* from the sentence: the head keeps its "
        f"W_Q, W_K and W_V, but another sentence gives other queries and keys, so other weights. Below, head {head} "
        "of layer " + str(layer) + " on your sentence and on "
        + ("sentence B." if view.has_pair else f"\"{OTHER_SENTENCE}\" (type a sentence B to choose another).")
    )
    twin = ui.compute(cached.head_steps, family, view.model(family), other, layer, head)
    if twin is not None:
        same = max(float(np.abs(getattr(steps, w) - getattr(twin, w)).max()) for w in ("W_Q", "W_K", "W_V"))
        left, right = ui.columns(2)
        with left:
            heatmap(steps.pattern, "your sentence", "pattern_a", labels, allowed=steps.allowed, signed=False,
                    value_name="weight", weight_max=ui.weight_max())
        with right:
            heatmap(twin.pattern, "the other sentence", "pattern_b", token_labels(twin.tokens), allowed=twin.allowed,
                    signed=False, value_name="weight", weight_max=ui.weight_max())
        st.caption(f"The largest difference between the two runs' W_Q, W_K and W_V is {same:.1e}: the same "
                   "weights. The attention weights differ because they come from the input.")

# ---------------------------------------------------------------- scoring functions
st.header("Four ways to score a query against a key")
st.markdown(
    "Attention needs a number saying how well a query matches a key. Early attention models for "
    "translation learned a small network for it (additive) or a matrix between the two (bilinear, "
    "also called general). The Transformer uses the plain dot product, divided by √d_k: it needs no "
    "extra parameters and runs as one matrix product for all pairs at once. The dot product is the "
    "bilinear score with W equal to the identity; in a Transformer, W_Q and W_K play the part of W."
)
st.latex(r"\text{additive: } v^{\top}\tanh(W_1 q + W_2 k) \qquad \text{dot: } q^{\top}k \qquad "
         r"\text{scaled dot: } \frac{q^{\top}k}{\sqrt{d_k}} \qquad \text{bilinear: } q^{\top} W k")
st.dataframe(pd.DataFrame(
    {"extra parameters": ["W_1, W_2, v", "none", "none", "W (d × d)"],
     "cost for all pairs": ["a small network per pair", "one matrix product", "one matrix product",
                            "two matrix products"],
     "known from": ["Bahdanau et al. 2015", "Luong et al. 2015", "Vaswani et al. 2017 (Transformer)",
                    "Luong et al. 2015 ('general')"]},
    index=["additive", "dot product", "scaled dot product", "bilinear"]), key="scoring")

# ---------------------------------------------------------------- why sqrt(d_k)
st.header("Why divide by √d_k?")
st.markdown(
    "If the components of q and k are independent with mean 0 and variance 1, then q·k is a sum of "
    "d_k such products and has variance d_k. With wide heads the scores get huge, softmax puts "
    "nearly all weight on one key, and its gradients (the Jacobian below) shrink towards 0, so "
    "training stalls. Dividing by √d_k brings the variance back to 1 for every width. Below: "
    "random q and k, sampled with a seed, for growing d_k."
)
st.latex(r"\mathrm{Var}(q\cdot k) = \sum_{i=1}^{d_k}\mathrm{Var}(q_i k_i) = d_k \quad\Rightarrow\quad "
         r"\mathrm{Var}\!\left(\frac{q\cdot k}{\sqrt{d_k}}\right) = 1")
keys_column, seed_column = st.columns(2)
n_keys = state.url_widget(keys_column.slider, "wt_nk", "Keys per query", min_value=2, max_value=128)
seed = state.url_widget(seed_column.number_input, "wt_seed", "Random seed", min_value=0, max_value=10**6, step=1)
experiment = cached.scaling_experiment(tuple(D_KS), n_keys, int(seed))
ui.show_figure(vw.scaling_figure(experiment, n_keys), "scaling", "scaling_experiment.csv")
if steps is not None:
    st.markdown(f"In the real head above (d_head = {steps.d_head}): the variance of q·k over all "
                f"allowed pairs is {float(np.nanvar(np.where(steps.allowed, steps.raw_scores, np.nan))):.2f}, "
                f"and after scaling {float(np.nanvar(np.where(steps.allowed, steps.scores, np.nan))):.2f}. "
                "Trained weights are not random, so these need not be d_head and 1.")

# ---------------------------------------------------------------- GELU
st.header("GELU: exact and tanh, and ReLU")
st.markdown(
    "The feed-forward network between attention layers applies an activation to every number. "
    "The original Transformer used ReLU (negative numbers become 0). BERT and GPT use GELU, which "
    "weighs x by the probability that a standard normal variable is below x: smooth, and slightly "
    "negative for small negative x. The original BERT and GPT-2 code computed it with a tanh "
    "formula; the difference from the exact one is below 0.001 everywhere."
)
st.latex(r"\mathrm{GELU}(x) = x\,\Phi(x) = \frac{x}{2}\left(1 + \mathrm{erf}\frac{x}{\sqrt 2}\right) \approx "
         r"\frac{x}{2}\left(1 + \tanh\!\left[\sqrt{2/\pi}\,(x + 0.044715\,x^3)\right]\right)")
curves = dict(cached.activation_curves(-4.0, 4.0, 401))
x = curves.pop("x")
ui.show_figure(vw.activation_figure(x, curves, "GELU exact"), "gelu", "activations.csv")
st.markdown(f"Largest |GELU tanh − GELU exact| on this range: "
            f"{float(np.abs(curves['GELU tanh'] - curves['GELU exact']).max()):.1e}.")

# ---------------------------------------------------------------- LayerNorm vs BatchNorm
st.header("LayerNorm vs BatchNorm")
st.markdown(
    "Both rescale numbers to mean 0 and variance 1, along different axes. **LayerNorm** takes one "
    "token at a time and normalises across its features (each row below). **BatchNorm** takes one "
    "feature at a time and normalises across the batch (each column). NLP uses LayerNorm: a "
    "token's result then does not depend on which other sentences share the batch or how much "
    "padding they carry, and it works the same for one sentence at a time."
)
st.latex(r"\mathrm{LN}(x)_{t,f} = \frac{x_{t,f} - \mu_t}{\sqrt{\sigma_t^2 + \epsilon}} \qquad "
         r"\mathrm{BN}(x)_{t,f} = \frac{x_{t,f} - \mu_f}{\sqrt{\sigma_f^2 + \epsilon}}")
n_features = state.url_widget(st.slider, "wt_nf", "Features shown", min_value=2, max_value=12)
batch, rows, source = None, None, ""
if view.has_text:
    parts = ui.compute(cached.embedding_parts, view.encoder, view.sentence_a, view.sentence_b, kind="info")
    if parts is not None:
        batch = parts.sum[:8, :n_features]
        rows = token_labels(parts.tokens)[:8]
        source = ("The batch: the first tokens of your input, first features of their embedding sum "
                  "(token + segment + position, before the model's own LayerNorm).")
if batch is None or batch.shape[0] < 2:
    batch = np.random.default_rng(int(seed)).normal(1.0, 2.0, size=(6, n_features))
    rows = [f"token {i}" for i in range(6)]
    source = f"The batch: random numbers (seed {int(seed)}), because no sentence could be embedded."
st.caption(source)
ui.show_figure(vw.norm_figure(batch, analysis.layer_norm(batch), analysis.batch_norm(batch), rows), "norms",
               "layernorm_batchnorm.csv")
st.dataframe(analysis.norm_stats(batch), hide_index=True, key="norm_stats")
