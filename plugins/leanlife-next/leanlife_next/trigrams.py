"""Character-trigram similarity of a phrase to every window of a corpus (numpy, not learned).

It catches what word vectors miss: plurals ('staff member' / 'staff members'), misspellings
('outrageous' / 'outragous') and words without a vector. Each phrase word is compared with
the window word at the same offset by the Dice overlap of their trigram sets (with '#' as
word boundary); the window scores the mean over the phrase's words.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from leanlife_next.execute import Corpus
from leanlife_next.logic import Phrase


def trigrams(word: str) -> set[str]:
    padded = f"#{word}#"
    return {padded[i:i + 3] for i in range(len(padded) - 2)}


class TrigramMatcher:
    """``[N, T]`` trigram similarity of a phrase starting at each token of one corpus; per-word
    rows are cached, since the corpus and the similarity do not change during training."""

    def __init__(self, corpus: Corpus):
        self.corpus = corpus
        words = [""] * len(corpus.vocab)
        for word, row in corpus.vocab.items():
            words[row] = word
        self.sizes = np.array([len(trigrams(w)) for w in words], dtype=np.float32)
        self.index: dict[str, list[int]] = defaultdict(list)  # trigram -> vocabulary rows
        for row, word in enumerate(words):
            for gram in trigrams(word):
                self.index[gram].append(row)
        self.rows: dict[str, np.ndarray] = {}

    def word_similarity(self, word: str) -> np.ndarray:
        """Dice similarity of ``word`` to every vocabulary word, plus a trailing 0 for padding."""
        if word not in self.rows:
            grams = trigrams(word)
            shared = np.zeros(len(self.sizes) + 1, dtype=np.float32)
            for gram in grams:
                shared[self.index.get(gram, [])] += 1
            shared[:-1] = 2 * shared[:-1] / (len(grams) + self.sizes)
            self.rows[word] = shared
        return self.rows[word]

    def __call__(self, phrase: Phrase, corpus: Corpus) -> np.ndarray:
        if corpus is not self.corpus:
            raise ValueError("this matcher was built for another corpus")
        ids = corpus.ids
        size, width = ids.shape
        total = np.zeros((size, width), dtype=np.float32)
        for offset, word in enumerate(phrase.words):
            shifted = np.full((size, width), -1, dtype=np.int32)  # -1 reads the padding 0
            shifted[:, :width - offset] = ids[:, offset:]
            total += self.word_similarity(word)[shifted]
        return total / max(len(phrase.words), 1)
