from datetime import date, timedelta

import pytest

from autoledger.categorize.memory import CounterpartyMemory, MemoryLabel
from autoledger.categorize.model import LabelledExample, LinearModel, train_model
from autoledger.categorize.prior import Prior
from autoledger.categorize.proposer import Proposal, propose
from autoledger.categorize.rules import Rule
from autoledger.ledger.chart import load_template
from autoledger.ml.calibration import Calibrator
from tests.categorize.support import line

CHART = load_template("small_business")
START = date(2025, 1, 1)
COFFEE = line("SQ *BLUE BOTTLE 0423", -1_250)


def _memory(account: str, count: int) -> CounterpartyMemory:
    return CounterpartyMemory(
        MemoryLabel("blue bottle", "out", account, START + timedelta(days=i)) for i in range(count)
    )


def _model() -> LinearModel:
    examples = [
        ("SQ *BLUE BOTTLE 1", "6410"),
        ("TARTINE BAKERY", "6410"),
        ("PAYPAL *ADOBE 8539", "6120"),
        ("GITHUB INC", "6120"),
        ("UNITED AIRLINES", "6400"),
        ("DELTA AIR LINES", "6400"),
    ]
    return train_model([LabelledExample(line(text), account, START) for text, account in examples])


def _holds(proposal: Proposal) -> None:
    probabilities = [p for _, p in proposal.top]
    assert len(proposal.top) <= 3
    assert len({account for account, _ in proposal.top}) == len(proposal.top)
    assert probabilities == sorted(probabilities, reverse=True)
    assert sum(probabilities) <= 1.0 + 1e-6
    assert proposal.confidence == (probabilities[0] if probabilities else 0.0)


def test_a_rule_wins_over_everything() -> None:
    rule = Rule(id="coffee", priority=1, account="6420", description_contains="blue bottle")
    proposal = propose(
        COFFEE,
        rules=[rule],
        memory=_memory("6410", 10),
        model=_model(),
        prior=Prior.load(),
        chart=CHART,
    )
    _holds(proposal)
    assert (proposal.source, proposal.account, proposal.confidence) == ("rule", "6420", 1.0)
    assert proposal.explanation["rule_id"] == "coffee"


def test_memory_answers_before_the_model_with_a_support_discounted_confidence() -> None:
    model = train_model(
        [
            LabelledExample(line("SQ *BLUE BOTTLE"), "6500", START),
            LabelledExample(line("DELTA"), "6400", START),
        ]
    )
    proposal = propose(COFFEE, memory=_memory("6410", 3), model=model)
    _holds(proposal)
    assert proposal.source == "memory"
    assert proposal.top[0][0] == "6410"
    assert proposal.top[0][1] == pytest.approx(0.75)
    assert [account for account, _ in proposal.top[1:]] == ["6500", "6400"]
    assert proposal.explanation["support"] == 3
    assert proposal.explanation["counterparty"] == "blue bottle"
    sure = propose(COFFEE, memory=_memory("6410", 19))
    assert sure.confidence == pytest.approx(0.95)


def test_the_model_answers_when_rules_and_memory_do_not() -> None:
    model = train_model(
        [
            LabelledExample(line(text), account, START)
            for text, account in (
                ("SQ *BLUE BOTTLE 1", "6410"),
                ("TARTINE BAKERY", "6410"),
                ("PAYPAL *ADOBE 8539", "6120"),
                ("DELTA AIR LINES", "6400"),
            )
        ]
    )
    proposal = propose(
        COFFEE, memory=_memory("6410", 2), model=model, prior=Prior.load(), chart=CHART
    )
    _holds(proposal)
    assert proposal.source == "model"
    assert proposal.account == "6410"
    assert proposal.model_version == model.content_hash
    assert proposal.explanation["features"]
    nearest = proposal.explanation["nearest"][0]
    assert (nearest["description"], nearest["account"]) == ("blue bottle", "6410")


def test_the_prior_answers_for_a_tenant_without_a_model() -> None:
    proposal = propose(line("MONTHLY MAINTENANCE FEE", -1_500), prior=Prior.load(), chart=CHART)
    _holds(proposal)
    assert proposal.source == "prior"
    assert proposal.account == "6800"
    assert proposal.model_version is not None
    assert proposal.model_version.startswith("prior:")


def test_a_calibrator_replaces_the_top_probability_and_keeps_the_order() -> None:
    calibrator = Calibrator(kind="platt", slope=1.0, offset=-3.0)  # much less sure
    raw = propose(line("MONTHLY MAINTENANCE FEE", -1_500), prior=Prior.load(), chart=CHART)
    calibrated = propose(
        line("MONTHLY MAINTENANCE FEE", -1_500),
        prior=Prior.load(),
        chart=CHART,
        calibrator=calibrator,
    )
    _holds(calibrated)
    assert calibrated.account == raw.account
    assert calibrated.confidence == pytest.approx(calibrator.calibrate(raw.confidence))
    assert calibrated.confidence < raw.confidence


def test_nothing_to_propose_without_any_source() -> None:
    proposal = propose(COFFEE)
    _holds(proposal)
    assert (proposal.source, proposal.top, proposal.account) == ("none", [], None)
