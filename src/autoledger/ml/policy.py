"""When a proposal may be booked without a person: the auto-booking threshold.

The threshold is chosen from recent feedback, pairs of (confidence shown, was it correct),
by this rule:

1. With fewer than ``min_feedback`` pairs there is no threshold (None): nothing is booked
   automatically before enough feedback exists.
2. Otherwise, for each candidate threshold ``t`` (each distinct confidence seen), take the
   items with confidence ``>= t``: ``n`` of them, ``k`` correct. ``t`` qualifies when the
   **one-sided Wilson score lower bound** of the precision ``k / n`` at ``confidence_level``
   is at least ``target_precision``.
3. The threshold is the lowest qualifying ``t`` (most automation); None if none qualifies.

The lower bound, not the raw precision, is what must reach the target, so a small sample that
happens to be all correct does not qualify: at a 99% target and 95% confidence, at least
268 consecutive correct items are needed above the threshold. Wilson is used rather than
Clopper-Pearson because it is closed-form and close to exact at these sizes.
"""

import math
from collections.abc import Sequence
from statistics import NormalDist


def wilson_lower_bound(correct: int, total: int, confidence_level: float = 0.95) -> float:
    """One-sided lower bound of a proportion at ``confidence_level`` (0 for no trials)."""
    if total <= 0:
        return 0.0
    if not 0 <= correct <= total:
        raise ValueError("correct must be between 0 and total")
    z = NormalDist().inv_cdf(confidence_level)
    p = correct / total
    z2 = z * z
    centre = p + z2 / (2 * total)
    margin = z * math.sqrt(p * (1 - p) / total + z2 / (4 * total * total))
    return max(0.0, (centre - margin) / (1 + z2 / total))


def choose_threshold(
    pairs: Sequence[tuple[float, bool]],
    target_precision: float = 0.99,
    min_feedback: int = 50,
    confidence_level: float = 0.95,
) -> float | None:
    """The lowest confidence threshold whose precision provably meets the target, or None.

    See the module docstring for the rule.
    """
    if not 0 < target_precision <= 1 or not 0.5 <= confidence_level < 1:
        raise ValueError("need 0 < target_precision <= 1 and 0.5 <= confidence_level < 1")
    if len(pairs) < max(min_feedback, 1):
        return None
    ranked = sorted(pairs, key=lambda pair: -pair[0])
    best: float | None = None
    total = correct = 0
    i = 0
    # walk thresholds from the highest confidence down, adding every item tied at each one
    while i < len(ranked):
        threshold = ranked[i][0]
        while i < len(ranked) and ranked[i][0] == threshold:
            total += 1
            correct += 1 if ranked[i][1] else 0
            i += 1
        if wilson_lower_bound(correct, total, confidence_level) >= target_precision:
            best = threshold
    return best
