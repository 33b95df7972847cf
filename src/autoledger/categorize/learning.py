"""The learning loop over plain data: feedback in; memory, thresholds and models out.

Every decided bank line becomes a :class:`Feedback`: what was proposed, with which
confidence and by which source, and the account a person decided (or accepted). From the
feedback alone, without a database, this module

- builds the :class:`~autoledger.categorize.memory.CounterpartyMemory`
  (:func:`build_memory`);
- chooses a per-source auto-booking threshold (:func:`choose_thresholds`), so that the
  measured precision of each source's auto-bookings provably (Wilson lower bound) stays at the
  target; rules always auto-book, since a person wrote them;
- trains a challenger model and promotes it over the champion only when it is better on a
  time-split holdout and never worse on precision at the operating threshold
  (:func:`retrain`).

The prior's default threshold (:func:`prior_default_threshold`) is measured on held-out lines
of the prior's *own* training universe, never on tenant or benchmark data. The held-out lines
are a parameter rather than generated here: the generator lives in ``scripts/build_prior.py``,
outside the installed package, so the caller (the benchmark, the tests, or whoever ships a
prior) generates them with a seed different from the one the shipped prior was trained with.
"""

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from autoledger.categorize.features import LineFacts
from autoledger.categorize.memory import CounterpartyMemory, MemoryLabel
from autoledger.categorize.model import LabelledExample, LinearModel, train_model
from autoledger.categorize.prior import ChartAccount, Prior, chart_mapping
from autoledger.categorize.proposer import Proposal, propose
from autoledger.categorize.rules import Rule
from autoledger.ml.calibration import Calibrator, fit_calibrator
from autoledger.ml.evaluation import Metrics, Prediction, compare, time_split
from autoledger.ml.policy import choose_threshold, wilson_lower_bound

#: feedback items per source that a threshold is chosen from (the most recent ones)
RECENT_FEEDBACK = 2_000

LEARNED_SOURCES = ("memory", "model", "prior")


@dataclass(frozen=True, slots=True)
class Feedback:
    """One decided bank line: the account a person decided and what had been proposed."""

    facts: LineFacts
    account: str  # the decided (true) account code
    when: datetime  # when the person decided
    proposed: str | None = None
    confidence: float | None = None
    source: str | None = None  # "rule" | "memory" | "model" | "prior"
    auto_booked: bool = False

    @property
    def correct(self) -> bool:
        return self.proposed == self.account


@dataclass(frozen=True, slots=True)
class Thresholds:
    """Auto-booking thresholds per learned source; None means never auto-book from it."""

    memory: float | None = None
    model: float | None = None
    prior: float | None = None

    def for_source(self, source: str) -> float | None:
        if source == "memory":
            return self.memory
        if source == "model":
            return self.model
        if source == "prior":
            return self.prior
        return None

    def to_dict(self) -> dict[str, float | None]:
        return {"memory": self.memory, "model": self.model, "prior": self.prior}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Thresholds":
        def value(name: str) -> float | None:
            raw = data.get(name)
            return None if raw is None else float(raw)

        return cls(memory=value("memory"), model=value("model"), prior=value("prior"))


@dataclass(frozen=True, slots=True)
class Champion:
    """The model in force, the calibrator of its confidences and the thresholds in force."""

    model: LinearModel
    calibrator: Calibrator | None
    thresholds: Thresholds


@dataclass(frozen=True, slots=True)
class Retrained:
    """The outcome of one retraining. ``model``, ``calibrator`` and ``thresholds`` are set
    only when ``promote`` is true; ``metrics`` is JSON-safe."""

    promote: bool
    reason: str
    model: LinearModel | None
    calibrator: Calibrator | None
    thresholds: Thresholds | None
    metrics: dict[str, Any]
    trained_from: datetime | None
    trained_to: datetime | None
    training_seconds: float


def build_memory(feedback: Iterable[Feedback], **options: Any) -> CounterpartyMemory:
    """The counterparty memory of all decided lines, in the order they were decided."""
    ordered = sorted(feedback, key=lambda item: item.when)
    return CounterpartyMemory(
        (MemoryLabel.of(item.facts, item.account) for item in ordered), **options
    )


def source_pairs(
    feedback: Iterable[Feedback], source: str, recent: int = RECENT_FEEDBACK
) -> list[tuple[float, bool]]:
    """(confidence shown, was it correct) of the ``recent`` latest proposals of ``source``."""
    items = sorted(
        (f for f in feedback if f.source == source and f.confidence is not None),
        key=lambda f: f.when,
    )[-recent:]
    return [(float(f.confidence or 0.0), f.correct) for f in items]


def choose_thresholds(
    feedback: Sequence[Feedback],
    *,
    target_precision: float = 0.99,
    min_feedback: int = 50,
    prior_default: float | None = None,
    confidence_level: float = 0.95,
) -> Thresholds:
    """Each learned source's threshold from its recent feedback (Wilson lower bound).

    While the tenant's own feedback on the prior cannot yet prove a threshold, the prior
    keeps ``prior_default``, raised as far as that feedback demands: to the lowest
    confidence at or above the default whose proposals it does not refute (see
    :func:`_unrefuted`).
    """
    chosen: dict[str, float | None] = {}
    for source in LEARNED_SOURCES:
        pairs = source_pairs(feedback, source)
        chosen[source] = choose_threshold(pairs, target_precision, min_feedback, confidence_level)
    if chosen["prior"] is None and prior_default is not None:
        chosen["prior"] = _unrefuted(
            source_pairs(feedback, "prior"), prior_default, target_precision, confidence_level
        )
    return Thresholds(memory=chosen["memory"], model=chosen["model"], prior=chosen["prior"])


def _unrefuted(
    pairs: Sequence[tuple[float, bool]],
    default: float,
    target_precision: float,
    confidence_level: float,
) -> float | None:
    """The lowest threshold ``t >= default`` that ``pairs`` do not refute, or None.

    ``t`` is refuted when the precision of the items at or above it is, by its one-sided
    Wilson *upper* bound, below the target: the data shows it misses the target, rather than
    merely failing to prove that it meets it. No items refute nothing, so with no feedback
    the answer is ``default``. Candidates are ``default`` and every confidence above it.
    """
    ranked = sorted((pair for pair in pairs if pair[0] >= default), key=lambda pair: -pair[0])
    candidates = sorted({default, *(confidence for confidence, _ in ranked)}, reverse=True)
    best: float | None = None
    total = correct = 0
    i = 0
    # walk the candidates from the highest down, counting the items at or above each
    for candidate in candidates:
        while i < len(ranked) and ranked[i][0] >= candidate:
            total += 1
            correct += 1 if ranked[i][1] else 0
            i += 1
        # Wilson's interval is symmetric: the upper bound of the successes is one minus
        # the lower bound of the failures
        upper = 1.0 - wilson_lower_bound(total - correct, total, confidence_level)
        if upper >= target_precision:
            best = candidate
    return best


def should_auto_book(proposal: Proposal, thresholds: Thresholds) -> bool:
    """Rules always book; a learned source books when its threshold is set and reached."""
    if proposal.account is None:
        return False
    if proposal.source == "rule":
        return True
    threshold = thresholds.for_source(proposal.source)
    return threshold is not None and proposal.confidence >= threshold


@dataclass(frozen=True, slots=True)
class Decision:
    """A line's proposal, whether to book it without a person, and which source's threshold
    allowed it (None when it is not booked)."""

    proposal: Proposal
    auto_book: bool
    booked_by: str | None = None


def decide(
    facts: LineFacts,
    *,
    rules: Sequence[Rule] = (),
    memory: CounterpartyMemory | None,
    champion: Champion | None,
    prior: Prior | None,
    chart: Sequence[ChartAccount],
    thresholds: Thresholds,
) -> Decision:
    """Propose (rules, memory, champion model, prior) and decide on auto-booking.

    Young memory and a young model answer before the prior but cannot auto-book until their
    own thresholds are proven; meanwhile the prior still books a line when it clears the
    prior's threshold **and** the answering source's top account agrees with it. The
    proposal stays the answering source's, so that feedback on the line measures that
    source (which the threshold of memory and model are chosen from).
    """
    proposal = propose(
        facts,
        rules=rules,
        memory=memory,
        model=champion.model if champion is not None else None,
        prior=prior,
        chart=chart,
        calibrator=champion.calibrator if champion is not None else None,
    )
    if should_auto_book(proposal, thresholds):
        return Decision(proposal, auto_book=True, booked_by=proposal.source)
    young = proposal.source in ("memory", "model")
    if young and prior is not None and thresholds.prior is not None:
        fallback = propose(facts, prior=prior, chart=chart)
        if fallback.account == proposal.account and should_auto_book(fallback, thresholds):
            return Decision(proposal, auto_book=True, booked_by="prior")
    return Decision(proposal, auto_book=False)


def prior_default_threshold(
    prior: Prior,
    held_out: Sequence[LabelledExample],
    chart: Sequence[ChartAccount],
    *,
    target_precision: float = 0.99,
    min_feedback: int = 50,
) -> float | None:
    """The prior's shipped threshold, measured on lines of its own universe it was not
    trained on (labelled with generic categories, mapped onto ``chart``).

    Lines whose category the chart has no account for are left out: the prior never
    proposes those accounts there.
    """
    mapping = chart_mapping(chart)
    pairs: list[tuple[float, bool]] = []
    for example in held_out:
        expected = mapping.get(example.account)
        if expected is None:
            continue
        ranked = prior.predict(example.facts, chart)
        if ranked:
            pairs.append((ranked[0][1], ranked[0][0] == expected))
    return choose_threshold(pairs, target_precision, min_feedback)


def _example(item: Feedback) -> LabelledExample:
    return LabelledExample(item.facts, item.account, item.when.date())


def _calibrated_top(prediction: Prediction, calibrator: Calibrator | None) -> Prediction:
    if not prediction or calibrator is None:
        return prediction
    account, raw = prediction[0]
    return [(account, calibrator.calibrate(raw)), *prediction[1:]]


def _metrics(metrics: Metrics) -> dict[str, Any]:
    return {
        "count": metrics.count,
        "top1_accuracy": round(metrics.top1_accuracy, 6),
        "log_loss": round(metrics.log_loss, 6),
        "automation_rate": round(metrics.automation_rate, 6),
        "auto_precision": (
            None if metrics.auto_precision is None else round(metrics.auto_precision, 6)
        ),
    }


def retrain(
    feedback: Sequence[Feedback],
    *,
    champion: Champion | None,
    now: datetime,
    target_precision: float = 0.99,
    min_feedback: int = 50,
    holdout_fraction: float = 0.2,
    prior_default: float | None = None,
    regularization: float = 10.0,
) -> Retrained:
    """Judge a challenger against the champion on feedback neither learned from, and on
    promotion return the model retrained on all feedback, its calibrator and thresholds.

    The gate is fair to both (ADR 0021). The champion learned from every label up to its
    ``trained_to``; the *unseen window* is the newest part of what was decided since (half
    of it, at most ``holdout_fraction`` of all feedback), and the challenger learns from
    everything before that window: the champion's labels and the older part of the new
    ones. Both are judged on the window at the operating point in force (the champion's
    calibrator and model threshold; nothing auto-books when there is none), by
    :func:`~autoledger.ml.evaluation.challenger_wins`. A challenger trained on the oldest
    ``1 - holdout_fraction`` (with no champion: the gate's own challenger) predicts the
    newest ``holdout_fraction``, out of sample, to fit the calibrator and choose the model
    threshold, since a small unseen window would calibrate nothing; memory and prior
    thresholds come from the feedback.
    """
    started = time.perf_counter()
    decided = sorted((item for item in feedback if item.when <= now), key=lambda item: item.when)
    window = (decided[0].when, decided[-1].when) if decided else (None, None)

    def outcome(reason: str, metrics: dict[str, Any], **promoted: Any) -> Retrained:
        return Retrained(
            promote=bool(promoted),
            reason=reason,
            model=promoted.get("model"),
            calibrator=promoted.get("calibrator"),
            thresholds=promoted.get("thresholds"),
            metrics=metrics,
            trained_from=window[0],
            trained_to=window[1],
            training_seconds=round(time.perf_counter() - started, 4),
        )

    def fit(items: Sequence[Feedback]) -> LinearModel:
        return train_model([_example(item) for item in items], regularization=regularization)

    older, recent = time_split(decided, holdout_fraction) if decided else ([], [])
    if len(decided) < min_feedback:
        return outcome(f"not enough feedback ({len(decided)} < {min_feedback})", {})
    if not older:  # every label decided at one time: nothing is older than the rest
        return outcome("no feedback older than the holdout", {})
    operating = champion.thresholds.model if champion is not None else None
    threshold = float("inf") if operating is None else operating
    in_force = champion.calibrator if champion is not None else None
    if champion is None:
        challenger = fit(older)
        raw = [challenger.predict(item.facts) for item in recent]
        predictions = [_calibrated_top(p, in_force) for p in raw]
        comparison = compare(predictions, predictions, [item.account for item in recent], threshold)
        metrics: dict[str, Any] = {
            "champion": None,
            "challenger": _metrics(comparison.challenger),
            "threshold": operating,
            "training_examples": len(older),
            "holdout_examples": len(recent),
        }
        reason = "first model"
    else:
        learned_to = str(champion.model.metadata.get("trained_to", ""))
        since = [item for item in decided if item.when.date().isoformat() > learned_to]
        if not since:
            return outcome("no feedback newer than the champion's training", {})
        share = min(0.5, holdout_fraction * len(decided) / len(since))
        unseen = time_split(since, share)[1]
        learned = decided[: len(decided) - len(unseen)]
        judged = fit(learned)
        truth = [item.account for item in unseen]
        comparison = compare(
            [_calibrated_top(champion.model.predict(item.facts), in_force) for item in unseen],
            [_calibrated_top(judged.predict(item.facts), in_force) for item in unseen],
            truth,
            threshold,
        )
        metrics = {
            "champion": _metrics(comparison.champion),
            "challenger": _metrics(comparison.challenger),
            "threshold": operating,
            "training_examples": len(learned),
            "champion_examples": int(champion.model.metadata.get("examples", 0)),
            "holdout_examples": len(unseen),
        }
        if not comparison.challenger_wins:
            return outcome("the challenger does not beat the champion on the holdout", metrics)
        reason = "the challenger beats the champion on the holdout"
        calibrating = judged if len(learned) == len(older) else fit(older)
        raw = [calibrating.predict(item.facts) for item in recent]
    # the calibrator and the model threshold: out-of-sample predictions of the newest
    # ``holdout_fraction``, none of which the calibrating model learned from
    pairs = [(p[0][1], p[0][0] == item.account) for p, item in zip(raw, recent, strict=True) if p]
    calibrator = fit_calibrator(pairs)
    calibrated = [(calibrator.calibrate(score), ok) for score, ok in pairs]
    from_feedback = choose_thresholds(
        decided,
        target_precision=target_precision,
        min_feedback=min_feedback,
        prior_default=prior_default,
    )
    thresholds = Thresholds(
        memory=from_feedback.memory,
        model=choose_threshold(calibrated, target_precision, min_feedback),
        prior=from_feedback.prior,
    )
    model = fit(decided)
    return outcome(reason, metrics, model=model, calibrator=calibrator, thresholds=thresholds)
