"""The soak checker's invariants on crafted data: each passes on a consistent deployment and
catches the one thing it exists to catch."""

from collections import Counter

from soak.checker import (
    AccountRow,
    BalanceRow,
    DeliveryRow,
    EndpointRow,
    EntryRow,
    EventRow,
    PostingRow,
    Snapshot,
)
from soak.load import Write

from soak import checker

L = "ledger-1"
POSTED = "ledger.entry.posted.v1"


def consistent() -> Snapshot:
    """Two posted entries (the second reverses the first, copying its metadata), a voided
    hold, their balances, log, audit, events, inbox and webhook deliveries."""
    snap = Snapshot()
    snap.entries = [
        EntryRow("e1", L, "posted", "k1", None, None),
        EntryRow("e2", L, "posted", "k1", "k2", "e1"),  # the reversal of e1
        EntryRow("e3", L, "voided", "k3", None, None),
    ]
    snap.postings = [
        PostingRow("e1", L, "equity", "USD", "debit", 100, 100),
        PostingRow("e1", L, "wallet", "USD", "credit", 100, 100),
        PostingRow("e2", L, "wallet", "USD", "debit", 100, 100),
        PostingRow("e2", L, "equity", "USD", "credit", 100, 100),
        PostingRow("e3", L, "wallet", "USD", "debit", 40, None),
        PostingRow("e3", L, "equity", "USD", "credit", 40, None),
    ]
    snap.balances = [
        BalanceRow("equity", L, "USD", 100, 100, 0, 0),
        BalanceRow("wallet", L, "USD", 100, 100, 0, 0),
    ]
    snap.accounts = [
        AccountRow("equity", False, False, None),
        AccountRow("wallet", True, False, None),
    ]
    snap.journal_log = Counter(
        {("e1", "create"): 1, ("e2", "create"): 1, ("e3", "create"): 1, ("e3", "void"): 1}
    )
    snap.audit = Counter(
        {
            ("e1", "ledger.entry.create"): 1,
            ("e2", "ledger.entry.reverse"): 1,
            ("e3", "ledger.entry.create"): 1,
            ("e3", "ledger.entry.void"): 1,
        }
    )
    snap.events = [
        EventRow("v1", "t", POSTED, "entries/e1", True),
        EventRow("v2", "t", POSTED, "entries/e2", True),
        EventRow("v3", "t", "ledger.entry.reversed.v1", "entries/e1", True),
        EventRow("v4", "t", "ledger.entry.pending.v1", "entries/e3", True),
        EventRow("v5", "t", "ledger.entry.voided.v1", "entries/e3", True),
    ]
    snap.consumers = {"webhooks.fanout": None, "reconcile.open_items": frozenset({POSTED})}
    snap.inbox = {("webhooks.fanout", e.id) for e in snap.events} | {
        ("reconcile.open_items", "v1"),
        ("reconcile.open_items", "v2"),
    }
    snap.endpoints = [EndpointRow("h1", "t", ("ledger.entry.posted.v1",), "steady")]
    snap.deliveries = [DeliveryRow("h1", "v1", "succeeded"), DeliveryRow("h1", "v2", "failed")]
    snap.received = {"steady": Counter({"v1": 2})}
    snap.chains = [("ledger 1", True, 4, "")]
    snap.audit_chains = [("tenant t", True, 4, "")]
    snap.broker_pending = {"webhooks_fanout": 0}
    return snap


def writes() -> list[Write]:
    return [
        Write("k1", "entry", "t", L, outcome="acked", entry_ids=["e1"]),
        Write("k2", "reverse", "t", L, outcome="acked", entry_ids=["e2"], target_id="e1"),
        Write("k3", "pending", "t", L, outcome="acked", entry_ids=["e3"]),
        Write("k4", "void", "t", L, outcome="acked", target_id="e3"),
        Write("k5", "entry", "t", L, outcome="rejected"),
        Write("k6", "entry", "t", L, outcome="unknown"),
    ]


def by_name(snap: Snapshot, sent: list[Write]) -> dict[str, checker.Invariant]:
    return {i.name: i for i in checker.check(snap, sent)}


def test_a_consistent_deployment_passes_every_invariant() -> None:
    results = by_name(consistent(), writes())
    assert {n: i.examples for n, i in results.items() if not i.passed} == {}
    assert len(results) == 16  # ten for the ledger and events, six for the bank flows
    assert results["webhooks_delivered_or_dead_lettered"].counts["duplicates_received"] == 1
    assert results["events_delivered_once"].counts["applied"] == 7


def test_an_entry_applied_twice_or_missing_or_refused_yet_present_fails() -> None:
    snap = consistent()
    snap.entries.append(EntryRow("e9", L, "posted", "k1", None, None))
    assert (
        "k1: 2 entries (applied twice)"
        in by_name(snap, writes())["acknowledged_exactly_once"].examples
    )

    snap = consistent()
    missing = [*writes(), Write("k7", "entry", "t", L, outcome="acked", entry_ids=["e7"])]
    assert not by_name(snap, missing)["acknowledged_exactly_once"].passed

    snap = consistent()
    snap.entries.append(EntryRow("e5", L, "posted", "k5", None, None))
    assert (
        "k5: refused but exists as e5"
        in by_name(snap, writes())["acknowledged_exactly_once"].examples
    )


def test_an_acknowledged_void_that_did_not_happen_and_a_phantom_entry_fail() -> None:
    snap = consistent()
    snap.entries[2] = EntryRow("e3", L, "pending", "k3", None, None)
    del snap.journal_log[("e3", "void")]
    result = by_name(snap, writes())["acknowledged_exactly_once"]
    assert "k4: acknowledged void but entry is pending" in result.examples

    snap = consistent()
    snap.entries.append(EntryRow("e8", L, "posted", "nobody-sent-this", None, None))
    assert by_name(snap, writes())["acknowledged_exactly_once"].counts["phantoms"] == 1


def test_unbalanced_books_wrong_balances_and_broken_constraints_fail() -> None:
    snap = consistent()
    snap.balances[0] = BalanceRow("equity", L, "USD", 100, 90, 0, 0)
    results = by_name(snap, writes())
    assert not results["assets_sum_to_zero"].passed
    assert not results["balances_equal_replay"].passed

    snap = consistent()
    snap.balances[1] = BalanceRow("wallet", L, "USD", 100, 100, 40, 0)  # a hold not in postings
    snap.balances[0] = BalanceRow("equity", L, "USD", 100, 100, 0, 40)
    results = by_name(snap, writes())
    assert results["assets_sum_to_zero"].passed
    assert not results["balances_equal_replay"].passed
    assert not results["constraints_hold"].passed


def test_a_half_written_entry_fails() -> None:
    snap = consistent()
    snap.events = [e for e in snap.events if e.id != "v5"]  # the void's event never written
    snap.inbox = {(c, e) for c, e in snap.inbox if e != "v5"}
    assert (
        "entry e3: 2 actions, 1 events" in by_name(snap, writes())["nothing_half_exists"].examples
    )

    snap = consistent()
    del snap.audit[("e2", "ledger.entry.reverse")]
    assert not by_name(snap, writes())["nothing_half_exists"].passed


def test_undelivered_events_lost_webhooks_and_leftover_queues_fail() -> None:
    snap = consistent()
    snap.inbox.discard(("reconcile.open_items", "v2"))
    delivered = by_name(snap, writes())["events_delivered_once"]
    assert delivered.examples == [f"reconcile.open_items never applied event v2 ({POSTED})"]
    assert delivered.counts["violations"] == 1

    snap = consistent()
    snap.received = {"steady": Counter()}  # marked succeeded, never arrived
    assert not by_name(snap, writes())["webhooks_delivered_or_dead_lettered"].passed

    snap = consistent()
    snap.deliveries = snap.deliveries[:1]  # one matching event without a delivery
    assert not by_name(snap, writes())["webhooks_delivered_or_dead_lettered"].passed

    snap = consistent()
    snap.deliveries[1] = DeliveryRow("h1", "v2", "pending")
    snap.broker_pending = {"webhooks_fanout": 3}
    drained = by_name(snap, writes())["outbox_and_queues_drained"]
    assert not drained.passed
    assert drained.counts["broker_pending"] == 3


def test_a_broken_chain_fails() -> None:
    snap = consistent()
    snap.audit_chains = [("tenant t", False, 2, "hash mismatch")]
    results = by_name(snap, writes())
    assert results["hash_chain_verifies"].passed
    assert results["audit_chain_verifies"].examples == ["tenant t: hash mismatch"]
