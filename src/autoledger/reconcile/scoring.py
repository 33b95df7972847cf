"""How sure the matcher is of one candidate: a logistic score over a few named features.

The weights are data, not code: they ship as a prior (``data/match_prior.json``, built by
``scripts/build_match_prior.py`` on Simulator companies that no benchmark uses) and a ledger's
feedback recalibrates the score into a probability (``ml.calibration``). Every feature is
also what the explanation of a match says.
"""

import hashlib
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import numpy as np
from numpy.typing import NDArray

#: the features, in the order of the weight vector
FEATURES: tuple[str, ...] = (
    "reference",  # share of the allocated items whose reference the line names
    "reference_elsewhere",  # the line names an item this candidate does not settle
    "amount_exact",  # the line pays exactly what it settles, no write-off
    "writeoff",  # a tolerance explains the difference
    "writeoff_share",  # |write-off| / |line amount|, in percent
    "partial",  # the line pays part of an item, the rest stays open
    "name",  # similarity of the line's party to the items' (0..1)
    "alias",  # the line's party is a learned alias of the items' party
    "history",  # log1p(confirmed matches with this party)
    "due_distance",  # |payment date - due date| in 30-day months, at most 4
    "before_issue",  # paid before the item existed
    "group",  # items (or lines) beyond the first, at most 5
    "competitors",  # log1p(other candidates of the line with an exact amount)
)


@dataclass(frozen=True, slots=True)
class Scorer:
    """``p = sigmoid(bias + weights · features)``."""

    weights: tuple[float, ...]
    bias: float
    metadata: dict[str, Any]

    def __post_init__(self) -> None:
        if len(self.weights) != len(FEATURES):
            raise ValueError(f"a scorer needs {len(FEATURES)} weights, got {len(self.weights)}")

    def score(self, features: NDArray[np.float64]) -> NDArray[np.float64]:
        """Probabilities of the rows of ``features`` (one row per candidate)."""
        if features.shape[0] == 0:
            return np.zeros(0)
        logits = features @ np.asarray(self.weights) + self.bias
        probabilities: NDArray[np.float64] = 1.0 / (1.0 + np.exp(-np.clip(logits, -40.0, 40.0)))
        return probabilities

    def strongest(self, row: Sequence[float], count: int = 3) -> list[tuple[str, float]]:
        """The features that moved this candidate's score most, with their contribution."""
        contributions = [
            (name, w * x) for name, w, x in zip(FEATURES, self.weights, row, strict=True) if x
        ]
        contributions.sort(key=lambda pair: -abs(pair[1]))
        return [(name, round(value, 3)) for name, value in contributions[:count]]

    def to_dict(self) -> dict[str, Any]:
        return {
            "features": list(FEATURES),
            "weights": list(self.weights),
            "bias": self.bias,
            "metadata": self.metadata,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Scorer":
        if list(data["features"]) != list(FEATURES):
            raise ValueError("the scorer's features are not this matcher's")
        weights = tuple(float(w) for w in data["weights"])
        if not all(math.isfinite(w) for w in weights) or not math.isfinite(float(data["bias"])):
            raise ValueError("a scorer's weights must be finite")
        return cls(weights, float(data["bias"]), dict(data.get("metadata", {})))

    @property
    def sha256(self) -> str:
        return hashlib.sha256(canonical(self.to_dict())).hexdigest()


def canonical(data: dict[str, Any]) -> bytes:
    return json.dumps(data, sort_keys=True, separators=(",", ":")).encode()


PRIOR_RESOURCE = "match_prior.json"


@cache
def prior() -> Scorer:
    """The shipped prior: weights trained on data disjoint from every benchmark."""
    text = resources.files("autoledger.reconcile").joinpath(f"data/{PRIOR_RESOURCE}").read_text()
    return Scorer.from_dict(json.loads(text))
