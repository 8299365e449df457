"""The fast path of agreement (counts handed to the libraries: weighted rows, pooled units)
gives the figures the libraries give on the items themselves: random fixtures, expected
values from scikit-learn and krippendorff called on per-item arrays (no database)."""

from __future__ import annotations

import random
from itertools import combinations

import krippendorff
import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score, f1_score

from leanlife_server import agreement
from leanlife_server.agreement import (
    TOKEN_PATTERN,
    LabelTables,
    SpanItems,
    label_agreement,
    span_agreement,
    span_disagreements,
    tokenize,
)


def library_alpha(reliability_data) -> float:
    return float(krippendorff.alpha(reliability_data=np.array(reliability_data, dtype=float),
                                    level_of_measurement="nominal"))


def same(actual, expected) -> bool:
    return actual == pytest.approx(expected, rel=1e-12, abs=1e-12)


def value_counts(reliability_data: np.ndarray) -> np.ndarray:
    """units x values 0..max: how many coders gave each value."""
    values = int(np.nanmax(reliability_data)) + 1
    return np.stack([(reliability_data == v).sum(axis=0) for v in range(values)], axis=1)


def reliability(seed: int, coders: int = 4, units: int = 400, values: int = 3) -> np.ndarray:
    """coders x units: mostly agreeing (most units unanimous), some missing."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, values, units)
    data = np.where(rng.random((coders, units)) < 0.85, truth, rng.integers(0, values, (coders, units)))
    return np.where(rng.random((coders, units)) < 0.15, np.nan, data.astype(float))


@pytest.mark.parametrize("seed", range(5))
def test_alpha_of_pooled_units_equals_the_library_on_every_unit(seed, monkeypatch):
    data = reliability(seed)
    expected = library_alpha(data)
    counts = value_counts(data)
    assert same(agreement._alpha(counts), expected)
    rows, units = np.unique(counts, axis=0, return_counts=True)  # each distinct unit once, weighted
    assert len(rows) < len(counts)
    assert same(agreement._alpha(rows, units), expected)
    monkeypatch.setattr(agreement, "POOLED_CODERS", 5)  # pooled units split into many pieces
    assert same(agreement._alpha(rows, units), expected)


def test_alpha_is_undefined_without_two_values_or_a_shared_unit():
    assert agreement._alpha(np.array([[3, 0], [2, 0]])) is None  # one value in all the data
    assert agreement._alpha(np.array([[1, 0], [0, 1]])) is None  # no unit with two coders
    assert agreement._alpha(np.array([[2, 0], [0, 2]])) == 1.0


@pytest.mark.parametrize("seed", range(5))
def test_f1_from_counts_equals_f1_on_items(seed):
    rng = np.random.default_rng(seed)
    first, second = rng.random(200) < 0.6, rng.random(200) < 0.5
    either = first | second
    both = int((first & second).sum())
    expected = f1_score(first[either], second[either])
    assert same(agreement._f1(both, int(first.sum()) - both, int(second.sum()) - both), expected)
    assert agreement._f1(0, 3, 0) == 0.0 and agreement._f1(0, 0, 0) is None


@pytest.mark.parametrize("seed", range(3))
def test_label_agreement_of_aggregated_rows_equals_the_libraries(seed):
    data = reliability(seed, coders=3, units=300)  # coders x units, label ids 0..2 (+10 below)
    rows, units = np.unique(np.nan_to_num(data.T, nan=-1), axis=0, return_counts=True)
    values = np.where(rows < 0, np.nan, rows + 10)
    tables = LabelTables(np.array([7, 8, 9]), values, units, {v: frozenset([v]) for v in (10, 11, 12)})
    labels = {10: "a", 11: "b", 12: "c"}
    figures = label_agreement(tables, labels)
    kappas = []
    for pair, (i, j) in zip(figures["pairs"], combinations(range(3), 2)):
        both = ~np.isnan(data[i]) & ~np.isnan(data[j])
        kappas.append(cohen_kappa_score(data[i, both], data[j, both]))
        assert same(pair["kappa"], kappas[-1]) and pair["items"] == both.sum()
        for lid, name in labels.items():
            expected = cohen_kappa_score(data[i, both] == lid - 10, data[j, both] == lid - 10)
            assert same(pair["labels"][name]["kappa"], expected)
    assert same(figures["overall"]["kappa"], np.mean(kappas))
    assert same(figures["overall"]["alpha"], library_alpha(data))
    for lid, name in labels.items():
        binary = np.where(np.isnan(data), np.nan, (data == lid - 10).astype(float))
        assert same(figures["labels"][name]["alpha"], library_alpha(binary))


WORDS = ["Ann", "Lee", "flew", "to", "Oslo", ",", "met", "Bob", "-", "there", "New", "York", "."]


def random_spans(seed: int):
    """Documents, who covered which, and spans; no two spans of one annotator touch the same
    word (their BIO tags would depend on the order)."""
    rng = random.Random(seed)
    texts = {10 + d: " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 12))) for d in range(12)}
    annotators, labels = [3, 5, 8], [100, 101]
    covered = {(d, a) for d in texts for a in annotators if rng.random() < 0.7}

    def words(d, start, end):  # the span widened to whole words
        after = texts[d].find(" ", end - 1)
        return texts[d].rfind(" ", 0, start) + 1, len(texts[d]) if after < 0 else after

    def free(d, a, start, end):
        lo, hi = words(d, start, end)
        return not any(s[0] == d and s[3] == a and words(d, *s[1:3])[0] < hi and lo < words(d, *s[1:3])[1]
                       for s in spans)

    spans = []
    for d, a in sorted(covered):
        for _ in range(rng.randint(0, 4)):
            if a != annotators[0] and rng.random() < 0.5:  # often a copy of the first annotator's
                copies = [s for s in spans if s[0] == d and s[3] == annotators[0]]
                if copies:
                    _, start, end, _, label = rng.choice(copies)
                    if free(d, a, start, end):
                        spans.append((d, start, end, a, label))
                    continue
            start = rng.randint(0, len(texts[d]) - 1)
            end = rng.randint(start + 1, min(len(texts[d]), start + 12))
            if free(d, a, start, end):
                spans.append((d, start, end, a, rng.choice(labels)))
    return texts, annotators, labels, sorted(covered), spans


def items_of(texts, finished, spans, shared_docs) -> SpanItems:
    column = lambda rows, k: np.array([r[k] for r in rows], dtype=np.int64)  # noqa: E731
    covered = finished + [(s[0], s[3]) for s in spans]
    token_document, token_start, token_end = tokenize({d: texts[d] for d in shared_docs})
    return SpanItems(column(spans, 0), column(spans, 1), column(spans, 2), column(spans, 3),
                     column(spans, 4), column(covered, 0), column(covered, 1),
                     token_document, token_start, token_end)


@pytest.mark.parametrize("seed", range(6))
def test_span_agreement_equals_the_libraries_on_items(seed):
    texts, annotators, labels, finished, spans = random_spans(seed)
    covered = {a: {d for d, who in finished if who == a} for a in annotators}
    shared_docs = sorted(d for d in texts if sum(d in covered[a] for a in annotators) >= 2)
    names = {lid: f"L{lid}" for lid in labels}
    figures = span_agreement(items_of(texts, finished, spans, shared_docs), names)

    # Token tags per annotator (nan: document not covered), straight from the regular expression.
    tokens = [(d, m.start(), m.end()) for d in shared_docs for m in TOKEN_PATTERN.finditer(texts[d])]
    tags = np.full((len(annotators), len(tokens)), np.nan)
    for row, a in enumerate(annotators):
        for t, (d, start, end) in enumerate(tokens):
            if d in covered[a]:
                tags[row, t] = 0
                for sd, s_start, s_end, who, label in spans:
                    if who == a and sd == d and start < s_end and s_start < end:
                        first = not any(o[0] == d and o[1] < s_end and s_start < o[2]
                                        for o in tokens[:t])
                        tags[row, t] = 2 * labels.index(label) + (1 if first else 2)
    compared = (~np.isnan(tags)).sum(axis=0) >= 2
    assert figures["overall"]["items"] == compared.sum()
    assert same(figures["overall"]["alpha"], library_alpha(tags[:, compared]))
    for k, lid in enumerate(labels):
        binary = np.where(np.isnan(tags), np.nan, np.isin(tags, [2 * k + 1, 2 * k + 2]).astype(float))
        assert same(figures["labels"][names[lid]]["alpha"], library_alpha(binary[:, compared]))

    f1s = []
    for a, b in combinations(annotators, 2):
        both_covered = covered[a] & covered[b]
        pair = next((p for p in figures["pairs"] if p["annotators"] == [a, b]), None)
        assert (pair is None) == (not both_covered)
        if pair is None:
            continue
        for label in [None, *labels]:
            marked = {who: {(d, s, e, lab) for d, s, e, w, lab in spans
                            if w == who and d in both_covered and label in (None, lab)} for who in (a, b)}
            union = sorted(marked[a] | marked[b])
            expected = (f1_score([s in marked[a] for s in union], [s in marked[b] for s in union])
                        if union else None)
            got = pair if label is None else pair["labels"][names[label]]
            assert got["items"] == len(union)
            assert got["f1"] is None if expected is None else same(got["f1"], expected)
            if label is None:
                f1s.append(expected)
            differing = sorted({s[0] for s in set(marked[a]) ^ set(marked[b])})
            items = items_of(texts, finished, spans, [])
            assert span_disagreements(items, (a, b), label).tolist() == differing
    assert same(figures["overall"]["f1"], np.mean([f for f in f1s if f is not None]))
