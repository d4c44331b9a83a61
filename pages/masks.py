"""Masks: one head's scores before and after the mask, padding made real, causal vs bidirectional."""
from __future__ import annotations

import numpy as np
import streamlit as st

import analysis
from services import cached, models, state, ui
from viz import heatmap, masks

# Rows within this of each other count as identical (float32 sums differ in
# the last bits when the input is longer, even where the maths is the same).
TOLERANCE = 1e-6
# The step-by-step matrices show at most this many positions.
MAX_SHOWN = 96

st.title("Masks")
st.markdown(
    "A mask decides which keys each query may look at. It is a table of yes/no (**allowed**). "
    "Before the softmax, every blocked score is replaced by a huge negative number, so its weight "
    "comes out as 0. Two masks matter: the **padding mask** (a batch is a rectangle, so shorter "
    "sentences are filled with [PAD], which nobody should attend to) and the **causal mask** "
    "(a GPT-style decoder must not peek at later tokens, so position t sees only positions up to t)."
)
st.latex(r"s_{ij}=\frac{q_i\cdot k_j}{\sqrt{d_{head}}},\qquad "
         r"\tilde s_{ij}=\begin{cases}s_{ij} & \text{allowed}_{ij}\\ -\infty & \text{otherwise}\end{cases},\qquad "
         r"a_{ij}=\frac{e^{\tilde s_{ij}}}{\sum_{j'} e^{\tilde s_{ij'}}}")

view = state.view()
FAMILY_LABELS = {"encoder": "Encoder (bidirectional + padding mask)", "decoder": "Decoder (causal + padding mask)"}

controls = st.columns([3, 1, 1])
with controls[0]:
    family = ui.family_radio(key="mask_model", labels=FAMILY_LABELS)
info = ui.require_model(family, view.model(family))
ui.require_text(view, "see its masks")
layer, head = ui.layer_head(info, "mask", controls[1:])

sentence_b = view.sentence_b if view.has_pair else analysis.shorter_version(view.sentence_a)
batch = (view.sentence_a, sentence_b)
with st.spinner("Running the model ..."):
    steps = ui.compute(cached.mask_steps, family, info.model_id, batch, layer, head, stop=True)
# The notes count what the user typed once: row B is only the user's when sentence B was typed.
read = list(steps.tokens[0][:steps.lengths[0]]) + (list(steps.tokens[1][:steps.lengths[1]]) if view.has_pair else [])
ui.show_notes(" ".join(batch) if view.has_pair else view.sentence_a, read, steps.truncated, info.n_positions)

lengths = steps.lengths
n_total = len(steps.tokens[0])
names = ("sentence A", "sentence B" if view.has_pair else "a shorter sentence (first half of A)")
padded_row = int(np.argmin(lengths)) if lengths[0] != lengths[1] else 1

# ---------------------------------------------------------------- four steps
st.subheader(f"One head, step by step (layer {layer}, head {head})")
row_labels = {0: f"A ({lengths[0]} tokens)",
              1: f"B ({lengths[1]} tokens)" if view.has_pair else f"first half of A ({lengths[1]} tokens)"}
row = state.url_widget(st.radio, "mk_row", "Batch row", default=padded_row, options=[0, 1],
                       format_func=row_labels.get, horizontal=True, key="mask_row",
                       help="Both sentences run as one padded batch; the shorter row ends in [PAD].")
n_show = min(n_total, MAX_SHOWN)
if n_total > MAX_SHOWN:
    st.info(f"The batch is {n_total} tokens long; the four matrices (and their CSV) show the first {MAX_SHOWN} "
            "positions to stay readable.")
tokens = steps.tokens[row]
cut = slice(0, n_show)
row_steps = {name: getattr(steps, name)[row][cut, cut] for name in masks.STEP_TITLES}
st.caption(
    f"d_head = {steps.d_head}, so step 2 divides every score by √{steps.d_head} = {np.sqrt(steps.d_head):.2f}. "
    "Grey cells are blocked by the mask: the model fills them with the most negative number its floats can "
    "hold, which would swamp any colour scale, so they are drawn grey instead."
)
ui.show_figure(masks.steps_figure(row_steps, tokens[:n_show], steps.allowed[row][cut, cut],
                                  weight_max=ui.weight_max()), "mask_steps",
               f"{family}_L{layer}H{head}_steps.csv")

# ---------------------------------------------------------------- padding
st.subheader("The padding mask, made real")
st.markdown(
    f"A batch must be a rectangle, so the shorter sentence is filled up with [PAD] to {n_total} tokens. "
    "The padding **columns** are blocked: no real token may attend to [PAD]. The padding **rows** are "
    "computed anyway (they still see the real tokens) and simply thrown away afterwards. "
    + ("The decoder's causal mask is combined with it: the upper triangle is blocked too." if family == "decoder" else "")
)
if lengths[0] == lengths[1]:
    st.info("Both sentences have the same number of tokens, so there is no padding. "
            "Type a sentence B of a different length in the sidebar to see it.")
for b, column in enumerate(st.columns(2)):
    with column:
        chart_allowed, chart_pattern = masks.padded_figures(steps.allowed[b], steps.pattern[b], steps.tokens[b],
                                                            lengths[b], name=names[b])
        ui.show_figure(chart_allowed, f"mask_pad_allowed_{b}", f"{family}_allowed_row{b}.csv", label="CSV (allowed)")
        ui.show_figure(chart_pattern, f"mask_pad_pattern_{b}", f"{family}_L{layer}H{head}_pattern_row{b}.csv",
                       label="CSV (weights)")

if lengths[0] != lengths[1]:
    short = int(np.argmin(lengths))
    alone = cached.attention(family, info.model_id, batch[short]).pattern[layer, head]
    diff = analysis.padding_difference(steps, alone)
    verdict = "the padding changed nothing" if diff <= TOLERANCE else "the padding changed the result"
    st.success(f"Check: the shorter sentence run alone and run padded inside the batch give the same attention on its "
               f"real tokens: largest difference {diff:.1e} (tolerance {TOLERANCE:g}), so {verdict}.")

# ---------------------------------------------------------------- BERT vs GPT
st.subheader("BERT vs GPT: the same sentence, both masks")
st.markdown(
    "Left: the encoder, where every token sees every other token (bidirectional). Right: the decoder, where "
    "token t sees only tokens 0..t (causal), so the upper triangle is empty. Both models use the same "
    "tokenizer, so the words line up token for token; the encoder also adds [CLS] and [SEP]."
)
infos = {fam: info if fam == family else ui.compute(models.model_info, fam, view.model(fam), kind="info")
         for fam in state.FAMILIES}
if all(infos.values()):
    shared_layer = min(layer, infos["encoder"].n_layers - 1, infos["decoder"].n_layers - 1)
    shared_head = min(head, infos["encoder"].n_heads - 1, infos["decoder"].n_heads - 1)
    if (shared_layer, shared_head) != (layer, head):
        st.caption(f"The smaller model stops earlier, so both show layer {shared_layer}, head {shared_head}.")
    align = state.url_widget(st.checkbox, "mk_align", "Line up the words only (hide [CLS]/[SEP], renormalise)",
                             key="mask_align")
    runs = {fam: cached.attention(fam, infos[fam].model_id, view.sentence_a) for fam in state.FAMILIES}
    words = {fam: [t for t in runs[fam].tokens if t not in analysis.MARKERS] for fam in runs}
    if words["encoder"] != words["decoder"]:
        st.info("These two models split the sentence into different tokens, so their rows do not line up one "
                "for one; each is shown with its own tokens.")
    for column, fam in zip(st.columns(2), state.FAMILIES):
        pattern, fam_tokens = runs[fam].pattern[shared_layer, shared_head], list(runs[fam].tokens)
        keep = analysis.keep_positions(fam_tokens)
        positions = np.arange(len(fam_tokens))
        if align and keep.size:
            pattern, fam_tokens, positions = analysis.restrict(pattern, keep), [fam_tokens[i] for i in keep], keep
        blocked = positions[None, :] > positions[:, None] if fam == "decoder" else None   # the future, grey
        with column:
            title = f"{fam}: {'bidirectional' if fam == 'encoder' else 'causal'} (layer {shared_layer}, head {shared_head})"
            ui.show_figure(heatmap.attention_heatmap(pattern, fam_tokens, title=title, zmax=ui.weight_max(),
                                                     masked=blocked),
                           f"mask_vs_{fam}", f"{fam}_L{shared_layer}H{shared_head}.csv", label="CSV")

# ---------------------------------------------------------------- prefix experiment
st.subheader("Append a word: which rows change?")
st.markdown(
    "Run the sentence, then the sentence with one more word, and compare each earlier row of attention "
    "(every layer and head). Under the causal mask an earlier token never sees the new word, so its row "
    "cannot change: this is why a decoder can be trained on every position of a sentence at once "
    "(teacher forcing). Under the bidirectional mask every token sees the new word, so the rows change."
)
extra = state.url_widget(st.text_input, "mk_append", "Word to append", key="mask_append")
# The verdicts are always shown; the four figures behind them on request: with them the page drew
# 11 figures, and a page switch waited for all of them (bench/README.md, page switches).
draw = state.url_widget(st.checkbox, "mk_prefix", "Draw the rows that changed (two figures per model)",
                        key="mask_prefix")
if not extra.strip():
    st.warning("Type a word to append (for example 'today') to run the experiment.")
else:
    for column, fam in zip(st.columns(2), state.FAMILIES):
        with column:
            if not infos.get(fam):
                continue
            result = ui.compute(cached.prefix_experiment, fam, infos[fam].model_id, view.sentence_a, extra, layer, head)
            if result is None:
                continue
            unchanged = int((result.row_change <= TOLERANCE).sum())
            if result.truncated:
                st.info("The text is at the model's length limit, so the appended word was cut off: "
                        "shorten the text to run the experiment.")
            kind = "causal" if fam == "decoder" else "bidirectional"
            message = (f"{fam.capitalize()} ({kind}): {unchanged} of {result.shared} earlier rows are identical "
                       f"within {TOLERANCE:g} in every layer and head (largest change {result.max_change:.1e}).")
            (st.success if unchanged == result.shared else st.warning)(message)
            if not draw:
                continue
            ui.show_figure(
                masks.prefix_figure(result.after, result.tokens_after, result.row_change, TOLERANCE,
                                    title=f"{fam} with the word appended (layer {result.layer}, head {result.head})"),
                f"mask_prefix_{fam}", f"{fam}_appended_L{result.layer}H{result.head}.csv", label="CSV (weights)")
            ui.show_figure(masks.row_change_figure(result.row_change, result.tokens_after, TOLERANCE,
                                                   title="largest change per earlier row (all layers and heads)"),
                           f"mask_prefix_bars_{fam}", f"{fam}_prefix_change.csv", label="CSV")
