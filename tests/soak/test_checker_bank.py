"""The bank flows' invariants on crafted data: statement lines, imports, proposals, the
bank's money in the ledger and the reconciliation's books. Each passes on a consistent
deployment and catches the one defect it exists to catch."""

import dataclasses

from soak.checker import (
    BankAccountRow,
    BankLineRow,
    EntryRow,
    ImportRow,
    MatchPartRow,
    MatchRow,
    OpenItemRow,
    PostingRow,
    ProposalRow,
    SettlementRow,
    Snapshot,
)
from soak.load import Decision, Upload, Write

from soak import checker

L, B = "ledger-1", "bank-1"


def uploads() -> list[Upload]:
    """A file, the same file again (new key), and an overlapping one whose import failed."""
    return [
        Upload("u1", "t", B, ["r1", "r2", "r3"], "new", "acked", 202, "i1"),
        Upload("u2", "t", B, ["r1", "r2", "r3"], "again", "acked", 202, "i2"),
        Upload("u3", "t", B, ["r3", "r4"], "overlap", "acked", 202, "i3"),
        Upload("u4", "t", B, ["r5"], "new", "unknown"),  # no answer, never imported
    ]


def consistent() -> Snapshot:
    """Line l1 (+500) pays invoice oi1 (480) with a 20 write-off: the bookkeeping loop had
    booked it (b1), reconciliation reversed that (b1r) and settled it (s1, match m1). Line l2
    (-40) is booked by the bookkeeping loop (b2). Line l3 (+300) was reconciled (s0, m2) and
    unreconciled (s0r): it is booked by nothing now and its item oi2 is open again."""
    snap = Snapshot()
    snap.bank_accounts = [BankAccountRow(B, "bank")]
    snap.imports = [
        ImportRow("i1", B, "completed", None, 3),
        ImportRow("i2", B, "completed", None, 0),  # the re-upload: every line a duplicate
        ImportRow("i3", B, "failed", "banking.import_crashed", 0),
    ]
    snap.bank_lines = [
        BankLineRow("l1", B, "i1", "r1", 500),
        BankLineRow("l2", B, "i1", "r2", -40),
        BankLineRow("l3", B, "i1", "r3", 300),
    ]
    snap.proposals = [ProposalRow("l1", None), ProposalRow("l2", "b2"), ProposalRow("l3", None)]
    snap.entries = [
        EntryRow("inv1", L, "posted", "k1", None, None),
        EntryRow("inv2", L, "posted", "k2", None, None),
        EntryRow("b1", L, "posted", None, None, None),
        EntryRow("b1r", L, "posted", None, None, "b1"),
        EntryRow("s1", L, "posted", None, None, None),
        EntryRow("b2", L, "posted", None, None, None),
        EntryRow("s0", L, "posted", None, None, None),
        EntryRow("s0r", L, "posted", None, "unreconcile:m2", "s0"),
    ]

    def legs(entry: str, debit: str, credit: str, amount: int) -> list[PostingRow]:
        return [
            PostingRow(entry, L, debit, "USD", "debit", amount, amount),
            PostingRow(entry, L, credit, "USD", "credit", amount, amount),
        ]

    snap.postings = [
        *legs("inv1", "receivable", "sales", 480),
        *legs("inv2", "receivable", "sales", 300),
        *legs("b1", "bank", "sales", 500),
        *legs("b1r", "sales", "bank", 500),
        PostingRow("s1", L, "bank", "USD", "debit", 500, 500),
        PostingRow("s1", L, "receivable", "USD", "credit", 480, 480),
        PostingRow("s1", L, "discounts", "USD", "credit", 20, 20),
        *legs("b2", "rent", "bank", 40),
        *legs("s0", "bank", "receivable", 300),
        *legs("s0r", "receivable", "bank", 300),
    ]
    snap.matches = [
        MatchRow("m1", "reconciled", "s1", 20),
        MatchRow("m2", "unreconciled", "s0", 0),
        MatchRow("m3", "suggested", None, 0),
    ]
    snap.match_lines = [
        MatchPartRow("m1", "l1", 500),
        MatchPartRow("m2", "l3", 300),
        MatchPartRow("m3", "l3", 300),
    ]
    snap.match_items = [
        MatchPartRow("m1", "oi1", 480),
        MatchPartRow("m2", "oi2", 300),
        MatchPartRow("m3", "oi2", 300),
    ]
    snap.reconciled_lines = [("l1", "m1")]
    snap.open_items = [
        OpenItemRow("oi1", "inv1", "invoice", "settled", 480, 0),
        OpenItemRow("oi2", "inv2", "invoice", "open", 300, 300),
    ]
    snap.settlements = [
        SettlementRow("oi1", 480, "reconciliation", "m1", False),
        SettlementRow("oi2", 300, "reconciliation", "m2", True),
    ]
    return snap


def problems(invariant: checker.Invariant) -> str:
    assert not invariant.passed
    return " | ".join(invariant.examples)


def test_a_consistent_deployment_passes_every_bank_invariant() -> None:
    snap = consistent()
    for invariant in (
        checker.statement_lines_exactly_once(snap, uploads()),
        checker.imports_whole(snap, uploads()),
        checker.one_proposal_per_line(snap),
        checker.bank_money_booked_once(snap),
        checker.reconciliation_consistent(snap),
    ):
        assert invariant.passed, (invariant.name, invariant.examples)
    money = checker.bank_money_booked_once(snap)
    assert money.counts["lines_booked"] == 2
    assert money.counts["lines_unbooked"] == 1


def test_a_line_stored_twice_is_caught() -> None:
    snap = consistent()
    snap.bank_lines.append(BankLineRow("l9", B, "i2", "r2", -40))  # the re-upload added it again
    assert "line r2: stored 2 times" in problems(
        checker.statement_lines_exactly_once(snap, uploads())
    )


def test_a_line_of_a_completed_import_missing_is_caught() -> None:
    snap = consistent()
    snap.bank_lines = [line for line in snap.bank_lines if line.bank_reference != "r3"]
    assert "line r3: in a completed import but missing" in problems(
        checker.statement_lines_exactly_once(snap, uploads())
    )


def test_lines_only_in_failed_or_unanswered_uploads_may_be_missing() -> None:
    snap = consistent()
    snap.imports[0] = dataclasses.replace(snap.imports[0], status="failed")
    snap.imports[1] = dataclasses.replace(snap.imports[1], status="failed")
    snap.bank_lines = []
    assert checker.statement_lines_exactly_once(snap, uploads()).passed


def test_a_line_no_file_held_and_a_lost_import_are_caught() -> None:
    snap = consistent()
    snap.bank_lines.append(BankLineRow("l9", B, "i1", "r9", 1))
    snap.imports = [i for i in snap.imports if i.id != "i2"]
    found = problems(checker.statement_lines_exactly_once(snap, uploads()))
    assert "'r9': exists but no file held it" in found
    assert "upload u2: acknowledged import i2 missing" in found


def test_an_import_that_half_exists_or_never_finished_is_caught() -> None:
    snap = consistent()
    snap.imports[0] = dataclasses.replace(snap.imports[0], lines_new=4)
    assert "import i1: 4 new lines, 3 stored" in problems(checker.imports_whole(snap, uploads()))
    snap = consistent()
    snap.bank_lines.append(BankLineRow("l4", B, "i3", "r4", 7))
    assert "import i3: failed but 1 of its lines exist" in problems(
        checker.imports_whole(snap, uploads())
    )
    snap = consistent()
    snap.imports[2] = dataclasses.replace(snap.imports[2], status="processing", error_code=None)
    assert "import i3: still processing" in problems(checker.imports_whole(snap, uploads()))


def test_an_undocumented_failure_and_a_key_imported_twice_are_caught() -> None:
    snap = consistent()
    snap.imports[2] = dataclasses.replace(snap.imports[2], error_code="internal")
    assert "import i3: failed with internal" in problems(checker.imports_whole(snap, uploads()))
    snap = consistent()
    snap.imports += [
        ImportRow("i4", B, "completed", None, 0),
        ImportRow("i5", B, "completed", None, 0),
    ]
    assert "5 imports from 4 uploads" in problems(checker.imports_whole(snap, uploads()))


def test_a_line_without_a_proposal_is_caught() -> None:
    snap = consistent()
    snap.proposals.pop()
    assert "line l3: 0 proposals" in problems(checker.one_proposal_per_line(snap))


def test_a_line_reconciled_before_the_loop_saw_it_needs_no_proposal() -> None:
    snap = consistent()
    reconciled = {line for line, _ in snap.reconciled_lines}
    assert reconciled
    snap.proposals = [p for p in snap.proposals if p.bank_transaction_id not in reconciled]
    check = checker.one_proposal_per_line(snap)
    assert check.passed
    assert check.counts["reconciled_unproposed"] == len(reconciled)
    snap.proposals += snap.proposals[:1]  # but two proposals are never right
    assert not checker.one_proposal_per_line(snap).passed


def test_a_line_booked_by_the_loop_and_settled_by_a_match_is_caught() -> None:
    snap = consistent()
    # the bookkeeping loop's booking of l1 was never reversed, and the settlement books it too
    snap.entries = [e for e in snap.entries if e.id != "b1r"]
    snap.postings = [p for p in snap.postings if p.entry_id != "b1r"]
    snap.proposals[0] = ProposalRow("l1", "b1")
    assert "lines ['l1']: 500 on the bank, 1000 in the ledger" in problems(
        checker.bank_money_booked_once(snap)
    )


def test_a_booking_by_a_reversed_entry_and_a_stray_entry_are_caught() -> None:
    snap = consistent()
    snap.proposals[2] = ProposalRow("l3", "s0")  # points at an entry that was reversed
    assert "line l3: booked by bookkeeping entry s0, reversed" in problems(
        checker.bank_money_booked_once(snap)
    )
    snap = consistent()
    snap.proposals[1] = ProposalRow("l2", None)  # b2 still moves the bank but books nothing
    assert "entry b2: moves the bank's GL account but books no line" in problems(
        checker.bank_money_booked_once(snap)
    )


def test_a_settlement_for_the_wrong_amount_is_caught() -> None:
    snap = consistent()
    snap.postings = [
        dataclasses.replace(p, amount=520, posted_amount=520)
        if (p.entry_id, p.account_id) == ("s1", "bank")
        else p
        for p in snap.postings
    ]
    assert "lines ['l1']: 500 on the bank, 520 in the ledger" in problems(
        checker.bank_money_booked_once(snap)
    )


def test_a_line_reconciled_twice_is_caught() -> None:
    snap = consistent()
    snap.matches[2] = MatchRow("m3", "reconciled", None, 0)
    snap.match_lines[2] = MatchPartRow("m3", "l1", 500)
    snap.match_items[2] = MatchPartRow("m3", "oi2", 500)
    assert "line l1: in 2 reconciled matches" in problems(checker.reconciliation_consistent(snap))


def test_a_stale_reconciled_line_is_caught() -> None:
    snap = consistent()
    snap.reconciled_lines.append(("l3", "m2"))  # its match was unreconciled
    assert "line l3: reconciled by match m2, unreconciled" in problems(
        checker.reconciliation_consistent(snap)
    )


def test_allocations_that_do_not_add_up_are_caught() -> None:
    snap = consistent()
    snap.matches[0] = MatchRow("m1", "reconciled", "s1", 0)  # the write-off forgotten
    assert "match m1: lines 500 != allocations 480 + write-offs 0" in problems(
        checker.reconciliation_consistent(snap)
    )


def test_an_open_amount_that_ignores_its_settlements_is_caught() -> None:
    snap = consistent()
    snap.open_items[1] = OpenItemRow("oi2", "inv2", "invoice", "open", 300, 0)
    assert "item oi2 (open): open 0, amount 300 minus active settlements 0" in problems(
        checker.reconciliation_consistent(snap)
    )
    snap = consistent()
    snap.settlements[1] = SettlementRow("oi2", 300, "reconciliation", "m2", False)  # not undone
    found = problems(checker.reconciliation_consistent(snap))
    assert "item oi2: active settlement of match m2, unreconciled" in found


def test_invoices_are_held_to_exactly_once_like_entries() -> None:
    snap = consistent()
    write = Write("k1", "invoice", "t", L, outcome="acked", entry_ids=["inv1"])
    other = Write("k2", "invoice", "t", L, outcome="acked", entry_ids=["inv2"])
    assert checker.acknowledged_exactly_once(snap, [write, other]).passed
    snap.entries.append(EntryRow("inv1b", L, "posted", "k1", None, None))  # applied twice
    assert "k1: 2 entries (applied twice)" in problems(
        checker.acknowledged_exactly_once(snap, [write, other])
    )


def test_a_decision_left_on_a_server_error_is_caught() -> None:
    healed = Decision("k1", "accept", "acked", 200, 3, ["connection_error", "500", "200"])
    refused = Decision("k2", "reject", "rejected", 409, 1, ["409"])
    unanswered = Decision("k3", "unreconcile", "unknown", None, 2, ["connection_error", "503"])
    looping = Decision("k4", "accept", "unknown", None, 40, ["500"] * 40)
    passing = checker.decisions_answered([healed, refused])
    assert passing.passed
    assert passing.counts["accept_acked"] == 1
    failing = checker.decisions_answered([healed, refused, unanswered, looping])
    assert not failing.passed
    assert failing.counts["violations"] == 2
    assert "accept k4: 40 attempts, the last answered 500" in failing.examples


def test_a_reversal_unreconciling_books_is_expected_once_and_only_for_its_match() -> None:
    snap = consistent()
    invoices = [
        Write("k1", "invoice", "t", L, outcome="acked", entry_ids=["inv1"]),
        Write("k2", "invoice", "t", L, outcome="acked", entry_ids=["inv2"]),
    ]
    passing = checker.acknowledged_exactly_once(snap, invoices)
    assert passing.passed, passing.examples
    assert passing.counts["unreconcile_reversals"] == 1
    snap.entries.append(EntryRow("s0r2", L, "posted", None, "unreconcile:m2", "s0"))
    assert "unreconcile:m2: 2 reversals (unreconciled twice)" in problems(
        checker.acknowledged_exactly_once(snap, invoices)
    )
    snap = consistent()
    snap.entries.append(EntryRow("s1r", L, "posted", None, "unreconcile:m1", "s1"))
    assert "unreconcile:m1: a reversal, but the match is reconciled" in problems(
        checker.acknowledged_exactly_once(snap, invoices)
    )
