"""Champion against challenger on held-out data, split by time.

A challenger model replaces the champion only when it is better on the agreed metric, top-1
accuracy (ties broken by lower log loss), **and** never worse on precision at the operating
threshold. Held-out data is always the most recent fraction of the examples: a model is judged
on the future of what it learned from, as it will be used.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Protocol, TypeVar

#: probability floor in the log loss for a true account missing from a prediction's top-k
LOG_LOSS_FLOOR = 1e-6

Prediction = Sequence[tuple[str, float]]  # (account, probability), most likely first


class Dated(Protocol):
    @property
    def when(self) -> date: ...


D = TypeVar("D", bound=Dated)


def time_split(examples: Sequence[D], holdout_fraction: float) -> tuple[list[D], list[D]]:
    """(training, holdout): the holdout is the most recent ``holdout_fraction`` of examples.

    Examples are ordered by ``when`` (stably); examples dated on the day of the cut all go to
    the holdout, so no day is split between training and holdout.
    """
    if not 0 < holdout_fraction < 1:
        raise ValueError("holdout_fraction must be strictly between 0 and 1")
    ordered = sorted(examples, key=lambda example: example.when)
    if not ordered:
        return [], []
    cut = len(ordered) - max(1, math.ceil(len(ordered) * holdout_fraction))
    cut_day = ordered[cut].when
    while cut > 0 and ordered[cut - 1].when == cut_day:
        cut -= 1
    return ordered[:cut], ordered[cut:]


@dataclass(frozen=True, slots=True)
class Metrics:
    count: int
    top1_accuracy: float
    log_loss: float
    automation_rate: float  # share of items whose confidence reaches the threshold
    auto_precision: float | None  # accuracy among those; None when none reaches it


def evaluate(predictions: Sequence[Prediction], truth: Sequence[str], threshold: float) -> Metrics:
    """Metrics of one model's predictions; the confidence of an item is its top probability."""
    if len(predictions) != len(truth):
        raise ValueError("one prediction per true account is required")
    if not truth:
        raise ValueError("cannot evaluate on no items")
    correct = automated = automated_correct = 0
    loss = 0.0
    for prediction, true in zip(predictions, truth, strict=True):
        top, confidence = prediction[0] if prediction else ("", 0.0)
        right = top == true
        correct += right
        probability = dict(prediction).get(true, 0.0)
        loss -= math.log(max(probability, LOG_LOSS_FLOOR))
        if prediction and confidence >= threshold:
            automated += 1
            automated_correct += right
    return Metrics(
        count=len(truth),
        top1_accuracy=correct / len(truth),
        log_loss=loss / len(truth),
        automation_rate=automated / len(truth),
        auto_precision=automated_correct / automated if automated else None,
    )


@dataclass(frozen=True, slots=True)
class Comparison:
    champion: Metrics
    challenger: Metrics

    @property
    def challenger_wins(self) -> bool:
        return challenger_wins(self.champion, self.challenger)


def compare(
    champion_predictions: Sequence[Prediction],
    challenger_predictions: Sequence[Prediction],
    truth: Sequence[str],
    threshold: float,
) -> Comparison:
    """Both models' metrics on the same held-out items at the same operating threshold."""
    return Comparison(
        champion=evaluate(champion_predictions, truth, threshold),
        challenger=evaluate(challenger_predictions, truth, threshold),
    )


def challenger_wins(champion: Metrics, challenger: Metrics) -> bool:
    """Whether the challenger should be promoted.

    Better: higher top-1 accuracy, or equal accuracy and lower log loss. And never worse on
    precision at the operating threshold; a model that auto-books nothing counts as precise
    (it books nothing wrong), so a challenger that starts auto-booking where the champion did
    not must be as precise as that: make no mistake above the threshold on the holdout.
    """
    champion_precision = 1.0 if champion.auto_precision is None else champion.auto_precision
    challenger_precision = 1.0 if challenger.auto_precision is None else challenger.auto_precision
    if challenger_precision < champion_precision:
        return False
    if challenger.top1_accuracy != champion.top1_accuracy:
        return challenger.top1_accuracy > champion.top1_accuracy
    return challenger.log_loss < champion.log_loss
