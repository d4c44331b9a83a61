"""Embeddings: token + segment + position, their sum and the LayerNorm; [CLS]/[SEP] and segments;
swapping the two sentences; one word in two contexts, layer by layer."""
import numpy as np
import pandas as pd
import streamlit as st

import analysis
from services import cached, state, ui
from viz import embeddings as ve
from viz.common import token_labels

# Figures that label every token stay readable up to about this many tokens.
MAX_SHOWN = 48

st.title("Embeddings")
st.markdown(
    "Before any attention happens, each token becomes a vector. A BERT-style encoder builds it "
    "from three learned tables and adds them up: one row for **which token** it is, one for "
    "**which sentence** it belongs to (segment A or B), and one for **where** it stands. "
    "The sum is then normalised with LayerNorm, and that is what the first layer reads."
)
st.latex(r"x_t = \mathrm{LayerNorm}\big(E_{\mathrm{token}}[w_t] + E_{\mathrm{segment}}[s_t]"
         r" + E_{\mathrm{position}}[t]\big)")

view = state.view()


def cut(tokens: list, *arrays: np.ndarray) -> tuple:
    """The first MAX_SHOWN tokens (and rows of each array), saying so when something was left out."""
    if len(tokens) > MAX_SHOWN:
        st.caption(f"Showing the first {MAX_SHOWN} of {len(tokens)} tokens so the labels stay readable.")
    return (tokens[:MAX_SHOWN], *(a[:MAX_SHOWN] for a in arrays))


def strip(title: str, tokens: list, segments: tuple) -> tuple:
    """One token strip for ve.segments_figure (the first MAX_SHOWN tokens): special tokens drawn apart."""
    shown, shown_segments = cut(tokens, np.array(segments))
    return title, shown, shown_segments, [t in analysis.SPECIAL_TOKENS for t in shown]


if not view.has_text:
    st.info("Type a sentence into sentence A in the sidebar (it is empty), or pick an example; "
            "for the pair and polysemy views also fill in sentence B.")
    st.stop()

# ---------------------------------------------------------------- 1. the sum of three parts
st.header("1. Three tables, one sum")
if not view.has_pair:
    st.info("Sentence B in the sidebar is empty, so every token is in segment 0. Type a second "
            "sentence (or pick the example 'Word order matters') to see segment 1 and the swap below.")
parts = ui.compute(cached.embedding_parts, view.encoder, view.sentence_a, view.sentence_b, stop=True)
ui.show_notes(view.sentence_a + " " + view.sentence_b, parts.tokens, parts.truncated, parts.n_positions)

tokens = list(parts.tokens)
st.markdown(
    "**[CLS]** opens every input and **[SEP]** closes each sentence. Every token of sentence A, "
    "with [CLS] and the first [SEP], has segment id 0; sentence B and its [SEP] have segment id 1. "
    "[CLS] has no meaning of its own, so after the layers its vector is a summary of the whole "
    "input: that is the vector a classifier reads."
)
ui.show_figure(ve.segments_figure([strip("input", tokens, parts.segments)],
                                 "Your input: tokens, with the segment id of each under it"),
               "segments", "segments.csv")

error = float(np.abs(parts.token + parts.segment + parts.position - parts.sum).max())
st.markdown(f"Checked on your input: max |token + segment + position − sum| = **{error:.1e}** "
            f"over all {len(tokens)} tokens and {parts.sum.shape[1]} dimensions.")
st.markdown(
    "Vectors do not add like lengths, so the bars below show each part's length **along the "
    "direction of the sum** (its projection). Those lengths do add up: each stack ends exactly at "
    "the black mark, the length of the sum. Hover a bar to see the part's own length."
)
three = {name: getattr(parts, name) for name in ("token", "segment", "position")}
shown_tokens, *shown = cut(tokens, *three.values(), parts.sum)
shown_parts, shown_sum = dict(zip(three, shown[:3])), shown[3]
ui.show_figure(ve.contribution_figure(shown_tokens, shown_parts, shown_sum,
                                      analysis.projections_onto(shown_sum, shown_parts)),
               "contributions", "embedding_contributions.csv")

st.markdown(
    "A few dimensions of each part. The first four panels share one colour range, so you can "
    "check by eye that the fourth is the sum of the first three. LayerNorm then rescales every "
    "token's vector to mean 0 and variance 1 (before a learned gain and shift), which changes its "
    "scale: it gets a colour range of its own."
)
d_model = parts.sum.shape[1]
dims = state.url_multiselect("em_dims", "Dimensions", list(range(d_model)), default=list(range(0, min(d_model, 8))),
                             max_selections=24)
five = {"token": parts.token, "segment": parts.segment, "position": parts.position, "sum": parts.sum,
        "LayerNorm(sum)": parts.layer_norm}
if dims:
    shown_tokens, *shown = cut(tokens, *five.values())
    ui.show_figure(ve.dims_figure(shown_tokens, dict(zip(five, shown)), dims, separate=["LayerNorm(sum)"]),
                   "dims", "embedding_dims.csv")
else:
    st.info("Pick at least one dimension to draw.")
st.dataframe(pd.DataFrame(analysis.component_norms({**three, "sum": parts.sum, "LayerNorm(sum)": parts.layer_norm}),
                          index=token_labels(tokens)), key="norms")

# ---------------------------------------------------------------- 2. swap the two sentences
st.header("2. Swap the two sentences")
if not view.has_pair:
    st.info("Type sentence B in the sidebar to compare 'A then B' with 'B then A'.")
else:
    st.markdown(
        "The same words in the other order. At the input, each token keeps its token row but gets "
        "another position row and possibly another segment row, so its vector changes a little. "
        "Inside the model every token then reads its context in another order. The bars compare "
        "each token with itself in the other order, at the input and at the layer you choose; how "
        "much the vectors differ depends on the model and the layer. Segment and position "
        "embeddings are what let an encoder tell 'A beats B' from 'B beats A' at all: without them "
        "the two inputs would be the same bag of tokens."
    )
    swap = ui.compute(cached.swap_comparison, view.encoder, view.sentence_a, view.sentence_b)
    if swap is not None:
        ui.show_figure(ve.segments_figure([strip("A then B", list(swap.tokens), swap.segments),
                                           strip("B then A", list(swap.tokens_swapped), swap.segments_swapped)],
                                          "Both orders: tokens and segment ids"),
                       "swap_segments", "swap_segments.csv")
        layer_names = swap.layers
        layer = state.url_widget(st.selectbox, "em_sl", "Compare at", default=len(layer_names) - 1,
                                 options=list(range(len(layer_names))), format_func=lambda i: layer_names[i])
        compared = {"input (after embeddings)": swap.cosine[1], layer_names[layer]: swap.cosine[layer]}
        shown_labels, *shown = cut(token_labels(swap.tokens), *compared.values())
        ui.show_figure(
            ve.grouped_bars(shown_labels, dict(zip(compared, shown)),
                            "Each token vs the same token in the other order (cosine similarity)",
                            "cosine similarity", (min(0.0, float(min(v.min() for v in compared.values()))), 1.0)),
            "swap", "swap_cosine.csv")
        st.markdown(f"The [CLS] vector, which a classifier reads, has cosine similarity "
                    f"**{swap.cosine[-1][0]:.3f}** between the two orders after the last block.")

# ---------------------------------------------------------------- 3. fine-tuning shapes
st.header("3. What fine-tuning puts on top")
st.markdown(
    "A pre-trained encoder is adapted to a task by adding a very small layer on its final vectors "
    "and training a little more. To **classify** a sentence or a sentence pair (is B an answer to A? "
    "do they mean the same?), a layer reads only the final [CLS] vector. For **questions about a "
    "passage** (question in segment A, passage in segment B), two learned vectors S and E score "
    "every passage token as the start and the end of the answer; softmax turns each set of scores "
    "into probabilities, and the answer is the span with the best start + end score."
)
st.latex(r"P(\text{label}) = \mathrm{softmax}(W\,h_{[\mathrm{CLS}]}) \qquad "
         r"P(\text{start} = i) = \frac{e^{S\cdot h_i}}{\sum_j e^{S\cdot h_j}} \qquad "
         r"P(\text{end} = i) = \frac{e^{E\cdot h_i}}{\sum_j e^{E\cdot h_j}}")
if not view.has_pair:
    st.info("Type a question as sentence A and a passage as sentence B in the sidebar (for example "
            "the example 'Question and answer pair') to see the span scores.")
else:
    final = ui.compute(cached.layer_vectors, "encoder", view.encoder, view.sentence_a, view.sentence_b)
    if final is not None:
        passage = [i for i, seg in enumerate(final.segments) if seg == 1][:-1]   # B without its [SEP]
        if not passage:
            st.info("Sentence B has no tokens left to score (it may have been cut at the model's limit).")
        else:
            span_seed = state.url_widget(st.number_input, "em_seed", "Seed of the untrained S and E vectors",
                                         min_value=0, max_value=10**6, step=1)
            span = analysis.span_scores(final.vectors[-1], passage, int(span_seed))
            passage_labels = [token_labels(final.tokens)[i] for i in passage]
            shown_labels, p_start, p_end = cut(passage_labels, span.p_start, span.p_end)
            ui.show_figure(
                ve.grouped_bars(shown_labels, {"P(start)": p_start, "P(end)": p_end},
                                "Start and end probabilities over the passage (untrained S and E)", "probability",
                                (0.0, float(max(p_start.max(), p_end.max())) * 1.15)),
                "span", "span_scores.csv")
            first, last = span.best
            st.caption("The span with the best start + end score:")
            st.code(" ".join(final.tokens[passage[first]:passage[last] + 1]), language=None)
            st.caption("S and E here are random (change the seed to draw others), so this 'answer' means "
                       "nothing yet: fine-tuning on question-answer pairs learns S and E, and adjusts the "
                       "encoder, until the true answer span scores highest.")

# ---------------------------------------------------------------- 4. polysemy
st.header("4. One word, two meanings")
st.markdown(
    "A word gets the same token vector wherever it appears: the table has one row per token. "
    "Context enters only through attention, layer by layer. Put the same word in two sentences "
    "with different meanings (the sidebar example 'Two meanings of bank') and watch its two "
    "vectors drift apart with depth."
)
if not view.has_pair:
    st.info("Type a second sentence into sentence B in the sidebar that uses one of the words of sentence A.")
    st.stop()
family = ui.family_radio(key="w_em_fam", labels=ui.model_labels(view))
first = ui.compute(cached.layer_vectors, family, view.model(family), view.sentence_a, stop=True)
second = ui.compute(cached.layer_vectors, family, view.model(family), view.sentence_b, stop=True)
common, default_word = analysis.shared_words(first.tokens, second.tokens)
if not common:
    st.info("The two sentences share no word. Use the same word in both (for example 'bank' in "
            "'She sat on the bank of the river.' and 'He paid the money into the bank.').")
    st.stop()
word = state.url_widget(st.selectbox, "em_w", "Word found in both sentences", default=default_word, options=common)
pos_a, pos_b = first.tokens.index(word), second.tokens.index(word)
layers = first.layers
similarity = analysis.cosine(first.vectors[:, pos_a], second.vectors[:, pos_b])     # [layer]
ui.show_figure(ve.layer_similarity_figure(layers, {"sentence A vs sentence B": similarity}), "polysemy",
               "polysemy.csv")
st.markdown(
    f"At the token embedding the two vectors are the same (cosine {similarity[0]:.3f}); after the "
    f"last block their cosine is {similarity[-1]:.3f}. (The second point already differs a little: "
    "position embeddings are added there, and the word stands at different positions.)"
)
st.markdown("How similar the word is to every token of its own sentence, at every depth, and its "
            "nearest tokens at the chosen depth:")
sims_a = analysis.cosine(first.vectors, first.vectors[:, pos_a:pos_a + 1])      # [layer, pos]
sims_b = analysis.cosine(second.vectors, second.vectors[:, pos_b:pos_b + 1])
sims_a[:, pos_a] = np.nan        # the word compared with itself (always 1) is left blank
sims_b[:, pos_b] = np.nan
panels = []
for title, run, sims in (("sentence A", first, sims_a), ("sentence B", second, sims_b)):
    panel_tokens, panel_sims = cut(list(run.tokens), sims.T)      # cut along pos
    panels.append((title, panel_tokens, panel_sims.T))
ui.show_figure(ve.neighbours_figure(layers, panels), "neighbours", "neighbours.csv")
depth = state.url_widget(st.selectbox, "em_nl", "Nearest tokens at", default=len(layers) - 1,
                         options=list(range(len(layers))), format_func=lambda i: layers[i])
near = {name: [(token_labels(run.tokens)[pos], value) for pos, value in analysis.nearest_tokens(sims[depth], where, k=3)]
        for name, run, sims, where in (("sentence A", first, sims_a, pos_a), ("sentence B", second, sims_b, pos_b))}
st.dataframe(pd.DataFrame({name: pd.Series([f"{tok}  ({value:.3f})" for tok, value in pairs],
                                           index=[f"#{i + 1}" for i in range(len(pairs))], dtype=object)
                           for name, pairs in near.items()}), key="nearest")
