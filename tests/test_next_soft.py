"""The pieces of NExT's soft phrase scores: trigram similarity and per-phrase calibration."""

from __future__ import annotations

import numpy as np

from leanlife_next.execute import Corpus
from leanlife_next.logic import Phrase
from leanlife_next.soft import calibrate
from leanlife_next.tokens import instance_from_placeholders
from leanlife_next.trigrams import TrigramMatcher


def test_trigrams_match_plurals_and_misspellings_but_not_other_words():
    corpus = Corpus([instance_from_placeholders(s) for s in (
        "the SUBJ-O talked to staff members about OBJ-O",
        "the SUBJ-O was outragous for OBJ-O",
        "the SUBJ-O walked to the OBJ-O")])
    matcher = TrigramMatcher(corpus)
    plural = matcher(Phrase(("staff", "member")), corpus)
    misspelt = matcher(Phrase(("outrageous",)), corpus)  # not in the corpus vocabulary at all
    assert plural[0].max() > 0.8 and plural[0].argmax() == 4
    assert misspelt[1].max() > 0.5 and misspelt[1].argmax() == 3
    assert plural[2].max() < 0.3 and misspelt[2].max() < 0.3


def test_calibration_keeps_only_windows_above_the_phrases_own_quantile():
    rng = np.random.default_rng(0)
    scores = rng.uniform(0.5, 0.7, (50, 10)).astype(np.float32)  # a phrase that scores 0.6 anywhere
    scores[3, 2], scores[7, 5] = 1.0, 0.9
    valid = np.ones_like(scores, dtype=bool)
    calibrated = calibrate(scores, valid, 0.99)
    assert calibrated[3, 2] == 1.0 and 0 < calibrated[7, 5] < 1
    assert (calibrated > 0).sum() <= 5  # the top 1% of 500 windows
    assert np.array_equal(calibrate(scores, valid, 0.0), scores)  # 0 switches it off
