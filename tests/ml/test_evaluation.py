from dataclasses import dataclass
from datetime import date, timedelta

import pytest

from autoledger.ml.evaluation import Metrics, challenger_wins, compare, evaluate, time_split


@dataclass(frozen=True)
class Item:
    when: date
    name: str


def test_the_holdout_is_the_most_recent_fraction_and_no_day_is_split() -> None:
    start = date(2025, 1, 1)
    items = [Item(start + timedelta(days=i // 2), f"i{i}") for i in range(20)]
    training, holdout = time_split(list(reversed(items)), 0.25)
    assert len(training) + len(holdout) == 20
    assert max(i.when for i in training) < min(i.when for i in holdout)
    assert len(holdout) == 6  # five wanted, plus the other line of the cut day
    assert time_split([], 0.2) == ([], [])
    with pytest.raises(ValueError, match="holdout_fraction"):
        time_split(items, 1.0)


def test_metrics_of_predictions() -> None:
    predictions = [
        [("6410", 0.9), ("6400", 0.1)],
        [("6120", 0.95)],
        [("6400", 0.6), ("6410", 0.4)],
        [("6500", 0.99)],
    ]
    truth = ["6410", "6120", "6410", "6100"]
    metrics = evaluate(predictions, truth, threshold=0.9)
    assert metrics.count == 4
    assert metrics.top1_accuracy == 0.5
    assert metrics.automation_rate == 0.75
    assert metrics.auto_precision == pytest.approx(2 / 3)
    assert metrics.log_loss > 0
    assert evaluate(predictions, truth, threshold=1.0).auto_precision is None


def _metrics(accuracy: float, loss: float, precision: float | None) -> Metrics:
    return Metrics(100, accuracy, loss, 0.5, precision)


def test_a_challenger_wins_on_accuracy_then_log_loss_but_never_by_losing_precision() -> None:
    champion = _metrics(0.90, 0.40, 0.99)
    assert challenger_wins(champion, _metrics(0.92, 0.50, 0.99))
    assert challenger_wins(champion, _metrics(0.90, 0.30, 1.0))
    assert not challenger_wins(champion, _metrics(0.90, 0.40, 0.99))  # a tie is no win
    assert not challenger_wins(champion, _metrics(0.89, 0.10, 1.0))
    assert not challenger_wins(champion, _metrics(0.99, 0.10, 0.98))  # less precise
    # nothing auto-booked counts as precise: a newcomer must not book a mistake
    silent = _metrics(0.90, 0.40, None)
    assert not challenger_wins(silent, _metrics(0.95, 0.30, 0.97))
    assert challenger_wins(silent, _metrics(0.95, 0.30, 1.0))


def test_compare_scores_both_models_on_the_same_items() -> None:
    truth = ["a", "b", "a"]
    champion = [[("a", 0.6)], [("a", 0.7)], [("a", 0.8)]]
    challenger = [[("a", 0.9)], [("b", 0.9)], [("a", 0.95)]]
    result = compare(champion, challenger, truth, threshold=0.85)
    assert result.champion.top1_accuracy == pytest.approx(2 / 3)
    assert result.challenger.top1_accuracy == 1.0
    assert result.challenger_wins
    with pytest.raises(ValueError, match="one prediction"):
        compare(champion, challenger[:2], truth, threshold=0.85)
