"""Predictions: fill in the blank, BERT's masking procedure, next-token vs fill-in, the decoder writing,
head ablation."""
import numpy as np
import pandas as pd
import streamlit as st

import analysis
from services import cached, models, state, ui
from viz import predictions as vpred
from viz.common import token_labels

st.title("Predictions")
st.markdown(
    "A language model ends in a layer that turns each output vector into a probability for every "
    "word of its vocabulary. BERT-style encoders are trained to fill in hidden words using the "
    "text on **both** sides; GPT-style decoders are trained to guess the **next** word from the "
    "text on the left only."
)
st.latex(r"P(w \mid \text{context}) = \mathrm{softmax}(h\,W_{\mathrm{vocab}}^{\top} + b)_w")

SMALL_MODELS = ("The bundled models are small (22 M parameters each, trained on one or two CPU cores for three to "
                "six hours, on 4 M tokens of dictionary examples and other free texts), so their guesses are often odd. "
                "For better ones, type a hub model into the "
                "sidebar when online: bert-base-uncased for the blanks, gpt2 for the next word.")

view = state.view()
if not view.has_text:
    st.info("Type a sentence into sentence A in the sidebar (it is empty), or pick an example. "
            "Put [MASK] where a word is missing, or pick words to hide below.")
    st.stop()
text = view.sentence_a

# ---------------------------------------------------------------- 1. fill in the blank
st.header("1. Fill in the blank")
blank = ui.compute(models.model_info, "encoder", view.encoder, kind="info")
blank = blank.mask_token if blank is not None else "[MASK]"
st.markdown(
    f"Type **{ui.escape_markdown(blank)}** in sentence A wherever a word is missing (one or several), or pick "
    "words of your sentence to hide. The encoder sees the whole sentence and ranks the words that fit."
    + (" (This model spells the blank " + ui.escape_markdown(blank) + "; a typed [MASK] is read as it.)"
       if blank != "[MASK]" else "")
)
tokens = ui.compute(cached.tokens_of, "encoder", view.encoder, text, stop=True)
labels = token_labels(tokens)
hideable = [i for i, tok in enumerate(tokens) if tok not in analysis.SPECIAL_TOKENS]
typed_masks = tokens.count(blank)
# With no [MASK] typed, hide the last real word (not the full stop) so the view starts useful.
words_only = [i for i in hideable if tokens[i].isalnum()] or hideable
default_hidden = [] if typed_masks or not words_only else [words_only[-1]]
hidden = state.url_multiselect("pr_mask", "Words to hide", hideable, default=default_hidden,
                               format_func=lambda i: labels[i], max_selections=8)
top_k = state.url_widget(st.slider, "pr_k", "How many guesses (top-k)", min_value=1, max_value=20)
fill = ui.compute(cached.mask_predictions, view.encoder, text, tuple(hidden), top_k, kind="info")
if fill is not None:
    # Typing [MASK] is what this part asks for: no note about it.
    ui.show_notes(text, fill.tokens, fill.truncated, models.model_info("encoder", view.encoder).n_positions,
                  skip=lambda note: "[MASK]" in note or blank in note)
    if fill.more_masks:
        st.info(f"Only the first {len(fill.positions)} blanks are shown; {fill.more_masks} more were left out.")
    titles = [f"blank at {token_labels(fill.tokens)[p]} (hidden: {orig})" for p, orig in zip(fill.positions, fill.original)]
    ui.show_figure(vpred.topk_figure(fill.top, titles), "fill", "fill_in.csv")
    if view.encoder == state.BUNDLED:
        st.caption(SMALL_MODELS)
    st.caption(f"What the encoder read (blanks as {ui.escape_markdown(blank)}):")
    st.code(" ".join(fill.tokens), language=None, wrap_lines=True)

# ---------------------------------------------------------------- 2. BERT's masking procedure
st.header("2. How BERT was trained: the 15% / 80-10-10 recipe")
st.markdown(
    "During pre-training, 15% of the tokens of every sentence are **chosen** at random. Of the "
    "chosen ones, 80% are replaced by [MASK], 10% by a random word, and 10% are left unchanged; "
    "the model must predict the original word at **every** chosen position. Why not always "
    "[MASK]? Later, when the model is used, inputs never contain [MASK]: the unchanged 10% teach "
    "it to produce good vectors for ordinary words too, and the random 10% teach it not to trust "
    "the input blindly, so it checks every word against its context. (The original BERT had a second "
    "task at the same time, next-sentence prediction: from [CLS], guess whether sentence B really "
    "followed A. The two losses were simply added.)"
)
seed = state.url_widget(st.number_input, "pr_seed", "Random seed (change it to draw again)",
                        min_value=0, max_value=10**6, step=1)
run = ui.compute(cached.mlm_masking, view.encoder, text, int(seed), kind="info")
if run is not None:
    ui.show_figure(vpred.masking_figure(run.tokens, run.input_tokens, run.actions), "masking", "masking.csv")
    if run.chosen:
        rows = []
        for pos, top, p_orig in zip(run.chosen, run.top, run.p_original):
            rows.append({"position": token_labels(run.tokens)[pos], "what happened": run.actions[pos],
                         "model saw": run.input_tokens[pos],
                         "top guesses": ", ".join(f"{tok} ({p:.0%})" for tok, p in top),
                         "P(original word)": f"{p_orig * 100:.2g}%"})
        st.dataframe(pd.DataFrame(rows), hide_index=True, key="masking_table")
        st.caption(f"{len(run.chosen)} of {sum(a != 'special' for a in run.actions)} ordinary tokens were "
                   "chosen (at least one, even in a short sentence).")

# ---------------------------------------------------------------- 3. left-to-right vs both directions
st.header("3. Next word (decoder) vs fill-in (encoder)")
st.markdown(
    "Hide one word of your sentence. The decoder only sees the words **before** it and guesses "
    "what comes next; the encoder sees the words on **both** sides of the blank. Hide a word in "
    "the middle to see how much the right-hand side helps. A GPT-style decoder is an "
    "*autoregressive* language model: it writes text one token at a time, each new token "
    "becoming context for the next, which is why it suits generation. A BERT-style encoder is a "
    "*denoising* model: it repairs a corrupted sentence it can see whole, which suits "
    "understanding but not writing. Temperature divides the scores before softmax: below 1 the "
    "guesses get more confident, above 1 flatter."
)
st.latex(r"P_T(w) = \frac{\exp(s_w / T)}{\sum_v \exp(s_v / T)}")
words = analysis.words_to_hide(text)
if not words:
    st.info("Your sentence has no word made of letters or digits to hide; type a few words.")
else:
    # Named by the word (and which occurrence), not by a number: other pages number tokens, not words.
    nth = [sum(w[2].lower() == words[i][2].lower() for w in words[:i + 1]) for i in range(len(words))]
    repeated = {w[2].lower() for w in words if sum(v[2].lower() == w[2].lower() for v in words) > 1}
    word_index = state.url_widget(
        st.selectbox, "pr_word", "Word to hide", default=len(words) - 1, options=list(range(len(words))),
        format_func=lambda i: words[i][2] + (f" (occurrence {nth[i]})" if words[i][2].lower() in repeated else ""))
    start, end, hidden_word = words[word_index]
    before, after = text[:start], text[end:]
    temperature = state.url_widget(st.slider, "pr_temp", "Temperature", min_value=0.1, max_value=3.0, step=0.1)
    left, right = st.columns(2)
    with left:
        st.subheader("Decoder: left context only")
        st.code(before.strip() + " ___", language=None, wrap_lines=True)
        if not before.strip():
            st.info("The hidden word is the first one, so the decoder has nothing to read; hide a later word.")
        else:
            guesses = ui.compute(cached.next_tokens, view.decoder, before.strip(), top_k, float(temperature),
                                 kind="info")
            if guesses is not None:
                ui.show_figure(vpred.topk_figure([guesses], [f"next token at T = {temperature:.1f}"]), "next",
                               "next_token.csv")
    with right:
        st.subheader("Encoder: both sides")
        st.code(before + blank + after, language=None, wrap_lines=True)
        both = ui.compute(cached.mask_predictions, view.encoder, before + blank + after, (), top_k, kind="info")
        if both is not None:
            ui.show_figure(vpred.topk_figure(both.top[:1], ["fill-in of the blank"], colour="#E69F00"), "both",
                           "fill_in_hidden_word.csv")
    st.caption("The hidden word was:")
    st.code(hidden_word, language=None)

# ---------------------------------------------------------------- 4. let the decoder write
st.header("4. Let the decoder write")
st.markdown(
    "A decoder writes by predicting one token, appending it, and predicting again. *How* the next token is "
    "picked from the probabilities is the **decoding**: **greedy** always takes the most likely one (the same "
    "text every time, but it easily loops); **sampling** draws at random from the probabilities, after "
    "**top-k** keeps only the k most likely tokens and **top-p** (nucleus) the fewest whose probabilities add up "
    "to p. **No repeated n-gram** forbids any token that would repeat a run of n tokens already in the text. "
    "A seed makes a sample reproducible: the same seed, the same text."
)
settings = st.columns(4)
with settings[0]:
    strategy = state.url_widget(st.radio, "pr_dec", "Decoding", options=list(analysis.STRATEGIES),
                                format_func={"greedy": "greedy", "sample": "sample"}.get, horizontal=True)
    n_new = state.url_widget(st.slider, "pr_n", "Tokens to write (at most)", min_value=1, max_value=60)
with settings[1]:
    gen_temp = state.url_widget(st.slider, "pr_gt", "Temperature (sampling)", min_value=0.1, max_value=2.0,
                                step=0.1, disabled=strategy == "greedy")
    gen_seed = state.url_widget(st.number_input, "pr_gseed", "Seed (sampling)", min_value=0, max_value=10**6,
                                step=1, disabled=strategy == "greedy")
with settings[2]:
    gen_top_k = state.url_widget(st.slider, "pr_topk", "Top-k (0 = off)", min_value=0, max_value=100,
                                 disabled=strategy == "greedy")
    gen_top_p = state.url_widget(st.slider, "pr_topp", "Top-p (1 = off)", min_value=0.05, max_value=1.0,
                                 step=0.05, disabled=strategy == "greedy")
with settings[3]:
    no_repeat = state.url_widget(st.slider, "pr_rep", "No repeated n-gram of size (0 = off)", min_value=0,
                                 max_value=6)
made = ui.compute(cached.writing, view.decoder, text, int(n_new), strategy, float(gen_temp), int(gen_top_k) or None,
                  float(gen_top_p) if gen_top_p < 1 else None, int(no_repeat), int(gen_seed), kind="info")
if made is not None:
    st.code(text.strip() + " \u2192 " + (made.text or "(nothing)"), language=None, wrap_lines=True)
    ending = {"end of text": "it wrote its end-of-text token", "length": f"it reached {int(n_new)} tokens",
              "position limit": "it reached the last position the model can read"}[made.stopped]
    repeats = ("" if np.isnan(made.repeated_trigrams) else
               f" {made.repeated_trigrams:.0%} of the new 3-grams (runs of three tokens) repeat earlier ones.")
    st.caption(f"Decoding: {made.decoding}. It stopped because {ending}.{repeats}"
               + (" The bundled decoder is small (see part 1); gpt2 from the hub writes far better."
                  if view.decoder == state.BUNDLED else ""))
    if not made.steps:
        st.info("The decoder's first choice was to end the text, so there is nothing to step through; "
                "try a sentence without a final full stop, for example 'Once upon a time'.")
    else:
        st.subheader("Watch it generate, one token at a time")
        dec_info = ui.require_model("decoder", view.decoder)
        step = state.url_widget(st.slider, "pr_step", "Step", min_value=1, max_value=len(made.steps)) \
            if len(made.steps) > 1 else 1
        chosen = made.steps[step - 1]
        layer, head = ui.layer_head(dec_info, "pr_gen")
        n_read = made.prompt_len + step - 1
        st.markdown(f"At step {step} the decoder has read {n_read} tokens and writes "
                    f"**{ui.escape_markdown(chosen.token)}** ({chosen.probability:.1%} under this decoding, "
                    f"{chosen.model_probability:.1%} under the model alone)"
                    + (f"; the no-repeat rule banned {chosen.banned} token(s) here." if chosen.banned else "."))
        so_far = list(made.tokens[:n_read])
        st.code(" ".join(so_far) + "  \u2192  " + chosen.token, language=None, wrap_lines=True)
        row = made.rows[layer, head, step - 1, :n_read]
        left, right = st.columns([3, 2])
        with left:
            ui.show_figure(vpred.attention_row_figure(
                so_far, row, f"Where layer {layer}, head {head} looks from the last token read",
                new_from=made.prompt_len), "gen_row", "generation_attention.csv")
        with right:
            ui.show_figure(vpred.topk_figure([chosen.top], [f"step {step}: the next token's top {len(chosen.top)}"],
                                             highlight=chosen.token), "gen_top", "generation_top_k.csv")
        st.caption(f"Blue bars: the prompt (its first token, {analysis.START_MARK}, is the start-of-text token the "
                   "decoder always reads first, so there is something to attend to before the first word); orange "
                   "bars: tokens it wrote itself. Probabilities on the right are after the decoding rules "
                   "(top-k and top-p cut the tail and share its probability among the rest).")

# ---------------------------------------------------------------- 5. switch heads off
st.header("5. Switch attention heads off")
st.markdown(
    "Each head's attention pattern can be multiplied by 0, so that head contributes nothing to "
    "its layer's output. Switch off heads in one layer or in all layers and watch the guesses for "
    "the first blank of part 1 change: some heads matter a lot for a given sentence, many hardly."
)
if fill is None:
    enc_info = ui.compute(models.model_info, "encoder", view.encoder, kind="info")
    if enc_info is not None and enc_info.has_lm_head:
        st.info(f"This part changes the guesses for the first blank of part 1, and part 1 has none: type "
                f"{ui.escape_markdown(blank)} into sentence A or pick a word to hide there.")
    else:
        st.info("This part needs an encoder with a masked-language-model head; load one such as "
                "bert-base-uncased in the sidebar.")
else:
    info = models.model_info("encoder", view.encoder)
    scope = state.url_widget(st.selectbox, "pr_al", "Layers", options=[-1, *range(info.n_layers)],
                             format_func=lambda i: "every layer" if i < 0 else f"layer {i}")
    heads = state.url_multiselect("pr_ah", "Heads to switch off", list(range(info.n_heads)),
                                  format_func=lambda h: f"head {h}")
    layers = range(info.n_layers) if scope < 0 else [scope]
    heads_off = tuple((layer, head) for layer in layers for head in heads)
    if not heads_off:
        st.info("Pick at least one head to switch off.")
    else:
        result = ui.compute(cached.ablation, view.encoder, text, tuple(hidden), heads_off, top_k, stop=True)
        where = "every layer" if scope < 0 else f"layer {scope}"
        st.markdown(f"{len(heads_off)} of {info.n_layers * info.n_heads} heads switched off "
                    f"({len(heads)} per layer, in {where}).")
        blank = token_labels(fill.tokens)[result.position]
        ui.show_figure(vpred.ablation_figure(result.tokens, result.before, result.after,
                                             f"First blank ({blank}): before and after"), "ablation", "ablation.csv")
        change = float(np.abs(result.after - result.before).max())
        st.caption(f"Largest change in probability among these words: {change:.1%}.")
