"""The load: concurrent clients of the real HTTP API, as a careful integrator writes them.

Every write carries an ``Idempotency-Key`` and is retried with that same key on a timeout, a
connection error, a 5xx, 429 or ``409 idempotency.in_flight``, against whichever API process
answers, until it gets a definitive answer or its deadline passes. Each write ends in one of
three outcomes the checker later holds the database to:

- ``acked``: a 2xx came back; the effect must exist exactly once;
- ``rejected``: a definitive 4xx (insufficient funds, already voided); nothing may exist;
- ``unknown``: the deadline passed without an answer; the effect exists whole or not at all.

Entries carry their key in ``metadata.soak_key`` (batch items and reversals also as their
client ``id``), so the checker can find them by key.

The bank flows run beside them: invoices (entries on the open-item receivable 1200 with a
``reference``), statement files the harness writes (each line an invoice's payment naming its
reference, or ordinary spend) uploaded to the tenant's bank account, often again or
overlapping an earlier file, plus explicit reconciliation runs and accepted suggestions.
Every generated line has a unique bank reference, so the checker can hold the database to
"each line exactly once" whatever was uploaded how often.
"""

import asyncio
import random
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import httpx

Outcome = Literal["acked", "rejected", "unknown"]
Kind = Literal["entry", "pending", "batch", "post", "void", "reverse", "invoice"]
ASSETS = ("USD", "EUR")
WALLETS = 8
RETRYABLE_CONFLICT = "idempotency.in_flight"
BANK_GL = "1110"
RECEIVABLE = "1200"
#: the bank flows' chart: the small-business codes the cold-start prior and the matcher's
#: default write-offs book to (the prior maps categories to a chart with these markers)
BANK_CHART = (
    (BANK_GL, "Operating bank account", "asset"),
    (RECEIVABLE, "Accounts receivable", "asset"),
    ("1150", "Payment processor clearing", "asset"),
    ("4100", "Product sales", "revenue"),
    ("4500", "Refunds and discounts", "revenue"),
    ("6100", "Rent", "expense"),
    ("6120", "Software subscriptions", "expense"),
    ("6410", "Meals", "expense"),
    ("6800", "Bank fees", "expense"),
    ("7200", "Rounding and FX differences", "expense"),
)
CUSTOMERS = ("Acme Corp", "Globex Ltd", "Initech LLC", "Umbrella GmbH", "Stark Industries")
SPEND = (
    ("Office rent November", "Landlord Properties"),
    ("Lunch meeting", "Corner Bistro"),
    ("Software subscription", "Cloudsoft Inc"),
    ("Monthly bank service fee", "Bank"),
    ("Team meals", "Pizza Place"),
)
CSV_HEADER = "Date,Description,Payee,Amount,Reference\n"


@dataclass
class Write:
    """One logical write and what the client was told about it."""

    key: str
    kind: Kind
    tenant: str
    ledger_id: str
    outcome: Outcome = "unknown"
    status: int | None = None
    entry_ids: list[str] = field(default_factory=list)  # as acknowledged
    target_id: str | None = None  # post / void / reverse: the entry acted on
    item_keys: list[str] = field(default_factory=list)  # batch: each item's key
    attempts: int = 0


@dataclass(frozen=True)
class Line:
    """One statement line the harness generated (its bank reference is unique)."""

    reference: str
    day: str
    description: str
    payee: str
    amount: str  # signed decimal, money in positive

    def csv(self) -> str:
        return f"{self.day},{self.description},{self.payee},{self.amount},{self.reference}\n"


@dataclass
class Upload:
    """One statement-file upload (one idempotency key, retried) and its answer."""

    key: str
    tenant: str
    bank_account_id: str
    references: list[str]  # the file's lines
    how: Literal["new", "overlap", "again"]  # fresh lines / some earlier ones too / a re-upload
    outcome: Outcome = "unknown"
    status: int | None = None
    import_id: str | None = None
    attempts: int = 0


@dataclass
class Decision:
    """An explicit reconciliation run, or a person's decision on a match: accepting or
    rejecting a suggestion, unreconciling a reconciled match."""

    key: str
    kind: Literal["reconcile", "accept", "reject", "unreconcile"]
    outcome: Outcome = "unknown"
    status: int | None = None
    attempts: int = 0
    statuses: list[str] = field(default_factory=list)  # every attempt's answer


@dataclass
class Stats:
    """Every HTTP attempt: its status (or transport error) and latency."""

    started: float = field(default_factory=time.monotonic)
    by_status: Counter[str] = field(default_factory=Counter)
    latencies_ms: list[float] = field(default_factory=list)
    ack_times: list[float] = field(default_factory=list)  # seconds since start, per ack
    reads: int = 0

    def attempt(self, status: str, latency: float) -> None:
        self.by_status[status] += 1
        self.latencies_ms.append(latency * 1000)

    def acked(self) -> None:
        self.ack_times.append(time.monotonic() - self.started)


@dataclass
class Book:
    """A tenant's ledger as the clients know it."""

    tenant: str
    api_key: str
    ledger_id: str = ""
    accounts: dict[str, str] = field(default_factory=dict)  # code -> id
    posted: list[str] = field(default_factory=list)  # acked posted entries, may be reversed
    pending: list[str] = field(default_factory=list)  # acked pending entries not yet resolved
    bank_account_id: str = ""
    invoices: list[tuple[str, str, str]] = field(default_factory=list)  # unpaid (ref, amt, who)
    files: list[tuple[bytes, list[str]]] = field(default_factory=list)  # uploaded so far
    lines: int = 0  # lines generated so far


class Api:
    """Requests with the harness's retry discipline, spread over every API process."""

    def __init__(self, urls: list[str], stats: Stats, *, deadline: float = 90.0) -> None:
        self.urls = urls
        self.stats = stats
        self.deadline = deadline
        self.http = httpx.AsyncClient(timeout=httpx.Timeout(10.0, connect=2.0))

    async def close(self) -> None:
        await self.http.aclose()

    async def call(
        self,
        book: Book,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        key: str | None = None,
        write: Write | Upload | Decision | None = None,
        files: dict[str, tuple[str, bytes, str]] | None = None,
    ) -> httpx.Response | None:
        """The definitive response, or None when the deadline passed without one."""
        headers = {"Authorization": f"Bearer {book.api_key}"}
        if key is not None:
            headers["Idempotency-Key"] = key
        start = time.monotonic()
        pick = random.randrange(len(self.urls))  # load spreading, not security  # nosec B311
        attempt = 0
        while time.monotonic() - start < self.deadline:
            url = self.urls[(pick + attempt) % len(self.urls)]
            attempt += 1
            if write is not None:
                write.attempts = attempt
            sent = time.monotonic()
            try:
                response = await self.http.request(
                    method, url + path, json=body, files=files, headers=headers
                )
            except httpx.TimeoutException:
                self._seen(write, "timeout", sent)
            except httpx.TransportError:
                self._seen(write, "connection_error", sent)
            else:
                self._seen(write, str(response.status_code), sent)
                if not _retryable(response):
                    return response
            backoff = min(0.1 * 2 ** min(attempt, 5), 2.0)
            await asyncio.sleep(backoff * random.uniform(0.5, 1))  # jitter  # nosec B311
        return None

    def _seen(self, write: Write | Upload | Decision | None, status: str, sent: float) -> None:
        self.stats.attempt(status, time.monotonic() - sent)
        if isinstance(write, Decision):
            write.statuses.append(status)


def _retryable(response: httpx.Response) -> bool:
    if response.status_code >= 500 or response.status_code == 429:
        return True
    if response.status_code == 409:
        try:
            return bool(response.json().get("code") == RETRYABLE_CONFLICT)
        except ValueError:
            return False
    return False


def _amount(rng: random.Random) -> str:
    return f"{rng.randint(1, 500)}.{rng.randint(0, 99):02d}"


def _postings(rng: random.Random) -> list[dict[str, str]]:
    """Funding (equity → wallet) or a transfer between wallets (may hit the wallet's
    no-overdraft constraint: a legitimate 4xx)."""
    asset = rng.choice(ASSETS)
    amount = _amount(rng)
    credit = f"1{rng.randrange(WALLETS):03d}"
    debit = "3000" if rng.random() < 0.4 else f"1{rng.randrange(WALLETS):03d}"
    if debit == credit:
        debit = "3000"
    return [
        {"account": debit, "direction": "debit", "amount": amount, "asset": asset},
        {"account": credit, "direction": "credit", "amount": amount, "asset": asset},
    ]


class Load:
    """Clients running a mix of writes and reads until ``stop`` is set."""

    def __init__(self, api: Api, books: list[Book], *, seed: int = 11) -> None:
        self.api = api
        self.books = books
        self.writes: list[Write] = []
        self.uploads: list[Upload] = []
        self.decisions: list[Decision] = []
        self.rng = random.Random(seed)  # a reproducible mix, not security  # nosec B311
        self._last_lines: dict[str, list[Line]] = {}

    def _write(self, book: Book, kind: Kind) -> Write:
        write = Write(f"soak-{kind}-{uuid.uuid4().hex}", kind, book.tenant, book.ledger_id)
        self.writes.append(write)
        return write

    @staticmethod
    def _settle(write: Write, response: httpx.Response | None) -> dict[str, Any] | None:
        if response is None:
            return None
        write.status = response.status_code
        if response.is_success:
            write.outcome = "acked"
            body: dict[str, Any] = response.json()
            return body
        write.outcome = "rejected"
        return None

    async def create_entry(self, book: Book, pending: bool = False) -> None:
        write = self._write(book, "pending" if pending else "entry")
        body: dict[str, Any] = {
            "postings": _postings(self.rng),
            "metadata": {"soak_key": write.key},
            "status": "pending" if pending else "posted",
        }
        path = f"/v1/ledgers/{book.ledger_id}/entries"
        result = self._settle(
            write, await self.api.call(book, "POST", path, body, write.key, write)
        )
        if result is not None:
            write.entry_ids.append(result["id"])
            self.api.stats.acked()
            (book.pending if pending else book.posted).append(result["id"])

    async def create_batch(self, book: Book) -> None:
        write = self._write(book, "batch")
        write.item_keys = [f"{write.key}-{i}" for i in range(self.rng.randint(5, 25))]
        entries = [
            {"id": k, "postings": _postings(self.rng), "metadata": {"soak_key": k}}
            for k in write.item_keys
        ]
        # Non-atomic: items that break a wallet's constraint fail alone, the rest book.
        body = {"entries": entries, "atomic": False}
        path = f"/v1/ledgers/{book.ledger_id}/entries:batch"
        result = self._settle(
            write, await self.api.call(book, "POST", path, body, write.key, write)
        )
        if result is not None:
            self.api.stats.acked()
            for item in result["items"]:
                if item["status"] in ("created", "replayed"):
                    write.entry_ids.append(item["entry"]["id"])
                    book.posted.append(item["entry"]["id"])
                else:
                    write.entry_ids.append("")  # failed item: must not exist

    async def resolve_pending(self, book: Book) -> None:
        if not book.pending:
            return await self.create_entry(book, pending=True)
        target = book.pending.pop(self.rng.randrange(len(book.pending)))
        kind: Kind = "post" if self.rng.random() < 0.6 else "void"
        write = self._write(book, kind)
        write.target_id = target
        path = f"/v1/entries/{target}:{kind}"
        result = self._settle(write, await self.api.call(book, "POST", path, {}, write.key, write))
        if result is not None:
            self.api.stats.acked()
            if kind == "post":
                book.posted.append(target)
        return None

    async def reverse(self, book: Book) -> None:
        if not book.posted:
            return await self.create_entry(book)
        target = book.posted.pop(self.rng.randrange(len(book.posted)))
        write = self._write(book, "reverse")
        write.target_id = target
        body = {"id": write.key}
        path = f"/v1/entries/{target}:reverse"
        result = self._settle(
            write, await self.api.call(book, "POST", path, body, write.key, write)
        )
        if result is not None:
            write.entry_ids.append(result["id"])
            self.api.stats.acked()
        return None

    async def invoice(self, book: Book) -> None:
        """An invoice on the open-item receivable: its reference is what a payment names."""
        write = self._write(book, "invoice")
        reference = f"INV-{book.tenant}-{write.key[-10:]}"
        amount = f"{self.rng.randint(50, 900)}.{self.rng.randint(0, 99):02d}"
        customer = self.rng.choice(CUSTOMERS)
        body: dict[str, Any] = {
            "postings": [
                {"account": RECEIVABLE, "direction": "debit", "amount": amount, "asset": "USD"},
                {"account": "4100", "direction": "credit", "amount": amount, "asset": "USD"},
            ],
            "metadata": {
                "soak_key": write.key,
                "kind": "invoice",
                "reference": reference,
                "counterparty": customer,
                "due_date": datetime.now(UTC).date().isoformat(),
            },
        }
        path = f"/v1/ledgers/{book.ledger_id}/entries"
        result = self._settle(
            write, await self.api.call(book, "POST", path, body, write.key, write)
        )
        if result is not None:
            write.entry_ids.append(result["id"])
            self.api.stats.acked()
            book.invoices.append((reference, amount, customer))

    def _new_lines(self, book: Book, count: int) -> list[Line]:
        """Fresh lines: the payment of an unpaid invoice (naming its reference, or only the
        payer; sometimes less an early-payment discount) or spend."""
        day = datetime.now(UTC).date().isoformat()
        out = []
        for _ in range(count):
            book.lines += 1
            reference = f"BR-{book.tenant}-{book.lines:06d}-{uuid.uuid4().hex[:6]}"
            if book.invoices and self.rng.random() < 0.5:
                invoice, amount, customer = book.invoices.pop(
                    self.rng.randrange(len(book.invoices))
                )
                roll = self.rng.random()
                if roll < 0.15:  # an early-payment discount: the matcher writes 2 % off
                    cents = round(int(amount.replace(".", "")) * 0.98)
                    amount = f"{cents // 100}.{cents % 100:02d}"
                # a quarter of payments name no reference: found by payer and amount
                text = "Customer payment" if roll > 0.75 else f"Payment {invoice}"
                out.append(Line(reference, day, text, customer, amount))
            else:
                description, payee = self.rng.choice(SPEND)
                out.append(Line(reference, day, description, payee, "-" + _amount(self.rng)))
        return out

    async def upload(self, book: Book) -> None:
        """A statement file: new lines (sometimes with the tail of an earlier file: an
        overlapping export), or an earlier file uploaded again under a new key."""
        if book.files and self.rng.random() < 0.3:
            content, references = self.rng.choice(book.files)
            how: Literal["new", "overlap", "again"] = "again"
        else:
            earlier: list[Line] = []
            if book.files and self.rng.random() < 0.5:
                earlier = self._last_lines[book.tenant][-self.rng.randint(1, 4) :]
            lines = self._new_lines(book, self.rng.randint(5, 10))
            self._last_lines[book.tenant] = lines
            everything = earlier + lines
            content = (CSV_HEADER + "".join(line.csv() for line in everything)).encode()
            references = [line.reference for line in everything]
            how = "overlap" if earlier else "new"
            book.files.append((content, references))
        upload = Upload(
            f"soak-upload-{uuid.uuid4().hex}", book.tenant, book.bank_account_id, references, how
        )
        self.uploads.append(upload)
        path = f"/v1/bank-accounts/{book.bank_account_id}/imports"
        files = {"file": (f"statement-{len(book.files)}.csv", content, "text/csv")}
        response = await self.api.call(book, "POST", path, None, upload.key, upload, files=files)
        if response is None:
            return
        upload.status = response.status_code
        if response.is_success:
            upload.outcome = "acked"
            upload.import_id = response.json()["id"]
            self.api.stats.acked()
        else:
            upload.outcome = "rejected"

    async def reconcile(self, book: Book) -> None:
        decision = Decision(f"soak-reconcile-{uuid.uuid4().hex}", "reconcile")
        self.decisions.append(decision)
        path = f"/v1/bank-accounts/{book.bank_account_id}/reconcile"
        response = await self.api.call(book, "POST", path, {}, decision.key, decision)
        self._decided(decision, response)

    async def accept(self, book: Book) -> None:
        """Accept one of the suggestions waiting (a person confirming a match)."""
        await self._decide_match(book, "suggested", "accept")

    async def reject(self, book: Book) -> None:
        """Reject one of the suggestions waiting (a person saying "not this one")."""
        await self._decide_match(book, "suggested", "reject")

    async def unreconcile(self, book: Book) -> None:
        """Undo a reconciled match (a person finding it wrong after the fact)."""
        await self._decide_match(book, "reconciled", "unreconcile")

    async def _decide_match(
        self, book: Book, status: str, action: Literal["accept", "reject", "unreconcile"]
    ) -> None:
        path = f"/v1/bank-accounts/{book.bank_account_id}/matches?status={status}&limit=20"
        listed = await self.api.call(book, "GET", path)
        self.api.stats.reads += 1
        if listed is None or not listed.is_success or not listed.json():
            return
        match = self.rng.choice(listed.json())
        decision = Decision(f"soak-{action}-{uuid.uuid4().hex}", action)
        self.decisions.append(decision)
        response = await self.api.call(
            book, "POST", f"/v1/matches/{match['id']}/{action}", {}, decision.key, decision
        )
        self._decided(decision, response)

    def _decided(self, decision: Decision, response: httpx.Response | None) -> None:
        if response is None:
            return
        decision.status = response.status_code
        # a 409 (the suggestion went stale: another run or decision took its lines) is a
        # legitimate refusal; the checker holds the database to it either way
        decision.outcome = "acked" if response.is_success else "rejected"
        if response.is_success:
            self.api.stats.acked()

    async def read(self, book: Book) -> None:
        account = book.accounts[f"1{self.rng.randrange(WALLETS):03d}"]
        asset = self.rng.choice(ASSETS)
        which = "balance" if self.rng.random() < 0.5 else f"statement?asset={asset}&limit=50"
        await self.api.call(book, "GET", f"/v1/accounts/{account}/{which}")
        self.api.stats.reads += 1

    async def client(self, stop: asyncio.Event) -> None:
        actions = (
            (0.37, self.create_entry),
            (0.08, self.create_batch),
            (0.12, lambda b: self.create_entry(b, pending=True)),
            (0.12, self.resolve_pending),
            (0.08, self.reverse),
            (0.05, self.invoice),
            (0.035, self.upload),
            (0.008, self.reconcile),
            (0.007, self.accept),
            (0.003, self.reject),
            (0.003, self.unreconcile),
            (0.124, self.read),
        )
        while not stop.is_set():
            book = self.rng.choice(self.books)
            roll, acc = self.rng.random(), 0.0
            for weight, action in actions:
                acc += weight
                if roll < acc:
                    await action(book)
                    break
