"""The bank reconciliation report, pure: the statement balance carried from the nearest
stated balance, the difference explained by unbooked lines, the opening balance and
outstanding postings, and whatever is left said out loud as unexplained."""

from datetime import date, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from autoledger.reconcile.bankrec import Anchor, BankLine, BookPosting, build, statement_balance

D = date(2026, 1, 1)


def line(n: int, day: int, amount: int, booked_on: int | None = None) -> BankLine:
    bookings = () if booked_on is None else ((f"e{n}", D + timedelta(days=booked_on)),)
    return BankLine(
        id=f"l{n}",
        booked=D + timedelta(days=day),
        amount=amount,
        description=f"line {n}",
        counterparty=None,
        state="booked" if bookings else "unmatched",
        bookings=bookings,
    )


def posting(entry: str, day: int, amount: int, reverses: str | None = None) -> BookPosting:
    return BookPosting(
        entry_id=entry,
        index=0,
        effective=D + timedelta(days=day),
        amount=amount,
        description=entry,
        source_type="api",
        reverses=reverses,
    )


def test_everything_booked_balances_with_the_opening_balance_in_the_books() -> None:
    lines = [line(1, 1, 10_000, booked_on=1), line(2, 2, -350, booked_on=2)]
    postings = [posting("opening", -1, 100_000), posting("e1", 1, 10_000), posting("e2", 2, -350)]
    anchors = [Anchor(D + timedelta(days=30), 109_650, "closing")]
    report = build(
        end=D + timedelta(days=30), start=None, lines=lines, postings=postings, anchors=anchors
    )
    assert report.statement_balance == 109_650
    assert report.ledger_balance == 109_650
    assert report.difference == 0
    assert report.opening_balance == 100_000
    assert report.opening_booked_by is not None
    assert report.opening_booked_by.entry_id == "opening"
    assert report.unbooked_lines == ()
    assert report.outstanding == ()
    assert report.balanced
    assert report.period.lines == 2
    assert report.period.booked == 2


def test_unbooked_lines_and_outstanding_postings_explain_the_difference() -> None:
    lines = [line(1, 1, 10_000, booked_on=1), line(2, 2, -350), line(3, 3, 2_000, booked_on=40)]
    postings = [
        posting("opening", -1, 100_000),
        posting("e1", 1, 10_000),
        posting("rent", 5, -50_000),  # another system's payment, not yet on the statement
        posting("e3", 40, 2_000),  # books line 3 only after the statement date
    ]
    end = D + timedelta(days=30)
    report = build(end=end, start=None, lines=lines, postings=postings, given=111_650)
    assert report.ledger_balance == 60_000
    assert report.difference == 51_650
    assert [x.id for x in report.unbooked_lines] == ["l2", "l3"]
    assert [p.entry_id for p in report.outstanding] == ["rent"]
    assert report.explained == -350 + 2_000 + 50_000
    assert report.unexplained == 0
    assert report.balanced


def test_a_reversed_pair_is_not_outstanding_and_a_reversed_booking_unbooks_its_line() -> None:
    lines = [line(1, 1, 500, booked_on=1)]
    postings = [
        posting("opening", 0, 1_000),
        posting("e1", 1, 500),
        posting("mistake", 2, -70),
        posting("fix", 3, 70, reverses="mistake"),
    ]
    report = build(
        end=D + timedelta(days=9), start=None, lines=lines, postings=postings, given=1_500
    )
    assert report.outstanding == ()
    assert report.balanced


def test_an_opening_balance_a_statement_states_and_nobody_booked_is_listed() -> None:
    report = build(
        end=D + timedelta(days=9),
        start=None,
        lines=[line(1, 1, 500, booked_on=1)],
        postings=[posting("e1", 1, 500)],
        anchors=[Anchor(D + timedelta(days=9), 1_500, "closing")],
    )
    assert report.opening_balance == 1_000
    assert report.opening_booked_by is None
    assert report.unbooked_opening == 1_000
    assert report.balanced


def test_an_opening_balance_only_implied_by_a_given_balance_explains_nothing() -> None:
    report = build(
        end=D + timedelta(days=9),
        start=None,
        lines=[line(1, 1, 500, booked_on=1)],
        postings=[posting("e1", 1, 500)],
        given=1_500,
    )
    assert report.opening_balance == 1_000
    assert report.unbooked_opening == 0
    assert report.unexplained == 1_000


def test_a_given_balance_is_checked_against_what_statements_state() -> None:
    lines = [line(1, 1, 500, booked_on=1)]
    postings = [posting("opening", 0, 1_000), posting("e1", 1, 500)]
    anchors = [Anchor(D + timedelta(days=9), 1_500, "closing")]
    end = D + timedelta(days=9)
    assert build(end=end, start=None, lines=lines, postings=postings, anchors=anchors).balanced
    wrong = build(end=end, start=None, lines=lines, postings=postings, anchors=anchors, given=1_400)
    assert wrong.opening_balance == 1_000
    assert wrong.unexplained == -100


def test_what_nothing_explains_is_unexplained() -> None:
    report = build(
        end=D + timedelta(days=9),
        start=None,
        lines=[line(1, 1, 500, booked_on=1)],
        postings=[posting("opening", 0, 1_000), posting("e1", 1, 499)],
        given=1_500,
    )
    # the line was booked for one unit less than the bank moved
    assert report.unexplained == 1
    assert not report.balanced


def test_without_a_stated_balance_nothing_is_claimed() -> None:
    report = build(
        end=D, start=None, lines=[line(1, 0, 5, booked_on=0)], postings=[posting("e1", 0, 5)]
    )
    assert report.statement_balance is None
    assert report.difference is None
    assert report.unexplained is None
    assert not report.balanced


def test_the_statement_balance_is_carried_from_the_nearest_anchor_both_ways() -> None:
    lines = [line(1, 1, 100), line(2, 5, 200), line(3, 9, 400)]
    anchors = [
        Anchor(D + timedelta(days=2), 1_100, "first"),
        Anchor(D + timedelta(days=9), 1_700, "second"),
    ]
    assert statement_balance(anchors, lines, D + timedelta(days=6)) == (1_300, "first")
    assert statement_balance(anchors, lines, D + timedelta(days=9)) == (1_700, "second")
    # before every anchor: carried back from the earliest
    assert statement_balance(anchors, lines, D) == (1_000, "first")
    assert statement_balance([], lines, D) is None


def test_the_period_counts_only_its_own_lines() -> None:
    lines = [
        line(1, 1, 100, booked_on=1),
        line(2, 10, 200),
        BankLine("l3", D + timedelta(days=11), 300, "x", None, "suggested"),
        BankLine("l4", D + timedelta(days=12), 400, "x", None, "reconciled", (("m", D),)),
    ]
    report = build(
        end=D + timedelta(days=20), start=D + timedelta(days=10), lines=lines, postings=[]
    )
    period = report.period
    assert (period.lines, period.amount) == (3, 900)
    assert (period.reconciled, period.booked, period.suggested, period.unmatched) == (1, 0, 1, 1)


@settings(max_examples=200, deadline=None)
@given(
    amounts=st.lists(st.integers(-10_000, 10_000).filter(bool), min_size=1, max_size=30),
    booked=st.lists(st.booleans(), min_size=30, max_size=30),
    extra=st.lists(st.integers(-5_000, 5_000).filter(bool), max_size=5),
    opening=st.integers(-50_000, 50_000),
    book_opening=st.booleans(),
)
def test_statement_minus_ledger_is_always_explained_exactly(
    amounts: list[int], booked: list[bool], extra: list[int], opening: int, book_opening: bool
) -> None:
    """Whatever was booked or not, the listed differences add up to the whole difference."""
    lines = [
        line(n, n + 1, amount, booked_on=n + 1 if booked[n] else None)
        for n, amount in enumerate(amounts)
    ]
    postings = [posting(f"e{n}", n + 1, a) for n, a in enumerate(amounts) if booked[n]]
    postings += [posting(f"x{n}", n + 2, a) for n, a in enumerate(extra)]
    if book_opening:
        postings.append(posting("opening", 0, opening))
    end = D + timedelta(days=60)
    report = build(
        end=end, start=None, lines=lines, postings=postings, anchors=[Anchor(D, opening, "open")]
    )
    assert report.statement_balance == opening + sum(amounts)
    assert report.unexplained == 0
    assert report.difference == report.unbooked_total + report.unbooked_opening - (
        report.outstanding_total
    )
