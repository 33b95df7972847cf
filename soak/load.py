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
"""

import asyncio
import random
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx

Outcome = Literal["acked", "rejected", "unknown"]
Kind = Literal["entry", "pending", "batch", "post", "void", "reverse"]
ASSETS = ("USD", "EUR")
WALLETS = 8
RETRYABLE_CONFLICT = "idempotency.in_flight"


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
        write: Write | None = None,
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
                response = await self.http.request(method, url + path, json=body, headers=headers)
            except httpx.TimeoutException:
                self.stats.attempt("timeout", time.monotonic() - sent)
            except httpx.TransportError:
                self.stats.attempt("connection_error", time.monotonic() - sent)
            else:
                self.stats.attempt(str(response.status_code), time.monotonic() - sent)
                if not _retryable(response):
                    return response
            backoff = min(0.1 * 2 ** min(attempt, 5), 2.0)
            await asyncio.sleep(backoff * random.uniform(0.5, 1))  # jitter  # nosec B311
        return None


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
        self.rng = random.Random(seed)  # a reproducible mix, not security  # nosec B311

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

    async def read(self, book: Book) -> None:
        account = book.accounts[f"1{self.rng.randrange(WALLETS):03d}"]
        asset = self.rng.choice(ASSETS)
        which = "balance" if self.rng.random() < 0.5 else f"statement?asset={asset}&limit=50"
        await self.api.call(book, "GET", f"/v1/accounts/{account}/{which}")
        self.api.stats.reads += 1

    async def client(self, stop: asyncio.Event) -> None:
        actions = (
            (0.40, self.create_entry),
            (0.08, self.create_batch),
            (0.12, lambda b: self.create_entry(b, pending=True)),
            (0.12, self.resolve_pending),
            (0.08, self.reverse),
            (0.20, self.read),
        )
        while not stop.is_set():
            book = self.rng.choice(self.books)
            roll, acc = self.rng.random(), 0.0
            for weight, action in actions:
                acc += weight
                if roll < acc:
                    await action(book)
                    break
