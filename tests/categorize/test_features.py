import time
from datetime import date

import pytest

from autoledger.categorize.features import (
    amount_bucket,
    counterparty_key,
    features,
    normalize_description,
)
from tests.categorize.support import line


@pytest.mark.parametrize(
    ("raw", "normalized"),
    [
        ("SQ *BLUE BOTTLE 0423", "blue bottle"),
        ("POS BLUE BOTTLE 14514910", "blue bottle"),
        ("TST* Sweetgreen  #4411", "sweetgreen"),
        ("PAYPAL *ADOBE 85391036", "adobe"),
        ("PP*ETSY SELLER", "etsy seller"),
        ("ACH DEBIT HARBOR POINT PROPE 99812", "harbor point prope"),
        ("Stripe fees 2025-01-24", "stripe fees"),
        ("CARD 4421 UBER TRIP ****1234 12/31", "uber trip"),
        ("ORIG CO NAME:ACME CO ENTRY DESCR:PAYMENT 36424142", "acme payment"),
        ("  Café  Olé!!  ", "café olé"),
    ],
)
def test_normalize_removes_what_varies_from_line_to_line(raw: str, normalized: str) -> None:
    assert normalize_description(raw) == normalized


def test_the_same_merchant_keys_the_same_through_prefixes_and_references() -> None:
    keys = {
        counterparty_key(line(text))
        for text in (
            "SQ *BLUE BOTTLE 0423",
            "POS BLUE BOTTLE 14514910",
            "BLUE BOTTLE COFFEE SAN FRANCISCO CA",
            "PAYPAL *BLUE BOTTLE CO",
        )
    }
    assert keys == {"blue bottle"}


def test_a_reported_name_keys_without_its_legal_form() -> None:
    facts = line("ACH CREDIT GRANITE RED 1234", counterparty="Granite Redwood Partners LLC")
    assert counterparty_key(facts) == "granite redwood partners"
    assert counterparty_key(line("ACH DEBIT 12345678")) == ""


def test_features_cover_text_counterparty_amount_and_calendar() -> None:
    facts = line("SQ *BLUE BOTTLE 0423", -1250, day=date(2025, 3, 30), code="POS")
    found = features(facts)
    assert len(found) == len(set(found))
    for expected in (
        "w:blue",
        "w:bottle",
        "b:blue_bottle",
        "c: bl",
        "c:bottl",
        "cp:blue bottle",
        "dir:out",
        f"amt:out{amount_bucket(-1250)}",
        "dom:4",
        "acct:operating",
        "code:pos",
        "x:-1250",
    ):
        assert expected in found
    shared = features(facts, tenant_specific=False)
    assert "acct:operating" not in shared
    assert not any(f.startswith("x:") for f in shared)


def test_amount_buckets_grow_with_the_magnitude_on_both_sides() -> None:
    assert amount_bucket(0) == 0
    assert amount_bucket(-999) == amount_bucket(999)
    assert amount_bucket(100) < amount_bucket(1_000) < amount_bucket(100_000)


def test_features_of_a_line_cost_well_under_a_millisecond() -> None:
    facts = line("ORIG CO NAME:NORTHWIND DEV CONTRACT CO ENTRY DESCR:BILL PAY 99887766")
    rounds = 2_000
    started = time.perf_counter()
    for _ in range(rounds):
        features(facts)
    assert (time.perf_counter() - started) / rounds < 0.0005
