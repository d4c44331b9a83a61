"""Translation: the original Transformer (encoder-decoder) at work, its cross-attention, its three kinds of
attention, generation step by step, and teacher forcing."""
import numpy as np
import streamlit as st

import analysis
from services import cached, state, ui
from viz import predictions as vpred
from viz import translation as vt

# In-domain examples: messages of the held-out test split (the translator never saw them), with the
# human translation from the same catalog as the reference; then one everyday sentence.
EXAMPLES = (
    ("Authentication is required to set the system time.",
     "Authentification requise pour définir l’heure du système."),
    ("The signature is incompatible with the public key.", "La signature est incompatible avec la clef publique."),
    ("Create a subdirectory under the mount point.", "Créez un sous-répertoire sous le point de montage."),
    ("Your system can't display dates beyond 2038.", "Le système ne peut pas afficher les dates au-delà de 2038."),
    ("Time after which the cursor stops blinking, in seconds.",
     "Délai à partir duquel le curseur cesse de clignoter, en secondes."),
    ("Unable to determine your tty name.", "Impossible de déterminer votre nom tty."),
    ("Amount of red light in the color.", "Quantité de rouge dans la couleur."),
    ("The cat is sleeping on the warm bed.", ""),
)
# Candidates kept per decoding step (the page shows the first tr_k of them).
MAX_CANDIDATES = 15
EXAMPLE_LABELS = [source if ref else f"{source} (everyday, outside the domain)" for source, ref in EXAMPLES]


def _use_example() -> None:
    """Button callback: the chosen example becomes sentence A and the reference."""
    label = st.session_state.get("tr_example")
    source, reference = EXAMPLES[EXAMPLE_LABELS.index(label)] if label in EXAMPLE_LABELS else EXAMPLES[0]
    state.set_param("a", source, widget_key="w_a")
    state.set_param("tr_ref", reference, widget_key="w_tr_ref")


st.title("Translation")
st.markdown(
    "The original Transformer (Vaswani et al., 2017) has two halves. The **encoder** reads the whole English "
    "sentence at once, every token looking at every other (bidirectional self-attention). The **decoder** writes "
    "the French sentence one token at a time: each new token looks at the French tokens already written "
    "(**masked** self-attention, the causal mask) and, through **cross-attention**, at the encoder's output for "
    "every English token. In cross-attention the queries come from the decoder, the keys and values from the encoder."
)
st.latex(r"\mathrm{CrossAttention}(X, H) = \mathrm{softmax}\!\left(\frac{(X W_Q)(H W_K)^{\top}}{\sqrt{d_{head}}}\right)"
         r"H W_V,\qquad X:\ \text{decoder stream},\ H:\ \text{encoder output}")

with st.sidebar:
    st.header("Translation examples")
    st.selectbox("Messages the translator never saw in training", EXAMPLE_LABELS, key="tr_example")
    st.button("Translate this example", on_click=_use_example, key="tr_use_example")

view = state.view()
info = ui.require_model("seq2seq", view.translator)
# The bundled model's languages by name; a loaded one may translate between others (or, BART, denoise).
languages = vt.LANGUAGES if view.translator in (state.BUNDLED, state.TINY) else ("source", "target")
source_lang, target_lang = languages
ui.require_text(view, "translate it")
st.caption(
    "The bundled translator learned from the English and French messages of Debian's programs (menus, errors, "
    "help texts): it translates software messages well and everyday sentences poorly. The sidebar's "
    "translation examples are messages it never saw in training."
)
if view.sentence_a == state.DEFAULT_SENTENCE:
    st.info("Sentence A is the app's everyday example, outside this translator's domain. For a fair first look, "
            "pick one of the translation examples in the sidebar.")
    st.button("Use an in-domain example", on_click=_use_example, key="tr_use_first")

controls = st.columns(4)
with controls[0]:
    beams = state.url_widget(st.selectbox, "tr_beams", "Decoding", options=[1, 2, 3, 4, 5],
                             format_func=lambda n: "greedy" if n == 1 else f"beam search, {n} beams")
with controls[1]:
    max_new = state.url_widget(st.slider, "tr_max", "Longest translation (tokens)", min_value=4, max_value=128)
layer, head = ui.layer_head(info, "tr", controls[2:])

with st.spinner("Translating ..."):
    run = ui.compute(cached.translation, info.model_id, view.sentence_a, max_new, beams, MAX_CANDIDATES, stop=True)
for note in analysis.translation_notes(view.sentence_a, run.source_tokens, run.truncated, run.n_positions,
                                       run.ended, max_new):
    st.info(ui.escape_markdown(note))

# ---------------------------------------------------------------- 1. the translation
st.header("1. The translation")
decoding = "greedy decoding (the most likely token at every step)" if beams == 1 else \
    f"beam search with {beams} beams (the best of {beams} partial translations kept at every step)"
st.markdown(f"**{ui.escape_markdown(info.name)}**, {decoding}:")
st.code(run.text or "(empty)", language=None, wrap_lines=True)
reference = state.url_widget(st.text_input, "tr_ref", "Reference translation (optional)",
                             help="A human translation of sentence A: used for teacher forcing (part 5).")
st.caption(f"The encoder read {len(run.source_tokens)} tokens: " + ui.escape_markdown(" ".join(run.source_tokens))
           + ui.escape_markdown(". ▁ marks the start of a word; </s> ends the sentence. Both languages share one vocabulary."))

# ---------------------------------------------------------------- 2. cross-attention
st.header(f"2. Cross-attention: which {source_lang} tokens each {target_lang} token reads")
st.markdown(
    f"Each **row** is a step of the decoder, labelled by the {target_lang} token it produced; each **column** is a "
    f"{source_lang} token. A row is that step's attention over the source: it sums to 1. Heads that align words "
    f"put their weight on the {source_lang} word being translated."
)
shape = state.url_widget(st.radio, "tr_view", "Draw it as", options=["heatmap", "lines"], horizontal=True)
one_head = run.cross[layer, head]
draw = vt.cross_heatmap if shape == "heatmap" else vt.cross_lines
views = ((one_head, f"Layer {layer}, head {head}", "cross", f"cross_L{layer}H{head}.csv"),
         (run.cross[layer].mean(axis=0), f"Layer {layer}, mean of the heads", "cross_mean", f"cross_L{layer}_mean.csv"))
for column, (pattern, title, key, file_name) in zip(st.columns(2), views):
    with column:
        scale = {"zmax": ui.weight_max()} if shape == "heatmap" else {}
        ui.show_figure(draw(pattern, run.source_tokens, run.produced, title=title, languages=languages, **scale),
                       key, file_name)
# Drawn only while open (on_change="rerun"): 48 small heatmaps were a third of every rerun's server time.
grid = st.expander("Every layer and head at a glance (click a tile to open that head)", key="tr_grid_open",
                   on_change="rerun")
if grid.open:
    with grid:
        ui.show_figure(vt.cross_grid(run.cross, run.source_tokens, run.produced, (layer, head), languages,
                                     zmax=ui.weight_max()),
                       "cross_grid", "cross_all_heads.csv", on_select=ui.open_clicked_head("fig_cross_grid", "tr"),
                       selection_mode="points")

# ---------------------------------------------------------------- 3. three kinds of attention
st.header("3. Three kinds of attention in one Transformer")
st.markdown(
    f"The same run, layer {layer}, head {head}. Grey cells are blocked by the mask. The encoder blocks nothing "
    f"(every {source_lang} token sees every other); the decoder's self-attention blocks the upper triangle (a step cannot "
    "see tokens not yet written); cross-attention blocks nothing (every step may read the whole source; with a "
    "padded batch the padding columns would be blocked)."
)
ui.show_figure(vt.three_attentions(run.encoder_self[layer, head], run.decoder_self[layer, head], one_head,
                                   run.source_tokens, run.target_inputs, run.produced, languages,
                                   zmax=ui.weight_max()),
               "three", f"three_attentions_L{layer}H{head}.csv")

# ---------------------------------------------------------------- 4. step by step
st.header("4. Generation, step by step")
st.markdown(
    "At step t the decoder reads the start token and the t tokens written so far, and outputs a probability for "
    "every token of the vocabulary; greedy decoding keeps the most likely one and starts the next step. The row of "
    "step t in each attention map above is what that step looked at."
)
st.latex(r"P(y_t \mid y_{<t}, x) = \mathrm{softmax}(h_t W_{\mathrm{vocab}}^{\top} + b),\qquad "
         r"\hat y_t = \arg\max_w P(w \mid y_{<t}, x)")
n_steps = len(run.produced)
step = 0
if n_steps > 1:
    step = min(int(state.url_widget(st.slider, "tr_step", "Step", min_value=0, max_value=n_steps - 1)), n_steps - 1)
so_far = run.target_inputs[: step + 1]
st.markdown(f"**Step {step}**: the decoder has read {ui.escape_markdown(' '.join(so_far))} and produced "
            f"**{ui.escape_markdown(run.produced[step])}** (probability {run.chosen[step]:.1%}). The first input, "
            f"{ui.escape_markdown(run.target_inputs[0])}, is the start token: something to read before any word is "
            "written (Marian uses its padding token for it).")
top_k = state.url_widget(st.slider, "tr_k", "Candidates shown (top-k)", min_value=1, max_value=MAX_CANDIDATES)
ui.show_figure(vpred.topk_figure([run.top[step][:top_k]], [f"step {step}: the next token's candidates"]),
               "step_top", f"step{step}_candidates.csv")
ui.show_figure(vt.step_rows(run.cross[layer, head, step], run.decoder_self[layer, head, step, : step + 1],
                            run.source_tokens, so_far, title=f"Step {step}, layer {layer}, head {head}",
                            languages=languages),
               "step_rows", f"step{step}_L{layer}H{head}_rows.csv")
if beams > 1:
    st.caption("With beam search the tokens shown are the winning beam's; the candidates are the model's "
               "probabilities after that beam's prefix.")

# ---------------------------------------------------------------- 5. teacher forcing
st.header("5. Teacher forcing: how the translator was trained")
st.markdown(
    "In training the decoder is not fed its own guesses: it is given the reference translation shifted right by "
    "one (the start token first) and predicts every next token **in one parallel pass**. The causal mask makes "
    "this honest: row t cannot see the reference token it must predict. The loss is the mean cross-entropy of "
    "the reference tokens."
)
st.latex(r"\mathcal{L} = -\frac{1}{T}\sum_{t=1}^{T}\log P(r_t \mid r_{<t}, x)")
if not reference.strip():
    st.info("Type a reference translation above (or pick a translation example in the sidebar: they come with one) "
            "to see teacher forcing.")
    st.stop()
forced = ui.compute(cached.teacher_forcing, info.model_id, view.sentence_a, reference, stop=True)
if forced.truncated:
    st.info(f"The reference is longer than {run.n_positions} tokens; only its first ones are scored.")
perplexity = float(np.exp(forced.loss))
cols = st.columns(3)
cols[0].metric("Loss (nats per token)", f"{forced.loss:.3f}")
cols[1].metric("Perplexity", f"{perplexity:.2f}")
cols[2].metric("Reference tokens", len(forced.reference_tokens))
ui.show_figure(vt.reference_probs(forced.reference_tokens, forced.probs,
                                  title="Each reference token's probability, all predicted in one pass"),
               "forced_probs", "teacher_forcing.csv")
equal = forced.max_difference < 1e-4
(st.success if equal else st.error)(
    f"Check: the decoder was also run step by step on the first {forced.checked_steps} prefixes of the reference, "
    f"one pass each. Its next-token logits and every layer's attention rows {'agree with' if equal else 'do NOT agree with'} the parallel "
    f"pass's to within float32 rounding (largest difference {forced.max_difference:.1e})"
    + (": teacher forcing computes exactly what step-by-step decoding would, all at once." if equal else ".")
)
ui.show_figure(vt.cross_heatmap(forced.cross[layer, head], run.source_tokens, forced.reference_tokens,
                                zmax=ui.weight_max(), title=f"Cross-attention while reading the reference, layer {layer}, head {head}",
                                languages=languages),
               "forced_cross", f"teacher_forcing_cross_L{layer}H{head}.csv")
