"""Attention: every head at a glance, one head up close, summaries, soft vs hard."""
from __future__ import annotations

import numpy as np
import streamlit as st

import analysis
from services import cached, state, ui
from viz import heatmap, lines, overview
from viz.common import token_labels

st.title("Attention")
st.markdown(
    "Each token asks a **query**, every token offers a **key**. The query is scored against every key, "
    "the scores become a probability distribution with softmax, and the token's new vector is the "
    "weighted average of the **values**. A row below is one query token: it shows how its weight is "
    "spread over the key tokens (each row sums to 1)."
)
st.latex(r"\mathrm{Attention}(Q,K,V)=\mathrm{softmax}\!\left(\frac{QK^\top}{\sqrt{d_{head}}}\right)V")

view = state.view()
VIEW_LABELS = {"heatmap": "Heatmap", "lines": "Lines"}
FINDER_LABELS = {"a word to another word": "a word I pick, to another word", "previous token": "the previous token",
                 "next token": "the next token", "first token": "the first token ([CLS], or a decoder's start)",
                 "last token": "the last token ([SEP])", "the same word elsewhere": "the same word elsewhere"}

top = st.columns([2, 3])
with top[0]:
    family = ui.family_radio(key="att_model")
model_id = view.model(family)
info = ui.require_model(family, model_id)
ui.require_text(view, "see its attention")

sentence_b = view.sentence_b if view.has_pair else ""
with st.spinner("Running the model ..."):
    run = ui.compute(cached.attention, family, model_id, view.sentence_a, sentence_b, stop=True)

tokens = list(run.tokens)
ui.show_notes(view.sentence_a + " " + sentence_b, tokens, run.truncated, run.n_positions)
if view.has_pair and family == "decoder":
    st.caption("The decoder has no segments: it reads sentence A and B as one text.")
if analysis.START_MARK in tokens:
    st.caption(f"{analysis.START_MARK} is the start-of-text token the decoder reads before your first word (this "
               "model writes it as [SEP]): every token can look at it, and many heads park their spare weight there.")

with top[1]:
    st.caption(f"{ui.escape_markdown(info.name)}: {info.n_layers} layers x {info.n_heads} heads, "
               f"{len(tokens)} tokens.")
    st.text("Tokens: " + "  ".join(token_labels(tokens)[:64]) + ("  ..." if len(tokens) > 64 else ""))

# An example sentence opens on the head that shows its point (unless the link or the user chose a head).
point = state.EXAMPLE_POINTS.get(view.sentence_a.strip())
found = analysis.point_head(run, *point) if point else None
controls = st.columns(4)
layer, head = ui.layer_head(info, "att", controls[:2], default=found[:2] if found else None)
with controls[2]:
    # the point head is found with [CLS]/[SEP] hidden, so an example opens with them hidden
    hide = state.url_widget(st.checkbox, "at_hide", "Hide [CLS]/[SEP]", key="att_hide", default=bool(found) or None,
                            help="Many heads park weight on [CLS] or [SEP] when they have nothing to do. "
                            "Hiding them and renormalising each row (so it sums to 1 again) shows how the rest "
                            "is shared.")
with controls[3]:
    style = state.url_widget(st.radio, "at_view", "Show the head as", options=list(VIEW_LABELS),
                             format_func=VIEW_LABELS.get, horizontal=True, key="att_view")

if found and (layer, head) == found[:2]:
    st.caption(f"This example opens on layer {layer}, head {head}: with [CLS]/[SEP] hidden, "
               f"'{ui.escape_markdown(tokens[found[3]])}' gives {found[2]:.2f} of its weight to "
               f"'{ui.escape_markdown(tokens[found[4]])}', more than in any other head (the head finder below ranks "
               "them all).")

pattern = run.pattern  # [layer, head, query_pos, key_pos]
segments = list(run.segments) if view.has_pair and family == "encoder" else None
shown_tokens, keep = tokens, None
if hide:
    keep = analysis.keep_positions(tokens)
    if keep.size == 0:
        st.info("Every token is [CLS] or [SEP]; showing them anyway.")
        keep = None
    else:
        pattern = analysis.restrict(pattern, keep)
        shown_tokens = [tokens[i] for i in keep]
        segments = [segments[i] for i in keep] if segments is not None else None
stem = f"{family}_L{layer}H{head}"
shown_at = None if keep is None else list(keep)   # hidden markers keep every token's own number
# A decoder's future is masked: those cells are grey (not weight-0 colour), as on the Masks page.
positions = np.arange(len(tokens)) if keep is None else np.asarray(keep)
blocked = positions[None, :] > positions[:, None] if family == "decoder" else None

# ---------------------------------------------------------------- every head
st.subheader("Every layer and head at a glance")
st.caption("Rows of tiles are layers (0 = closest to the input), columns are heads. "
           "Click a tile, or use the Layer and Head boxes, to open one head below.")
follow = state.url_widget(st.selectbox, "at_follow", "Follow a token (its row and column in every head)",
                          options=[-1, *range(len(shown_tokens))],
                          format_func=lambda i: "none" if i < 0 else token_labels(shown_tokens, shown_at)[i])
follow = None if follow < 0 else follow
small, block = analysis.downsample(pattern, overview.MAX_TILE, how="mass")
if block > 1:
    st.info(f"{len(shown_tokens)} tokens: to keep this overview fast, each tile shows blocks of {block}x{block} "
            "tokens: the weight a block of queries gives a block of keys (summed over the keys, averaged over "
            "the queries). The single-head views below show every token.")
ui.show_figure(overview.heads_grid(small, shown_tokens, block, selected=(layer, head), positions=shown_at,
                                  zmax=ui.weight_max(), follow=follow), "att_grid",
               f"{family}_all_heads.csv", label="Download all heads (CSV)" + (" (in blocks)" if block > 1 else ""),
               on_select=ui.open_clicked_head("fig_att_grid", "att"), selection_mode="points")

# ---------------------------------------------------------------- one head
st.subheader(f"Layer {layer}, head {head}")
one = pattern[layer, head]
if style == "heatmap":
    ui.show_figure(heatmap.attention_heatmap(one, shown_tokens, positions=shown_at,
                                             segments=segments, masked=blocked, zmax=ui.weight_max(),
                                             follow=follow,
                                             title=f"layer {layer}, head {head}: rows = queries, columns = keys"),
                   "att_head", f"{stem}.csv")
else:
    long_input = len(shown_tokens) > 48
    ui.show_figure(lines.lines(one, shown_tokens, positions=shown_at,
                               segments=segments, top_k=3 if long_input else None,
                               title=f"layer {layer}, head {head}"), "att_lines", f"{stem}.csv")
    st.caption("Each line joins a query token (left) to a key token (right); thicker, darker lines carry more "
               "weight. Links under 0.05 are left out" + (", and only each query's 3 strongest links are drawn "
               "for this long input." if long_input else ".") + (" Blue lines start in sentence A, orange ones in "
               "sentence B." if segments is not None else ""))

# ---------------------------------------------------------------- head finder
st.subheader("Which heads do this? The head finder")
st.markdown("Pick what a head should do, and every head of the model is ranked by how strongly it does it on "
            "your sentence. Click a cell to open that head above.")
finder = st.columns([2, 1, 1])
with finder[0]:
    relation = state.url_widget(st.selectbox, "at_find", "Rank the heads by", options=list(analysis.FINDER),
                                format_func=FINDER_LABELS.get)
labels = token_labels(shown_tokens, shown_at)
query = key = None
if relation == analysis.FINDER[0]:
    # Positions among the tokens drawn (markers hidden or not); an example's point is preselected.
    drawn = list(range(len(shown_tokens))) if keep is None else list(keep)
    start_q, start_k = (found[3], found[4]) if found else (drawn[-1], drawn[0])
    with finder[1]:
        query = state.url_widget(st.selectbox, "at_fq", "From (query)", options=list(range(len(shown_tokens))),
                                 default=drawn.index(start_q) if start_q in drawn else len(drawn) - 1,
                                 format_func=lambda i: labels[i])
    with finder[2]:
        key = state.url_widget(st.selectbox, "at_fk", "To (key)", options=list(range(len(shown_tokens))),
                               default=drawn.index(start_k) if start_k in drawn else 0,
                               format_func=lambda i: labels[i])
scores = analysis.head_scores(pattern, shown_tokens, relation, query, key)
best = analysis.ranked_heads(scores, top=3)
what = (f"the weight {labels[query]} gives {labels[key]}" if query is not None else FINDER_LABELS[relation])
ui.show_figure(overview.head_scores_figure(scores, f"Every head ranked by {what}", selected=(layer, head)),
               "att_finder", f"{family}_head_finder.csv", on_select=ui.open_clicked_head("fig_att_finder", "att"),
               selection_mode="points")
st.caption("Strongest: " + "; ".join(f"layer {l}, head {h} ({v:.2f})" for l, h, v in best)
           + (". [CLS]/[SEP] are hidden and each row renormalised, as in the views above." if keep is not None
              else ". Tick 'Hide [CLS]/[SEP]' above to rank by how the rest of the weight is shared."))

# ---------------------------------------------------------------- check against transformers
with st.expander("Check these numbers against Hugging Face transformers"):
    st.markdown("This app computes attention with its own small PyTorch code, written out step by step. The "
                "button runs transformers' own implementation (eager attention) on the same weights and the same "
                "tokens, and prints the largest difference of every layer's attention and of the output scores. It "
                "stays on while you change the sentence or the model.")
    if st.checkbox("Check against transformers now", key="att_check"):
        with st.spinner("Running transformers ..."):
            check = ui.compute(cached.reference_check, family, model_id, view.sentence_a, sentence_b, kind="info")
        if check is not None:
            verdict = (f"Every number agrees to within {analysis.TOLERANCE:g}" if check.agrees else
                       f"Differences above {analysis.TOLERANCE:g} were found")
            st.markdown(f"{verdict}: the largest difference is **{check.largest:.1e}** "
                        f"(transformers' {check.reference}, {check.n_tokens} tokens).")
            st.dataframe({"compared": [w for w, _ in check.rows],
                          "largest |ours - transformers|": [f"{d:.1e}" for _, d in check.rows]},
                         hide_index=True, key="att_check_table")

# ---------------------------------------------------------------- soft vs hard
st.subheader("Soft vs hard attention")
st.markdown(
    "Soft attention keeps the whole distribution (left). Hard attention keeps only each query's "
    "single strongest key (right): a yes/no choice. Picking the arg-max has no gradient, which is "
    "why Transformers train with the soft version."
)
st.latex(r"\text{hard}_{ij}=\begin{cases}1 & j=\arg\max_{j'} a_{ij'}\\ 0 & \text{otherwise}\end{cases}")
# Drawn on request: five more full-size heatmaps doubled the time from a new sentence to a
# finished page in the browser at 128 tokens (bench/README.md), for sections not every visit needs.
if state.url_widget(st.checkbox, "at_softhard", "Draw the soft and hard maps of this head", key="att_softhard"):
    soft_col, hard_col = ui.columns(2)
    with soft_col:
        ui.show_figure(heatmap.attention_heatmap(one, shown_tokens, positions=shown_at,
                                                 segments=segments, title="soft: the weights",
                                                 masked=blocked, zmax=ui.weight_max()),
                       "att_soft", f"{stem}_soft.csv")
    with hard_col:
        ui.show_figure(heatmap.attention_heatmap(analysis.hard_attention(one), shown_tokens, positions=shown_at,
                                                                         segments=segments,
                                                 title="hard: arg-max per query", value_name="chosen (1 = yes)",
                                                 masked=blocked),
                       "att_hard", f"{stem}_hard.csv")

# ---------------------------------------------------------------- summaries
st.subheader("Summaries across heads and layers")
st.markdown(
    f"**Mean** and **max** combine the {info.n_heads} heads of layer {layer}. **Rollout** follows attention "
    + (f"through layers 0 to {layer}: " if layer else "from layer 0 (pick a higher layer to follow it further): ")
    + "average the heads, add the identity for the residual connection, renormalise, and multiply the layers "
    "together (Abnar & Zuidema, 2020)."
)
st.latex(r"\tilde A^{(l)}=\mathrm{norm}\Big(\tfrac{1}{H}\sum_h A^{(l,h)}+I\Big),\qquad "
         r"R^{(l)}=\tilde A^{(l)}\,\tilde A^{(l-1)}\cdots\tilde A^{(0)}")
if state.url_widget(st.checkbox, "at_summaries", "Draw mean, max and rollout of this layer", key="att_summaries"):
    # Rollout runs on every token (the residual path goes through [CLS]/[SEP] too);
    # hiding them happens afterwards, on the result.
    rolled = analysis.rollout(run.pattern)[layer]
    if keep is not None:
        rolled = analysis.restrict(rolled, keep)
    summaries = (
        ("mean", analysis.head_mean(pattern)[layer], f"mean over heads (layer {layer})"),
        ("max", analysis.head_max(pattern)[layer], f"max over heads (layer {layer})"),
        ("rollout", rolled, f"rollout through layers 0-{layer}" if layer else "rollout of layer 0 alone"),
    )
    # Three maps side by side only while their labels fit; a longer sentence gets them one under the other.
    places = ui.columns(3) if len(shown_tokens) <= 14 else [st.container() for _ in summaries]
    for column, (name, matrix, title) in zip(places, summaries):
        with column:
            ui.show_figure(heatmap.attention_heatmap(matrix, shown_tokens, positions=shown_at,
                                                     segments=segments, title=title,
                                                     masked=blocked, zmax=ui.weight_max()),
                           f"att_sum_{name}", f"{family}_L{layer}_{name}.csv")
    st.caption("Max over heads is not a distribution: its rows can sum to more than 1.")
