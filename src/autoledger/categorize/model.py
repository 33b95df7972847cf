"""A tenant's categorization model: a multinomial logistic regression over TF-IDF features.

Training uses scikit-learn; everything after training is numpy over four arrays (vocabulary,
idf, coefficients, intercepts), so a stored model loads without running any code from the
artifact and predicts a line in well under two milliseconds.

The artifact is JSON with the arrays as base64 little-endian float32, never a pickle; its
``content_hash`` is the sha256 of those bytes. Coefficients are rounded to
:data:`DECIMALS` places before storing, so that training the same examples twice gives the
same bytes even when the last bits of floating-point sums differ.

Feature sets (``metadata["feature_set"]``; absent means 1, the shipped prior's):

1. one L2-normalized TF-IDF vector over every feature of the line;
2. the same vector without the direction, plus the direction (``dir:in``/``dir:out``) as an
   indicator of fixed value :data:`DIRECTION_WEIGHT` outside the normalization: a
   per-direction intercept. In set 1 the direction is one of ~50 features sharing a unit
   norm, so an unseen customer whose name shares character n-grams with a vendor was
   booked as that vendor's expense (ADR 0021).

Edge cases, by design: a model trained on one account predicts it with probability
``n / (n + 1)`` (it has never seen an alternative); accounts never seen in training are never
predicted; a line with no known feature gets the class priors from the intercepts.
"""

import base64
import hashlib
import json
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.sparse import csr_matrix
from sklearn.linear_model import LogisticRegression

from autoledger.categorize.features import LineFacts, features, normalize_description

FORMAT = "autoledger.linear-model/1"
DECIMALS = 4
TOP = 3

NEIGHBOURS = 200  # most recent training examples kept for "nearest past transactions"

#: the feature set new models are trained with (see the module's docstring)
FEATURE_SET = 2
#: the value of the direction indicator in feature set 2, chosen on the development company
#: (``bench.categorize --company development``), never on the benchmark company
DIRECTION_WEIGHT = 0.3

FloatArray = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.int32]


@dataclass(frozen=True, slots=True)
class LabelledExample:
    """A bank line and the account a person (or an accepted proposal) booked it to."""

    facts: LineFacts
    account: str
    when: date


@dataclass(frozen=True, slots=True)
class PastLine:
    """A training example similar to a line: its normalized description (no reference
    numbers), the account it was booked to, its date, and the cosine similarity."""

    description: str
    account: str
    when: str
    similarity: float


@dataclass(frozen=True, slots=True)
class Neighbours:
    """Recent training examples as sparse TF-IDF rows (CSR arrays over the vocabulary)."""

    descriptions: tuple[str, ...]
    accounts: tuple[str, ...]
    dates: tuple[str, ...]
    pointers: IntArray
    columns: IntArray
    values: FloatArray

    def to_json(self) -> dict[str, Any]:
        return {
            "descriptions": list(self.descriptions),
            "accounts": list(self.accounts),
            "dates": list(self.dates),
            "pointers": _encode_ints(self.pointers),
            "columns": _encode_ints(self.columns),
            "values": _encode(self.values),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any], vocabulary_size: int) -> "Neighbours":
        pointers = _decode_ints(data["pointers"])
        columns = _decode_ints(data["columns"])
        values = _decode(data["values"], (len(columns),))
        rows = len(data["descriptions"])
        valid = (
            len(data["accounts"]) == len(data["dates"]) == rows
            and len(pointers) == rows + 1
            and pointers[0] == 0
            and pointers[-1] == len(columns)
            and bool(np.all(np.diff(pointers) >= 0))
            and (
                len(columns) == 0 or 0 <= int(columns.min()) <= int(columns.max()) < vocabulary_size
            )
        )
        if not valid:
            raise ValueError("the stored neighbours are inconsistent")
        return cls(
            descriptions=tuple(str(d) for d in data["descriptions"]),
            accounts=tuple(str(a) for a in data["accounts"]),
            dates=tuple(str(d) for d in data["dates"]),
            pointers=pointers,
            columns=columns,
            values=values,
        )


class LinearModel:
    """A trained model; build one with :func:`train_model` or :meth:`from_bytes`."""

    def __init__(
        self,
        *,
        labels: Sequence[str],
        vocabulary: Sequence[str],
        idf: FloatArray,
        coef: FloatArray,
        intercept: FloatArray,
        tenant_specific: bool,
        metadata: dict[str, Any],
        neighbours: Neighbours | None = None,
    ) -> None:
        if not labels:
            raise ValueError("a model needs at least one label")
        if coef.shape != (len(labels), len(vocabulary)) or idf.shape != (len(vocabulary),):
            raise ValueError("coefficients, idf and vocabulary do not agree in shape")
        if intercept.shape != (len(labels),):
            raise ValueError("one intercept per label is required")
        self.labels = tuple(labels)
        self.vocabulary = tuple(vocabulary)
        self.idf = idf
        self.coef = coef
        self.intercept = intercept
        self.tenant_specific = tenant_specific
        self.metadata = dict(metadata)
        self.neighbours = neighbours
        self._index = {feature: column for column, feature in enumerate(self.vocabulary)}
        self._indicators = _indicators(self.vocabulary, int(self.metadata.get("feature_set", 1)))
        self._bytes: bytes | None = None
        self._hash: str | None = None

    def probabilities(self, facts: LineFacts) -> FloatArray:
        """The probability of every label, in the order of :attr:`labels`."""
        if len(self.labels) == 1:
            seen = int(self.metadata.get("examples", 1))
            return np.array([seen / (seen + 1)], dtype=np.float32)
        columns, values = self._vector(facts)
        scores = self.coef[:, columns] @ values + self.intercept
        scores = scores - scores.max()
        weights = np.exp(scores)
        result: FloatArray = (weights / weights.sum()).astype(np.float32)
        return result

    def predict(self, facts: LineFacts, k: int = TOP) -> list[tuple[str, float]]:
        """The ``k`` most likely accounts with their probabilities, most likely first."""
        probabilities = self.probabilities(facts)
        order = sorted(range(len(self.labels)), key=lambda i: (-probabilities[i], self.labels[i]))
        return [(self.labels[i], float(probabilities[i])) for i in order[:k]]

    def explain(self, facts: LineFacts, top: int = 5) -> list[tuple[str, float]]:
        """The features that pushed the most likely account up the most, strongest first.

        Character n-grams mean nothing to a reviewer, so their weight is credited to the
        words of the description they occur in (``"w:bottle"``), shared equally when an
        n-gram occurs in several words.
        """
        if len(self.labels) == 1:
            return []
        probabilities = self.probabilities(facts)
        best = int(np.argmax(probabilities))
        columns, values = self._vector(facts)
        contributions = self.coef[best, columns] * values
        words = [f" {word} " for word in normalize_description(facts.description).split()]
        credited: dict[str, float] = {}
        for column, weight in zip(columns, contributions.tolist(), strict=True):
            feature = self.vocabulary[column]
            if feature.startswith("c:"):
                gram = feature[2:]
                owners = [word for word in words if gram in word]
                for word in owners:
                    name = "w:" + word.strip()
                    credited[name] = credited.get(name, 0.0) + weight / len(owners)
            else:
                credited[feature] = credited.get(feature, 0.0) + weight
        ranked = sorted(credited.items(), key=lambda item: (-item[1], item[0]))
        return [(name, round(weight, 4)) for name, weight in ranked[:top] if weight > 0]

    def nearest(self, facts: LineFacts, k: int = 3) -> list[PastLine]:
        """The ``k`` stored past lines most similar to this one (cosine over TF-IDF)."""
        stored = self.neighbours
        if stored is None or not stored.descriptions:
            return []
        columns, values = self._vector(facts)
        query = np.zeros(len(self.vocabulary), dtype=np.float32)
        query[columns] = values
        query[self._indicators] = 0.0  # similarity is the cosine of the text alone
        products = stored.values * query[stored.columns]
        # sum each row's products; a row without columns scores 0
        sums = np.concatenate(([0.0], np.cumsum(products, dtype=np.float64)))
        similarity = sums[stored.pointers[1:]] - sums[stored.pointers[:-1]]
        order = sorted(range(len(similarity)), key=lambda i: (-similarity[i], i))[:k]
        return [
            PastLine(
                stored.descriptions[i],
                stored.accounts[i],
                stored.dates[i],
                round(float(similarity[i]), 4),
            )
            for i in order
            if similarity[i] > 0
        ]

    def to_bytes(self) -> bytes:
        if self._bytes is None:
            document = {
                "format": FORMAT,
                "labels": list(self.labels),
                "vocabulary": list(self.vocabulary),
                "idf": _encode(self.idf),
                "coef": _encode(self.coef),
                "intercept": _encode(self.intercept),
                "tenant_specific": self.tenant_specific,
                "metadata": self.metadata,
            }
            if self.neighbours is not None:
                document["neighbours"] = self.neighbours.to_json()
            self._bytes = json.dumps(document, sort_keys=True, separators=(",", ":")).encode()
        return self._bytes

    @classmethod
    def from_bytes(cls, data: bytes) -> "LinearModel":
        """Load an artifact written by :meth:`to_bytes`; plain JSON and arrays, no code."""
        document = json.loads(data)
        if not isinstance(document, dict) or document.get("format") != FORMAT:
            raise ValueError("not an autoledger linear model artifact")
        try:
            return cls._from_document(document, bytes(data))
        except (KeyError, TypeError, AttributeError) as error:
            raise ValueError(f"a malformed model artifact: {error!r}") from error

    @classmethod
    def _from_document(cls, document: dict[str, Any], data: bytes) -> "LinearModel":
        labels = [str(label) for label in document["labels"]]
        vocabulary = [str(feature) for feature in document["vocabulary"]]
        model = cls(
            labels=labels,
            vocabulary=vocabulary,
            idf=_decode(document["idf"], (len(vocabulary),)),
            coef=_decode(document["coef"], (len(labels), len(vocabulary))),
            intercept=_decode(document["intercept"], (len(labels),)),
            tenant_specific=bool(document["tenant_specific"]),
            metadata=dict(document["metadata"]),
            neighbours=(
                Neighbours.from_json(document["neighbours"], len(vocabulary))
                if "neighbours" in document
                else None
            ),
        )
        model._bytes = data
        return model

    @property
    def content_hash(self) -> str:
        """The sha256 of :meth:`to_bytes`, computed once (every proposal names its model by
        it, and hashing the artifact cost ~0.3 ms a line)."""
        if self._hash is None:
            self._hash = hashlib.sha256(self.to_bytes()).hexdigest()
        return self._hash

    def _vector(self, facts: LineFacts) -> tuple[list[int], FloatArray]:
        index = self._index
        columns = sorted(
            {
                index[feature]
                for feature in features(facts, tenant_specific=self.tenant_specific)
                if feature in index
            }
        )
        return columns, _weigh(self.idf[columns], self._indicators[columns])


def train_model(
    examples: Sequence[LabelledExample],
    *,
    tenant_specific: bool = True,
    min_df: int = 1,
    max_features: int | None = None,
    regularization: float = 10.0,
    metadata: dict[str, Any] | None = None,
    neighbours: int = NEIGHBOURS,
    feature_set: int = FEATURE_SET,
) -> LinearModel:
    """Fit a model on labelled examples; deterministic for the same examples in any order.

    ``regularization`` is scikit-learn's ``C`` (larger = less regularized). The vocabulary
    keeps features seen in at least ``min_df`` examples, the ``max_features`` most frequent of
    them when given. ``metadata`` is stored in the artifact with the training window and the
    number of examples added. The most recent ``neighbours`` examples are kept for
    :meth:`LinearModel.nearest` (0 keeps none). ``feature_set`` is 1 or 2 (the module's
    docstring says what each is).
    """
    if feature_set not in (1, 2):
        raise ValueError(f"unknown feature set {feature_set}")
    if not examples:
        raise ValueError("cannot train a model on no examples")
    ordered = sorted(
        examples,
        key=lambda e: (
            e.when,
            e.account,
            e.facts.description,
            e.facts.amount,
            e.facts.bank_account_id,
            e.facts.counterparty_name or "",
            e.facts.transaction_code or "",
        ),
    )
    rows = [features(e.facts, tenant_specific=tenant_specific) for e in ordered]
    frequency = Counter(feature for row in rows for feature in row)
    kept = sorted(
        (feature for feature, count in frequency.items() if count >= min_df),
        key=lambda feature: (-frequency[feature], feature),
    )
    if max_features is not None:
        kept = kept[:max_features]
    vocabulary = sorted(kept)
    index = {feature: column for column, feature in enumerate(vocabulary)}
    total = len(ordered)
    idf = np.array(
        [math.log((1 + total) / (1 + frequency[feature])) + 1.0 for feature in vocabulary],
        dtype=np.float64,
    )
    labels = sorted({e.account for e in ordered})
    info = {
        **(metadata or {}),
        "examples": total,
        "trained_from": ordered[0].when.isoformat(),
        "trained_to": ordered[-1].when.isoformat(),
        "label_counts": dict(sorted(Counter(e.account for e in ordered).items())),
        # set 1 is written as before feature sets existed, so its artifacts stay the same bytes
        **({"feature_set": feature_set} if feature_set != 1 else {}),
    }
    matrix = _matrix(rows, index, idf, _indicators(vocabulary, feature_set))
    start = max(0, total - neighbours)
    recent = _neighbours(ordered[start:], matrix[start:]) if neighbours > 0 else None
    if len(labels) == 1:
        return LinearModel(
            labels=labels,
            vocabulary=vocabulary,
            idf=_rounded(idf),
            coef=np.zeros((1, len(vocabulary)), dtype=np.float32),
            intercept=np.zeros(1, dtype=np.float32),
            tenant_specific=tenant_specific,
            metadata=info,
            neighbours=recent,
        )
    target = np.array([labels.index(e.account) for e in ordered])
    classifier = LogisticRegression(C=regularization, max_iter=1000, tol=1e-4)
    classifier.fit(matrix, target)
    coef = np.asarray(classifier.coef_, dtype=np.float64)
    intercept = np.asarray(classifier.intercept_, dtype=np.float64)
    if len(labels) == 2:
        # scikit-learn keeps one row for two classes (the logit of the second); two rows of
        # half that logit give the same probabilities through a softmax.
        coef = np.vstack([-coef[0] / 2, coef[0] / 2])
        intercept = np.array([-intercept[0] / 2, intercept[0] / 2])
    return LinearModel(
        labels=labels,
        vocabulary=vocabulary,
        idf=_rounded(idf),
        coef=_rounded(coef),
        intercept=_rounded(intercept),
        tenant_specific=tenant_specific,
        metadata=info,
        neighbours=recent,
    )


def _indicators(vocabulary: Sequence[str], feature_set: int) -> npt.NDArray[np.bool_]:
    """Which columns are indicators of fixed value rather than TF-IDF weights."""
    return np.array(
        [feature_set >= 2 and feature.startswith("dir:") for feature in vocabulary], dtype=bool
    )


def _weigh(values: npt.NDArray[Any], indicators: npt.NDArray[np.bool_]) -> npt.NDArray[Any]:
    """A line's feature values from the IDF of its columns: the TF-IDF part L2-normalized,
    the indicator columns at :data:`DIRECTION_WEIGHT`."""
    text = values[~indicators]
    norm = float(np.sqrt(text @ text))
    weighed = values / norm if norm > 0 else values.copy()
    weighed[indicators] = DIRECTION_WEIGHT
    return weighed


def _matrix(
    rows: list[list[str]],
    index: dict[str, int],
    idf: npt.NDArray[np.float64],
    indicators: npt.NDArray[np.bool_],
) -> csr_matrix:
    data: list[float] = []
    columns: list[int] = []
    pointers = [0]
    for row in rows:
        row_columns = sorted({index[feature] for feature in row if feature in index})
        values = _weigh(idf[row_columns], indicators[row_columns])
        columns.extend(row_columns)
        data.extend(values.tolist())
        pointers.append(len(columns))
    return csr_matrix(
        (np.array(data), np.array(columns, dtype=np.int64), np.array(pointers, dtype=np.int64)),
        shape=(len(rows), len(index)),
    )


def _neighbours(examples: Sequence[LabelledExample], rows: csr_matrix) -> Neighbours:
    return Neighbours(
        descriptions=tuple(normalize_description(e.facts.description) for e in examples),
        accounts=tuple(e.account for e in examples),
        dates=tuple(e.when.isoformat() for e in examples),
        pointers=np.asarray(rows.indptr, dtype="<i4"),
        columns=np.asarray(rows.indices, dtype="<i4"),
        values=_rounded(np.asarray(rows.data, dtype=np.float64)),
    )


def _rounded(values: npt.NDArray[np.float64]) -> FloatArray:
    result: FloatArray = np.round(values, DECIMALS).astype("<f4")
    return result


def _encode(values: FloatArray) -> str:
    return base64.b64encode(np.ascontiguousarray(values, dtype="<f4").tobytes()).decode("ascii")


def _encode_ints(values: IntArray) -> str:
    return base64.b64encode(np.ascontiguousarray(values, dtype="<i4").tobytes()).decode("ascii")


def _decode_ints(text: str) -> IntArray:
    result: IntArray = np.frombuffer(base64.b64decode(text, validate=True), dtype="<i4").astype(
        np.int32
    )
    return result


def _decode(text: str, shape: tuple[int, ...]) -> FloatArray:
    raw = base64.b64decode(text, validate=True)
    values = np.frombuffer(raw, dtype="<f4")
    if values.size != math.prod(shape):
        raise ValueError("array size does not match the declared shape")
    result: FloatArray = values.reshape(shape).astype(np.float32)
    return result
