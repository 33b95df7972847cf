"""Build the matcher's shipped prior: ``src/autoledger/reconcile/data/match_prior.json``.

The prior is the logistic scorer's weights (``reconcile.scoring.FEATURES``) and the default
auto-reconcile threshold that applies before a ledger has feedback of its own.

How it is kept apart from every benchmark (ADR 0012): the training companies are Simulator
companies of the seeds :data:`TRAIN_SEEDS`, and their counterparties come from **another
universe of names** — invented syllable names made here (:func:`invented_name`), never the
Simulator's own word lists or vendor templates. The default threshold is measured on a
company of a third seed (:data:`HELD_OUT_SEED`) of the same invented universe, which the
weights never saw: the lowest calibrated score at which the Wilson lower bound of the
precision of the chosen matches reaches :data:`TARGET_PRECISION`. ``bench/reconcile.py``
evaluates on seed 2024 of the Simulator's own universe.

Deterministic: the same code builds the same file (``make match-prior`` rebuilds it).
"""

import json
import random
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression

from autoledger.demo.simulator import simulate
from autoledger.ml.policy import choose_threshold
from autoledger.reconcile.engine import match
from autoledger.reconcile.learning import Confirmed, knowledge
from autoledger.reconcile.replay import OpenBooks, Scenario, is_correct, scenario
from autoledger.reconcile.scoring import FEATURES, Scorer, canonical

TRAIN_SEEDS = (61_001, 61_002)
HELD_OUT_SEED = 61_099
NAMES_SEED = 8_675_309
MONTHS = 12
SCALE = 2
TARGET_PRECISION = 0.995
OUTPUT = Path(__file__).resolve().parents[1] / "src/autoledger/reconcile/data/match_prior.json"

_ONSETS = (
    "b",
    "br",
    "d",
    "f",
    "g",
    "gl",
    "k",
    "kr",
    "l",
    "m",
    "n",
    "p",
    "pl",
    "r",
    "s",
    "t",
    "v",
    "z",
)
_VOWELS = ("a", "e", "i", "o", "u", "ai", "ou")
_CODAS = ("", "n", "r", "s", "x", "l", "m")
_FORMS = ("Group", "Trading", "Holdings", "Enterprises", "Collective", "Bros.", "GmbH", "Pty")


def invented_name(rng: random.Random, used: set[str]) -> str:
    """A company name of invented words, e.g. "Glouzan Pemor Collective"."""
    while True:
        words = [
            "".join(
                rng.choice(_ONSETS) + rng.choice(_VOWELS) + rng.choice(_CODAS)
                for _ in range(rng.randint(2, 3))
            ).title()
            for _ in range(rng.randint(1, 2))
        ]
        name = f"{' '.join(words)} {rng.choice(_FORMS)}"
        if name not in used:
            used.add(name)
            return name


def company(seed: int) -> Scenario:
    rng = random.Random(NAMES_SEED + seed)  # noqa: S311  # nosec B311: not secrets
    used: set[str] = set()
    return scenario(
        simulate(seed, MONTHS, scale=SCALE, names=lambda: invented_name(rng, used)),
        processor=invented_name(rng, used),
        payroll_provider=invented_name(rng, used),
    )


def replay(
    data: Scenario, scorer: Scorer
) -> tuple[list[list[float]], list[int], list[tuple[float, bool]]]:
    """Week by week: every candidate's features and whether it is right, and the (score,
    right) of the chosen matches that could be reconciled on their own (identified); the
    books settle as the truth says."""
    books = OpenBooks(data)
    items = {item.id: item for item in data.items}
    confirmed: list[Confirmed] = []
    features: list[list[float]] = []
    labels: list[int] = []
    chosen: list[tuple[float, bool]] = []
    for _, last, week in data.weeks():
        outcome = match(
            week, books.visible(last), scorer=scorer, knowledge=knowledge(confirmed, ())
        )
        for candidate in outcome.candidates:
            features.append(list(candidate.features))
            labels.append(1 if is_correct(candidate, data.truth) else 0)
        chosen.extend((c.score, is_correct(c, data.truth)) for c in outcome.matches if c.identified)
        for line in week:
            line_truth = data.truth.get(line.id)
            for item_id, _ in line_truth.allocations if line_truth else ():
                confirmed.append(
                    Confirmed(line.counterparty, line.text, items[item_id].counterparty)
                )
        books.settle(week)
    return features, labels, chosen


def build() -> dict[str, Any]:
    neutral = Scorer(tuple(0.0 for _ in FEATURES), 0.0, {})
    features: list[list[float]] = []
    labels: list[int] = []
    for seed in TRAIN_SEEDS:
        x, y, _ = replay(company(seed), neutral)
        features += x
        labels += y
    model = LogisticRegression(C=1.0, max_iter=2_000)
    model.fit(np.asarray(features), np.asarray(labels))
    trained = Scorer(
        tuple(round(float(w), 6) for w in model.coef_[0]), round(float(model.intercept_[0]), 6), {}
    )
    _, _, held_out = replay(company(HELD_OUT_SEED), trained)
    threshold = choose_threshold(held_out, TARGET_PRECISION, 50)
    above = [right for score, right in held_out if threshold is not None and score >= threshold]
    metadata = {
        "built_by": "scripts/build_match_prior.py",
        "universe": "invented syllable names (scripts/build_match_prior.invented_name)",
        "train_seeds": list(TRAIN_SEEDS),
        "held_out_seed": HELD_OUT_SEED,
        "candidates": len(labels),
        "positives": sum(labels),
        "target_precision": TARGET_PRECISION,
        "default_threshold": threshold,
        "held_out_matches": len(held_out),
        "held_out_auto": len(above),
        "held_out_auto_precision": round(sum(above) / len(above), 4) if above else None,
    }
    return Scorer(trained.weights, trained.bias, metadata).to_dict()


def main() -> None:
    data = build()
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_bytes(canonical(data) + b"\n")
    print(json.dumps(data["metadata"]))


if __name__ == "__main__":
    main()
