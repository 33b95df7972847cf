"""What the matcher learns from reviews: the policy, aliases, history, rejected pairs."""

from autoledger.reconcile.learning import Confirmed, knowledge, learn_policy


def test_without_feedback_the_prior_threshold_applies_to_the_raw_score() -> None:
    policy = learn_policy([], prior_threshold=0.6)
    assert policy.source == "prior"
    assert policy.auto(0.6)
    assert not policy.auto(0.59)
    assert learn_policy([], prior_threshold=None).threshold is None


def test_feedback_that_refutes_the_prior_stops_auto_reconciling() -> None:
    wrong_above = [(0.9, False)] * 5 + [(0.9, True)] * 20
    policy = learn_policy(wrong_above, prior_threshold=0.6)
    assert policy.threshold is None
    assert policy.source == "none"


def test_enough_right_feedback_proves_a_threshold_of_its_own() -> None:
    pairs = [(0.2 + 0.7 * (n % 100) / 100, True) for n in range(900)]
    pairs += [(0.25, False)] * 40
    policy = learn_policy(pairs, prior_threshold=0.99)
    assert policy.source == "feedback"
    assert policy.auto(policy.calibrator.calibrate(0.8))  # where every review was right
    assert not policy.auto(policy.calibrator.calibrate(0.25))  # where the wrong ones were


def test_too_little_feedback_keeps_the_prior() -> None:
    pairs = [(0.8, True)] * 60
    policy = learn_policy(pairs, prior_threshold=0.7)
    assert policy.source == "prior"
    assert policy.threshold == 0.7


def test_knowledge_learns_aliases_and_history() -> None:
    taught = knowledge(
        [
            Confirmed("NWT TRADING", "ACH CREDIT NWT TRADING 123", "Northwind Traders Ltd"),
            Confirmed("NORTHWIND TRADERS", "WIRE IN NORTHWIND", "Northwind Traders Ltd"),
            Confirmed(None, "DEPOSIT", None),
        ],
        [("L1", "I1")],
    )
    assert taught.aliases["NWT TRADING"] == "NORTHWIND TRADERS"
    assert "NORTHWIND TRADERS" not in taught.aliases  # the same name needs no alias
    assert taught.history == {"NORTHWIND TRADERS": 2}
    assert taught.rejected == frozenset({("L1", "I1")})
