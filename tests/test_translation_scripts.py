"""The translator's corpus and training scripts: catalog reading, the cleaning rules, batches for teacher forcing."""
from __future__ import annotations

import gettext
import random
from pathlib import Path

import pytest
import torch

CATALOG = Path("/usr/share/locale/fr/LC_MESSAGES/coreutils.mo")


@pytest.fixture(scope="module")
def corpus(script):
    return script("build_translation_corpus")


@pytest.mark.skipif(not CATALOG.exists(), reason="this machine has no French coreutils catalog")
def test_reading_a_catalog_agrees_with_pythons_gettext(corpus):
    ours = corpus.read_mo(CATALOG)
    with open(CATALOG, "rb") as f:
        theirs = gettext.GNUTranslations(f)._catalog          # the standard library's own parse (an oracle)
    singular = {k: v for k, v in theirs.items() if isinstance(k, str)}
    plain = {k: v for k, v in ours.items() if "\x00" not in k and k}
    assert {k: plain[k] for k in list(singular)[:500] if k in plain} == {k: singular[k] for k in list(singular)[:500]
                                                                          if k in plain}
    assert len(plain) >= 0.9 * len([k for k in singular if k])


def test_cleaning_rules(corpus):
    pairs = corpus.message_pairs
    assert pairs("_Open the file", "_Ouvrir le fichier") == [("Open the file", "Ouvrir le fichier")]
    assert pairs("menu\x04&Save", "&Enregistrer") == [("Save", "Enregistrer")]           # context dropped
    assert pairs("%d file\x00%d files", "%d fichier\x00%d fichiers") == [("%d file", "%d fichier"),
                                                                           ("%d files", "%d fichiers")]
    assert pairs("one\ntwo", "un\ndeux") == [("one", "un"), ("two", "deux")]
    assert pairs("one\ntwo", "un deux") == []                                              # lines do not align
    assert pairs("<b>Bold</b> text", "<b>Gras</b>") == []                                  # markup
    assert pairs("gzip", "gzip") == [] and pairs("", "") == [] and pairs("x", "") == []    # untranslated, header
    assert pairs("use  --help\u00a0now", "utilisez\u00a0--help") == [("use --help now", "utilisez --help")]
    assert pairs("file_name is %s", "nom_de_fichier est %s") == [("file_name is %s", "nom_de_fichier est %s")]


def test_batches_shift_the_target_right_for_teacher_forcing(script):
    train = script("train_translator")
    data = [([5, 6, 1], [7, 8, 9, 1]), ([5, 1], [7, 1]), ([4, 4, 4, 4, 1], [3, 1])]
    batches = train.make_batches(data, batch_tokens=10, rng=random.Random(0))
    assert sorted(i for b in batches for i in b) == [0, 1, 2]
    input_ids, mask, decoder_inputs, decoder_mask, labels = train.collate(data, [0, 1], "cpu")
    assert decoder_inputs.tolist() == [[0, 7, 8, 9], [0, 7, 0, 0]]            # start token (pad id 0), then shifted
    assert labels.tolist() == [[7, 8, 9, 1], [7, 1, -100, -100]]
    assert mask.tolist() == [[1, 1, 1], [1, 1, 0]] and decoder_mask.tolist() == [[1, 1, 1, 1], [1, 1, 0, 0]]
    assert torch.equal(input_ids[1, :2], torch.tensor([5, 1]))
