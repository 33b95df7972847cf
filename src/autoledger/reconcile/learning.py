"""What the matcher learns from people: calibration, the auto-reconcile threshold, aliases,
counterparty history and rejected pairs (ADR 0012, decision 5).

Every reviewed match is a pair (raw score, was it right). The ledger's calibrator is fitted on
its most recent pairs (``ml.calibration``: isotonic from 200 pairs, Platt below), and the
threshold is the lowest calibrated confidence whose Wilson lower bound of precision meets
the target (``ml.policy``). Until ``min_feedback`` pairs exist the prior's own threshold,
measured when the prior was built on data no benchmark uses, applies — or none at all.
"""

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from autoledger.ml.calibration import Calibrator, fit_calibrator
from autoledger.ml.policy import choose_threshold, wilson_lower_bound
from autoledger.reconcile.engine import Knowledge
from autoledger.reconcile.normalize import party_key

TARGET_PRECISION = 0.995
MIN_FEEDBACK = 50
WINDOW = 2_000  # most recent pairs the calibration and the threshold are chosen on


@dataclass(frozen=True, slots=True)
class Policy:
    calibrator: Calibrator = field(default_factory=Calibrator)
    threshold: float | None = None  # auto-reconcile from this calibrated confidence
    source: str = "none"  # none | prior | feedback

    def auto(self, confidence: float, identified: bool = True) -> bool:
        """Reconcile without a person: confident enough, and the payer is identified (by a
        reference, an alias or its name; an amount alone never suffices)."""
        return identified and self.threshold is not None and confidence >= self.threshold


def learn_policy(
    pairs: Sequence[tuple[float, bool]],
    *,
    prior_threshold: float | None,
    target_precision: float = TARGET_PRECISION,
    min_feedback: int = MIN_FEEDBACK,
) -> Policy:
    """The policy for a ledger whose reviewed matches scored ``pairs`` (oldest first).

    A threshold proven on the ledger's own feedback wins. Until one is (at a 99.5 % target
    the Wilson bound needs several hundred right matches above it), the prior's threshold
    applies to the raw score — unless the ledger's feedback refutes it: the Wilson *upper*
    bound of the precision of the matches at or above it falls below the target.
    """
    recent = list(pairs[-WINDOW:])
    if len(recent) >= min_feedback:
        calibrator = fit_calibrator(recent)
        calibrated = [(calibrator.calibrate(score), ok) for score, ok in recent]
        threshold = choose_threshold(calibrated, target_precision, min_feedback)
        if threshold is not None:
            return Policy(calibrator=calibrator, threshold=threshold, source="feedback")
    if prior_threshold is None or _refutes(recent, prior_threshold, target_precision):
        return Policy(source="none")
    return Policy(threshold=prior_threshold, source="prior")


def _refutes(pairs: Sequence[tuple[float, bool]], threshold: float, target: float) -> bool:
    above = [ok for score, ok in pairs if score >= threshold]
    wrong = sum(1 for ok in above if not ok)
    return bool(above) and 1 - wilson_lower_bound(wrong, len(above)) < target


@dataclass(frozen=True, slots=True)
class Confirmed:
    """A match a person (or the truth) confirmed: who paid, and which party's items."""

    line_counterparty: str | None
    line_text: str
    item_counterparty: str | None


def aliases_of(line_counterparty: str | None, line_text: str, party: str) -> list[tuple[str, str]]:
    """(alias, party) pairs a confirmed match teaches: how the bank named the payer, in the
    line's counterparty and in its text, where that differs from the items' party key."""
    keys = {party_key(line_counterparty), party_key(line_text)}
    return [(key, party) for key in sorted(keys) if key and key != party]


def knowledge(confirmed: Iterable[Confirmed], rejected: Iterable[tuple[str, str]]) -> Knowledge:
    """Aliases (the line's party as the bank wrote it -> the items' party, when they are
    worded differently), confirmed matches per party, and the rejected pairs."""
    aliases: dict[str, str] = {}
    history: Counter[str] = Counter()
    for match in confirmed:
        party = party_key(match.item_counterparty)
        if not party:
            continue
        history[party] += 1
        aliases.update(aliases_of(match.line_counterparty, match.line_text, party))
    return Knowledge(aliases=aliases, history=dict(history), rejected=frozenset(rejected))
