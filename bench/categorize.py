"""Autonomous categorization, replayed week by week (``make bench-categorize``).

Twelve months of the demo Simulator company (seed :data:`SEED`, scale :data:`SCALE`: over
6,000 bank lines in the ledger's base currency) are replayed in booking-date order, one week
at a time, through a :class:`Pipeline`: each line gets a proposal, confident proposals are
booked automatically, and a simulated reviewer resolves every queued proposal and corrects
every wrong auto-booking with the Simulator's ground truth (a right auto-booking is
confirmed); every decision becomes feedback, and the pipeline retrains at the end of each
week (the challenger is promoted only when it beats the champion on a time-split holdout).

``--pipeline api`` (the default) is the service itself: an in-process app on a fresh SQLite
database, statements imported through the import API, proposals made by the worker's
``bookkeeping.propose`` consumer and read back from the review queue, reviews and retraining
through the HTTP API (:class:`ApiPipeline`). ``--pipeline memory`` makes the same decisions
(``categorize.learning.decide``, which the service uses too) without database, HTTP or
worker (:class:`InMemoryPipeline`). Lines in another currency than the ledger's are left out
of both (the service books a line in its own currency; the chart's accounts carry the base
currency) and reported as ``left_out_lines``.

Reported per month: ``automation_rate`` (auto-booked / lines), ``auto_precision`` (correct
auto-booked / auto-booked) and ``top1_accuracy`` (proposal top-1 == truth, over all lines),
and the same for a **baseline** in the manner of beancount's smart_importer: a plain
``LinearSVC`` over TF-IDF of the description, retrained on all history each week, booking
everything it predicts (so its automation is 100% once trained and its precision is its
accuracy). Also proposal latency per line (api: the consumer's handling of the line, state
loading, proposing and booking included) and training time. Targets: month 1 automation
>= 30% at >= 99% precision; from month 6 automation >= 90% at >= 99% precision; better than
the baseline on both precision of what is booked and top-1 accuracy, over the year
(``better_than_baseline_over_the_year``, strictly, from the ``year`` totals) and at least as
good every month (``at_least_baseline_every_month``).

How the prior is kept apart from the benchmark data: the shipped prior is trained by
``scripts/build_prior.py`` on its own generator (invented syllable merchant names and generic
bank phrasings, its own seed), whose names share no counterparty key with the Simulator's
vendor and customer universe (a test checks it). Its default auto-booking threshold is
measured by that script on lines of the prior's generator with another seed, which the prior
never saw, and never on the Simulator's lines; it ships in the prior's metadata and is read
from there.
``--company development`` replays a company of another seed (:data:`DEVELOPMENT_SEED`) whose
vendors and customers come from another universe of names (a test checks the two share no
counterparty): model changes are chosen there, and the benchmark company only measures them.
Progress on stderr; the last stdout line is one JSON object.
"""

import argparse
import asyncio
import csv
import io
import json
import random
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock
from pathlib import Path
from typing import Any, Protocol, TypeVar

import httpx
from asgi_lifespan import LifespanManager
from scripts.build_match_prior import invented_name
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.svm import LinearSVC

from autoledger.api.app import create_app
from autoledger.banking.statement import currency_scale
from autoledger.categorize import consumers as bookkeeping
from autoledger.categorize import service
from autoledger.categorize.features import LineFacts
from autoledger.categorize.learning import (
    Champion,
    Feedback,
    Thresholds,
    build_memory,
    choose_thresholds,
    decide,
    retrain,
)
from autoledger.categorize.memory import CounterpartyMemory
from autoledger.categorize.prior import Prior
from autoledger.db.engine import create_engine, create_sessionmaker
from autoledger.db.migrate import upgrade
from autoledger.demo.model import Company
from autoledger.demo.simulator import simulate
from autoledger.kit.money import format_amount
from autoledger.kit.settings import Settings
from autoledger.ledger.chart import load_template
from autoledger.platform.auth import service as auth
from autoledger.platform.auth.roles import Role
from autoledger.platform.crypto.keyring import Keyring, install_keyring
from autoledger.platform.events.consumers import Consumer, registered_consumers
from autoledger.platform.events.envelope import Event
from bench.common import machine_info, percentile, say, throwaway_database

SEED = 2024
MONTHS = 12
SCALE = 2
#: ``--company development``: where model changes are chosen, never on the benchmark company
#: (another seed and another universe of counterparty names: the invented names of
#: ``scripts/build_match_prior.py``, drawn here with a seed of this option's own)
DEVELOPMENT_SEED = 52_001
DEVELOPMENT_NAMES_SEED = 52_777
BASE_CURRENCY = "USD"
TARGET_PRECISION = 0.99
MONTH1_AUTOMATION = 0.30
LATER_AUTOMATION = 0.90
LATER_FROM_MONTH = 6
LATENCY_P99_TARGET_MS = 20.0
REGULARIZATION = (
    10.0  # the tenant model's C (100 fits recurring vendors better but trains 2x slower)
)
PAGE = 500
T = TypeVar("T")


def log(message: str) -> None:
    say("bench.categorize", message)


@dataclass(frozen=True, slots=True)
class BankLine:
    id: str
    account: str  # the Simulator's bank account id
    facts: LineFacts


@dataclass(frozen=True, slots=True)
class Decision:
    """What a pipeline did with a line: its proposal's top account and whether it booked it."""

    account: str | None
    confidence: float | None
    source: str | None
    auto_booked: bool
    booked_by: str | None = None  # the source whose threshold allowed the auto-booking
    latency_ms: float = 0.0  # proposing (and booking) this line


@dataclass(frozen=True, slots=True)
class Review:
    """The reviewer's verdict on a line: the true account, decided at ``when``."""

    line: BankLine
    decision: Decision
    account: str
    when: datetime


class Pipeline(Protocol):
    def propose(self, lines: Sequence[BankLine]) -> list[Decision]: ...

    def feedback(self, reviews: Sequence[Review]) -> None: ...

    def retrain(self, now: datetime) -> dict[str, Any]: ...


class InMemoryPipeline:
    """Rules (none), memory, champion model and prior over ``categorize.learning``: the
    decisions of the service without its database, HTTP and worker."""

    def __init__(self, prior: Prior, prior_default: float | None) -> None:
        self.prior = prior
        self.prior_default = prior_default
        self.chart = load_template("small_business")
        self.items: list[Feedback] = []
        self.memory = CounterpartyMemory()
        self.champion: Champion | None = None
        self.thresholds = Thresholds(prior=prior_default)

    def propose(self, lines: Sequence[BankLine]) -> list[Decision]:
        decisions = []
        for line in lines:
            started = time.perf_counter()
            decided = decide(
                line.facts,
                memory=self.memory,
                champion=self.champion,
                prior=self.prior,
                chart=self.chart,
                thresholds=self.thresholds,
            )
            proposal = decided.proposal
            decisions.append(
                Decision(
                    proposal.account,
                    proposal.confidence,
                    proposal.source,
                    decided.auto_book,
                    decided.booked_by,
                    (time.perf_counter() - started) * 1000,
                )
            )
        return decisions

    def feedback(self, reviews: Sequence[Review]) -> None:
        self.items.extend(
            Feedback(
                facts=review.line.facts,
                account=review.account,
                when=review.when,
                proposed=review.decision.account,
                confidence=review.decision.confidence,
                source=review.decision.source,
                auto_booked=review.decision.auto_booked,
            )
            for review in reviews
        )
        self.memory = build_memory(self.items)

    def retrain(self, now: datetime) -> dict[str, Any]:
        outcome = retrain(
            self.items,
            champion=self.champion,
            now=now,
            target_precision=TARGET_PRECISION,
            prior_default=self.prior_default,
            regularization=REGULARIZATION,
        )
        if outcome.promote and outcome.model is not None and outcome.thresholds is not None:
            self.champion = Champion(outcome.model, outcome.calibrator, outcome.thresholds)
            self.thresholds = outcome.thresholds
        else:
            # memory and prior thresholds follow the feedback even when the model stays
            fresh = choose_thresholds(
                self.items, target_precision=TARGET_PRECISION, prior_default=self.prior_default
            )
            model = self.champion.thresholds.model if self.champion is not None else None
            self.thresholds = Thresholds(fresh.memory, model, fresh.prior)
        return {
            "promote": outcome.promote,
            "reason": outcome.reason,
            "seconds": outcome.training_seconds,
            "thresholds": self.thresholds.to_dict(),
        }


@dataclass(frozen=True, slots=True)
class BankAccountSpec:
    """A Simulator bank account as the bench registers it."""

    id: str
    name: str
    currency: str
    gl_account: str


class ApiPipeline:
    """The service itself, in process, on a fresh SQLite database: statements imported
    through ``POST /v1/bank-accounts/{id}/imports``, proposals made (and booked) by the
    worker's ``bookkeeping.propose`` consumer, read back from the review queue, reviewed
    through ``POST /v1/proposals/{id}/review`` and retrained through
    ``POST /v1/ledgers/{id}/models/retrain``.

    History is replayed in minutes, and the learning loop reasons in the time of decisions
    (the holdout is the most recent feedback, newer than the champion's training window), so
    the bookkeeping service reads the replay's clock: a review is decided at 18:00 of its
    line's booking day and a retrain runs at the end of its week, as in the in-memory
    pipeline (``categorize.service.utcnow`` is the replay clock; everything else, the
    ledger included, keeps the wall clock).

    The app runs on an event loop of its own thread; the three methods block on it. A
    proposal's latency is the consumer's handling of its line (``propose_for_line``: load
    the ledger's state, propose, book when the policy allows), timed around the registered
    handler. The ledger's ``retrain_after`` is set out of reach so that the worker's
    housekeeping never retrains on its own: the bench retrains at the end of every week, as
    the in-memory pipeline does.
    """

    def __init__(self, root: Path, accounts: Sequence[BankAccountSpec], database: str) -> None:
        self.root = root
        self.database = database
        self.postgresql = "n/a"
        self.latency: dict[str, float] = {}  # bank transaction id -> ms in the consumer
        self.proposals: dict[str, str] = {}  # Simulator line id -> proposal id
        self.imported = 0
        self.review_failures: Counter[str] = Counter()
        self.now = datetime.combine(date(2000, 1, 1), clock(), UTC)
        vars(service)["utcnow"] = self._clock  # the service's one clock, replayed
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.ready: Future[None] = Future()
        self.stop: asyncio.Event | None = None
        self.serving = asyncio.run_coroutine_threadsafe(self._serve(accounts), self.loop)
        self.ready.result()

    def _clock(self) -> datetime:
        return self.now

    def _call(self, work: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(work, self.loop).result()

    def close(self) -> None:
        if self.stop is not None:
            self.loop.call_soon_threadsafe(self.stop.set)
        self.serving.result()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join()
        self.loop.close()

    def _consumers(self) -> list[Consumer]:
        async def timed(session: Any, event: Event) -> None:
            started = time.perf_counter()
            await bookkeeping.propose(session, event)
            self.latency[str(event.data["id"])] = (time.perf_counter() - started) * 1000

        return [
            Consumer(c.name, timed, c.types) if c.name == "bookkeeping.propose" else c
            for c in registered_consumers()
        ]

    async def _serve(self, accounts: Sequence[BankAccountSpec]) -> None:
        if self.database == "sqlite":
            await self._serve_on(f"sqlite+aiosqlite:///{self.root / 'bench.db'}", accounts)
            return
        try:
            database = throwaway_database("autoledger_bench_categorize")
            async with database as (url, self.postgresql):
                await self._serve_on(url, accounts)
        except BaseException as exc:
            if not self.ready.done():
                self.ready.set_exception(exc)
            raise

    async def _serve_on(self, database_url: str, accounts: Sequence[BankAccountSpec]) -> None:
        try:
            settings = Settings(
                database_url=database_url,
                data_dir=self.root / "data",
                log_level="warning",
                request_timeout_seconds=600,
                rate_limit_per_second=1_000_000,
                rate_limit_burst=1_000_000,
            )
            await asyncio.to_thread(upgrade, settings)
            install_keyring(Keyring.from_settings(settings))
            engine = create_engine(settings)
            async with create_sessionmaker(engine)() as session:
                tenant = await auth.create_tenant(session, "bench")
                _, key = await auth.create_api_key(
                    session, tenant.id, name="bench", roles=[Role.ADMIN]
                )
                await session.commit()
            await engine.dispose()
            self.headers = {"Authorization": f"Bearer {key}"}
            app = create_app(settings, consumers=self._consumers())
            self.stop = asyncio.Event()
            async with (
                LifespanManager(app),
                httpx.AsyncClient(
                    transport=httpx.ASGITransport(app=app), base_url="http://bench", timeout=600
                ) as client,
            ):
                self.client = client
                await self._books(accounts)
                self.ready.set_result(None)
                await self.stop.wait()
        except BaseException as exc:
            if not self.ready.done():
                self.ready.set_exception(exc)
            raise

    async def _send(self, method: str, url: str, **options: Any) -> Any:
        response = await self.client.request(method, url, headers=self.headers, **options)
        if response.status_code >= 300:
            raise RuntimeError(f"{method} {url}: {response.status_code} {response.text}")
        return response

    async def _books(self, accounts: Sequence[BankAccountSpec]) -> None:
        """A ledger of the small_business chart, one bank account per Simulator account."""
        ledger = await self._send(
            "POST",
            "/v1/ledgers",
            json={
                "name": "Bench",
                "base_currency": BASE_CURRENCY,
                "chart_template": "small_business",
            },
        )
        self.ledger_id = ledger.json()["id"]
        self.bank_accounts: dict[str, str] = {}
        for spec in accounts:
            created = await self._send(
                "POST",
                "/v1/bank-accounts",
                json={
                    "ledger_id": self.ledger_id,
                    "gl_account": spec.gl_account,
                    "name": spec.name,
                    "currency": spec.currency,
                },
            )
            self.bank_accounts[spec.id] = created.json()["id"]
        await self._send(
            "PUT",
            f"/v1/ledgers/{self.ledger_id}/categorization-settings",
            json={"target_precision": TARGET_PRECISION, "retrain_after": 1_000_000},
        )

    def propose(self, lines: Sequence[BankLine]) -> list[Decision]:
        first = min(line.facts.booking_date for line in lines)
        self.now = datetime.combine(first, clock(), UTC)
        return self._call(self._propose(lines))

    async def _propose(self, lines: Sequence[BankLine]) -> list[Decision]:
        by_account: dict[str, list[BankLine]] = defaultdict(list)
        for line in lines:
            by_account[line.account].append(line)
        sim_of: dict[str, str] = {}  # bank transaction id -> Simulator line id
        for account, batch in by_account.items():
            sim_of.update(await self._import(self.bank_accounts[account], batch))
        self.imported += len(lines)
        await self._until(self._all_proposed)
        found: dict[str, dict[str, Any]] = {}
        first = min(line.facts.booking_date for line in lines)
        last = max(line.facts.booking_date for line in lines)
        for status in ("queued", "auto_booked"):
            for proposal in await self._queue(status, first, last):
                if proposal["bank_transaction_id"] in sim_of:
                    found[sim_of[proposal["bank_transaction_id"]]] = proposal
        decisions = []
        for line in lines:
            proposal = found[line.id]
            self.proposals[line.id] = proposal["id"]
            top = proposal["top"][0]["account"] if proposal["top"] else None
            decisions.append(
                Decision(
                    top,
                    proposal["confidence"],
                    proposal["source"],
                    proposal["status"] == "auto_booked",
                    proposal["explanation"].get("booked_by"),
                    self.latency[proposal["bank_transaction_id"]],
                )
            )
        return decisions

    async def _import(self, bank_account_id: str, lines: Sequence[BankLine]) -> dict[str, str]:
        """Import ``lines`` as one CSV statement; bank transaction id -> Simulator line id."""
        text = io.StringIO()
        writer = csv.writer(text)
        writer.writerow(("Date", "Description", "Counterparty", "Reference", "Amount"))
        for line in lines:
            facts = line.facts
            amount = format_amount(facts.amount, currency_scale(facts.currency))
            writer.writerow(
                (facts.booking_date.isoformat(), facts.description, facts.counterparty_name or "",
                 line.id, amount)
            )  # fmt: skip
        response = await self._send(
            "POST",
            f"/v1/bank-accounts/{bank_account_id}/imports",
            files={"file": ("week.csv", text.getvalue().encode(), "text/csv")},
        )
        body = response.json()
        while body["status"] in ("queued", "processing"):
            await asyncio.sleep(0.05)
            body = (await self._send("GET", f"/v1/imports/{body['id']}")).json()
        if body["status"] != "completed" or body["counts"]["new"] != len(lines):
            raise RuntimeError(f"import of {len(lines)} lines: {body}")
        found: dict[str, str] = {}
        cursor = None
        while True:
            params = {
                "import_id": body["id"],
                "limit": "1000",
                **({"cursor": cursor} if cursor else {}),
            }
            page = (
                await self._send(
                    "GET", f"/v1/bank-accounts/{bank_account_id}/transactions", params=params
                )
            ).json()
            found.update({row["id"]: row["bank_reference"] for row in page["data"]})
            cursor = page["next_cursor"]
            if cursor is None:
                return found

    async def _all_proposed(self) -> bool:
        # The consumer's own count first: asking the API every 50 ms while the consumer
        # works would put the bench's requests on the event loop the proposals are timed on.
        if len(self.latency) < self.imported:
            return False
        stats = await self._send(
            "GET", "/v1/bookkeeping/stats", params={"ledger_id": self.ledger_id}
        )
        return bool(stats.json()["proposals"] >= self.imported)

    @staticmethod
    async def _until(done: Callable[[], Awaitable[bool]]) -> None:
        for _ in range(12_000):
            if await done():
                return
            await asyncio.sleep(0.05)
        raise RuntimeError("the consumer did not propose for every imported line in 10 minutes")

    async def _queue(self, status: str, first: date, last: date) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        params = {"status": status, "from": first.isoformat(), "to": last.isoformat()}
        cursor = None
        while True:
            page = await self._send(
                "GET",
                f"/v1/ledgers/{self.ledger_id}/proposals",
                params={**params, "limit": str(PAGE), **({"cursor": cursor} if cursor else {})},
            )
            found.extend(page.json())
            cursor = page.headers.get("X-Next-Cursor")
            if cursor is None:
                return found

    def feedback(self, reviews: Sequence[Review]) -> None:
        self._call(self._feedback(reviews))

    async def _feedback(self, reviews: Sequence[Review]) -> None:
        """Accept what was right (confirming a right auto-booking), correct what was not."""
        for review in reviews:
            self.now = review.when.replace(tzinfo=UTC)
            right = review.decision.account == review.account
            body = (
                {"action": "accept"} if right else {"action": "correct", "account": review.account}
            )
            response = await self.client.post(
                f"/v1/proposals/{self.proposals[review.line.id]}/review",
                json=body,
                headers=self.headers,
            )
            if response.status_code != 200:
                self.review_failures[str(response.json().get("code"))] += 1

    def retrain(self, now: datetime) -> dict[str, Any]:
        self.now = now.replace(tzinfo=UTC)
        return self._call(self._retrain())

    async def _retrain(self) -> dict[str, Any]:
        started = time.perf_counter()
        response = await self._send("POST", f"/v1/ledgers/{self.ledger_id}/models/retrain")
        seconds = time.perf_counter() - started
        trained = response.json()["trained"]
        if trained is None:
            return {"promote": False, "reason": "no model trained", "seconds": seconds,
                    "thresholds": None}  # fmt: skip
        return {
            "promote": trained["status"] == "champion",
            "reason": trained["decision"],
            "seconds": trained["training_seconds"],
            "request_seconds": seconds,
            "thresholds": trained["thresholds"],
        }


class Baseline:
    """smart_importer's approach: LinearSVC over TF-IDF of the description, books all."""

    def __init__(self) -> None:
        self.history: list[tuple[str, str]] = []
        self.vectorizer: TfidfVectorizer | None = None
        self.classifier: LinearSVC | None = None

    def predict(self, lines: Sequence[BankLine]) -> list[str | None]:
        if self.vectorizer is None or self.classifier is None:
            return [None] * len(lines)
        matrix = self.vectorizer.transform([line.facts.description for line in lines])
        return [str(label) for label in self.classifier.predict(matrix)]

    def learn(self, lines: Sequence[BankLine], accounts: Sequence[str]) -> float:
        started = time.perf_counter()
        self.history.extend(
            (line.facts.description, account) for line, account in zip(lines, accounts, strict=True)
        )
        if len({account for _, account in self.history}) >= 2:
            self.vectorizer = TfidfVectorizer()
            matrix = self.vectorizer.fit_transform([text for text, _ in self.history])
            self.classifier = LinearSVC()
            self.classifier.fit(matrix, [account for _, account in self.history])
        return time.perf_counter() - started


def simulated(which: str) -> Company:
    """The benchmark company, or the development company model changes are chosen on."""
    if which == "benchmark":
        return simulate(SEED, MONTHS, scale=SCALE)
    rng = random.Random(DEVELOPMENT_NAMES_SEED)  # nosec B311: not secrets
    used: set[str] = set()
    return simulate(DEVELOPMENT_SEED, MONTHS, scale=SCALE, names=lambda: invented_name(rng, used))


def company_lines(
    which: str = "benchmark",
) -> tuple[list[BankLine], dict[str, str], list[BankAccountSpec], Counter[str]]:
    """The company's lines in the ledger's base currency, booking-date order, with their
    true accounts, bank accounts and the lines left out per currency (the service books a
    line in its own currency, and the chart's accounts carry the base currency)."""
    company = simulated(which)
    truth = {item.line_id: item.gl_account for item in company.truths}
    accounts = {
        s.account.id: BankAccountSpec(
            s.account.id, s.account.name, s.account.currency, s.account.gl_account
        )
        for s in company.statements
        if s.account.currency == BASE_CURRENCY
    }
    left_out: Counter[str] = Counter()
    lines: list[BankLine] = []
    for statement in company.statements:
        if statement.account.id not in accounts:
            left_out[statement.account.currency] += len(statement.lines)
            continue
        lines.extend(
            BankLine(
                item.id,
                statement.account.id,
                LineFacts(
                    item.description,
                    item.counterparty,
                    item.amount,
                    statement.account.currency,
                    item.booking_date,
                    statement.account.id,
                ),
            )
            for item in statement.lines
        )
    lines.sort(key=lambda line: (line.facts.booking_date, line.id))
    return lines, truth, list(accounts.values()), left_out


@dataclass
class Tally:
    lines: int = 0
    auto: int = 0
    auto_correct: int = 0
    top1: int = 0

    def add(self, *, auto: bool, proposed: str | None, true: str) -> None:
        self.lines += 1
        self.top1 += proposed == true
        if auto:
            self.auto += 1
            self.auto_correct += proposed == true

    def __add__(self, other: "Tally") -> "Tally":
        return Tally(
            self.lines + other.lines,
            self.auto + other.auto,
            self.auto_correct + other.auto_correct,
            self.top1 + other.top1,
        )

    def report(self) -> dict[str, Any]:
        return {
            "lines": self.lines,
            "automation_rate": round(self.auto / self.lines, 4) if self.lines else 0.0,
            "auto_precision": round(self.auto_correct / self.auto, 4) if self.auto else None,
            "top1_accuracy": round(self.top1 / self.lines, 4) if self.lines else 0.0,
        }


def run(
    pipeline: Pipeline, lines: list[BankLine], truth: dict[str, str], weeks_limit: int | None
) -> dict[str, Any]:
    first = lines[0].facts.booking_date
    tallies: dict[int, Tally] = defaultdict(Tally)
    baseline_tallies: dict[int, Tally] = defaultdict(Tally)
    mistakes: dict[int, Counter[str]] = defaultdict(Counter)
    sources: dict[int, Counter[str]] = defaultdict(Counter)
    wrong: dict[int, Counter[str]] = defaultdict(Counter)
    latencies: list[float] = []
    retrain_seconds: list[float] = []
    baseline_seconds = 0.0
    promotions = 0
    baseline = Baseline()
    weeks: dict[int, list[BankLine]] = defaultdict(list)
    for line in lines:
        weeks[(line.facts.booking_date - first).days // 7].append(line)
    for week in sorted(weeks)[:weeks_limit]:
        batch = weeks[week]
        decisions = pipeline.propose(batch)
        latencies.extend(decision.latency_ms for decision in decisions)
        guesses = baseline.predict(batch)
        reviews = []
        for line, decision, guess in zip(batch, decisions, guesses, strict=True):
            day = line.facts.booking_date
            month = (day.year - first.year) * 12 + day.month - first.month + 1
            true = truth[line.id]
            tallies[month].add(auto=decision.auto_booked, proposed=decision.account, true=true)
            baseline_tallies[month].add(auto=guess is not None, proposed=guess, true=true)
            if decision.account != true:
                wrong[month][str(decision.source)] += 1
            if decision.auto_booked:
                sources[month][str(decision.booked_by)] += 1
                if decision.account != true:
                    mistakes[month][f"{decision.source}:{decision.account}->{true}"] += 1
            reviews.append(Review(line, decision, true, datetime.combine(day, clock(18))))
        pipeline.feedback(reviews)
        now = datetime.combine(first + timedelta(days=7 * (week + 1)), clock())
        outcome = pipeline.retrain(now)
        retrain_seconds.append(float(outcome["seconds"]))
        promotions += bool(outcome["promote"])
        baseline_seconds += baseline.learn(batch, [truth[line.id] for line in batch])
        log(
            f"week {week + 1}: {len(batch)} lines, promote={outcome['promote']} "
            f"({outcome['reason']}), thresholds {outcome['thresholds']}"
        )
    months = [
        {
            "month": month,
            **tallies[month].report(),
            "baseline": baseline_tallies[month].report(),
            "auto_booked_by_source": dict(sorted(sources[month].items())),
            "wrong_auto_bookings": dict(mistakes[month].most_common(5)),
            "wrong_proposals_by_source": dict(sorted(wrong[month].items())),
        }
        for month in sorted(tallies)
    ]
    latencies.sort()
    return {
        "months": months,
        "year": {
            **sum(tallies.values(), Tally()).report(),
            "baseline": sum(baseline_tallies.values(), Tally()).report(),
        },
        "latency_ms": {
            "p50": round(percentile(latencies, 0.5), 3),
            "p99": round(percentile(latencies, 0.99), 3),
            "target_p99": LATENCY_P99_TARGET_MS,
        },
        "training_seconds": {
            "total": round(sum(retrain_seconds), 2),
            "per_retrain_mean": round(sum(retrain_seconds) / len(retrain_seconds), 3),
            "per_retrain_max": round(max(retrain_seconds), 3),
            "retrains": len(retrain_seconds),
            "promotions": promotions,
            "baseline_total": round(baseline_seconds, 2),
        },
    }


def meets(month: dict[str, Any], automation: float) -> bool:
    precision = month["auto_precision"]
    return bool(
        month["automation_rate"] >= automation
        and precision is not None
        and precision >= TARGET_PRECISION
    )


def beats_baseline(period: dict[str, Any], *, strictly: bool = False) -> bool:
    """At least as precise in what it books and at least as accurate at top-1 (``strictly``:
    more precise and more accurate)."""
    base = period["baseline"]
    ours = ((period["auto_precision"] or 0.0), period["top1_accuracy"])
    theirs = ((base["auto_precision"] or 0.0), base["top1_accuracy"])
    if strictly:
        return all(a > b for a, b in zip(ours, theirs, strict=True))
    return all(a >= b for a, b in zip(ours, theirs, strict=True))


def targets(
    months: list[dict[str, Any]], year: dict[str, Any], latency_p99: float
) -> dict[str, bool]:
    later = [month for month in months if month["month"] >= LATER_FROM_MONTH]
    return {
        "month1_automation_30_at_99": meets(months[0], MONTH1_AUTOMATION),
        "from_month6_automation_90_at_99": bool(later)
        and all(meets(month, LATER_AUTOMATION) for month in later),
        "better_than_baseline_over_the_year": beats_baseline(year, strictly=True),
        "at_least_baseline_every_month": all(beats_baseline(month) for month in months),
        "latency_p99_under_20ms": latency_p99 < LATENCY_P99_TARGET_MS,
    }


def main(args: argparse.Namespace) -> dict[str, Any]:
    seed = SEED if args.company == "benchmark" else DEVELOPMENT_SEED
    log(f"simulating the {args.company} company: seed {seed}, {MONTHS} months, scale {SCALE}")
    lines, truth, accounts, left_out = company_lines(args.company)
    log(f"{len(lines)} bank lines in {BASE_CURRENCY}; left out: {dict(left_out)}")
    prior = Prior.load()
    metadata = prior.model.metadata
    prior_default = metadata.get("default_threshold")
    log(f"prior default threshold {prior_default} (held-out seed {metadata['held_out_seed']})")
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench-categorize-") as tmp:
        pipeline: InMemoryPipeline | ApiPipeline
        if args.pipeline == "api":
            pipeline = ApiPipeline(Path(tmp), accounts, args.database)
        else:
            pipeline = InMemoryPipeline(prior, prior_default)
        try:
            result = run(pipeline, lines, truth, args.weeks)
        finally:
            if isinstance(pipeline, ApiPipeline):
                pipeline.close()
    seconds = time.perf_counter() - started
    extra: dict[str, Any] = {}
    postgresql = "n/a"
    if isinstance(pipeline, ApiPipeline):
        extra["database"] = args.database
        extra["review_failures"] = dict(pipeline.review_failures)
        postgresql = pipeline.postgresql
    return {
        "bench": "categorize",
        "machine": machine_info(postgresql),
        "company": args.company,
        "seed": seed,
        "scale": SCALE,
        "bank_lines": len(lines),
        "left_out_lines": dict(left_out),
        "pipeline": args.pipeline,
        "prior": {
            "version": prior.version,
            "training_seed": metadata["seed"],
            "held_out_seed": metadata["held_out_seed"],
            "default_threshold": prior_default,
            "held_out_auto_precision": metadata["held_out_auto_precision"],
        },
        **result,
        **extra,
        "targets": targets(result["months"], result["year"], result["latency_ms"]["p99"]),
        "seconds": round(seconds, 1),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--weeks", type=int, default=None, help="replay only the first weeks")
    parser.add_argument(
        "--pipeline",
        choices=("api", "memory"),
        default="api",
        help="the service through its HTTP API and worker, or categorize.learning in memory",
    )
    parser.add_argument(
        "--database",
        choices=("sqlite", "postgresql"),
        default="sqlite",
        help="the api pipeline's database: a fresh SQLite file (the embedded default) or a "
        "throw-away PostgreSQL database on BENCH_PG (default postgres@127.0.0.1:5432)",
    )
    parser.add_argument(
        "--company",
        choices=("benchmark", "development"),
        default="benchmark",
        help="the benchmark company (seed 2024, the Simulator's names), or a development "
        "company of another seed and another universe of names to choose model changes on",
    )
    print(json.dumps(main(parser.parse_args())))
