import json
import random

import pytest

from autoledger.ml.calibration import ISOTONIC_FROM, MIN_POINTS, Calibrator, fit_calibrator


def overconfident(count: int, seed: int = 3) -> list[tuple[float, bool]]:
    """Scores that claim p but are right only p**2 of the time."""
    rng = random.Random(seed)
    pairs = []
    for _ in range(count):
        score = rng.uniform(0.3, 1.0)
        pairs.append((score, rng.random() < score * score))
    return pairs


def grid() -> list[float]:
    return [i / 100 for i in range(101)]


def test_too_little_feedback_or_one_outcome_gives_the_identity() -> None:
    assert fit_calibrator(overconfident(MIN_POINTS - 1)).kind == "identity"
    assert fit_calibrator([(0.9, True)] * 500).kind == "identity"
    assert Calibrator().calibrate(0.42) == 0.42


def test_platt_below_the_isotonic_size_and_isotonic_from_it() -> None:
    platt = fit_calibrator(overconfident(ISOTONIC_FROM - 1))
    isotonic = fit_calibrator(overconfident(2_000))
    assert platt.kind == "platt"
    assert isotonic.kind == "isotonic"
    for calibrator in (platt, isotonic):
        values = [calibrator.calibrate(score) for score in grid()]
        assert values == sorted(values)
        assert all(0.0 <= value <= 1.0 for value in values)
        # overconfident scores are pulled down in the middle
        assert calibrator.calibrate(0.6) < 0.55


def test_isotonic_is_close_to_the_true_rate() -> None:
    calibrator = fit_calibrator(overconfident(5_000, seed=11))
    for score in (0.5, 0.7, 0.9):
        assert calibrator.calibrate(score) == pytest.approx(score * score, abs=0.08)


def test_scores_without_signal_get_the_observed_accuracy() -> None:
    rng = random.Random(5)
    pairs = [(rng.random(), i % 4 != 0) for i in range(100)]
    calibrator = fit_calibrator(pairs)
    assert calibrator.calibrate(0.1) == pytest.approx(calibrator.calibrate(0.9), abs=0.15)


@pytest.mark.parametrize("count", [50, 1_000])
def test_a_calibrator_survives_a_json_round_trip(count: int) -> None:
    calibrator = fit_calibrator(overconfident(count))
    restored = Calibrator.from_dict(json.loads(json.dumps(calibrator.to_dict())))
    assert restored == calibrator
    assert [restored.calibrate(s) for s in grid()] == [calibrator.calibrate(s) for s in grid()]


def test_a_stored_calibrator_that_is_not_monotone_is_refused() -> None:
    with pytest.raises(ValueError, match="non-decreasing"):
        Calibrator.from_dict({"kind": "isotonic", "thresholds": [0.1, 0.9], "values": [0.8, 0.2]})
    with pytest.raises(ValueError, match="unknown"):
        Calibrator.from_dict({"kind": "magic"})
