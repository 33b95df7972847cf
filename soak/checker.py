"""After the load stopped and the system drained: read the database, the broker and the
receivers, and hold them to the invariants. Each invariant is a pure function over plain
rows (tested on crafted data in ``tests/soak``); ``collect`` is the only I/O.
"""

import json
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import nats
from sqlalchemy import select

from autoledger.db.engine import create_engine, create_sessionmaker
from autoledger.kit.settings import Settings
from autoledger.ledger import service as ledger_service
from autoledger.ledger.tables import Ledger
from autoledger.platform.audit import service as audit
from autoledger.platform.events import outbox
from autoledger.platform.events.consumers import registered_consumers
from autoledger.platform.events.nats_bus import stream_name
from autoledger.platform.webhooks.service import matches
from soak.load import Decision, Upload, Write

MAX_EXAMPLES = 5


@dataclass
class Invariant:
    name: str
    passed: bool
    counts: dict[str, int]
    examples: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"passed": self.passed, "counts": self.counts}
        if self.examples:
            out["examples"] = self.examples
        return out


def _invariant(name: str, counts: dict[str, int], problems: list[str]) -> Invariant:
    counts = dict(counts)
    counts["violations"] = len(problems)
    return Invariant(name, not problems, counts, problems[:MAX_EXAMPLES])


@dataclass(frozen=True)
class EntryRow:
    id: str
    ledger_id: str
    status: str  # pending | posted | voided
    soak_key: str | None
    client_id: str | None
    reverses_id: str | None


@dataclass(frozen=True)
class PostingRow:
    entry_id: str
    ledger_id: str
    account_id: str
    asset: str
    direction: str  # debit | credit
    amount: int
    posted_amount: int | None


@dataclass(frozen=True)
class BalanceRow:
    account_id: str
    ledger_id: str
    asset: str
    debits_posted: int
    credits_posted: int
    debits_pending: int
    credits_pending: int


@dataclass(frozen=True)
class AccountRow:
    id: str
    debits_must_not_exceed_credits: bool
    credits_must_not_exceed_debits: bool
    balance_limit: int | None


@dataclass(frozen=True)
class EventRow:
    id: str
    tenant: str
    type: str
    subject: str
    published: bool


@dataclass(frozen=True)
class EndpointRow:
    id: str
    tenant: str
    event_types: tuple[str, ...]
    receiver: str  # the harness receiver its URL points at


@dataclass(frozen=True)
class DeliveryRow:
    endpoint_id: str
    event_id: str
    status: str  # pending | succeeded | failed


@dataclass(frozen=True)
class BankAccountRow:
    id: str
    gl_account_id: str


@dataclass(frozen=True)
class ImportRow:
    id: str
    bank_account_id: str
    status: str  # queued | processing | completed | failed
    error_code: str | None
    lines_new: int


@dataclass(frozen=True)
class BankLineRow:
    id: str
    bank_account_id: str
    import_id: str
    bank_reference: str | None
    amount: int  # minor units, money in positive


@dataclass(frozen=True)
class ProposalRow:
    bank_transaction_id: str
    entry_id: str | None  # the entry that books the line now


@dataclass(frozen=True)
class MatchRow:
    id: str
    status: str  # suggested | reconciled | rejected | unreconciled | ...
    entry_id: str | None  # its settlement entry
    writeoffs: int  # the sum of its write-offs


@dataclass(frozen=True)
class MatchPartRow:
    """A line (``reconcile_match_lines``) or an item allocation (``reconcile_match_items``)."""

    match_id: str
    target_id: str  # the bank line or the open item
    amount: int


@dataclass(frozen=True)
class OpenItemRow:
    id: str
    entry_id: str
    kind: str  # invoice | bill | book | ...
    status: str
    amount: int
    open_amount: int


@dataclass(frozen=True)
class SettlementRow:
    open_item_id: str
    amount: int
    source: str  # ledger | reconciliation
    match_id: str | None
    reversed: bool


@dataclass
class Snapshot:
    """Everything the invariants read, as plain rows."""

    entries: list[EntryRow] = field(default_factory=list)
    postings: list[PostingRow] = field(default_factory=list)
    balances: list[BalanceRow] = field(default_factory=list)
    accounts: list[AccountRow] = field(default_factory=list)
    journal_log: Counter[tuple[str, str]] = field(default_factory=Counter)  # (entry, action)
    audit: Counter[tuple[str, str]] = field(default_factory=Counter)  # (target, action)
    events: list[EventRow] = field(default_factory=list)
    inbox: set[tuple[str, str]] = field(default_factory=set)  # (consumer, event)
    dead_letters: set[tuple[str, str]] = field(default_factory=set)
    consumers: dict[str, frozenset[str] | None] = field(default_factory=dict)
    endpoints: list[EndpointRow] = field(default_factory=list)
    deliveries: list[DeliveryRow] = field(default_factory=list)
    received: dict[str, Counter[str]] = field(default_factory=dict)  # receiver -> ids
    chains: list[tuple[str, bool, int, str]] = field(default_factory=list)  # journal logs
    audit_chains: list[tuple[str, bool, int, str]] = field(default_factory=list)
    broker_pending: dict[str, int] | None = None  # consumer -> undelivered + unacked
    bank_accounts: list[BankAccountRow] = field(default_factory=list)
    imports: list[ImportRow] = field(default_factory=list)
    bank_lines: list[BankLineRow] = field(default_factory=list)
    proposals: list[ProposalRow] = field(default_factory=list)
    matches: list[MatchRow] = field(default_factory=list)
    match_lines: list[MatchPartRow] = field(default_factory=list)
    match_items: list[MatchPartRow] = field(default_factory=list)
    reconciled_lines: list[tuple[str, str]] = field(default_factory=list)  # (line, match)
    open_items: list[OpenItemRow] = field(default_factory=list)
    settlements: list[SettlementRow] = field(default_factory=list)


# -- the invariants -------------------------------------------------------------------------


def _signed(debits: int, credits: int) -> int:
    return debits - credits


def assets_sum_to_zero(snap: Snapshot) -> Invariant:
    """Per ledger and asset the balances sum to zero (posted and pending), and so does each
    entry's postings."""
    totals: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    for b in snap.balances:
        total = totals[(b.ledger_id, b.asset)]
        total[0] += _signed(b.debits_posted, b.credits_posted)
        total[1] += _signed(b.debits_pending, b.credits_pending)
    problems = [
        f"ledger {ledger} {asset}: posted {posted:+d}, pending {pending:+d}"
        for (ledger, asset), (posted, pending) in sorted(totals.items())
        if posted or pending
    ]
    per_entry: dict[tuple[str, str], int] = defaultdict(int)
    for p in snap.postings:
        per_entry[(p.entry_id, p.asset)] += p.amount if p.direction == "debit" else -p.amount
    problems += [f"entry {e} unbalanced in {a}: {s:+d}" for (e, a), s in per_entry.items() if s]
    return _invariant(
        "assets_sum_to_zero",
        {"ledger_assets": len(totals), "entries": len({e for e, _ in per_entry})},
        problems,
    )


def balances_equal_replay(snap: Snapshot) -> Invariant:
    """Each balance row equals the sum of its postings: booked amounts of posted entries,
    asked amounts of pending ones, nothing of voided ones."""
    status = {e.id: e.status for e in snap.entries}
    replay: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for p in snap.postings:
        row = replay[(p.account_id, p.asset)]
        side = 0 if p.direction == "debit" else 1
        if status.get(p.entry_id) == "posted":
            row[side] += p.posted_amount if p.posted_amount is not None else p.amount
        elif status.get(p.entry_id) == "pending":
            row[2 + side] += p.amount
    problems = []
    seen = set()
    for b in snap.balances:
        seen.add((b.account_id, b.asset))
        stored = [b.debits_posted, b.credits_posted, b.debits_pending, b.credits_pending]
        if stored != replay.get((b.account_id, b.asset), [0, 0, 0, 0]):
            problems.append(
                f"account {b.account_id} {b.asset}: stored {stored}, replay "
                f"{replay.get((b.account_id, b.asset))}"
            )
    for key, row in replay.items():
        if key not in seen and any(row):
            problems.append(f"account {key[0]} {key[1]}: postings {row} but no balance row")
    return _invariant(
        "balances_equal_replay",
        {"balances": len(snap.balances), "postings": len(snap.postings)},
        problems,
    )


def constraints_hold(snap: Snapshot) -> Invariant:
    """``debits_must_not_exceed_credits`` (and the mirror) counting holds, plus the limit."""
    accounts = {a.id: a for a in snap.accounts}
    problems, checked = [], 0
    for b in snap.balances:
        account = accounts.get(b.account_id)
        if account is None:
            continue
        limit = account.balance_limit or 0
        if account.debits_must_not_exceed_credits:
            checked += 1
            if b.debits_posted + b.debits_pending > b.credits_posted + limit:
                problems.append(f"account {b.account_id} {b.asset}: debits exceed credits")
        if account.credits_must_not_exceed_debits:
            checked += 1
            if b.credits_posted + b.credits_pending > b.debits_posted + limit:
                problems.append(f"account {b.account_id} {b.asset}: credits exceed debits")
    return _invariant("constraints_hold", {"constrained_balances": checked}, problems)


#: the client id prefix of the reversal unreconciling a match books (reconcile.service)
UNRECONCILED = "unreconcile:"


def acknowledged_exactly_once(snap: Snapshot, writes: Iterable[Write]) -> Invariant:
    """Every write acknowledged to a client exists exactly once, as acknowledged; every
    refused write left nothing; every write without an answer exists at most once; and no
    entry exists that no client sent."""
    by_key: dict[str, list[EntryRow]] = defaultdict(list)
    for e in snap.entries:
        # A reversal copies its original's metadata: it is found by its own client id.
        key = e.client_id if e.reverses_id is not None else e.soak_key
        if key is not None:
            by_key[key].append(e)
    entries = {e.id: e for e in snap.entries}
    problems: list[str] = []
    counts: Counter[str] = Counter()
    sent: set[str] = set()

    def expect(key: str, acked_id: str | None, outcome: str) -> None:
        sent.add(key)
        found = by_key.get(key, [])
        if len(found) > 1:
            problems.append(f"{key}: {len(found)} entries (applied twice)")
        elif outcome == "acked" and acked_id:
            if not found:
                problems.append(f"{key}: acknowledged as {acked_id} but missing")
            elif found[0].id != acked_id:
                problems.append(f"{key}: acknowledged as {acked_id}, stored as {found[0].id}")
        elif outcome in ("rejected", "acked") and found:  # acked batch item that failed
            problems.append(f"{key}: refused but exists as {found[0].id}")

    for w in writes:
        counts[f"{w.kind}_{w.outcome}"] += 1
        if w.kind in ("entry", "pending", "invoice"):
            expect(w.key, w.entry_ids[0] if w.entry_ids else None, w.outcome)
        elif w.kind == "reverse":
            expect(w.key, w.entry_ids[0] if w.entry_ids else None, w.outcome)
            found = by_key.get(w.key, [])
            if found and found[0].reverses_id != w.target_id:
                problems.append(f"{w.key}: reverses {found[0].reverses_id}, not {w.target_id}")
        elif w.kind == "batch":
            for i, item in enumerate(w.item_keys):
                acked_id = w.entry_ids[i] if i < len(w.entry_ids) else None
                outcome = w.outcome if w.outcome != "acked" or acked_id else "rejected"
                expect(item, acked_id, outcome)
        else:  # post / void of a pending entry: the client resolves each at most once
            target = entries.get(w.target_id or "")
            applied = snap.journal_log[(w.target_id or "", w.kind)]
            wanted = "posted" if w.kind == "post" else "voided"
            if target is None or w.target_id is None:
                problems.append(f"{w.key}: target {w.target_id} missing")
            elif applied > 1:
                problems.append(f"{w.key}: {w.kind} applied {applied} times")
            elif w.outcome == "acked" and (applied != 1 or target.status != wanted):
                problems.append(f"{w.key}: acknowledged {w.kind} but entry is {target.status}")
            elif w.outcome == "rejected" and applied:
                problems.append(f"{w.key}: refused {w.kind} was applied")
    # Unreconciling a match reverses its settlement under the client id
    # "unreconcile:<match>": a person's decision, not a client's write; once per match, and
    # only for a match that is unreconciled.
    match_status = {m.id: m.status for m in snap.matches}
    for key, found in by_key.items():
        if key.startswith(UNRECONCILED):
            sent.add(key)
            counts["unreconcile_reversals"] += 1
            status = match_status.get(key.removeprefix(UNRECONCILED))
            if len(found) > 1:
                problems.append(f"{key}: {len(found)} reversals (unreconciled twice)")
            elif status != "unreconciled":
                problems.append(f"{key}: a reversal, but the match is {status}")
    phantoms = [k for k in by_key if k not in sent]
    problems += [f"{k}: exists but no client sent it" for k in phantoms[:MAX_EXAMPLES]]
    counts["entries"] = len(snap.entries)
    counts["phantoms"] = len(phantoms)
    return _invariant("acknowledged_exactly_once", counts, problems)


EVENT_OF_ACTION = {
    "posted": "ledger.entry.posted.v1",
    "pending": "ledger.entry.pending.v1",
    "voided": "ledger.entry.voided.v1",
}


def nothing_half_exists(snap: Snapshot) -> Invariant:
    """Each entry is whole: ≥ 2 postings, one journal-log ``create``, one audit record per
    journal action, one entry event per journal action (and a ``reversed`` event for each
    reversal) in the outbox."""
    postings: Counter[str] = Counter(p.entry_id for p in snap.postings)
    events: Counter[str] = Counter()
    reversed_events: Counter[str] = Counter()
    for ev in snap.events:
        if ev.type == "ledger.entry.reversed.v1":
            reversed_events[ev.subject.removeprefix("entries/")] += 1
        elif ev.type in EVENT_OF_ACTION.values():
            events[ev.subject.removeprefix("entries/")] += 1
    actions: dict[str, Counter[str]] = defaultdict(Counter)
    for (entry, action), n in snap.journal_log.items():
        actions[entry][action] += n
    problems = []
    for e in snap.entries:
        done = actions.get(e.id, Counter())
        if postings[e.id] < 2:
            problems.append(f"entry {e.id}: {postings[e.id]} postings")
        if done["create"] != 1:
            problems.append(f"entry {e.id}: {done['create']} journal-log create records")
        for action, n in done.items():
            audit_action = "reverse" if action == "create" and e.reverses_id else action
            if snap.audit[(e.id, f"ledger.entry.{audit_action}")] != n:
                problems.append(
                    f"entry {e.id}: {n} {action} records, "
                    f"{snap.audit[(e.id, f'ledger.entry.{audit_action}')]} audit records"
                )
        if events[e.id] != sum(done.values()):
            problems.append(f"entry {e.id}: {sum(done.values())} actions, {events[e.id]} events")
        if e.reverses_id is not None and reversed_events[e.reverses_id] != 1:
            problems.append(f"reversal {e.id}: {reversed_events[e.reverses_id]} reversed events")
    return _invariant(
        "nothing_half_exists",
        {"entries": len(snap.entries), "journal_actions": sum(snap.journal_log.values())},
        problems,
    )


def chains_verify(snap: Snapshot) -> list[Invariant]:
    out = []
    for name, chains in (
        ("hash_chain_verifies", snap.chains),
        ("audit_chain_verifies", snap.audit_chains),
    ):
        problems = [f"{who}: {reason}" for who, ok, _, reason in chains if not ok]
        out.append(
            _invariant(
                name, {"chains": len(chains), "records": sum(n for _, _, n, _ in chains)}, problems
            )
        )
    return out


def events_delivered_once(snap: Snapshot) -> Invariant:
    """Every committed event was published, and every consumer that takes its type applied
    it (inbox row, unique per consumer and event: once) or dead-lettered it."""
    problems, counts = [], Counter[str]()
    for ev in snap.events:
        counts[f"events_{ev.type.split('.')[0]}"] += 1
        if not ev.published:
            problems.append(f"event {ev.id} ({ev.type}) never published")
            counts["unpublished"] += 1
        for consumer, types in snap.consumers.items():
            if types is not None and ev.type not in types:
                continue
            if (consumer, ev.id) in snap.inbox:
                counts["applied"] += 1
            elif (consumer, ev.id) in snap.dead_letters:
                counts["dead_lettered"] += 1
            else:
                counts["missing"] += 1
                problems.append(f"{consumer} never applied event {ev.id} ({ev.type})")
    counts["events"] = len(snap.events)
    return _invariant("events_delivered_once", counts, problems)


def webhooks_accounted(snap: Snapshot) -> Invariant:
    """Every entry event matching an endpoint has exactly one delivery (the fan-out effect,
    once), which succeeded and reached its receiver, or failed for good (dead-lettered);
    none is lost or left pending."""
    deliveries: Counter[tuple[str, str]] = Counter()
    status: dict[tuple[str, str], str] = {}
    for d in snap.deliveries:
        deliveries[(d.endpoint_id, d.event_id)] += 1
        status[(d.endpoint_id, d.event_id)] = d.status
    problems, counts = [], Counter[str]()
    for endpoint in snap.endpoints:
        received = snap.received.get(endpoint.receiver, Counter())
        for ev in snap.events:
            if ev.tenant != endpoint.tenant or not ev.type.startswith("ledger.entry."):
                continue
            if not matches(endpoint.event_types, ev.type):
                continue
            key = (endpoint.id, ev.id)
            counts["expected"] += 1
            if deliveries[key] != 1:
                problems.append(
                    f"endpoint {endpoint.id} event {ev.id}: {deliveries[key]} deliveries"
                )
                continue
            state = status[key]
            counts[state] += 1
            if state == "succeeded":
                if received[ev.id] == 0:
                    problems.append(f"event {ev.id} succeeded but {endpoint.receiver} never got it")
                else:
                    counts["duplicates_received"] += received[ev.id] - 1
            elif state != "failed":
                problems.append(f"endpoint {endpoint.id} event {ev.id}: still {state}")
    return _invariant("webhooks_delivered_or_dead_lettered", counts, problems)


def drained(snap: Snapshot) -> Invariant:
    """Outbox empty, no webhook delivery left pending, nothing waiting in the broker."""
    counts = {
        "outbox_unsent": sum(not e.published for e in snap.events),
        "webhooks_pending": sum(d.status == "pending" for d in snap.deliveries),
    }
    problems = [f"{k} = {v}" for k, v in counts.items() if v]
    if snap.broker_pending is None:
        counts["broker_consumers"] = 0  # not observable on this bus (Pub/Sub emulator)
    else:
        counts["broker_consumers"] = len(snap.broker_pending)
        counts["broker_pending"] = sum(snap.broker_pending.values())
        problems += [
            f"{c}: {n} messages undelivered or unacked" for c, n in snap.broker_pending.items() if n
        ]
    return _invariant("outbox_and_queues_drained", counts, problems)


# -- the bank flows: statements, bookkeeping, reconciliation ---------------------------------

#: why an import may end ``failed`` with nothing imported (documented in docs/soak.md)
IMPORT_FAILURES = frozenset({"banking.import_crashed"})


def statement_lines_exactly_once(snap: Snapshot, uploads: Iterable[Upload]) -> Invariant:
    """Every line of a file whose import completed exists exactly once on its bank account
    (by its bank reference), whatever re-uploads, overlapping files and faults; a line only
    in uploads without an answer, refused, or whose import failed exists at most once; no
    line exists that no file held; and an acknowledged upload's import exists."""
    imports = {i.id: i for i in snap.imports}
    found: Counter[tuple[str, str]] = Counter(
        (line.bank_account_id, line.bank_reference or "") for line in snap.bank_lines
    )
    sent: set[tuple[str, str]] = set()
    required: set[tuple[str, str]] = set()
    problems: list[str] = []
    counts: Counter[str] = Counter()
    for upload in uploads:
        counts[f"uploads_{upload.how}_{upload.outcome}"] += 1
        keys = {(upload.bank_account_id, r) for r in upload.references}
        sent |= keys
        if upload.outcome != "acked":
            continue
        record = imports.get(upload.import_id or "")
        if record is None:
            problems.append(f"upload {upload.key}: acknowledged import {upload.import_id} missing")
        elif record.status == "completed":
            required |= keys
    for key in sorted(sent):
        if found[key] > 1:
            problems.append(f"line {key[1]}: stored {found[key]} times")
        elif found[key] == 0 and key in required:
            problems.append(f"line {key[1]}: in a completed import but missing")
    phantoms = sorted(k for k in found if k not in sent)
    problems += [f"line {k[1]!r}: exists but no file held it" for k in phantoms[:MAX_EXAMPLES]]
    counts.update(
        lines_generated=len(sent),
        lines_required=len(required),
        lines_stored=sum(found.values()),
        phantoms=len(phantoms),
    )
    return _invariant("statement_lines_exactly_once", counts, problems)


def imports_whole(snap: Snapshot, uploads: Iterable[Upload]) -> Invariant:
    """Every import finished: ``completed`` with exactly its new lines stored, or ``failed``
    for a documented reason with none; none is left queued or processing; and no upload
    (one key, however often retried) made more than one import."""
    lines: Counter[str] = Counter(line.import_id for line in snap.bank_lines)
    problems: list[str] = []
    counts: Counter[str] = Counter()
    for record in snap.imports:
        counts[record.status] += 1
        stored = lines[record.id]
        if record.status == "completed":
            if stored != record.lines_new:
                problems.append(
                    f"import {record.id}: {record.lines_new} new lines, {stored} stored"
                )
        elif record.status == "failed":
            counts[f"failed:{record.error_code}"] += 1
            if record.error_code not in IMPORT_FAILURES:
                problems.append(f"import {record.id}: failed with {record.error_code}")
            if stored:
                problems.append(f"import {record.id}: failed but {stored} of its lines exist")
        else:
            problems.append(f"import {record.id}: still {record.status}")
    known = {i.id for i in snap.imports}
    problems += [
        f"line {line.id}: its import is missing"
        for line in snap.bank_lines
        if line.import_id not in known
    ][:MAX_EXAMPLES]
    per_account: Counter[str] = Counter(i.bank_account_id for i in snap.imports)
    uploaded: Counter[str] = Counter(u.bank_account_id for u in uploads)
    for account, n in per_account.items():
        if n > uploaded[account]:
            problems.append(f"bank account {account}: {n} imports from {uploaded[account]} uploads")
    counts["imports"] = len(snap.imports)
    return _invariant("imports_complete_or_failed_whole", counts, problems)


def one_proposal_per_line(snap: Snapshot) -> Invariant:
    """The bookkeeping loop made exactly one proposal for every imported line — none for a
    line reconciliation took over before the loop saw it (the loop leaves reconciled lines
    alone), never two — and none for a line that does not exist."""
    proposals: Counter[str] = Counter(p.bank_transaction_id for p in snap.proposals)
    lines = {line.id for line in snap.bank_lines}
    reconciled = {line for line, _ in snap.reconciled_lines}
    problems = [
        f"line {line}: {proposals[line]} proposals"
        for line in sorted(lines)
        if proposals[line] > 1 or (proposals[line] == 0 and line not in reconciled)
    ]
    problems += [f"proposal for missing line {p}" for p in sorted(set(proposals) - lines)]
    counts = {
        "lines": len(lines),
        "proposals": len(snap.proposals),
        "booking": sum(p.entry_id is not None for p in snap.proposals),
        "reconciled_unproposed": sum(
            1 for line in lines if proposals[line] == 0 and line in reconciled
        ),
    }
    return _invariant("one_proposal_per_line", counts, problems)


def _bookings(snap: Snapshot) -> dict[str, set[tuple[str, str]]]:
    """Line -> the entries that book it now, each with how (as ``reconcile.periods._lines``
    finds them): the bookkeeping loop's entry, a reconciled match's settlement, a book item
    a reconciled match paired it with."""
    out: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for proposal in snap.proposals:
        if proposal.entry_id is not None:
            out[proposal.bank_transaction_id].add((proposal.entry_id, "bookkeeping"))
    reconciled = {m.id: m for m in snap.matches if m.status == "reconciled"}
    items = {i.id: i for i in snap.open_items}
    paired: dict[str, set[str]] = defaultdict(set)
    for part in snap.match_items:
        item = items.get(part.target_id)
        if part.match_id in reconciled and item is not None and item.kind == "book":
            paired[part.match_id].add(item.entry_id)
    for part in snap.match_lines:
        match = reconciled.get(part.match_id)
        if match is None:
            continue
        if match.entry_id is not None:
            out[part.target_id].add((match.entry_id, "settlement"))
        out[part.target_id] |= {(e, "book_item") for e in paired[part.match_id]}
    return out


def bank_money_booked_once(snap: Snapshot) -> Invariant:
    """The bank's money is in the ledger once. Lines that share a booking entry (a
    settlement of several lines) are taken together: the entries that book them now sum,
    on the bank account's GL account, to the lines' amounts; a line is booked by live
    (posted, unreversed) entries only, or not booked at all. And no posted entry moves the
    bank's GL account without booking a line (other than a reversal and what it reversed)."""
    gl = {b.id: b.gl_account_id for b in snap.bank_accounts}
    gls = set(gl.values())
    entries = {e.id: e for e in snap.entries}
    reversed_ids = {e.reverses_id for e in snap.entries if e.reverses_id is not None}
    on_gl: dict[tuple[str, str], int] = defaultdict(int)
    for p in snap.postings:
        if p.account_id in gls:
            amount = p.posted_amount if p.posted_amount is not None else p.amount
            on_gl[(p.entry_id, p.account_id)] += amount if p.direction == "debit" else -amount
    bookings = _bookings(snap)
    lines = {line.id: line for line in snap.bank_lines}
    problems: list[str] = []
    counts: Counter[str] = Counter()
    parent: dict[str, str] = {}

    def root(x: str) -> str:
        while parent.setdefault(x, x) != x:
            x = parent[x]
        return x

    by_entry: dict[str, set[str]] = defaultdict(set)
    for line_id, booked in bookings.items():
        for entry_id, how in booked:
            counts[f"booked_by_{how}"] += 1
            by_entry[entry_id].add(line_id)
            parent[root(line_id)] = root(next(iter(by_entry[entry_id])))
            entry = entries.get(entry_id)
            if entry is None or entry.status != "posted" or entry_id in reversed_ids:
                state = (
                    "missing"
                    if entry is None
                    else ("reversed" if entry_id in reversed_ids else entry.status)
                )
                problems.append(f"line {line_id}: booked by {how} entry {entry_id}, {state}")
    groups: dict[str, set[str]] = defaultdict(set)
    for line_id in bookings:
        groups[root(line_id)].add(line_id)
    for group in groups.values():
        members = [lines[i] for i in group if i in lines]
        if len(members) != len(group):
            problems.append(f"bookings for missing lines {sorted(set(group) - set(lines))}")
            continue
        booking = {e for i in group for e, _ in bookings[i]}
        account_of = {gl.get(line.bank_account_id, "") for line in members}
        expected = sum(line.amount for line in members)
        actual = sum(on_gl[(e, a)] for e in booking for a in account_of)
        if actual != expected:
            problems.append(
                f"lines {sorted(group)}: {expected} on the bank, {actual} in the ledger "
                f"(entries {sorted(booking)})"
            )
    counts["lines"] = len(lines)
    counts["lines_booked"] = sum(len(g) for g in groups.values())
    counts["lines_unbooked"] = len(lines) - counts["lines_booked"]
    stray = [
        entry_id
        for (entry_id, _), amount in on_gl.items()
        if amount
        and entry_id not in by_entry
        and entry_id not in reversed_ids
        and entries.get(entry_id) is not None
        and entries[entry_id].status == "posted"
        and entries[entry_id].reverses_id is None
    ]
    problems += [f"entry {e}: moves the bank's GL account but books no line" for e in stray]
    counts["stray_entries"] = len(stray)
    return _invariant("bank_money_in_ledger_once", counts, problems)


def reconciliation_consistent(snap: Snapshot) -> Invariant:
    """No line is reconciled twice, and ``reconciled_lines`` is exactly the lines of the
    reconciled matches; a reconciled match's allocations equal its lines minus its
    write-offs, and each is an active settlement of its item (a match not reconciled has
    none); every open item's ``open_amount`` is its amount minus its active settlements
    (zero once cancelled)."""
    status = {m.id: m.status for m in snap.matches}
    reconciled = {m.id: m for m in snap.matches if m.status == "reconciled"}
    problems: list[str] = []
    lines_of: dict[str, int] = defaultdict(int)
    in_reconciled: Counter[str] = Counter()
    for part in snap.match_lines:
        if part.match_id in reconciled:
            in_reconciled[part.target_id] += 1
            lines_of[part.match_id] += part.amount
    problems += [
        f"line {line}: in {n} reconciled matches" for line, n in in_reconciled.items() if n > 1
    ]
    marked = Counter(line for line, _ in snap.reconciled_lines)
    problems += [f"line {line}: {n} reconciled_lines rows" for line, n in marked.items() if n > 1]
    for line, match_id in snap.reconciled_lines:
        if status.get(match_id) != "reconciled":
            problems.append(f"line {line}: reconciled by match {match_id}, {status.get(match_id)}")
    problems += [
        f"line {line}: in a reconciled match, not marked reconciled"
        for line in sorted(set(in_reconciled) - set(marked))
    ]
    allocated: dict[str, int] = defaultdict(int)
    for part in snap.match_items:
        if part.match_id in reconciled:
            allocated[part.match_id] += part.amount
    for match in reconciled.values():
        if lines_of[match.id] != allocated[match.id] + match.writeoffs:
            problems.append(
                f"match {match.id}: lines {lines_of[match.id]} != allocations "
                f"{allocated[match.id]} + write-offs {match.writeoffs}"
            )
    active: dict[str, int] = defaultdict(int)
    by_match: dict[tuple[str, str], int] = defaultdict(int)
    for settlement in snap.settlements:
        if settlement.reversed:
            continue
        active[settlement.open_item_id] += settlement.amount
        if settlement.match_id is not None:
            by_match[(settlement.match_id, settlement.open_item_id)] += settlement.amount
            if settlement.match_id not in reconciled:
                problems.append(
                    f"item {settlement.open_item_id}: active settlement of match "
                    f"{settlement.match_id}, {status.get(settlement.match_id)}"
                )
    for part in snap.match_items:
        if part.match_id in reconciled and by_match[(part.match_id, part.target_id)] != part.amount:
            problems.append(
                f"match {part.match_id} allocates {part.amount} to item {part.target_id}, "
                f"settled {by_match[(part.match_id, part.target_id)]}"
            )
    for item in snap.open_items:
        expected = 0 if item.status == "cancelled" else item.amount - active[item.id]
        if item.open_amount != expected:
            problems.append(
                f"item {item.id} ({item.status}): open {item.open_amount}, amount {item.amount} "
                f"minus active settlements {active[item.id]}"
            )
    counts = {
        "matches": len(snap.matches),
        "matches_reconciled": len(reconciled),
        "lines_reconciled": len(marked),
        "open_items": len(snap.open_items),
        "settlements": len(snap.settlements),
    }
    return _invariant("reconciliation_consistent", counts, problems)


def decisions_answered(decisions: Iterable[Decision]) -> Invariant:
    """No reconciliation decision was left on a server error: one that got no answer before
    its deadline kept being retried, and its last attempt was not a 5xx (a fault heals in
    seconds; a 5xx to the end is a bug, as a stale suggestion's accept once was)."""
    counts: Counter[str] = Counter()
    problems: list[str] = []
    for decision in decisions:
        counts[f"{decision.kind}_{decision.outcome}"] += 1
        last = decision.statuses[-1] if decision.statuses else ""
        if decision.outcome == "unknown" and last.startswith("5"):
            problems.append(
                f"{decision.kind} {decision.key}: {len(decision.statuses)} attempts, the last"
                f" answered {last}"
            )
    return _invariant("decisions_answered", counts, problems)


def check(
    snap: Snapshot,
    writes: Iterable[Write],
    uploads: Iterable[Upload] = (),
    decisions: Iterable[Decision] = (),
) -> list[Invariant]:
    writes, uploads = list(writes), list(uploads)
    return [
        decisions_answered(decisions),
        assets_sum_to_zero(snap),
        acknowledged_exactly_once(snap, writes),
        nothing_half_exists(snap),
        balances_equal_replay(snap),
        constraints_hold(snap),
        *chains_verify(snap),
        events_delivered_once(snap),
        webhooks_accounted(snap),
        drained(snap),
        statement_lines_exactly_once(snap, uploads),
        imports_whole(snap, uploads),
        one_proposal_per_line(snap),
        bank_money_booked_once(snap),
        reconciliation_consistent(snap),
    ]


# -- reading the deployment ----------------------------------------------------------------


async def collect(
    owner_dsn: str, receivers: dict[str, Counter[str]], receiver_of_url: dict[str, str]
) -> Snapshot:
    """Read every table the invariants need, as the schema owner (every tenant's rows)."""
    conn = await asyncpg.connect(owner_dsn, timeout=10)
    try:
        snap = Snapshot(received=receivers)
        snap.entries = [
            EntryRow(str(r[0]), str(r[1]), r[2], r[3], r[4], str(r[5]) if r[5] else None)
            for r in await conn.fetch(
                "SELECT id, ledger_id, status, metadata->>'soak_key', client_id, reverses_id "
                "FROM journal_entries"
            )
        ]
        snap.postings = [
            PostingRow(str(r[0]), str(r[1]), str(r[2]), r[3], r[4], r[5], r[6])
            for r in await conn.fetch(
                "SELECT entry_id, ledger_id, account_id, asset, direction, amount, posted_amount "
                "FROM postings"
            )
        ]
        snap.balances = [
            BalanceRow(str(r[0]), str(r[1]), r[2], r[3], r[4], r[5], r[6])
            for r in await conn.fetch(
                "SELECT b.account_id, a.ledger_id, b.asset, b.debits_posted, b.credits_posted, "
                "b.debits_pending, b.credits_pending FROM balances b "
                "JOIN accounts a ON a.id = b.account_id"
            )
        ]
        snap.accounts = [
            AccountRow(str(r[0]), r[1], r[2], r[3])
            for r in await conn.fetch(
                "SELECT id, debits_must_not_exceed_credits, credits_must_not_exceed_debits, "
                "balance_limit FROM accounts"
            )
        ]
        for r in await conn.fetch(
            "SELECT entry_id, action, count(*) FROM journal_log GROUP BY 1, 2"
        ):
            snap.journal_log[(str(r[0]), r[1])] = r[2]
        for r in await conn.fetch(
            "SELECT target_id, action, count(*) FROM audit_log "
            "WHERE target_type = 'journal_entry' GROUP BY 1, 2"
        ):
            snap.audit[(r[0], r[1])] = r[2]
        snap.inbox = {
            (r[0], str(r[1]))
            for r in await conn.fetch("SELECT consumer, event_id FROM event_inbox")
        }
        snap.dead_letters = {
            (r[0], str(r[1]))
            for r in await conn.fetch("SELECT consumer, event_id FROM event_dead_letters")
        }
        snap.consumers = {c.name: c.types for c in registered_consumers()}
        snap.endpoints = [
            EndpointRow(
                str(r[0]),
                str(r[1]),
                tuple(json.loads(r[2]) if isinstance(r[2], str) else r[2]),
                receiver_of_url.get(r[3], r[3]),
            )
            for r in await conn.fetch(
                "SELECT id, tenant_id, event_types, url FROM webhook_endpoints"
            )
        ]
        snap.deliveries = [
            DeliveryRow(str(r[0]), str(r[1]), r[2])
            for r in await conn.fetch(
                "SELECT endpoint_id, event_id, status FROM webhook_deliveries"
            )
        ]
        await _collect_bank(conn, snap)
        return snap
    finally:
        await conn.close()


def _id(value: Any) -> str | None:
    return None if value is None else str(value)


def _writeoffs(value: Any) -> int:
    rows = json.loads(value) if isinstance(value, str) else value
    return sum(int(w["amount"]) for w in rows or ())


async def _collect_bank(conn: asyncpg.Connection, snap: Snapshot) -> None:
    """The bank flows' tables: accounts, imports, lines, proposals, matches, open items."""
    snap.bank_accounts = [
        BankAccountRow(str(r[0]), str(r[1]))
        for r in await conn.fetch("SELECT id, gl_account_id FROM bank_accounts")
    ]
    snap.imports = [
        ImportRow(str(r[0]), str(r[1]), r[2], r[3], r[4])
        for r in await conn.fetch(
            "SELECT id, bank_account_id, status, error_code, lines_new FROM bank_imports"
        )
    ]
    snap.bank_lines = [
        BankLineRow(str(r[0]), str(r[1]), str(r[2]), r[3], r[4])
        for r in await conn.fetch(
            "SELECT id, bank_account_id, import_id, bank_reference, amount FROM bank_transactions"
        )
    ]
    snap.proposals = [
        ProposalRow(str(r[0]), _id(r[1]))
        for r in await conn.fetch(
            "SELECT bank_transaction_id, entry_id FROM categorization_proposals"
        )
    ]
    snap.matches = [
        MatchRow(str(r[0]), r[1], _id(r[2]), _writeoffs(r[3]))
        for r in await conn.fetch("SELECT id, status, entry_id, writeoffs FROM reconcile_matches")
    ]
    snap.match_lines = [
        MatchPartRow(str(r[0]), str(r[1]), r[2])
        for r in await conn.fetch(
            "SELECT match_id, bank_transaction_id, amount FROM reconcile_match_lines"
        )
    ]
    snap.match_items = [
        MatchPartRow(str(r[0]), str(r[1]), r[2])
        for r in await conn.fetch(
            "SELECT match_id, open_item_id, amount FROM reconcile_match_items"
        )
    ]
    snap.reconciled_lines = [
        (str(r[0]), str(r[1]))
        for r in await conn.fetch("SELECT bank_transaction_id, match_id FROM reconciled_lines")
    ]
    snap.open_items = [
        OpenItemRow(str(r[0]), str(r[1]), r[2], r[3], r[4], r[5])
        for r in await conn.fetch(
            "SELECT id, entry_id, kind, status, amount, open_amount FROM open_items"
        )
    ]
    snap.settlements = [
        SettlementRow(str(r[0]), r[1], r[2], _id(r[3]), r[4] is not None)
        for r in await conn.fetch(
            "SELECT open_item_id, amount, source, match_id, reversed_by_entry_id "
            "FROM open_item_settlements"
        )
    ]


async def collect_events(system_url: str, snap: Snapshot) -> None:
    """Every event the outbox holds, sent or not: read through the outbox itself, which
    expands the bundles a statement import queues for its lines (ADR 0020)."""
    engine = create_engine(Settings(database_url=system_url))
    try:
        async with create_sessionmaker(engine)() as session:
            for raw, sent in await outbox.queued(session):
                body = json.loads(raw)
                snap.events.append(
                    EventRow(
                        body["id"],
                        body.get("tenant", ""),
                        body["type"],
                        body.get("subject", ""),
                        sent,
                    )
                )
    finally:
        await engine.dispose()


async def verify_chains(system_url: str, snap: Snapshot) -> None:
    """The service's own verifiers: the journal log of every ledger, the audit log of every
    tenant (what ``GET /v1/ledgers/{id}/verify`` and ``autoledger audit verify`` run)."""
    engine = create_engine(Settings(database_url=system_url))
    try:
        async with create_sessionmaker(engine)() as session:
            ledgers = (await session.execute(select(Ledger.tenant_id, Ledger.id))).all()
            for tenant_id, ledger_id in ledgers:
                journal = await ledger_service.verify_chain(session, tenant_id, ledger_id)
                snap.chains.append(
                    (
                        f"ledger {ledger_id}",
                        journal.ok,
                        journal.records_checked,
                        journal.reason or "",
                    )
                )
            for tenant_id in await audit.chained_tenants(session):
                report = await audit.verify(session, tenant_id)
                snap.audit_chains.append(
                    (f"tenant {tenant_id}", report.ok, report.records_checked, report.reason or "")
                )
    finally:
        await engine.dispose()


async def broker_pending(nats_url: str, namespace: str) -> dict[str, int]:
    """Per durable consumer of the event stream: messages not yet delivered or not acked."""
    client = await nats.connect(nats_url, connect_timeout=5, max_reconnect_attempts=2)
    try:
        infos = await client.jsm().consumers_info(stream_name(namespace))
        return {
            info.name: int(info.num_pending or 0) + int(info.num_ack_pending or 0) for info in infos
        }
    finally:
        await client.close()
