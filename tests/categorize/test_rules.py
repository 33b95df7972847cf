import pytest

from autoledger.categorize.rules import MAX_PATTERN, Rule, first_match
from tests.categorize.support import line


def test_a_rule_matches_only_when_every_condition_holds() -> None:
    rule = Rule(
        id="r1",
        priority=10,
        account="6120",
        description_contains="adobe",
        direction="out",
        min_amount=1_000,
        max_amount=20_000,
        bank_account_id="card",
    )
    assert rule.matches(line("PAYPAL *ADOBE 8539", -9_900, account="card"))
    assert not rule.matches(line("PAYPAL *ADOBE 8539", 9_900, account="card"))  # money in
    assert not rule.matches(line("PAYPAL *ADOBE 8539", -999, account="card"))  # too small
    assert not rule.matches(line("PAYPAL *ADOBE 8539", -20_001, account="card"))  # too big
    assert not rule.matches(line("PAYPAL *ADOBE 8539", -9_900, account="operating"))
    assert not rule.matches(line("DROPBOX", -9_900, account="card"))


def test_regex_and_counterparty_conditions_are_case_insensitive() -> None:
    rule = Rule(id="r", priority=1, account="6200", counterparty_regex=r"^gusto\b")
    assert rule.matches(line("NET PAY 7661", counterparty="GUSTO"))
    assert not rule.matches(line("NET PAY 7661", counterparty="Not Gusto"))
    assert not rule.matches(line("GUSTO NET PAY 7661"))  # no counterparty reported
    contains = Rule(id="c", priority=1, account="6410", description_contains="Blue Bottle")
    assert contains.matches(line("sq *BLUE BOTTLE 0423"))


def test_the_lowest_priority_then_the_lowest_id_wins_in_any_order() -> None:
    broad = Rule(id="b", priority=50, account="6500", direction="out")
    narrow_b = Rule(id="n2", priority=10, account="6410", description_contains="coffee")
    narrow_a = Rule(id="n1", priority=10, account="6400", description_contains="coffee")
    facts = line("BLUE BOTTLE COFFEE SAN FRANCISCO CA")
    for rules in ([broad, narrow_b, narrow_a], [narrow_a, broad, narrow_b]):
        hit = first_match(rules, facts)
        assert hit is not None
        assert (hit.rule_id, hit.account) == ("n1", "6400")
    hit = first_match([broad, narrow_a], line("STAPLES 1234"))
    assert hit is not None
    assert hit.rule_id == "b"
    assert first_match([narrow_a], line("STAPLES 1234")) is None


def test_a_hit_carries_the_rule_actions() -> None:
    rule = Rule(
        id="rent",
        priority=1,
        account="6100",
        description_contains="harbor point",
        counterparty="Harbor Point Properties LLC",
        tags=("fixed", "monthly"),
    )
    hit = first_match([rule], line("ACH DEBIT HARBOR POINT PROPE 9981"))
    assert hit is not None
    assert hit.counterparty == "Harbor Point Properties LLC"
    assert hit.tags == ("fixed", "monthly")


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({}, "at least one condition"),
        ({"description_regex": "(unclosed"}, "not a valid regex"),
        ({"description_regex": "(a+)+$"}, "nested quantifiers"),
        ({"counterparty_regex": "(x*)*"}, "nested quantifiers"),
        ({"description_regex": "a" * (MAX_PATTERN + 1)}, "longer than"),
        ({"description_contains": "  "}, "must not be blank"),
        ({"direction": "sideways"}, "direction must be"),
        ({"min_amount": -1}, "absolute amount"),
        ({"min_amount": 500, "max_amount": 100}, "greater than max_amount"),
    ],
)
def test_an_invalid_rule_says_what_is_wrong(fields: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Rule(id="bad", priority=1, account="6100", **fields)  # type: ignore[arg-type]


def test_a_rule_needs_an_account() -> None:
    with pytest.raises(ValueError, match="account to book to"):
        Rule(id="r", priority=1, account="", direction="out")
