"""Turning a model's raw score into a probability that a proposal is right.

Fitted on held-out feedback, pairs of (raw score, was the proposal correct):

- at least :data:`ISOTONIC_FROM` pairs: isotonic regression (non-decreasing step function,
  interpolated linearly between its thresholds), which assumes nothing about the shape;
- from :data:`MIN_POINTS` pairs, or when both outcomes are present but isotonic has too
  little data: Platt scaling, a logistic curve on the logit of the score;
- fewer pairs, or only one outcome seen: the identity, since there is nothing to learn from.

What holds for every calibrator: :meth:`Calibrator.calibrate` is non-decreasing in the score
and returns a value in [0, 1]. A Platt fit whose slope comes out non-positive (the scores
carry no signal) falls back to a constant at the observed accuracy.
"""

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression

ISOTONIC_FROM = 200
MIN_POINTS = 20
_EPSILON = 1e-6

Kind = Literal["identity", "platt", "isotonic"]


@dataclass(frozen=True, slots=True)
class Calibrator:
    kind: Kind = "identity"
    slope: float = 1.0  # platt: p = sigmoid(slope * logit(score) + offset)
    offset: float = 0.0
    thresholds: tuple[float, ...] = ()  # isotonic: scores ...
    values: tuple[float, ...] = ()  # ... and the probabilities at them

    def calibrate(self, score: float) -> float:
        score = min(max(score, 0.0), 1.0)
        if self.kind == "identity":
            return score
        if self.kind == "platt":
            return _sigmoid(self.slope * _logit(score) + self.offset)
        return float(np.interp(score, self.thresholds, self.values))

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "slope": self.slope,
            "offset": self.offset,
            "thresholds": list(self.thresholds),
            "values": list(self.values),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Calibrator":
        kind = data["kind"]
        if kind not in ("identity", "platt", "isotonic"):
            raise ValueError(f"unknown calibrator kind {kind!r}")
        thresholds = tuple(float(x) for x in data.get("thresholds", ()))
        values = tuple(float(y) for y in data.get("values", ()))
        if kind == "isotonic" and (not thresholds or len(thresholds) != len(values)):
            raise ValueError("an isotonic calibrator needs as many values as thresholds")
        if any(b < a for a, b in itertools.pairwise(values)):
            raise ValueError("isotonic values must be non-decreasing")
        slope = float(data.get("slope", 1.0))
        if kind == "platt" and slope < 0:
            raise ValueError("a Platt slope must not be negative")
        return cls(
            kind=kind,
            slope=slope,
            offset=float(data.get("offset", 0.0)),
            thresholds=thresholds,
            values=values,
        )


def fit_calibrator(pairs: Sequence[tuple[float, bool]]) -> Calibrator:
    """Fit a calibrator on (raw score, correct) pairs; see the module docstring for which."""
    correct = sum(1 for _, ok in pairs if ok)
    if len(pairs) < MIN_POINTS or correct in (0, len(pairs)):
        return Calibrator()
    scores = np.clip(np.array([score for score, _ in pairs], dtype=np.float64), 0.0, 1.0)
    outcomes = np.array([1.0 if ok else 0.0 for _, ok in pairs])
    if len(pairs) >= ISOTONIC_FROM:
        isotonic = IsotonicRegression(y_min=0.0, y_max=1.0, increasing=True, out_of_bounds="clip")
        isotonic.fit(scores, outcomes)
        return Calibrator(
            kind="isotonic",
            thresholds=tuple(float(x) for x in isotonic.X_thresholds_),
            values=tuple(float(y) for y in isotonic.y_thresholds_),
        )
    logits = np.array([_logit(float(score)) for score in scores]).reshape(-1, 1)
    logistic = LogisticRegression(C=1e4, max_iter=1000)
    logistic.fit(logits, outcomes.astype(int))
    slope = float(logistic.coef_[0][0])
    if slope <= 0:
        # no signal in the scores: every score gets the observed accuracy
        return Calibrator(kind="platt", slope=0.0, offset=_logit(correct / len(pairs)))
    return Calibrator(kind="platt", slope=slope, offset=float(logistic.intercept_[0]))


def _logit(p: float) -> float:
    p = min(max(p, _EPSILON), 1 - _EPSILON)
    return math.log(p / (1 - p))


def _sigmoid(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    z = math.exp(x)
    return z / (1.0 + z)
