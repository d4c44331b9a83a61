"""Masks: one head's scores before and after the mask, padding made real, causal vs bidirectional."""
from __future__ import annotations

import numpy as np
import streamlit as st

import services
from viz import attention as va
from viz import masks as vm
from viz.common import token_labels

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

view = services.view()
FAMILY_LABELS = {"encoder": "Encoder (bidirectional + padding mask)", "decoder": "Decoder (causal + padding mask)"}

controls = st.columns([3, 1, 1])
with controls[0]:
    family = services.url_widget(st.radio, "model", "encoder", "Model", options=list(FAMILY_LABELS),
                                 format_func=FAMILY_LABELS.get, horizontal=True, key="mask_model")


def _info(fam: str) -> services.ModelInfo | None:
    try:
        return services.model_info(fam, view.model(fam))
    except services.Problem as problem:
        services.show_problem(problem, kind="info")
        return None


info = _info(family)
if info is None:
    st.stop()
if not view.has_text:
    st.warning("Sentence A is empty: type a sentence in the sidebar (or pick an example) to see its masks.")
    st.stop()
with controls[1]:
    layer = services.url_widget(st.selectbox, "layer", 0, "Layer", options=list(range(info.n_layers)), key="mask_layer")
with controls[2]:
    head = services.url_widget(st.selectbox, "head", 0, "Head", options=list(range(info.n_heads)), key="mask_head")


def shorter_version(text: str) -> str:
    """The first half of the words of ``text``: a second, shorter sentence when B is empty."""
    words = text.split()
    return " ".join(words[: max(1, len(words) // 2)])


sentence_b = view.sentence_b if view.has_pair else shorter_version(view.sentence_a)
batch = (view.sentence_a, sentence_b)
try:
    with st.spinner("Running the model ..."):
        steps = services.attention_steps(family, info.model_id, batch, layer, head)
except services.Problem as problem:
    services.show_problem(problem)
    st.stop()
for note in services.input_notes(" ".join(batch), steps["tokens"][0] + steps["tokens"][1], steps["truncated"],
                                 info.n_positions):
    st.info(services.escape_markdown(note))

lengths = steps["lengths"]
n_total = len(steps["tokens"][0])
names = ("sentence A", "sentence B" if view.has_pair else "a shorter sentence (first half of A)")
padded_row = int(np.argmin(lengths)) if lengths[0] != lengths[1] else 1

# ---------------------------------------------------------------- four steps
st.subheader(f"One head, step by step (layer {layer}, head {head})")
row_labels = {0: f"A ({lengths[0]} tokens)", 1: f"B ({lengths[1]} tokens)"}
row = services.url_widget(st.radio, "row", padded_row, "Batch row", options=[0, 1], format_func=row_labels.get,
                          horizontal=True, key="mask_row",
                          help="Both sentences run as one padded batch; the shorter row ends in [PAD].")
n_show = min(n_total, MAX_SHOWN)
if n_total > MAX_SHOWN:
    st.info(f"The batch is {n_total} tokens long; the four matrices show the first {MAX_SHOWN} positions "
            "to stay readable. The downloads have every position.")
tokens = steps["tokens"][row]
cut = slice(0, n_show)
row_steps = {name: steps[name][row][cut, cut] for name in vm.STEP_TITLES}
allowed = steps["allowed"][row]
st.caption(
    f"d_head = {steps['d_head']}, so step 2 divides every score by √{steps['d_head']} = {np.sqrt(steps['d_head']):.2f}. "
    "Grey cells are blocked by the mask: the model fills them with the most negative number its floats can "
    "hold, which would swamp any colour scale, so they are drawn grey instead."
)
labels = token_labels(tokens)
st.plotly_chart(vm.steps_figure(row_steps, tokens[:n_show], allowed[cut, cut]), key="mask_steps", width="stretch")
for column, name in zip(st.columns(4), vm.STEP_TITLES):
    with column:
        services.download_csv(steps[name][row], labels, labels, f"{family}_L{layer}H{head}_{name}.csv",
                              key=f"csv_step_{name}", label=f"CSV: {vm.STEP_TITLES[name][3:]}")

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
pad_cols = st.columns(2)
for b, column in enumerate(pad_cols):
    with column:
        fig_allowed, fig_pattern = vm.padded_figures(steps["allowed"][b], steps["pattern"][b], steps["tokens"][b],
                                                     lengths[b], name=names[b])
        st.plotly_chart(fig_allowed, key=f"mask_pad_allowed_{b}", width="stretch")
        row_lbl = token_labels(steps["tokens"][b])
        services.download_csv(steps["allowed"][b].astype(int), row_lbl, row_lbl, f"{family}_allowed_row{b}.csv",
                              key=f"csv_pad_{b}", label="CSV (allowed)")
        st.plotly_chart(fig_pattern, key=f"mask_pad_pattern_{b}", width="stretch")
        services.download_csv(steps["pattern"][b], row_lbl, row_lbl, f"{family}_L{layer}H{head}_pattern_row{b}.csv",
                              key=f"csv_pad_pattern_{b}", label="CSV (weights)")

short = int(np.argmin(lengths))
if lengths[0] != lengths[1]:
    alone = services.attention(family, info.model_id, batch[short])["pattern"][layer, head]
    n = lengths[short]
    diff = float(np.abs(steps["pattern"][short][:n, :n] - alone[:n, :n]).max())
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
infos = {"encoder": info if family == "encoder" else _info("encoder"),
         "decoder": info if family == "decoder" else _info("decoder")}
if all(infos.values()):
    shared_layer = min(layer, infos["encoder"].n_layers - 1, infos["decoder"].n_layers - 1)
    shared_head = min(head, infos["encoder"].n_heads - 1, infos["decoder"].n_heads - 1)
    if (shared_layer, shared_head) != (layer, head):
        st.caption(f"The smaller model stops earlier, so both show layer {shared_layer}, head {shared_head}.")
    align = services.url_widget(st.checkbox, "align", True, "Line up the words only (hide [CLS]/[SEP], renormalise)",
                                key="mask_align")
    traces = {fam: services.attention(fam, infos[fam].model_id, view.sentence_a) for fam in ("encoder", "decoder")}
    words = {fam: [t for t in traces[fam]["tokens"] if t not in va.SPECIAL] for fam in traces}
    if words["encoder"] != words["decoder"]:
        st.info("These two models split the sentence into different tokens, so their rows do not line up one "
                "for one; each is shown with its own tokens.")
    for column, fam in zip(st.columns(2), ("encoder", "decoder")):
        pattern = traces[fam]["pattern"][shared_layer, shared_head]
        fam_tokens = traces[fam]["tokens"]
        if align:
            keep = va.keep_positions(fam_tokens)
            if keep.size:
                pattern, fam_tokens = va.restrict(pattern, keep), [fam_tokens[i] for i in keep]
        with column:
            title = f"{fam}: {'bidirectional' if fam == 'encoder' else 'causal'} (layer {shared_layer}, head {shared_head})"
            st.plotly_chart(va.attention_heatmap(pattern, fam_tokens, title=title), key=f"mask_vs_{fam}",
                            width="stretch")
            lbl = token_labels(fam_tokens)
            services.download_csv(pattern, lbl, lbl, f"{fam}_L{shared_layer}H{shared_head}.csv", key=f"csv_vs_{fam}",
                                  label="CSV")

# ---------------------------------------------------------------- prefix experiment
st.subheader("Append a word: which rows change?")
st.markdown(
    "Run the sentence, then the sentence with one more word, and compare each earlier row of attention "
    "(every layer and head). Under the causal mask an earlier token never sees the new word, so its row "
    "cannot change: this is why a decoder can be trained on every position of a sentence at once "
    "(teacher forcing). Under the bidirectional mask every token sees the new word, so the rows change."
)
extra = services.url_widget(st.text_input, "append", "today", "Word to append", key="mask_append")
if not extra.strip():
    st.warning("Type a word to append (for example 'today') to run the experiment.")
else:
    for column, fam in zip(st.columns(2), ("encoder", "decoder")):
        with column:
            if not infos.get(fam):
                continue
            try:
                result = services.prefix_experiment(fam, infos[fam].model_id, view.sentence_a, extra, layer, head)
            except services.Problem as problem:
                services.show_problem(problem)
                continue
            shared, change = result["shared"], result["row_change"]
            unchanged = int((change <= TOLERANCE).sum())
            if result["truncated"]:
                st.info("The text is at the model's length limit, so the appended word was cut off: "
                        "shorten the text to run the experiment.")
            kind = "causal" if fam == "decoder" else "bidirectional"
            message = (f"{fam.capitalize()} ({kind}): {unchanged} of {shared} earlier rows are identical within "
                       f"{TOLERANCE:g} in every layer and head (largest change {result['max_change']:.1e}).")
            if unchanged == shared:
                st.success(message)
            else:
                st.warning(message)
            st.plotly_chart(
                vm.prefix_figure(result["after"], result["tokens_after"], change, TOLERANCE,
                                 title=f"{fam} with the word appended (layer {result['layer']}, head {result['head']})"),
                key=f"mask_prefix_{fam}", width="stretch")
            after_lbl = token_labels(result["tokens_after"])
            services.download_csv(result["after"], after_lbl, after_lbl, f"{fam}_appended_L{result['layer']}H{result['head']}.csv",
                                  key=f"csv_prefix_pattern_{fam}", label="CSV (weights)")
            st.plotly_chart(vm.row_change_figure(change, result["tokens_after"], TOLERANCE,
                                                 title="largest change per earlier row (all layers and heads)"),
                            key=f"mask_prefix_bars_{fam}", width="stretch")
            services.download_csv(change[None, :], ["largest change"], token_labels(result["tokens_after"])[:shared],
                                  f"{fam}_prefix_change.csv", key=f"csv_prefix_{fam}", label="CSV")
