"""Inter-annotator agreement figures from annotators' items, computed by maintained libraries:
scikit-learn's ``cohen_kappa_score`` and ``f1_score``, and the ``krippendorff`` package.

An *item* is one annotator's label on a *unit*. Two measures exist, chosen by the annotation
kind a task labels (leanlife_server/agreement_items.py reads the items from the database):

* :func:`label_agreement` - units carry one label each (a document, an entity pair): Cohen's
  kappa per annotator pair on the units both labelled, Krippendorff's alpha (nominal) over
  all, and per label the same figures on "this label or not".
* :func:`span_agreement` - annotators mark spans in the documents they covered: exact-span F1
  per pair on the documents both covered, and token-level alpha over BIO tags.

Everything works on numpy arrays with vectorised operations (no Python loop over items);
label kinds get SQL aggregates (one row per distinct combination of values), spans get every
span and token (docs/performance.md, "Agreement"). No database, no Flask here.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from itertools import combinations
from typing import Any, Mapping

import krippendorff
import numpy as np
from sklearn.metrics import cohen_kappa_score, f1_score

Figures = dict[str, Any]


def _number(value: float) -> float | None:
    """JSON-safe: an undefined figure (0/0, one category only) is None."""
    return None if value is None or not np.isfinite(value) else float(value)


def _kappa(a: np.ndarray, b: np.ndarray, weights: np.ndarray | None = None) -> float | None:
    if len(a) == 0:
        return None
    with warnings.catch_warnings(), np.errstate(divide="ignore", invalid="ignore"):
        warnings.simplefilter("ignore")  # sklearn warns on 0/0 and answers nan
        return _number(cohen_kappa_score(a, b, sample_weight=weights))


def _alpha(value_counts: np.ndarray) -> float | None:
    """Nominal alpha over a units x values matrix of counts; None when undefined (no unit
    with two values, or one value in all the data)."""
    value_counts = value_counts[value_counts.sum(axis=1) >= 2]
    if not len(value_counts) or (value_counts.sum(axis=0) > 0).sum() < 2:
        return None
    with np.errstate(divide="ignore", invalid="ignore"):
        return _number(krippendorff.alpha(value_counts=value_counts, level_of_measurement="nominal"))




def _f1(a: np.ndarray, b: np.ndarray) -> float | None:
    """F1 of annotator b's items against a's (symmetric): a and b say, for each item either
    marked, whether each marked it."""
    if len(a) == 0:
        return None
    return _number(f1_score(a, b, zero_division=np.nan))


def _mean(values: list[float | None]) -> float | None:
    defined = [v for v in values if v is not None]
    return float(np.mean(defined)) if defined else None


# Labels on units ---------------------------------------------------------------------------

@dataclass(frozen=True)
class LabelTables:
    """The SQL aggregate of a project's items: each distinct row of ``values`` (annotators x
    columns: the value each annotator gave a unit, nan where they gave none) with ``units``,
    how many units show it. A value is a label id, or a negative code standing for the set
    of labels one annotator gave one unit (decoded by ``value_labels``)."""

    annotators: np.ndarray
    values: np.ndarray
    units: np.ndarray
    value_labels: Mapping[int, frozenset[int]]


def _includes(values: np.ndarray, label: int, value_labels: Mapping[int, frozenset[int]]) -> np.ndarray:
    """1.0 where a value includes ``label``, 0.0 where not, nan where missing."""
    codes = np.array([v for v, labels in value_labels.items() if label in labels], dtype=float)
    return np.where(np.isnan(values), np.nan, np.isin(values, codes).astype(float))


def _unit_counts(values: np.ndarray, units: np.ndarray) -> np.ndarray:
    """units x distinct values: how many annotators gave each value to each unit, one row per
    unit (the aggregate rows repeated by their unit counts), as ``krippendorff`` takes it."""
    codes = np.unique(values[~np.isnan(values)])
    per_row = (values[:, :, None] == codes[None, None, :]).sum(axis=1)
    return np.repeat(per_row, units, axis=0)


def label_agreement(tables: LabelTables, labels: Mapping[int, str]) -> Figures:
    """Kappa per pair (on the units both labelled) and alpha over all, overall and per label
    (``labels``: id -> name). Each aggregate row enters the libraries once, weighted by its
    unit count: kappa through ``sample_weight``, alpha through ``value_counts``."""
    values, units = tables.values, tables.units
    present = ~np.isnan(values)
    binary = {lid: _includes(values, lid, tables.value_labels) for lid in labels}
    pairs, pair_kappas, label_kappas = [], [], {lid: [] for lid in labels}
    for i, j in combinations(range(len(tables.annotators)), 2):
        both = present[:, i] & present[:, j]
        if not both.any():
            continue
        weights = units[both]
        kappa = _kappa(values[both, i], values[both, j], weights)
        per_label = {}
        for lid, name in labels.items():
            k = _kappa(binary[lid][both, i], binary[lid][both, j], weights)
            label_kappas[lid].append(k)
            per_label[name] = {"kappa": k, "items": int(weights.sum())}
        pair_kappas.append(kappa)
        pairs.append({"annotators": [int(tables.annotators[i]), int(tables.annotators[j])],
                      "kappa": kappa, "items": int(weights.sum()), "labels": per_label})
    shared = present.sum(axis=1) >= 2  # alpha pairs values within a unit only
    items = int(units[shared].sum())
    return {
        "overall": {"kappa": _mean(pair_kappas), "items": items,
                    "alpha": _alpha(_unit_counts(values[shared], units[shared]))},
        "labels": {name: {"kappa": _mean(label_kappas[lid]), "items": items,
                          "alpha": _alpha(_unit_counts(binary[lid][shared], units[shared]))}
                   for lid, name in labels.items()},
        "pairs": pairs,
    }


# Spans ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class SpanItems:
    """Distinct spans (document, start, end, annotator, label), the documents each annotator
    covered (``covered_document``, ``covered_annotator``: marked finished or annotated), and
    the tokens (document, start, end; sorted) of the documents at least two covered."""

    document: np.ndarray
    start: np.ndarray
    end: np.ndarray
    annotator: np.ndarray
    label: np.ndarray
    covered_document: np.ndarray
    covered_annotator: np.ndarray
    token_document: np.ndarray
    token_start: np.ndarray
    token_end: np.ndarray


# Words (runs of letters, digits and underscores: what ``\w`` matches) and single other
# non-space characters.
TOKEN_PATTERN = re.compile(r"\w+|[^\w\s]")
_WORD, _SPACE = re.compile(r"\w"), re.compile(r"\s")


def tokenize(texts: Mapping[int, str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(document, start, end) of the tokens TOKEN_PATTERN finds, in code points, sorted by
    document and start. Vectorised over all texts at once: classifying each distinct
    character once, then finding where runs of word characters begin and end."""
    ids = sorted(texts)
    if not ids:
        empty = np.array([], dtype=np.int64)
        return empty, empty, empty
    joined = "\n".join(texts[i] for i in ids)  # a newline never joins two tokens
    chars = np.frombuffer(joined.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    distinct, inverse = np.unique(chars, return_inverse=True)
    is_word = np.array([_WORD.match(chr(c)) is not None for c in distinct], dtype=bool)[inverse]
    is_space = np.array([_SPACE.match(chr(c)) is not None for c in distinct], dtype=bool)[inverse]
    is_other = ~is_word & ~is_space
    previous_word = np.r_[False, is_word[:-1]]
    next_word = np.r_[is_word[1:], False]
    starts = np.flatnonzero(is_other | (is_word & ~previous_word))
    ends = np.flatnonzero(is_other | (is_word & ~next_word)) + 1
    lengths = np.array([len(texts[i]) for i in ids])
    offsets = np.r_[0, np.cumsum(lengths + 1)[:-1]]
    doc_index = np.searchsorted(offsets, starts, side="right") - 1
    return np.asarray(ids, dtype=np.int64)[doc_index], starts - offsets[doc_index], ends - offsets[doc_index]


def _ranges(first: np.ndarray, count: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(which range, index) for the indexes first[k] .. first[k] + count[k] - 1, all k."""
    count = np.maximum(count, 0)
    which = np.repeat(np.arange(len(first)), count)
    step = np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count)
    return which, first[which] + step


def _token_tags(items: SpanItems, annotators: np.ndarray, label_index: Mapping[int, int]) -> np.ndarray:
    """annotators x tokens: 0 for O, 2k+1 for B and 2k+2 for I of label k; nan for tokens of
    documents the annotator did not cover."""
    tags = np.full((len(annotators), len(items.token_document)), np.nan)
    docs, token_doc = np.unique(items.token_document, return_inverse=True)
    if not len(docs):
        return tags
    first = np.searchsorted(token_doc, np.arange(len(docs)))
    count = np.diff(np.r_[first, len(token_doc)])
    # O for every token of a covered document.
    covered = np.isin(items.covered_document, docs)
    who = np.searchsorted(annotators, items.covered_annotator[covered])
    doc = np.searchsorted(docs, items.covered_document[covered])
    which, token = _ranges(first[doc], count[doc])
    tags[who[which], token] = 0
    # B and I over the tokens a span overlaps; keys order tokens across documents.
    width = int(max(items.token_end.max(), items.end.max(initial=0))) + 1
    start_key = token_doc * width + items.token_start
    end_key = token_doc * width + items.token_end
    spans = np.isin(items.document, docs)
    span_doc = np.searchsorted(docs, items.document[spans])
    lo = np.searchsorted(end_key, span_doc * width + items.start[spans], side="right")
    hi = np.searchsorted(start_key, span_doc * width + items.end[spans], side="left")
    who = np.searchsorted(annotators, items.annotator[spans])
    label_ids = np.array(list(label_index), dtype=np.int64)
    by_id = np.argsort(label_ids)
    k = by_id[np.searchsorted(label_ids[by_id], items.label[spans])]  # each span's label index
    which, token = _ranges(lo + 1, hi - lo - 1)
    tags[who[which], token] = 2 * k[which] + 2
    marked = hi > lo
    tags[who[marked], lo[marked]] = 2 * k[marked] + 1
    return tags


def _span_keys(items: SpanItems) -> np.ndarray:
    """One integer per distinct (document, start, end, label)."""
    rows = np.stack([items.document, items.start, items.end, items.label], axis=1)
    if not len(rows):
        return np.array([], dtype=np.int64)
    return np.unique(rows, axis=0, return_inverse=True)[1].reshape(-1)


def _pair_spans(items: SpanItems, keys: np.ndarray, a: int, b: int,
                label: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(keys either marked, whether a marked each, whether b did) on the documents both covered."""
    shared = np.intersect1d(items.covered_document[items.covered_annotator == a],
                            items.covered_document[items.covered_annotator == b])
    mine = np.isin(items.document, shared) & (True if label is None else items.label == label)
    key_a = np.unique(keys[mine & (items.annotator == a)])
    key_b = np.unique(keys[mine & (items.annotator == b)])
    either = np.union1d(key_a, key_b)
    return either, np.isin(either, key_a), np.isin(either, key_b)


def span_agreement(items: SpanItems, labels: Mapping[int, str]) -> Figures:
    """Exact-span F1 per pair and token-level alpha, overall and per label."""
    annotators = np.unique(np.r_[items.covered_annotator, items.annotator]).astype(np.int64)
    label_index = {lid: k for k, lid in enumerate(labels)}
    tags = _token_tags(items, annotators, label_index)
    in_label = {lid: np.where(np.isnan(tags), np.nan, np.isin(tags, [2 * k + 1, 2 * k + 2]).astype(float))
                for lid, k in label_index.items()}
    keys = _span_keys(items)
    pairs, pair_f1, label_f1 = [], [], {lid: [] for lid in labels}
    for a, b in combinations(annotators.tolist(), 2):
        if not np.intersect1d(items.covered_document[items.covered_annotator == a],
                              items.covered_document[items.covered_annotator == b]).size:
            continue  # no document in common: nothing to compare
        either, in_a, in_b = _pair_spans(items, keys, a, b)
        per_label = {}
        for lid, name in labels.items():
            l_either, l_a, l_b = _pair_spans(items, keys, a, b, lid)
            f1 = _f1(l_a, l_b)
            label_f1[lid].append(f1)
            per_label[name] = {"f1": f1, "items": len(l_either)}
        f1 = _f1(in_a, in_b)
        pair_f1.append(f1)
        pairs.append({"annotators": [a, b], "f1": f1, "items": len(either), "labels": per_label})
    tokens_compared = int(((~np.isnan(tags)).sum(axis=0) >= 2).sum())
    return {
        "overall": {"f1": _mean(pair_f1), "alpha": _alpha(_unit_counts(tags.T, np.ones(tags.shape[1], dtype=np.int64))), "items": tokens_compared},
        "labels": {name: {"f1": _mean(label_f1[lid]), "alpha": _alpha(_unit_counts(in_label[lid].T, np.ones(tags.shape[1], dtype=np.int64))),
                          "items": tokens_compared} for lid, name in labels.items()},
        "pairs": pairs,
    }


def span_disagreements(items: SpanItems, pair: tuple[int, int], label: int | None) -> np.ndarray:
    """Sorted ids of the documents both covered where their spans (with ``label``: their
    spans of that label) differ."""
    keys = _span_keys(items)
    either, in_a, in_b = _pair_spans(items, keys, pair[0], pair[1], label)
    differing = either[in_a != in_b]
    return np.unique(items.document[np.isin(keys, differing)])
