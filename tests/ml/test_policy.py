import pytest

from autoledger.ml.policy import choose_threshold, wilson_lower_bound


def test_wilson_lower_bound_is_below_the_observed_rate_and_tightens_with_data() -> None:
    assert wilson_lower_bound(0, 0) == 0.0
    assert wilson_lower_bound(10, 10) < 1.0
    assert (
        wilson_lower_bound(10, 10) < wilson_lower_bound(100, 100) < wilson_lower_bound(1000, 1000)
    )
    assert wilson_lower_bound(95, 100) < 0.95
    # reference value: 268 of 268 at 95% one-sided is just above 0.99
    assert wilson_lower_bound(268, 268) >= 0.99 > wilson_lower_bound(267, 267)


def test_no_threshold_before_enough_feedback() -> None:
    assert choose_threshold([(0.99, True)] * 49) is None


def test_no_threshold_while_a_perfect_record_is_too_short_to_prove_the_target() -> None:
    assert choose_threshold([(0.99, True)] * 200) is None


def test_the_lowest_threshold_whose_lower_bound_meets_the_target() -> None:
    sure = [(0.95 + i / 100_000, True) for i in range(400)]
    doubtful = [(0.6, i % 2 == 0) for i in range(200)]
    threshold = choose_threshold(sure + doubtful)
    assert threshold == pytest.approx(0.95)
    # a lower target lets more through
    assert choose_threshold(sure + doubtful, target_precision=0.6) == pytest.approx(0.6)


def test_mistakes_push_the_threshold_above_them() -> None:
    pairs = [(0.95 + i / 20_000, True) for i in range(500)]
    pairs += [(0.90 + i / 2_000, i % 10 != 0) for i in range(100)]  # one in ten wrong
    threshold = choose_threshold(pairs)
    assert threshold is not None
    assert threshold > 0.94  # above all mistakes but the highest, which 500 right ones outweigh
    above = [ok for confidence, ok in pairs if confidence >= threshold]
    assert wilson_lower_bound(sum(above), len(above)) >= 0.99


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="target_precision"):
        choose_threshold([(0.9, True)] * 100, target_precision=1.5)
