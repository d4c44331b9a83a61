"""Objectives: what each pre-trained model learns to predict and who may see whom, on the user's own tokens;
fine-tuning shapes and optimisers."""
import numpy as np
import streamlit as st

import analysis
from services import cached, models, state, ui
from viz import heatmap as vh
from viz import masks as vm
from viz import objectives as vo
from viz.common import token_labels

CARDS = {
    "bert": "BERT: masked LM + next sentence",
    "roberta": "RoBERTa: dynamic masking",
    "gpt": "GPT: left-to-right LM",
    "elmo": "ELMo: two one-way LMs",
    "xlnet": "XLNet: permutation LM",
    "mass": "MASS: span masking",
    "unilm": "UniLM: prefix LM",
    "xlm": "XLM: translation LM",
    "albert": "ALBERT: shared layers, sentence order",
}
# A translation pair for XLM's card: a message of the translator's held-out test split and its human translation.
# The masks are drawn on at most this many tokens: a longer sentence is cut (with a note).
MAX_TOKENS = 48
XLM_PAIR = ("Authentication is required to set the system time.",
            "Authentification requise pour définir l’heure du système.")

st.title("Pre-training objectives")
st.markdown(
    "Models of the BERT and GPT families differ mostly in **what they are trained to predict** and **what each "
    "position may see** while predicting it. Each card below draws its objective's mask on your sentence's tokens "
    "(rows: the position predicting, the query; columns: what it may read, the key; grey = blocked) and, where a "
    "real model exists here, what it predicts. Pick the cards, or put two side by side."
)

view = state.view()
ui.require_text(view, "see the objectives on it")
enc_info = ui.require_model("encoder", view.encoder)
controls = st.columns([3, 1, 1])
with controls[0]:
    shown = state.url_multiselect("ob_show", "Objectives", list(CARDS), default=list(CARDS), format_func=CARDS.get)
with controls[1]:
    pair = state.url_widget(st.toggle, "ob_pair", "Two side by side")
with controls[2]:
    seed = state.url_widget(st.number_input, "ob_seed", "Masking seed", min_value=0, max_value=10_000, step=1)
text, clipped = ui.compute(cached.clip_text, "encoder", view.encoder, view.sentence_a, MAX_TOKENS, stop=True)
if clipped:
    st.info(f"Your text is long: the cards use its first {MAX_TOKENS} tokens (up to "
            f"“{ui.escape_markdown(text[-40:])}”), so every mask stays readable.")
tokens = ui.compute(cached.tokens_of, "encoder", view.encoder, text, stop=True)
labels = token_labels(tokens)
words = analysis.word_positions(tokens)
if not words:
    st.warning("After tokenisation your sentence has no word tokens; type a few words.")
    st.stop()
ui.show_notes(text, tokens, False, enc_info.n_positions)


def paper(text: str) -> None:
    st.caption(text)


def figure_columns() -> tuple:
    """Two figures side by side in a full-width card; one under the other in a half-width one."""
    if pair:
        place = st.container()
        return place, place
    return tuple(st.columns(2))


def bert_card() -> None:
    paper("Devlin et al., 2019. Encoder; the masked positions are predicted from both sides.")
    st.latex(r"\mathcal{L}_{MLM} = -\sum_{i \in M} \log P(x_i \mid \tilde{x}),\qquad "
             r"\mathcal{L} = \mathcal{L}_{MLM} + \mathcal{L}_{NSP}")
    run = ui.compute(cached.mlm_masking, view.encoder, text, int(seed), kind="info")
    if run is None:
        return
    ui.show_figure(vo.epochs_figure(run.tokens, [run.actions], title="BERT masking on your sentence (seeded)",
                                    vertical=pair, names=["chosen"]), "ob_bert_masking", "bert_masking.csv")
    st.caption("What the encoder reads:")
    st.code(" ".join(run.input_tokens), language=None)
    for pos, top, p_orig in zip(run.chosen, run.top, run.p_original):
        st.markdown(f"- {ui.escape_markdown(labels[pos])} ({run.actions[pos]}): the encoder guesses "
                    + ", ".join(f"{ui.escape_markdown(t)} {p:.0%}" for t, p in top)
                    + f"; the original gets {p_orig:.0%}.")
    ui.show_figure(vm.allowed_figure(model_masks("bidirectional", len(tokens))["allowed"], tokens,
                                     title="BERT: every position reads every position"), "ob_bert_mask",
                   "bert_mask.csv")
    st.markdown("**Next-sentence prediction** reads a pair as `[CLS] A [SEP] B [SEP]` (segments 0 and 1); half "
                "the time B follows A in the text, half the time it is a random sentence, and a classifier on "
                "[CLS] says which (the Embeddings page shows the segments on your pair).")


def roberta_card() -> None:
    paper("Liu et al., 2019. BERT's encoder and loss without NSP; byte-level BPE; the mask is drawn anew each time.")
    st.latex(r"\mathcal{L} = -\sum_{i \in M_e} \log P(x_i \mid \tilde{x}^{(e)}),\quad M_e \text{ drawn anew at epoch } e")
    run = ui.compute(cached.masking_epochs, view.encoder, text, int(seed), kind="info")
    if run is None:
        return
    ui.show_figure(vo.epochs_figure(run.tokens, run.static, title="BERT, static: one mask, the same every epoch",
                                    vertical=pair), "ob_static", "static_masking.csv")
    ui.show_figure(vo.epochs_figure(run.tokens, run.dynamic, title="RoBERTa, dynamic: a new mask every epoch",
                                    vertical=pair), "ob_dynamic", "dynamic_masking.csv")
    st.markdown(f"Over 4 epochs the static mask trains on **{run.covered_static}** positions of this sentence, "
                f"dynamic masking on **{run.covered_dynamic}**. (BERT's data had 10 copies with different masks, "
                "so each mask was seen 4 times in 40 epochs.) RoBERTa's own mask token is `<mask>`.")


def gpt_card() -> None:
    paper("Radford et al., 2018. Decoder; every position predicts the next token from the ones before it.")
    st.latex(r"\mathcal{L} = -\sum_{t} \log P(x_t \mid x_{<t})")
    ui.show_figure(vm.allowed_figure(model_masks("causal", len(tokens))["allowed"], tokens,
                                     title="GPT: position t reads positions up to t"), "ob_gpt_mask", "gpt_mask.csv")
    readout = ui.compute(cached.next_token_readout, view.decoder, text, kind="info")
    if readout is None:
        return
    rows = [{"reads up to": f"{i:02d} {tok}", "guesses next": f"{g} ({p:.0%})",
             "real next": readout.tokens[i + 1] if i + 1 < len(readout.tokens) else "",
             "p(real next)": f"{readout.p_actual[i]:.1%}" if i < len(readout.p_actual) else ""}
            for i, (tok, (g, p)) in enumerate(zip(readout.tokens, readout.guesses))]
    st.dataframe(rows, hide_index=True)
    st.caption(f"The bundled decoder, trained on exactly this objective: every position predicts the next token in "
               f"one causal pass. Mean loss on your sentence: {readout.loss:.2f} nats per token.")


def elmo_card() -> None:
    paper("Peters et al., 2018. Two LSTM language models, one reading left to right, one right to left; their "
          "states are concatenated. Not a Transformer: a comparison of masks only.")
    st.latex(r"\mathcal{L} = -\sum_t \left[\log P(x_t \mid x_{<t}) + \log P(x_t \mid x_{>t})\right]")
    masks = model_masks("elmo", len(tokens))
    left, right = figure_columns()
    with left:
        ui.show_figure(vm.allowed_figure(masks["forward"], tokens, title="forward LM"), "ob_elmo_f", "elmo_forward.csv")
    with right:
        ui.show_figure(vm.allowed_figure(masks["backward"], tokens, title="backward LM"), "ob_elmo_b",
                       "elmo_backward.csv")
    st.markdown("Neither direction sees both sides of a word at once; BERT's single mask does (the BERT card).")


def xlnet_card() -> None:
    paper("Yang et al., 2019. A language model over a random factorisation order: position z_t is predicted from "
          "the positions that come before it in the order, wherever they are in the sentence.")
    st.latex(r"\mathcal{L} = -\,\mathbb{E}_{z}\sum_t \log P(x_{z_t} \mid x_{z_{<t}})")
    typed = state.url_widget(st.text_input, "ob_order", "Factorisation order (word positions, blank: seeded random)",
                             help="For example " + " ".join(str(w) for w in words[::-1]) + ".")
    order = [int(x) for x in typed.replace(",", " ").split() if x.lstrip("-").isdigit()] if typed.strip() else \
        [int(w) for w in np.random.default_rng(int(seed)).permutation(words)]
    if typed.strip() and sorted(order) != words:
        st.warning("A factorisation order lists every word position exactly once: "
                   + " ".join(str(w) for w in words) + " in any order. Showing a seeded random one instead.")
        order = [int(w) for w in np.random.default_rng(int(seed)).permutation(words)]
    position = state.url_widget(st.selectbox, "ob_pos", "Position predicted", options=words,
                                default=words[len(words) // 2], format_func=lambda i: labels[i])
    result = ui.compute(cached.permutation_view, view.encoder, text, tuple(order), position, kind="info")
    if result is None:
        return
    st.markdown("Order: " + ui.escape_markdown(" → ".join(labels[p] for p in order)))
    st.caption("What the encoder reads for this prediction (the predicted token hidden; the mask below decides "
               "which of the others it may see):")
    st.code(" ".join(enc_info.mask_token if i == position else tok for i, tok in enumerate(tokens)), language=None)
    ui.show_figure(vm.allowed_figure(result.allowed, tokens, title="The mask under this order (the predicted "
                                     "row: the query stream)"), "ob_xlnet_mask", "xlnet_mask.csv")
    seen = ", ".join(labels[p] for p in result.visible) or "no word (it comes first in the order)"
    st.markdown(f"{ui.escape_markdown(labels[position])} may read: {ui.escape_markdown(seen)}. What-if: the bundled "
                "encoder (trained as BERT, not XLNet) under this mask guesses "
                + ", ".join(f"{ui.escape_markdown(t)} {p:.0%}" for t, p in result.guesses) + ". Change the order "
                "and the context, and so the guess, changes.")


def mass_card() -> None:
    paper("Song et al., 2019. An encoder-decoder: k consecutive tokens hidden in the encoder's input; the decoder "
          "writes exactly those k tokens, left to right.")
    st.latex(r"\mathcal{L} = -\sum_{t=u}^{v} \log P(x_t \mid x_{u:t-1}, x^{\setminus u:v})")
    cols = st.columns(2)
    with cols[0]:
        start = state.url_widget(st.selectbox, "ob_start", "Span starts at", options=words[1:] or words,
                                 default=(words[1:] or words)[0], format_func=lambda i: labels[i])
    with cols[1]:
        length = state.url_widget(st.slider, "ob_len", "Span length (k)", min_value=1,
                                  max_value=max(1, min(6, words[-1] - start + 1)))
    length = min(length, words[-1] - start + 1)
    masks = model_masks("mass", len(tokens), start=start, length=length)
    span_tokens = tokens[start:start + length]
    st.caption("What the encoder reads (the span hidden):")
    st.code(" ".join(enc_info.mask_token if hidden else tok for tok, hidden in zip(tokens, masks["masked"])),
            language=None)
    left, right = figure_columns()
    with left:
        ui.show_figure(vm.allowed_figure(masks["decoder"], span_tokens, title="decoder: causal over the span"),
                       "ob_mass_dec", "mass_decoder.csv")
    with right:
        ui.show_figure(vm.allowed_figure(masks["cross"], span_tokens, cols=tokens,
                                         title="cross: every span position reads the whole encoder input"),
                       "ob_mass_cross", "mass_cross.csv")
    run = ui.compute(cached.mass_span, view.encoder, view.decoder, text, start, length, kind="info")
    if run is None:
        return
    rows = [{"hidden": o, "encoder, all k at once": f"{e[0][0]} ({e[0][1]:.0%})",
             "decoder, left to right": f"{d[0][0]} ({d[0][1]:.0%})"}
            for o, e, d in zip(run.original, run.encoder_top, run.decoder_steps)]
    st.dataframe(rows, hide_index=True)
    st.caption("The bundled encoder fills the k blanks in one pass, each from both sides; the bundled decoder "
               "(a GPT, standing in for MASS's decoder) writes them from the words on the left and its own "
               "previous guesses, without the right-hand context.")


def unilm_card() -> None:
    paper("Dong et al., 2019 (UniLM); Raffel et al., 2020 (T5's prefix LM). The prefix is read in both directions; "
          "the rest is generated left to right.")
    st.latex(r"\mathcal{L} = -\sum_{t \geq p} \log P(x_t \mid x_{<p} \text{ (both ways)}, x_{p:t-1})")
    dec_info = ui.compute(models.model_info, "decoder", view.decoder, kind="info")
    if dec_info is None:
        return
    dec_tokens = ui.compute(cached.tokens_of, "decoder", view.decoder, text, kind="info") or []
    if len(dec_tokens) < 2:
        st.info("The decoder needs at least two tokens here.")
        return
    prefix = state.url_widget(st.slider, "ob_prefix", "Prefix length (tokens)", min_value=1,
                              max_value=len(dec_tokens), default=max(1, len(dec_tokens) // 2))
    layer, head = ui.layer_head(dec_info, "ob")
    run = ui.compute(cached.prefix_what_if, view.decoder, text, prefix, layer, head, kind="info")
    if run is None:
        return
    left, right = figure_columns()
    with left:
        ui.show_figure(vm.allowed_figure(run.allowed, run.tokens, title=f"prefix LM mask (prefix {prefix})"),
                       "ob_prefix_mask", "prefix_mask.csv")
    with right:
        ui.show_figure(vh.heatmap(run.prefix_pattern, token_labels(run.tokens), token_labels(run.tokens),
                                  title=f"what-if: decoder layer {layer} head {head} under it",
                                  masked=~run.allowed), "ob_prefix_pattern", "prefix_pattern.csv")
    changed = float(np.abs(run.prefix_pattern - run.causal).max())
    st.markdown(f"A what-if: the bundled decoder was trained causal. Under the prefix mask its prefix rows read "
                f"later prefix tokens too; the largest change in this head's weights is {changed:.2f}.")


def xlm_card() -> None:
    paper("Lample & Conneau, 2019. The translation LM: a sentence and its translation side by side in one input, "
          "masked in both languages, so a hidden English word can be recovered from the French (and back).")
    st.latex(r"\mathcal{L} = -\sum_{i \in M} \log P(x_i \mid \tilde{x}^{en}, \tilde{x}^{fr})")
    source, target = (text, view.sentence_b) if view.has_pair else XLM_PAIR
    st.markdown(("Your pair (sentence A and B)" if view.has_pair else "A pair from the translator's held-out data")
                + f": {ui.escape_markdown(source)} / {ui.escape_markdown(target)}")
    pair_tokens = ui.compute(cached.tokens_of, "seq2seq", view.translator, source, kind="info")
    target_tokens = ui.compute(cached.tokens_of, "seq2seq", view.translator, target, kind="info")
    if pair_tokens is None or target_tokens is None:
        return
    joined = list(pair_tokens) + list(target_tokens)
    masks = model_masks("tlm", len(joined), split=len(pair_tokens), seed=int(seed))
    shown_tokens = ["[MASK]" if m else t for t, m in zip(joined, masks["masked"])]
    ui.show_figure(vm.allowed_figure(masks["allowed"], shown_tokens, title="one bidirectional mask over both "
                                     "languages (hidden tokens as [MASK])"), "ob_xlm_mask", "xlm_mask.csv")
    hidden = [joined[i] for i in np.flatnonzero(masks["masked"])]
    st.markdown("Hidden: " + ui.escape_markdown(", ".join(hidden)) + ". The tokens are the translator's shared "
                "English-French vocabulary, as XLM shares one BPE vocabulary across languages. No XLM model is "
                "bundled, so this card shows the input and the mask only.")


def albert_card() -> None:
    paper("Lan et al., 2020. BERT with factorised embeddings (vocabulary x E, then E x H), one set of layer weights "
          "shared by every layer, and sentence-order prediction instead of NSP.")
    st.latex(r"V \times H \;\to\; V \times E + E \times H,\qquad \theta_{layer\,1} = \dots = \theta_{layer\,L},"
             r"\qquad \mathcal{L} = \mathcal{L}_{MLM} + \mathcal{L}_{SOP}")
    try:
        check = cached.shared_layers_check(view.encoder, text)
    except models.Problem:
        check = None
    if check is None:
        st.info("Load an ALBERT checkpoint (for example albert-base-v2, online) in the sidebar's encoder picker to see "
                "its parameter count against a BERT of the same shape and the check that every layer uses one "
                "shared weight tensor.")
    else:
        cols = st.columns(2)
        cols[0].metric("Parameters of this ALBERT", f"{check.parameters:,}")
        cols[1].metric("A BERT of the same shape", f"{check.bert_parameters:,}")
        differs = min(check.differences, default=0.0)
        (st.success if check.one_block and differs > 0 else st.error)(
            f"Check: every layer {'is' if check.one_block else 'is NOT'} the same module, one block of "
            f"{check.block_parameters:,} parameters applied {len(check.differences) + 1} times; yet the layers' "
            f"attention on your sentence differs (smallest largest-difference from layer 0: {differs:.3f}), "
            "because each layer reads a different input.")
    st.markdown("**Sentence-order prediction**: the positive example is `[CLS] A [SEP] B [SEP]` with B the "
                "sentence that really follows A, the negative `[CLS] B [SEP] A [SEP]` (the same two sentences, "
                "swapped). NSP's random second sentence could be spotted by its topic alone; a swapped order cannot.")
    if view.has_pair:
        st.markdown(f"On your pair, the negative reads: {ui.escape_markdown(view.sentence_b)} / "
                    f"{ui.escape_markdown(text)}")
    else:
        st.caption("Type sentence B in the sidebar to see your own pair swapped.")


def model_masks(name, n, **params):
    return ui.compute(cached.objective_masks, name, n, tuple(sorted(params.items())), stop=True)


BUILDERS = {"bert": bert_card, "roberta": roberta_card, "gpt": gpt_card, "elmo": elmo_card, "xlnet": xlnet_card,
            "mass": mass_card, "unilm": unilm_card, "xlm": xlm_card, "albert": albert_card}
if not shown:
    st.info("Pick at least one objective above.")
for first in range(0, len(shown), 2 if pair else 1):
    row = shown[first:first + (2 if pair else 1)]
    for place, name in zip(st.columns(len(row)) if pair else [st.container()], row):
        with place, st.container(border=True):
            st.subheader(CARDS[name])
            BUILDERS[name]()

# ---------------------------------------------------------------- fine-tuning
st.header("After pre-training: fine-tuning shapes")
st.markdown(
    "A pre-trained encoder is fine-tuned by adding a small head and training everything on the task. "
    "**Classification** (one sentence or a pair) reads the last layer's output at [CLS] through one weight "
    "matrix. **Span question answering** (question = sentence A, passage = sentence B) learns a start vector S "
    "and an end vector E: each passage token's output is dotted with S (and with E), and a softmax over the "
    "passage gives where the answer starts (and ends). The heads below are random numbers, labelled as "
    "untrained: the shapes and the arithmetic are real, the answers are not."
)
st.latex(r"P(\text{class}) = \mathrm{softmax}(h_{[CLS]} W + b),\qquad "
         r"P_{start}(i) = \frac{e^{S\cdot h_i}}{\sum_j e^{S\cdot h_j}},\quad "
         r"P_{end}(i) = \frac{e^{E\cdot h_i}}{\sum_j e^{E\cdot h_j}}")
head_seed = state.url_widget(st.number_input, "ob_ft", "Seed of the untrained heads", min_value=0, max_value=10_000,
                             step=1)
shapes = ui.compute(cached.finetune_shapes, view.encoder, text, view.sentence_b, int(head_seed),
                    kind="info")
if shapes is not None:
    ui.show_figure(vo.head_outputs(shapes.class_probs, shapes.tokens, shapes.passage, shapes.start_probs,
                                   shapes.end_probs), "ob_heads", "untrained_heads.csv")
    if shapes.passage:
        start, end = shapes.best_span
        answer = " ".join(shapes.tokens[start:end + 1])
        st.markdown(f"The untrained span head's best answer: **{ui.escape_markdown(answer)}** (positions {start} to "
                    f"{end}, the span maximising log P_start + log P_end, at most 15 tokens). d_model = {shapes.d_model}.")
    else:
        st.info("Type a passage as sentence B in the sidebar (sentence A as the question) to see the span head.")

# ---------------------------------------------------------------- optimisers
st.header("Optimisers: how the weights move")
st.markdown(
    "Training moves the weights downhill on the loss. Plain gradient descent takes the same step size in every "
    "direction and zig-zags in a narrow valley; **Adagrad** divides by the root of all past squared gradients "
    "(steps shrink for good); **RMSProp** by a running average of them; **Adam** adds momentum (a running "
    "average of the gradients themselves) with bias correction. With weight decay, **Adam + L2** adds the decay "
    "to the gradient, so the adaptive scaling weakens it where gradients are large; **AdamW** applies it "
    "directly to the weights (decoupled), the form BERT-style training uses."
)
st.latex(r"\text{Adagrad: } G_t = G_{t-1} + g_t^2,\ \theta_t = \theta_{t-1} - \eta\frac{g_t}{\sqrt{G_t} + \epsilon}"
         r"\qquad \text{RMSProp: } s_t = \rho s_{t-1} + (1-\rho) g_t^2,\ "
         r"\theta_t = \theta_{t-1} - \eta\frac{g_t}{\sqrt{s_t} + \epsilon}")
st.latex(r"\text{Adam: } m_t = \beta_1 m_{t-1} + (1-\beta_1) g_t,\ v_t = \beta_2 v_{t-1} + (1-\beta_2) g_t^2,\ "
         r"\theta_t = \theta_{t-1} - \eta \frac{\hat m_t}{\sqrt{\hat v_t} + \epsilon}")
st.latex(r"\text{Adam + L2: } g_t \leftarrow g_t + \lambda\theta_{t-1},\qquad "
         r"\text{AdamW: } \theta_t \leftarrow \theta_t - \eta\lambda\theta_{t-1}")
cols = st.columns(3)
with cols[0]:
    steps = state.url_widget(st.slider, "ob_steps", "Steps", min_value=10, max_value=600)
with cols[1]:
    decay = state.url_widget(st.slider, "ob_wd", "Weight decay λ", min_value=0.0, max_value=1.0, step=0.05)
with cols[2]:
    scale = state.url_widget(st.slider, "ob_lr", "Learning-rate factor", min_value=0.25, max_value=4.0, step=0.25)
race = cached.race(int(steps), float(decay), float(scale))
xs, ys, surface = analysis.loss_surface()
ui.show_figure(vo.race_figure(race.paths, xs, ys, surface), "ob_race", "optimiser_paths.csv")
ui.show_figure(vo.loss_curves(race.losses), "ob_losses", "optimiser_losses.csv")
st.caption("Learning rates: " + ", ".join(f"{k} {v:g}" for k, v in race.learning_rates.items())
           + ". Each was tried at a few values on this surface and kept where it converges; the factor scales all.")
