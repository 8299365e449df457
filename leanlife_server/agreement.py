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
span and token. The libraries receive counts, not items: ``cohen_kappa_score`` and
``f1_score`` weighted rows (``sample_weight``), ``krippendorff.alpha`` a ``value_counts``
matrix in which the units all coders agree on are pooled (see :func:`_alpha`), so a
100,000-document project answers in about a second (docs/performance.md, "Agreement").
No database, no Flask here.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from functools import cache
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


# The most coders one pooled unit holds: its count squared (2**52) stays exact in float64.
POOLED_CODERS = 2 ** 26


def _pooled(value: int, coders: int, width: int) -> np.ndarray:
    """Rows of ``width`` counts, all on column ``value``, that hold ``coders`` coders in
    pieces of 2 to POOLED_CODERS each."""
    pieces = -(-coders // POOLED_CODERS)
    sizes = np.full(pieces, coders // pieces, dtype=np.int64)
    sizes[:coders % pieces] += 1
    rows = np.zeros((pieces, width), dtype=np.int64)
    rows[:, value] = sizes
    return rows


def _alpha(value_counts: np.ndarray, units: np.ndarray | None = None) -> float | None:
    """Nominal alpha over a units x values matrix of counts, row k standing for ``units[k]``
    identical units (default 1); None when undefined (no unit with two values, or one value
    in all the data).

    ``krippendorff`` builds a units x values x values array, so the units go in as few rows
    as give the same coincidence matrix: a unit whose m coders all chose value v adds
    (m*m - m) / (m - 1) = m coincidences of v with v, linear in m, so all such units of v
    pool into one unit of their total coders (exactly; pieces of at most POOLED_CODERS).
    Units with different values are repeated as they are."""
    if units is None:
        units = np.ones(len(value_counts), dtype=np.int64)
    pairable = value_counts.sum(axis=1) >= 2
    value_counts, units = value_counts[pairable].astype(np.int64), units[pairable]
    used = value_counts.sum(axis=0) > 0
    if not len(value_counts) or used.sum() < 2:
        return None
    value_counts = value_counts[:, used]
    unanimous = (value_counts > 0).sum(axis=1) == 1
    coders = (value_counts[unanimous] * units[unanimous, None]).sum(axis=0)
    matrix = np.concatenate([np.repeat(value_counts[~unanimous], units[~unanimous], axis=0)]
                            + [_pooled(v, int(n), len(coders)) for v, n in enumerate(coders) if n])
    with np.errstate(divide="ignore", invalid="ignore"):
        return _number(krippendorff.alpha(value_counts=matrix, level_of_measurement="nominal"))


def _f1(both: int, first_only: int, second_only: int) -> float | None:
    """F1 of the second annotator's items against the first's (symmetric), from how many
    items both marked and how many only one did: three weighted rows for scikit-learn."""
    if both + first_only + second_only == 0:
        return None
    return _number(f1_score([True, True, False], [True, False, True], zero_division=np.nan,
                            sample_weight=[both, first_only, second_only]))


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


def _value_counts(values: np.ndarray) -> np.ndarray:
    """rows x distinct values: how many annotators gave each value in each row of ``values``
    (rows x annotators, nan where missing), as ``krippendorff`` takes it."""
    codes = np.unique(values[~np.isnan(values)])
    return (values[:, :, None] == codes[None, None, :]).sum(axis=1)


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
                    "alpha": _alpha(_value_counts(values[shared]), units[shared])},
        "labels": {name: {"kappa": _mean(label_kappas[lid]), "items": items,
                          "alpha": _alpha(_value_counts(binary[lid][shared]), units[shared])}
                   for lid, name in labels.items()},
        "pairs": pairs,
    }


# Spans ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class SpanItems:
    """Spans (document, start, end, annotator, label; a span may repeat), the documents each
    annotator covered (``covered_document``, ``covered_annotator``: marked finished or
    annotated; a pair may repeat), and the tokens (document, start, end; sorted) of the
    documents at least two covered."""

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


@cache
def _plane_classes() -> tuple[np.ndarray, np.ndarray]:
    """Whether each code point below U+10000 is a word character, a space: the regular
    expressions asked once per process, then looked up (sorting every character to ask
    once per distinct one cost most of the time on 100,000 documents)."""
    chars = [chr(c) for c in range(0x10000)]
    return (np.array([_WORD.match(c) is not None for c in chars]),
            np.array([_SPACE.match(c) is not None for c in chars]))


def _classes(chars: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Whether each code point is a word character, a space."""
    word_table, space_table = _plane_classes()
    plane = np.minimum(chars, 0xFFFF)
    is_word, is_space = word_table[plane], space_table[plane]
    beyond = np.flatnonzero(chars > 0xFFFF)
    if len(beyond):
        distinct, inverse = np.unique(chars[beyond], return_inverse=True)
        is_word[beyond] = np.array([_WORD.match(chr(c)) is not None for c in distinct], dtype=bool)[inverse]
        is_space[beyond] = np.array([_SPACE.match(chr(c)) is not None for c in distinct], dtype=bool)[inverse]
    return is_word, is_space


def tokenize(texts: Mapping[int, str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(document, start, end) of the tokens TOKEN_PATTERN finds, in code points, sorted by
    document and start. Vectorised over all texts at once: classifying each character, then
    finding where runs of word characters begin and end."""
    ids = sorted(texts)
    if not ids:
        empty = np.array([], dtype=np.int64)
        return empty, empty, empty
    joined = "\n".join(texts[i] for i in ids)  # a newline never joins two tokens
    chars = np.frombuffer(joined.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    is_word, is_space = _classes(chars)
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


def _distinct(values: np.ndarray) -> np.ndarray:
    """Sorted distinct values (np.unique by sorting: its hash table is slower on large arrays)."""
    values = np.sort(values)
    return values[np.r_[True, values[1:] != values[:-1]]] if len(values) else values


def coverage(document: np.ndarray, annotator: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(documents, annotators, documents x annotators: whether each covered each) from the
    (document, annotator) pairs of SpanItems' coverage."""
    documents, annotators = _distinct(document), _distinct(annotator)
    covered = np.zeros((len(documents), len(annotators)), dtype=bool)
    covered[np.searchsorted(documents, document), np.searchsorted(annotators, annotator)] = True
    return documents, annotators, covered


def _token_counts(items: SpanItems, table: _SpanTable, label_ids: np.ndarray) -> np.ndarray:
    """tokens x (1 + 2 x labels): how many annotators tagged each token O (column 0), B of
    label k (column 2k + 1) or I of it (2k + 2). A document's tokens start as O for each
    annotator who covered it; then each annotator's spans move the tokens they overlap
    (B on the first, I on the rest) out of O."""
    counts = np.zeros((len(items.token_document), 1 + 2 * len(label_ids)), dtype=np.int64)
    if not len(counts):
        return counts
    new = np.r_[True, items.token_document[1:] != items.token_document[:-1]]  # tokens are sorted
    docs, token_doc = items.token_document[new], np.cumsum(new) - 1
    counts[:, 0] = table.covered.sum(axis=1)[np.searchsorted(table.documents, docs)][token_doc]
    # The tokens each span overlaps: lo .. hi - 1; keys order tokens across documents.
    width = int(max(items.token_end.max(), items.end.max(initial=0))) + 1
    start_key = token_doc * width + items.token_start
    end_key = token_doc * width + items.token_end
    spans = np.isin(items.document, docs)
    span_doc = np.searchsorted(docs, items.document[spans])
    lo = np.searchsorted(end_key, span_doc * width + items.start[spans], side="right")
    hi = np.searchsorted(start_key, span_doc * width + items.end[spans], side="left")
    by_id = np.argsort(label_ids)
    k = by_id[np.searchsorted(label_ids[by_id], items.label[spans])]  # each span's label index
    span_by = items.annotator[spans]
    tags = np.empty(len(token_doc), dtype=np.int64)  # one annotator's tags, where written
    tagged = np.empty(len(token_doc), dtype=bool)
    for annotator in table.annotators:
        mine = (span_by == annotator) & (hi > lo)
        a_lo, a_hi, a_k = lo[mine], hi[mine], k[mine]
        which, inner = _ranges(a_lo + 1, a_hi - a_lo - 1)
        tags[inner] = 2 * a_k[which] + 2
        tags[a_lo] = 2 * a_k + 1  # after the I tags: a B wins where this annotator's spans overlap
        tagged[:] = False
        tagged[a_lo] = tagged[inner] = True
        where = np.flatnonzero(tagged)
        counts[where, 0] -= 1
        counts[where, tags[where]] += 1
    return counts


def _distinct_rows(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct rows of a matrix of counts and how many times each occurs: through one
    integer per row where the counts fit one (mixed radix), else numpy's row-wise unique."""
    base = int(matrix.max(initial=0)) + 1
    if len(matrix) and base ** matrix.shape[1] < 2 ** 62:
        codes = matrix @ (base ** np.arange(matrix.shape[1], dtype=np.int64))
        _, first, units = np.unique(codes, return_index=True, return_counts=True)
        return matrix[first], units
    return np.unique(matrix, axis=0, return_counts=True)


@dataclass(frozen=True)
class _SpanTable:
    """The distinct spans (document, start, end, label) as rows: which annotators marked each
    (``marked``) and covered its document (``covering``), both rows x annotators; and
    :func:`coverage`'s ``documents`` x ``annotators`` ``covered``."""

    annotators: np.ndarray
    documents: np.ndarray
    document: np.ndarray
    label: np.ndarray
    marked: np.ndarray
    covering: np.ndarray
    covered: np.ndarray


def _span_table(items: SpanItems) -> _SpanTable:
    documents, annotators, covered = coverage(items.covered_document, items.covered_annotator)
    columns = [items.document, items.start, items.end, items.label]
    order = np.lexsort(columns[::-1])
    columns = [column[order] for column in columns]
    new = np.zeros(len(order), dtype=bool)  # where a distinct span begins in sorted order
    new[:1] = True
    for column in columns:
        new[1:] |= column[1:] != column[:-1]
    key = np.empty(len(order), dtype=np.int64)
    key[order] = np.cumsum(new) - 1
    marked = np.zeros((int(new.sum()), len(annotators)), dtype=bool)
    marked[key, np.searchsorted(annotators, items.annotator)] = True
    document = columns[0][new]
    return _SpanTable(annotators, documents, document, columns[3][new], marked,
                      covered[np.searchsorted(documents, document)], covered)


def _shared(table: _SpanTable, i: int, j: int, label: int | None) -> np.ndarray:
    """Which distinct spans lie in documents annotators i and j both covered (of ``label``)."""
    shared = table.covering[:, i] & table.covering[:, j]
    return shared if label is None else shared & (table.label == label)


def _pair_counts(table: _SpanTable, i: int, j: int, label: int | None = None) -> tuple[int, int, int]:
    """(spans both marked, only i, only j) on the documents both covered."""
    shared = _shared(table, i, j, label)
    first, second = table.marked[:, i] & shared, table.marked[:, j] & shared
    both = int(np.count_nonzero(first & second))
    return both, int(np.count_nonzero(first)) - both, int(np.count_nonzero(second)) - both


def span_agreement(items: SpanItems, labels: Mapping[int, str]) -> Figures:
    """Exact-span F1 per pair and token-level alpha, overall and per label."""
    table = _span_table(items)
    pairs, pair_f1, label_f1 = [], [], {lid: [] for lid in labels}
    for i, j in combinations(range(len(table.annotators)), 2):
        if not (table.covered[:, i] & table.covered[:, j]).any():
            continue  # no document in common: nothing to compare
        per_label = {}
        for lid, name in labels.items():
            counts = _pair_counts(table, i, j, lid)
            f1 = _f1(*counts)
            label_f1[lid].append(f1)
            per_label[name] = {"f1": f1, "items": sum(counts)}
        counts = _pair_counts(table, i, j)
        f1 = _f1(*counts)
        pair_f1.append(f1)
        pairs.append({"annotators": [int(table.annotators[i]), int(table.annotators[j])], "f1": f1,
                      "items": sum(counts), "labels": per_label})
    # Tokens with the same counts are interchangeable units: each distinct row once, weighted.
    tags, units = _distinct_rows(_token_counts(items, table, np.array(list(labels), dtype=np.int64)))
    coders = tags.sum(axis=1)
    tokens_compared = int(units[coders >= 2].sum())
    # Per label: how many annotators tagged each token outside the label, how many inside it.
    inside = {lid: tags[:, 2 * k + 1] + tags[:, 2 * k + 2] for k, lid in enumerate(labels)}
    return {
        "overall": {"f1": _mean(pair_f1), "alpha": _alpha(tags, units), "items": tokens_compared},
        "labels": {name: {"f1": _mean(label_f1[lid]), "items": tokens_compared,
                          "alpha": _alpha(np.stack([coders - inside[lid], inside[lid]], axis=1), units)}
                   for lid, name in labels.items()},
        "pairs": pairs,
    }


def span_disagreements(items: SpanItems, pair: tuple[int, int] | None, label: int | None) -> np.ndarray:
    """Sorted ids of the documents both covered where their spans (with ``label``: their
    spans of that label) differ; with ``pair`` None, where any two annotators' do."""
    table = _span_table(items)
    if pair is None:
        # A span some annotator covering its document marked and another covering it did not.
        covering = table.covering
        differ = (table.marked & covering).any(axis=1) & (~table.marked & covering).any(axis=1)
        if label is not None:
            differ &= table.label == label
        return np.unique(table.document[differ])
    i, j = np.searchsorted(table.annotators, pair)
    if not np.isin(pair, table.annotators).all():
        return np.array([], dtype=np.int64)  # one of them covered nothing
    differ = _shared(table, int(i), int(j), label) & (table.marked[:, i] != table.marked[:, j])
    return np.unique(table.document[differ])
