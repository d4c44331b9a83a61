"""The training corpus's rules on Ding's entries (sentences, phrases) and the held-out split (scripts/build_corpus.py),
and the sampling weights the trainings draw lines with (scripts/bundled_common.line_weights)."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
import build_corpus  # noqa: E402
import bundled_common  # noqa: E402

# Three entries in the dictionary's own format (German :: English, '|' between senses, '; ' between alternatives).
DING = """# Version :: 1.9
Regenschirm {m}; Schirm {m} [ugs.] | Regenschirme {pl} | einen Schirm aufspannen | einen Schirm zusammenfalten \
:: umbrella; brolly [Br.] [coll.] | umbrellas | to open an umbrella | to fold (up) an umbrella
wenn; falls {conj} | Wenn es regnet, bleiben wir zu Hause. | Wenn du Geld brauchst, kann ich dir welches borgen. \
:: if; should | If it rains, we'll stay at home. | If you need money, I can lend you some.
etw. öffnen {vt} | einen Schirm aufspannen | etw. aufmachen :: to open sth. | to open an umbrella | to open sth./sb. up
"""


@pytest.fixture
def ding(tmp_path, monkeypatch):
    path = tmp_path / "de-en"
    path.write_text(DING, encoding="utf-8")
    monkeypatch.setattr(build_corpus, "DING_FILE", path)


def test_dings_sentences_and_phrases_are_told_apart(ding):
    assert build_corpus.ding_lines() == ["If it rains, we'll stay at home.", "If you need money, I can lend you some."]
    # lowercase, three words or more, each once, notes "(up)" removed, placeholders (sth., sb.) left out
    assert build_corpus.ding_phrase_lines() == ["to fold an umbrella", "to open an umbrella"]


def test_a_train_only_source_leaves_the_held_out_lines_as_they_were():
    sources = {"wordnet": [f"gloss {i}" for i in range(50)], "ding": [f"Sentence {i}." for i in range(30)]}
    train, valid = build_corpus.split_lines(sources, valid_lines=10)
    phrases = [f"a phrase {i}" for i in range(40)]
    train_more, valid_more = build_corpus.split_lines({**sources, "ding-phrases": phrases}, valid_lines=10)
    assert valid_more == valid
    assert sorted(train_more) == sorted(train + phrases)
    assert build_corpus.split_lines({**sources, "ding-phrases": phrases}, valid_lines=10) == (train_more, valid_more)


def test_line_weights_draw_glosses_sentences_and_phrases_as_asked(ding):
    texts = ["umbrella: a canopy that protects you from the rain.", "If it rains, we'll stay at home.",
             "to open an umbrella", "A fortune cookie says hello."]
    assert bundled_common.line_weights(texts, 1.0, 1.0, 1.0) is None        # all weights 1: uniform draws
    cumulative = bundled_common.line_weights(texts, 0.5, 4.0, 2.0)
    np.testing.assert_allclose(np.diff(cumulative, prepend=0.0), np.array([0.5, 4.0, 2.0, 1.0]) / 7.5)
    draws = np.random.default_rng(0).random(20_000)
    counts = np.bincount(bundled_common.pick_lines(cumulative, draws), minlength=4) / draws.size
    np.testing.assert_allclose(counts, [0.5 / 7.5, 4 / 7.5, 2 / 7.5, 1 / 7.5], atol=0.01)
