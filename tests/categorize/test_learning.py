import math
from datetime import date, datetime, timedelta

import pytest

from autoledger.categorize.learning import (
    Champion,
    Feedback,
    Thresholds,
    build_memory,
    choose_thresholds,
    decide,
    prior_default_threshold,
    retrain,
    should_auto_book,
)
from autoledger.categorize.model import LabelledExample, train_model
from autoledger.categorize.prior import Prior
from autoledger.categorize.proposer import Proposal
from autoledger.ledger.chart import load_template
from tests.categorize.support import line

CHART = load_template("small_business")
START = datetime(2025, 1, 1, 18)

#: (description, account): distinct vendors, each consistently booked to one account
VENDORS = [
    ("SQ *BLUE BOTTLE", "6410"),
    ("TARTINE BAKERY", "6410"),
    ("PAYPAL *ADOBE", "6120"),
    ("GITHUB INC", "6120"),
    ("UNITED AIRLINES", "6400"),
    ("DELTA AIR LINES", "6400"),
    ("FEDEX SHIPPING", "5200"),
    ("STAPLES OFFICE", "6500"),
]


def _feedback(
    count: int,
    *,
    source: str = "model",
    confidence: float = 0.9,
    wrong_every: int = 0,
    start: datetime = START,
) -> list[Feedback]:
    items = []
    for i in range(count):
        text, account = VENDORS[i % len(VENDORS)]
        wrong = wrong_every > 0 and i % wrong_every == 0
        when = start + timedelta(hours=6 * i)
        items.append(
            Feedback(
                facts=line(f"{text} {i:06d}", day=when.date()),
                account=account,
                when=when,
                proposed="6999" if wrong else account,
                confidence=confidence,
                source=source,
                auto_booked=False,
            )
        )
    return items


def test_thresholds_round_trip_through_a_dict() -> None:
    thresholds = Thresholds(memory=0.8, model=None, prior=0.95)
    assert Thresholds.from_dict(thresholds.to_dict()) == thresholds
    assert Thresholds.from_dict({}) == Thresholds()


def test_no_threshold_before_min_feedback() -> None:
    assert choose_thresholds(_feedback(49, source="memory"), min_feedback=50) == Thresholds()


def test_a_source_gets_a_threshold_once_its_precision_is_proven() -> None:
    proven = choose_thresholds(_feedback(400, source="memory", confidence=0.85))
    assert proven == Thresholds(memory=0.85)
    # too few items to prove 99% at the Wilson lower bound, though all are right
    assert choose_thresholds(_feedback(100, source="memory")).memory is None


def test_only_the_most_recent_feedback_of_a_source_counts() -> None:
    old_mistakes = _feedback(500, source="model", wrong_every=2)
    recent = _feedback(2_000, source="model", start=START + timedelta(days=400))
    assert choose_thresholds(old_mistakes + recent).model == pytest.approx(0.9)
    new_mistakes = _feedback(
        500, source="model", wrong_every=2, start=START + timedelta(days=2_000)
    )
    assert choose_thresholds(recent + new_mistakes).model is None


def test_the_prior_keeps_its_default_until_the_tenant_refutes_it() -> None:
    assert choose_thresholds([], prior_default=0.5).prior == 0.5
    clean = _feedback(60, source="prior", confidence=0.7)
    assert choose_thresholds(clean, prior_default=0.5).prior == 0.5
    # wrong at 0.6, right at 0.9: the default rises above the refuted confidences
    refuted = _feedback(60, source="prior", confidence=0.6, wrong_every=1)
    right = _feedback(60, source="prior", confidence=0.9, start=START + timedelta(days=30))
    assert choose_thresholds(refuted + right, prior_default=0.5).prior == pytest.approx(0.9)
    assert choose_thresholds(refuted, prior_default=0.5).prior is None


def test_should_auto_book_per_source() -> None:
    thresholds = Thresholds(memory=0.8, model=None, prior=0.9)

    def proposal(source: str, confidence: float) -> Proposal:
        return Proposal(top=[("6410", confidence)], confidence=confidence, source=source)

    assert should_auto_book(proposal("rule", 1.0), Thresholds())
    assert should_auto_book(proposal("memory", 0.8), thresholds)
    assert not should_auto_book(proposal("memory", 0.79), thresholds)
    assert not should_auto_book(proposal("model", 0.999), thresholds)
    assert should_auto_book(proposal("prior", 0.95), thresholds)
    assert not should_auto_book(Proposal(top=[], confidence=0.0, source="none"), thresholds)


def test_build_memory_remembers_consistent_counterparties() -> None:
    memory = build_memory(_feedback(48))
    hit = memory.lookup(line("SQ *BLUE BOTTLE 999999"))
    assert hit is not None
    assert hit.account == "6410"


def test_prior_default_threshold_on_its_own_held_out_lines() -> None:
    prior = Prior.load()
    held_out = [
        LabelledExample(line(f"UTILITY PAYMENT {i:08d}", -5_000), "utilities", date(2021, 1, 1))
        for i in range(300)
    ]
    threshold = prior_default_threshold(prior, held_out, CHART)
    assert threshold is not None
    assert 0.0 < threshold <= 1.0
    wrong = [LabelledExample(e.facts, "rent", e.when) for e in held_out]
    assert prior_default_threshold(prior, wrong, CHART) is None


def test_decide_lets_the_prior_book_only_when_the_young_model_agrees() -> None:
    prior = Prior.load()
    facts = line("UTILITY PAYMENT 12345678", -5_000)
    prior_account = prior.predict(facts, CHART)[0][0]
    agreeing = train_model(
        [
            LabelledExample(line("UTILITY PAYMENT 1"), prior_account, START.date()),
            LabelledExample(line("DELTA AIR LINES"), "6400", START.date()),
        ]
    )
    disagreeing = train_model(
        [
            LabelledExample(line("UTILITY PAYMENT 1"), "6999", START.date()),
            LabelledExample(line("DELTA AIR LINES"), "6400", START.date()),
        ]
    )
    thresholds = Thresholds(prior=0.0)
    for model, booked in ((agreeing, True), (disagreeing, False)):
        decision = decide(
            facts,
            memory=None,
            champion=Champion(model, None, thresholds),
            prior=prior,
            chart=CHART,
            thresholds=thresholds,
        )
        assert decision.proposal.source == "model"
        assert decision.auto_book is booked
        assert decision.booked_by == ("prior" if booked else None)


def test_retrain_needs_enough_feedback() -> None:
    outcome = retrain(_feedback(20), champion=None, now=START + timedelta(days=30))
    assert not outcome.promote
    assert outcome.model is None
    assert "not enough" in outcome.reason


def test_a_first_model_is_promoted_with_a_calibrator_and_thresholds() -> None:
    feedback = _feedback(200)
    outcome = retrain(feedback, champion=None, now=START + timedelta(days=60))
    assert outcome.promote
    assert outcome.model is not None
    assert outcome.calibrator is not None
    assert outcome.thresholds is not None
    # retrained on all feedback, not just the training part of the split
    assert outcome.model.metadata["examples"] == 200
    assert outcome.trained_from == feedback[0].when
    assert outcome.trained_to == feedback[-1].when
    assert outcome.metrics["challenger"]["top1_accuracy"] == 1.0
    assert outcome.training_seconds >= 0


def test_feedback_after_now_is_not_learned_from() -> None:
    feedback = _feedback(200)
    now = feedback[99].when
    outcome = retrain(feedback, champion=None, now=now)
    assert outcome.model is not None
    assert outcome.model.metadata["examples"] == 100


def _champion(feedback: list[Feedback]) -> Champion:
    first = retrain(feedback, champion=None, now=feedback[-1].when)
    assert first.model is not None
    assert first.thresholds is not None
    return Champion(first.model, first.calibrator, first.thresholds)


def _relabelled(items: list[Feedback], every: int = 2) -> list[Feedback]:
    return [
        Feedback(item.facts, "6999" if i % every == 0 else item.account, item.when)
        for i, item in enumerate(items)
    ]


def test_a_worse_challenger_is_not_promoted() -> None:
    good = _feedback(100)
    champion = _champion(good)
    # after the champion, half the vendors are relabelled; the newest feedback flips back
    relabelled = _relabelled(_feedback(200, start=good[-1].when + timedelta(days=1)))
    latest = _feedback(100, start=relabelled[-1].when + timedelta(days=1))
    outcome = retrain(good + relabelled + latest, champion=champion, now=latest[-1].when)
    assert not outcome.promote
    assert outcome.model is None
    assert outcome.thresholds is None
    assert outcome.metrics["champion"]["top1_accuracy"] == 1.0
    assert outcome.metrics["challenger"]["top1_accuracy"] == 0.5


def test_the_gate_is_fair_to_both_models() -> None:
    feedback = _feedback(200)
    champion = _champion(feedback[:180])
    outcome = retrain(feedback, champion=champion, now=feedback[-1].when)
    newer = [item for item in feedback if item.when.date() > feedback[179].when.date()]
    assert 0 < len(newer) < 40
    # judged on the newer half of what the champion never saw ...
    assert outcome.metrics["holdout_examples"] == math.ceil(len(newer) / 2)
    # ... by a challenger that learned from everything the champion did, and more
    assert outcome.metrics["champion_examples"] == 180
    assert outcome.metrics["training_examples"] == 200 - outcome.metrics["holdout_examples"]
    assert outcome.metrics["training_examples"] > 180
    stale = retrain(feedback[:180], champion=champion, now=feedback[179].when)
    assert not stale.promote
    assert "newer" in stale.reason


def test_the_unseen_window_is_at_most_the_holdout_fraction_of_all_feedback() -> None:
    feedback = _feedback(400)
    champion = _champion(feedback[:60])
    outcome = retrain(feedback, champion=champion, now=feedback[-1].when)
    # 340 lines arrived since the champion: half of them would be 170, the cap is 80
    assert outcome.metrics["holdout_examples"] == 80
    assert outcome.metrics["training_examples"] == 320


def test_a_challenger_that_learned_new_counterparties_is_promoted() -> None:
    known = [item for item in _feedback(160) if item.account in {"6410", "6120"}]
    champion = _champion(known)
    # new vendors arrive after the champion's training; the challenger learns them from
    # the older half of the new feedback and is judged on the newer half
    arrived = _feedback(160, start=known[-1].when + timedelta(days=1))
    outcome = retrain(known + arrived, champion=champion, now=arrived[-1].when)
    assert outcome.promote
    assert (
        outcome.metrics["challenger"]["top1_accuracy"]
        > outcome.metrics["champion"]["top1_accuracy"]
    )
    assert outcome.model is not None
    assert outcome.model.metadata["examples"] == len(known) + len(arrived)


def test_no_challenger_without_feedback_older_than_the_holdout() -> None:
    champion = _champion(_feedback(100))
    # a bulk review: every label decided at one time, all after the champion's training
    when = START + timedelta(days=90)
    bulk = [
        Feedback(item.facts, item.account, when)
        for item in _feedback(80, start=START + timedelta(days=60))
    ]
    outcome = retrain(bulk, champion=champion, now=when)
    assert not outcome.promote
    assert outcome.reason == "no feedback older than the holdout"
