"""Aging buckets and signs (pure)."""

import uuid
from datetime import date, timedelta

import pytest

from autoledger.reports.aging import BUCKETS, AgingItem, aging, bucket

AS_OF = date(2026, 6, 30)


def item(
    days_overdue: int, amount: int, who: str | None = "ACME", *, due: bool = True
) -> AgingItem:
    when = AS_OF - timedelta(days=days_overdue)
    return AgingItem(
        uuid.uuid4(),
        "INV",
        who,
        when if not due else date(2026, 1, 1),
        when if due else None,
        amount,
    )


@pytest.mark.parametrize(
    ("days", "expected"),
    [
        (-5, "current"),
        (0, "current"),
        (1, "1-30"),
        (30, "1-30"),
        (31, "31-60"),
        (60, "31-60"),
        (61, "61-90"),
        (90, "61-90"),
        (91, "90+"),
        (400, "90+"),
    ],
)
def test_bucket_boundaries(days: int, expected: str) -> None:
    assert BUCKETS[bucket(AS_OF, item(days, 100))] == expected


def test_items_without_a_due_date_age_from_their_issue_date() -> None:
    assert BUCKETS[bucket(AS_OF, item(45, 100, due=False))] == "31-60"


def test_receivables_by_counterparty_with_totals() -> None:
    report = aging(
        "receivable",
        AS_OF,
        [item(0, 1000), item(10, 250), item(100, 50, "Beta"), item(20, 0), item(5, 70, None)],
    )
    assert [(r.counterparty, r.buckets, r.total, r.items) for r in report.rows] == [
        ("ACME", [1000, 250, 0, 0, 0], 1250, 2),
        ("(none)", [0, 70, 0, 0, 0], 70, 1),
        ("Beta", [0, 0, 0, 0, 50], 50, 1),
    ]
    assert report.totals == [1000, 320, 0, 0, 50]
    assert report.total == 1370


def test_payables_show_what_is_owed_as_positive() -> None:
    report = aging("payable", AS_OF, [item(40, -900, "Vendor")])
    assert report.rows[0].buckets == [0, 0, 900, 0, 0]
    assert report.total == 900


def test_items_issued_after_the_report_date_are_left_out() -> None:
    late = AgingItem(uuid.uuid4(), "INV", "ACME", AS_OF + timedelta(days=1), None, 500)
    assert aging("receivable", AS_OF, [late]).rows == []
