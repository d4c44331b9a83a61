"""Guided tours: BERT, GPT and the encoder-decoder, a few plain sentences and one question per step.

A step names a page and the options it opens with (``presets``, names of ``state.PARAMS``); the sentence is
always the user's own. The step lives in the URL (``?tour=bert&step=5``), so a teacher projects step 5 and
the students' links open the same view. ``show()`` (called by app.py above every page) draws the step,
applies its presets once when the step is entered, and moves to its page.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import streamlit as st

from .state import param_value, preset, set_param

APPLIED = "_tour_applied"   # session key: the (tour, step) whose presets were applied


@dataclass(frozen=True)
class Step:
    title: str
    text: str
    question: str
    page: str                                   # the page's title in the navigation
    presets: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Tour:
    title: str
    steps: tuple[Step, ...]


ENC, DEC = {"model": "encoder"}, {"model": "decoder"}

TOURS: dict[str, Tour] = {
    "bert": Tour("BERT, the encoder that reads both ways", (
        Step("Every head at a glance",
             "BERT reads the whole sentence at once. Each tile is one attention head: rows are the tokens asking "
             "(queries), columns the tokens answering (keys). Six layers of twelve heads each read your sentence.",
             "Which tiles look alike? What could a head that draws a diagonal line be doing?",
             "Attention", {**ENC, "at_hide": False, "at_summaries": False}),
        Step("Heads with a job",
             "Some heads do one simple thing everywhere: look at the previous word, the next word, or park on "
             "[CLS] and [SEP] when they have nothing to do. The head finder ranks every head by such a job.",
             "Which layer holds the head that looks one word back? Why would a model need such a head?",
             "Attention", {**ENC, "at_find": "previous token"}),
        Step("What does 'it' refer to?",
             "Pick a word and the word it refers to: the head finder ranks the heads by the weight between them. "
             "Hide [CLS]/[SEP] so the rest of each row is shared out again.",
             "Does one head resolve the pronoun, or several? Try your own sentence with a pronoun.",
             "Attention", {**ENC, "at_find": "a word to another word", "at_hide": True}),
        Step("Scores, softmax, weights",
             "One head, step by step: queries times keys, divided by the square root of the head's width, then "
             "softmax turns each row into weights that add up to 1.",
             "Why divide by the square root of d_k? What would softmax do with very large scores?",
             "Walkthrough", {**ENC}),
        Step("Padding, made real",
             "Sentences of different lengths are padded to run as one batch. The padding mask stops every token "
             "from looking at [PAD]: those cells are grey, and the real tokens' rows do not change.",
             "Why must padding get exactly zero weight, and not just a small one?",
             "Masks", {**ENC}),
        Step("Where the position comes from",
             "Attention alone does not know word order. BERT adds a learned vector per position to every token's "
             "vector; the original Transformer used fixed waves.",
             "If we shuffled the words but kept the positions, what would BERT see?",
             "Positional encoding", {}),
        Step("Three tables, one sum",
             "A token's first vector is the sum of three rows: the token's, its position's and its sentence's "
             "(A or B). Everything BERT computes starts from these sums.",
             "Why add the vectors instead of putting them side by side?",
             "Embeddings", {}),
        Step("Fill in the blank",
             "BERT is trained to guess hidden words from both sides. Type [MASK] into your sentence, or pick a word "
             "to hide, and see its guesses.",
             "Which guesses use the words to the right of the blank?",
             "Predictions", {}),
        Step("The 15% / 80-10-10 recipe",
             "In training, 15% of the tokens are chosen; of those 80% become [MASK], 10% a random word, 10% stay. "
             "The model must predict the original word at every chosen position.",
             "Why not always use [MASK]? What would go wrong later, when real inputs contain no [MASK]?",
             "Predictions", {}),
        Step("BERT among its relatives",
             "RoBERTa, ALBERT, XLNet, UniLM, MASS and XLM change what is hidden, what is predicted and which "
             "tokens may see which. Each card draws its mask.",
             "Which of these could also write text, and which can only read?",
             "Objectives", {"ob_show": "bert,roberta,albert,xlnet"}),
    )),
    "gpt": Tour("GPT, the decoder that writes left to right", (
        Step("A decoder's heads",
             "GPT reads left to right: each token may only look at itself and the tokens before it. Every tile is "
             "a triangle, and the grey half is the future it may not see.",
             "Why must a model that writes text be forbidden to look ahead?",
             "Attention", {**DEC, "at_hide": False}),
        Step("The start token",
             "Every text starts with a start-of-text token. Many heads put their spare weight there, because the "
             "first tokens have almost nothing else to look at.",
             "What does the first word of a sentence have to look at, if not the start token?",
             "Attention", {**DEC, "at_find": "first token"}),
        Step("The causal mask, step by step",
             "Scores for future tokens are replaced by minus infinity before softmax, so their weight is exactly 0. "
             "Compare BERT's mask with GPT's on the same sentence.",
             "Which rows are the same in both models? Which one changes when a word is appended?",
             "Masks", {"model": "decoder", "mk_prefix": True}),
        Step("Appending a word changes nothing before it",
             "Append a word: GPT's earlier rows stay exactly the same, because no earlier token could see the new "
             "one. BERT's rows all change.",
             "Why does this make generation fast (think of what can be reused)?",
             "Masks", {"model": "decoder", "mk_prefix": True}),
        Step("Next word vs fill-in",
             "Hide a word: the decoder guesses it from the left only, the encoder from both sides.",
             "When does the right-hand side matter most? Try hiding a word in the middle.",
             "Predictions", {}),
        Step("Temperature",
             "Dividing the scores by a temperature before softmax makes the guesses sharper (below 1) or flatter "
             "(above 1).",
             "What happens to the top guess at temperature 0.1, and at 3?",
             "Predictions", {"pr_temp": 0.5}),
        Step("Greedy loops",
             "Greedy decoding always takes the most likely token. It is reproducible but often repeats itself: "
             "the page counts the repeated three-token runs.",
             "Why would the most likely next word, again and again, lead to a loop?",
             "Predictions", {"pr_dec": "greedy", "pr_rep": 0, "pr_n": 30}),
        Step("Sampling, top-k, top-p",
             "Sampling draws the next token at random from the probabilities; top-k and top-p cut off the "
             "unlikely tail first. A seed makes the draw reproducible.",
             "Same seed, same text: why is that useful in a classroom?",
             "Predictions", {"pr_dec": "sample", "pr_topp": 0.9, "pr_gt": 0.8, "pr_rep": 3}),
        Step("Watch it generate",
             "Step through the continuation token by token: the top guesses at each step, and where one head "
             "looked from the last token read.",
             "At which step did the model pick a token that was not its top guess, and why could that happen?",
             "Predictions", {"pr_step": 3}),
        Step("GPT among its relatives",
             "GPT predicts the next token from the left; ELMo runs two one-way models; UniLM's prefix LM lets the "
             "prompt see both ways and the answer only the past.",
             "Which objective would you pick to train a model that both reads and writes?",
             "Objectives", {"ob_show": "gpt,elmo,unilm"}),
    )),
    "mt": Tour("The encoder-decoder: translation with cross-attention", (
        Step("The translation",
             "The original Transformer has two stacks: an encoder reads the English sentence, a decoder writes the "
             "French one token by token.",
             "What does the decoder need from the encoder at every step?",
             "Translation", {}),
        Step("Cross-attention",
             "Each French token's cross-attention row shows which English tokens it read. In a good head the "
             "weight follows the word being translated.",
             "Find a head whose weights run roughly along a diagonal. Where does word order differ?",
             "Translation", {"tr_view": "heatmap"}),
        Step("Cross-attention as lines",
             "The same weights as lines from each produced token to the source tokens it reads.",
             "Which French words read more than one English word?",
             "Translation", {"tr_view": "lines"}),
        Step("Three kinds of attention",
             "Encoder self-attention (both ways), decoder self-attention (causal: grey future) and "
             "cross-attention (every step may read the whole source) side by side.",
             "Why may the decoder read the whole source but not its own future?",
             "Translation", {}),
        Step("Generation, step by step",
             "At each step the decoder scores every token of its vocabulary; greedy decoding takes the best, "
             "beam search keeps several candidates.",
             "When would keeping several candidates give a better translation?",
             "Translation", {"tr_step": 1}),
        Step("Beam search",
             "With four beams the translator keeps the four best partial translations at each step.",
             "Did the translation change with four beams? Which one is better?",
             "Translation", {"tr_beams": 4}),
        Step("Teacher forcing",
             "In training the decoder reads the reference translation shifted by one, and predicts every next "
             "token at once: the causal mask makes that equal to step-by-step decoding.",
             "Why is training all positions at once possible here but not at generation time?",
             "Translation", {"tr_beams": 1}),
        Step("Sinusoidal positions",
             "This translator, like the original paper, adds fixed sine and cosine waves for positions; a fixed "
             "offset between two positions is a rotation.",
             "Why could fixed waves help with sentences longer than any seen in training?",
             "Positional encoding", {}),
        Step("Pre-training for translation",
             "MASS hides a span and lets a decoder write it; XLM puts a sentence and its translation side by side "
             "and masks words in both.",
             "How does XLM's masking teach the model which English word goes with which French word?",
             "Objectives", {"ob_show": "mass,xlm"}),
    )),
}


def current() -> tuple[str, Tour, int] | None:
    """The tour in view and its step (0-based, clamped), from the URL or this session; None when none is."""
    name = str(param_value("tour") or "")
    if name not in TOURS:
        return None
    tour = TOURS[name]
    step = min(max(int(param_value("step") or 1), 1), len(tour.steps)) - 1
    return name, tour, step


def _go(name: str, step: int) -> None:
    """Button callback: move to a step (1-based), or end the tour (step 0)."""
    if step == 0:
        set_param("tour", "", widget_key="w_tour")
        st.session_state.pop(APPLIED, None)
        return
    set_param("step", step)


def show(pages: dict[str, Any], current_title: str) -> None:
    """Draw the step in view above the page; on entering a step, apply its presets and open its page."""
    found = current()
    if found is None:
        return
    name, tour, index = found
    step = tour.steps[index]
    if st.session_state.get(APPLIED) != (name, index):
        st.session_state[APPLIED] = (name, index)
        preset(step.presets)
        set_param("step", index + 1)
        if step.page != current_title:
            st.switch_page(pages[step.page])
    with st.container(border=True):
        st.markdown(f"**Tour: {tour.title}**, step {index + 1} of {len(tour.steps)}: **{step.title}**")
        st.markdown(step.text)
        st.info(f"Ask the class: {step.question}")
        back, forward, end = st.columns([1, 1, 4])
        back.button("Back", key="tour_back", disabled=index == 0, on_click=_go, args=(name, index))
        forward.button("Next", key="tour_next", disabled=index + 1 == len(tour.steps), on_click=_go,
                       args=(name, index + 2))
        end.button("End the tour", key="tour_end", on_click=_go, args=(name, 0))
