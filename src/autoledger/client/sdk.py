"""A typed Python SDK for the autoledger HTTP API, sync and async, built on httpx.

Request bodies and responses are the server's own Pydantic contract
(:mod:`autoledger.ledger.schemas`, :mod:`autoledger.banking.schemas`,
:mod:`autoledger.categorize.schemas`, :mod:`autoledger.reconcile.schemas`,
:mod:`autoledger.platform.auth.schemas`).

Design: every endpoint is described once, in :class:`_Endpoints`, as a :class:`Call` — the
method, path, query, body, a fixed ``Idempotency-Key`` for POSTs, and how to parse the answer.
:class:`Client` and :class:`AsyncClient` only *send* calls, through one shared
:class:`RetryPolicy`. A retried POST reuses its key, so a retry never double-books.
"""

import asyncio
import email.utils
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from types import TracebackType
from typing import Any, Generic, Literal, Protocol, Self, TypeVar

import httpx
from pydantic import BaseModel, TypeAdapter

from autoledger import __version__
from autoledger.banking import schemas as banking
from autoledger.categorize import schemas as bookkeeping
from autoledger.close import schemas as period_close
from autoledger.ledger import schemas
from autoledger.ledger.domain import EntryStatus
from autoledger.platform.auth.schemas import WhoAmI
from autoledger.reconcile import schemas as reconcile
from autoledger.reports import schemas as reports

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)

IDEMPOTENCY_HEADER = "Idempotency-Key"
RETRY_STATUSES = frozenset({429, 503})
IN_FLIGHT_CODE = "idempotency.in_flight"
MAX_RETRY_AFTER = 60.0
USER_AGENT = f"autoledger-python/{__version__}"


@dataclass(frozen=True, slots=True)
class FieldProblem:
    """One field-level error of a problem+json response."""

    loc: str
    message: str
    type: str


class ApiError(Exception):
    """A non-2xx answer, parsed from its RFC 9457 problem+json body.

    A body that is not problem+json (a proxy's error page, say) still gives an error:
    ``code`` is then ``http.<status>`` and ``detail`` the start of the body.
    """

    def __init__(
        self,
        status: int,
        code: str,
        title: str,
        detail: str,
        errors: Sequence[FieldProblem] = (),
        body: Any = None,
    ) -> None:
        super().__init__(f"{status} {code}: {detail}")
        self.status = status
        self.code = code
        self.title = title
        self.detail = detail
        self.errors: tuple[FieldProblem, ...] = tuple(errors)
        self.body = body

    @property
    def request_id(self) -> str | None:
        value = self.body.get("request_id") if isinstance(self.body, dict) else None
        return value if isinstance(value, str) else None

    @classmethod
    def from_response(cls, response: httpx.Response) -> "ApiError":
        status = response.status_code
        try:
            body: Any = response.json()
        except ValueError:
            body = response.text
        if not isinstance(body, dict):
            text = body if isinstance(body, str) else response.text
            return cls(
                status, f"http.{status}", response.reason_phrase, text.strip()[:500], body=body
            )
        errors = [
            FieldProblem(str(e.get("loc", "")), str(e.get("message", "")), str(e.get("type", "")))
            for e in body.get("errors") or []
            if isinstance(e, dict)
        ]
        return cls(
            status,
            str(body.get("code") or f"http.{status}"),
            str(body.get("title") or response.reason_phrase),
            str(body.get("detail") or ""),
            errors,
            body,
        )


def _parser(adapter: TypeAdapter[T]) -> Callable[[httpx.Response], T]:
    def parse(response: httpx.Response) -> T:
        return adapter.validate_json(response.content)

    return parse


def _model(model: type[T]) -> Callable[[httpx.Response], T]:
    return _parser(TypeAdapter(model))


_parse_whoami = _model(WhoAmI)
_parse_asset = _model(schemas.AssetOut)
_parse_assets = _parser(TypeAdapter(list[schemas.AssetOut]))
_parse_ledger = _model(schemas.LedgerOut)
_parse_ledgers = _parser(TypeAdapter(list[schemas.LedgerOut]))
_parse_verify = _model(schemas.VerifyOut)
_parse_account = _model(schemas.AccountOut)
_parse_account_page = _model(schemas.AccountPage)
_parse_chart = _model(schemas.ChartImportOut)
_parse_balance = _model(schemas.AccountBalanceOut)
_parse_statement = _model(schemas.StatementOut)
_parse_entry = _model(schemas.EntryOut)
_parse_entry_page = _model(schemas.EntryPage)
_parse_batch = _model(schemas.BatchResult)
_parse_period = _model(schemas.PeriodOut)
_parse_periods = _parser(TypeAdapter(list[schemas.PeriodOut]))
_parse_checklist = _model(period_close.ChecklistOut)
_parse_closing = _model(period_close.ClosingEntriesOut)
_parse_bank_account = _model(banking.BankAccountOut)
_parse_bank_accounts = _parser(TypeAdapter(list[banking.BankAccountOut]))
_parse_import = _model(banking.ImportOut)
_parse_line_page = _model(banking.BankTransactionPage)
_parse_profile = _model(banking.CsvProfileOut)
_parse_proposal = _model(bookkeeping.ProposalOut)
_parse_proposals = _parser(TypeAdapter(list[bookkeeping.ProposalOut]))
_parse_bulk_accept = _model(bookkeeping.BulkAcceptOut)
_parse_rule = _model(bookkeeping.RuleOut)
_parse_rules = _parser(TypeAdapter(list[bookkeeping.RuleOut]))
_parse_bookkeeping_settings = _model(bookkeeping.SettingsOut)
_parse_model = _model(bookkeeping.ModelOut)
_parse_models = _parser(TypeAdapter(list[bookkeeping.ModelOut]))
_parse_retrain = _model(bookkeeping.RetrainOut)
_parse_bookkeeping_stats = _model(bookkeeping.StatsOut)


@dataclass(frozen=True, slots=True)
class ProposalPage:
    """A page of the review queue; the cursor comes in the ``X-Next-Cursor`` header."""

    data: list[bookkeeping.ProposalOut]
    next_cursor: str | None


def _parse_proposal_page(response: httpx.Response) -> ProposalPage:
    return ProposalPage(_parse_proposals(response), response.headers.get("X-Next-Cursor"))


_parse_open_item_account = _model(reconcile.OpenItemAccountOut)
_parse_open_item_accounts = _parser(TypeAdapter(list[reconcile.OpenItemAccountOut]))
_parse_open_items = _parser(TypeAdapter(list[reconcile.OpenItemOut]))
_parse_open_item = _model(reconcile.OpenItemDetailOut)
_parse_run = _model(reconcile.RunOut)
_parse_match = _model(reconcile.MatchOut)
_parse_matches = _parser(TypeAdapter(list[reconcile.MatchOut]))
_parse_reconciliation_report = _model(reconcile.ReconciliationReportOut)
_parse_reconciliation = _model(reconcile.BankReconciliationOut)
_parse_reconciliations = _parser(TypeAdapter(list[reconcile.BankReconciliationOut]))
_parse_reconcile_settings = _model(reconcile.ReconcileSettingsOut)


@dataclass(frozen=True, slots=True)
class OpenItemPage:
    """A page of open items, oldest first; the cursor comes in the ``X-Next-Cursor`` header."""

    data: list[reconcile.OpenItemOut]
    next_cursor: str | None


def _parse_open_item_page(response: httpx.Response) -> OpenItemPage:
    return OpenItemPage(_parse_open_items(response), response.headers.get("X-Next-Cursor"))


@dataclass(frozen=True, slots=True)
class MatchPage:
    """A page of a bank account's matches, oldest first. ``next_cursor`` is the
    ``X-Next-After`` header (the page's last id), passed back as ``after``."""

    data: list[reconcile.MatchOut]
    next_cursor: str | None


def _parse_match_page(response: httpx.Response) -> MatchPage:
    return MatchPage(_parse_matches(response), response.headers.get("X-Next-After"))


def multipart(
    file_name: str, content: bytes, fields: Mapping[str, str | None]
) -> tuple[bytes, str]:
    """A multipart/form-data body with one file and text fields, and its content type.

    Built here rather than per request so that a retry sends the very same bytes (and the
    server recognizes it by its Idempotency-Key)."""
    boundary = uuid.uuid4().hex
    safe_name = "".join(c for c in file_name if c not in '"\\\r\n') or "statement"
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{safe_name}"'
        "\r\nContent-Type: application/octet-stream\r\n\r\n".encode(),
        content,
        b"\r\n",
    ]
    for name, value in fields.items():
        if value is not None:
            parts.append(
                f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
                f"{value}\r\n".encode()
            )
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


@dataclass(frozen=True, slots=True)
class Call(Generic[T]):
    """One API request, fully decided before the first attempt (key included)."""

    method: str
    path: str
    parse: Callable[[httpx.Response], T]
    params: tuple[tuple[str, str], ...] = ()
    content: bytes | None = None
    content_type: str = "application/json"
    idempotency_key: str | None = None

    def request(self, http: httpx.Client | httpx.AsyncClient) -> httpx.Request:
        headers: dict[str, str] = {}
        if self.content is not None:
            headers["Content-Type"] = self.content_type
        if self.idempotency_key is not None:
            headers[IDEMPOTENCY_HEADER] = self.idempotency_key
        return http.build_request(
            self.method,
            self.path,
            params=self.params or None,
            content=self.content,
            headers=headers,
        )

    def result(self, response: httpx.Response) -> T:
        if not response.is_success:
            raise ApiError.from_response(response)
        return self.parse(response)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """When to try again and after how long: connection errors, 429, 503 and
    ``409 idempotency.in_flight``; exponential backoff unless the server sent Retry-After."""

    max_retries: int = 3
    backoff: float = 0.5
    max_backoff: float = 8.0

    def delay(self, attempt: int, outcome: httpx.Response | httpx.TransportError) -> float | None:
        """Seconds to wait before attempt ``attempt + 1``, or None to stop here."""
        if attempt >= self.max_retries:
            return None
        if isinstance(outcome, httpx.Response):
            if not _retryable(outcome):
                return None
            after = _retry_after(outcome)
            if after is not None:
                return after
        return min(self.backoff * 2.0**attempt, self.max_backoff)


def _retryable(response: httpx.Response) -> bool:
    if response.status_code in RETRY_STATUSES:
        return True
    if response.status_code != 409:
        return False
    try:
        body = response.json()
    except ValueError:
        return False
    return isinstance(body, dict) and body.get("code") == IN_FLIGHT_CODE


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - datetime.now(UTC)).total_seconds()
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


def _json(body: BaseModel) -> bytes:
    return body.model_dump_json(exclude_unset=True).encode()


def _query(**values: object) -> tuple[tuple[str, str], ...]:
    out: list[tuple[str, str]] = []
    for name, value in values.items():
        if value is None:
            continue
        text = value.value if isinstance(value, EntryStatus) else value
        out.append((name, text.isoformat() if isinstance(text, date) else str(text)))
    return tuple(out)


def _key(given: str | None) -> str:
    return given if given is not None else str(uuid.uuid4())


class _Endpoints:
    """Every endpoint, as a :class:`Call`. No I/O here."""

    @staticmethod
    def whoami() -> Call[WhoAmI]:
        return Call("GET", "/v1/whoami", _parse_whoami)

    @staticmethod
    def define_asset(body: schemas.AssetCreate, key: str | None) -> Call[schemas.AssetOut]:
        return Call(
            "POST", "/v1/assets", _parse_asset, content=_json(body), idempotency_key=_key(key)
        )

    @staticmethod
    def list_assets() -> Call[list[schemas.AssetOut]]:
        return Call("GET", "/v1/assets", _parse_assets)

    @staticmethod
    def create_ledger(body: schemas.LedgerCreate, key: str | None) -> Call[schemas.LedgerOut]:
        return Call(
            "POST", "/v1/ledgers", _parse_ledger, content=_json(body), idempotency_key=_key(key)
        )

    @staticmethod
    def list_ledgers() -> Call[list[schemas.LedgerOut]]:
        return Call("GET", "/v1/ledgers", _parse_ledgers)

    @staticmethod
    def get_ledger(ledger_id: uuid.UUID | str) -> Call[schemas.LedgerOut]:
        return Call("GET", f"/v1/ledgers/{ledger_id}", _parse_ledger)

    @staticmethod
    def verify_ledger(ledger_id: uuid.UUID | str) -> Call[schemas.VerifyOut]:
        return Call("GET", f"/v1/ledgers/{ledger_id}/verify", _parse_verify)

    @staticmethod
    def create_account(
        ledger_id: uuid.UUID | str, body: schemas.AccountCreate, key: str | None
    ) -> Call[schemas.AccountOut]:
        return Call(
            "POST",
            f"/v1/ledgers/{ledger_id}/accounts",
            _parse_account,
            content=_json(body),
            idempotency_key=_key(key),
        )

    @staticmethod
    def import_chart(
        ledger_id: uuid.UUID | str, csv_text: str, asset: str | None, key: str | None
    ) -> Call[schemas.ChartImportOut]:
        return Call(
            "POST",
            f"/v1/ledgers/{ledger_id}/accounts:import",
            _parse_chart,
            params=_query(asset=asset),
            content=csv_text.encode(),
            content_type="text/csv",
            idempotency_key=_key(key),
        )

    @staticmethod
    def list_accounts(
        ledger_id: uuid.UUID | str,
        cursor: str | None,
        limit: int | None,
        status: str | None,
        type: str | None,
    ) -> Call[schemas.AccountPage]:
        return Call(
            "GET",
            f"/v1/ledgers/{ledger_id}/accounts",
            _parse_account_page,
            params=_query(cursor=cursor, limit=limit, status=status, type=type),
        )

    @staticmethod
    def get_account(account_id: uuid.UUID | str) -> Call[schemas.AccountOut]:
        return Call("GET", f"/v1/accounts/{account_id}", _parse_account)

    @staticmethod
    def update_account(
        account_id: uuid.UUID | str, body: schemas.AccountUpdate
    ) -> Call[schemas.AccountOut]:
        return Call("PATCH", f"/v1/accounts/{account_id}", _parse_account, content=_json(body))

    @staticmethod
    def get_balance(
        account_id: uuid.UUID | str, as_of: date | None
    ) -> Call[schemas.AccountBalanceOut]:
        return Call(
            "GET",
            f"/v1/accounts/{account_id}/balance",
            _parse_balance,
            params=_query(as_of=as_of),
        )

    @staticmethod
    def get_statement(
        account_id: uuid.UUID | str,
        asset: str | None,
        date_from: date | None,
        date_to: date | None,
        cursor: str | None,
        limit: int | None,
    ) -> Call[schemas.StatementOut]:
        params = _query(asset=asset, cursor=cursor, limit=limit)
        params += _query(**{"from": date_from, "to": date_to})
        return Call("GET", f"/v1/accounts/{account_id}/statement", _parse_statement, params=params)

    @staticmethod
    def create_entry(
        ledger_id: uuid.UUID | str, body: schemas.EntryCreate, key: str | None
    ) -> Call[schemas.EntryOut]:
        return Call(
            "POST",
            f"/v1/ledgers/{ledger_id}/entries",
            _parse_entry,
            content=_json(body),
            idempotency_key=_key(key),
        )

    @staticmethod
    def create_entries_batch(
        ledger_id: uuid.UUID | str,
        entries: Sequence[schemas.EntryCreate],
        atomic: bool,
        key: str | None,
    ) -> Call[schemas.BatchResult]:
        body = schemas.BatchCreate(entries=list(entries), atomic=atomic)
        return Call(
            "POST",
            f"/v1/ledgers/{ledger_id}/entries:batch",
            _parse_batch,
            content=_json(body),
            idempotency_key=_key(key),
        )

    @staticmethod
    def list_entries(ledger_id: uuid.UUID | str, query: "EntryQuery") -> Call[schemas.EntryPage]:
        return Call(
            "GET", f"/v1/ledgers/{ledger_id}/entries", _parse_entry_page, params=query.params()
        )

    @staticmethod
    def get_entry(entry_id: uuid.UUID | str) -> Call[schemas.EntryOut]:
        return Call("GET", f"/v1/entries/{entry_id}", _parse_entry)

    @staticmethod
    def post_entry(
        entry_id: uuid.UUID | str, amounts: Sequence[str] | None, key: str | None
    ) -> Call[schemas.EntryOut]:
        body = None if amounts is None else _json(schemas.EntryPost(amounts=list(amounts)))
        return Call(
            "POST",
            f"/v1/entries/{entry_id}:post",
            _parse_entry,
            content=body,
            idempotency_key=_key(key),
        )

    @staticmethod
    def void_entry(entry_id: uuid.UUID | str, key: str | None) -> Call[schemas.EntryOut]:
        return Call("POST", f"/v1/entries/{entry_id}:void", _parse_entry, idempotency_key=_key(key))

    @staticmethod
    def reverse_entry(
        entry_id: uuid.UUID | str, body: schemas.EntryReverse | None, key: str | None
    ) -> Call[schemas.EntryOut]:
        return Call(
            "POST",
            f"/v1/entries/{entry_id}:reverse",
            _parse_entry,
            content=None if body is None else _json(body),
            idempotency_key=_key(key),
        )

    @staticmethod
    def list_periods(ledger_id: uuid.UUID | str) -> Call[list[schemas.PeriodOut]]:
        return Call("GET", f"/v1/ledgers/{ledger_id}/periods", _parse_periods)

    @staticmethod
    def create_period(
        ledger_id: uuid.UUID | str, body: schemas.PeriodCreate, key: str | None
    ) -> Call[schemas.PeriodOut]:
        return Call(
            "POST",
            f"/v1/ledgers/{ledger_id}/periods",
            _parse_period,
            content=_json(body),
            idempotency_key=_key(key),
        )

    @staticmethod
    def get_period(
        ledger_id: uuid.UUID | str, period_id: uuid.UUID | str
    ) -> Call[schemas.PeriodOut]:
        return Call("GET", f"/v1/ledgers/{ledger_id}/periods/{period_id}", _parse_period)

    @staticmethod
    def set_period(
        ledger_id: uuid.UUID | str,
        period_id: uuid.UUID | str,
        action: str,
        key: str | None,
        body: BaseModel | None = None,
    ) -> Call[schemas.PeriodOut]:
        return Call(
            "POST",
            f"/v1/ledgers/{ledger_id}/periods/{period_id}:{action}",
            _parse_period,
            content=None if body is None else _json(body),
            idempotency_key=_key(key),
        )

    @staticmethod
    def period_checklist(
        ledger_id: uuid.UUID | str, period_id: uuid.UUID | str
    ) -> Call[period_close.ChecklistOut]:
        return Call(
            "GET", f"/v1/ledgers/{ledger_id}/periods/{period_id}/checklist", _parse_checklist
        )

    @staticmethod
    def book_closing_entries(
        ledger_id: uuid.UUID | str, period_id: uuid.UUID | str, key: str | None
    ) -> Call[period_close.ClosingEntriesOut]:
        return Call(
            "POST",
            f"/v1/ledgers/{ledger_id}/periods/{period_id}/closing-entries",
            _parse_closing,
            idempotency_key=_key(key),
        )


class _BankingEndpoints:
    """Banking endpoints, as :class:`Call`. No I/O here."""

    @staticmethod
    def create_bank_account(
        body: banking.BankAccountCreate, key: str | None
    ) -> Call[banking.BankAccountOut]:
        return Call(
            "POST",
            "/v1/bank-accounts",
            _parse_bank_account,
            content=_json(body),
            idempotency_key=_key(key),
        )

    @staticmethod
    def list_bank_accounts() -> Call[list[banking.BankAccountOut]]:
        return Call("GET", "/v1/bank-accounts", _parse_bank_accounts)

    @staticmethod
    def get_bank_account(bank_account_id: uuid.UUID | str) -> Call[banking.BankAccountOut]:
        return Call("GET", f"/v1/bank-accounts/{bank_account_id}", _parse_bank_account)

    @staticmethod
    def import_statement(
        bank_account_id: uuid.UUID | str | None,
        file_name: str,
        content: bytes,
        *,
        profile: str | None,
        skip_invalid: bool,
        accept_unbalanced: bool,
        key: str | None,
    ) -> Call[banking.ImportOut]:
        body, content_type = multipart(
            file_name,
            content,
            {
                "profile": profile,
                "skip_invalid": "true" if skip_invalid else None,
                "accept_unbalanced": "true" if accept_unbalanced else None,
            },
        )
        path = (
            "/v1/imports"
            if bank_account_id is None
            else f"/v1/bank-accounts/{bank_account_id}/imports"
        )
        return Call(
            "POST",
            path,
            _parse_import,
            content=body,
            content_type=content_type,
            idempotency_key=_key(key),
        )

    @staticmethod
    def get_import(import_id: uuid.UUID | str) -> Call[banking.ImportOut]:
        return Call("GET", f"/v1/imports/{import_id}", _parse_import)

    @staticmethod
    def list_bank_transactions(
        bank_account_id: uuid.UUID | str, cursor: str | None, limit: int
    ) -> Call[banking.BankTransactionPage]:
        return Call(
            "GET",
            f"/v1/bank-accounts/{bank_account_id}/transactions",
            _parse_line_page,
            params=_query(cursor=cursor, limit=limit),
        )

    @staticmethod
    def put_csv_profile(
        name: str, spec: Mapping[str, Any], key: str | None
    ) -> Call[banking.CsvProfileOut]:
        body = banking.CsvProfileIn(spec=dict(spec))
        return Call(
            "PUT",
            f"/v1/csv-profiles/{name}",
            _parse_profile,
            content=_json(body),
            idempotency_key=_key(key),
        )


@dataclass(frozen=True, slots=True)
class ProposalQuery:
    """Filters of ``list_proposals``/``iter_proposals`` (the queue by default)."""

    status: bookkeeping.ProposalStatus = "queued"
    bank_account_id: uuid.UUID | str | None = None
    source: bookkeeping.ProposalSource | None = None
    max_confidence: float | None = None
    date_from: date | None = None
    date_to: date | None = None

    def params(self) -> tuple[tuple[str, str], ...]:
        return _query(
            status=self.status,
            bank_account_id=self.bank_account_id,
            source=self.source,
            max_confidence=self.max_confidence,
            **{"from": self.date_from, "to": self.date_to},
        )


class _BookkeepingEndpoints:
    """Bookkeeping endpoints (review queue, rules, policy, models, numbers), as
    :class:`Call`. No I/O here."""

    @staticmethod
    def list_proposals(
        ledger_id: uuid.UUID | str, query: ProposalQuery, cursor: str | None, limit: int
    ) -> Call[ProposalPage]:
        return Call(
            "GET",
            f"/v1/ledgers/{ledger_id}/proposals",
            _parse_proposal_page,
            params=(*query.params(), *_query(cursor=cursor, limit=limit)),
        )

    @staticmethod
    def get_proposal(proposal_id: uuid.UUID | str) -> Call[bookkeeping.ProposalOut]:
        return Call("GET", f"/v1/proposals/{proposal_id}", _parse_proposal)

    @staticmethod
    def review_proposal(
        proposal_id: uuid.UUID | str, body: bookkeeping.Review, key: str | None
    ) -> Call[bookkeeping.ProposalOut]:
        return Call(
            "POST",
            f"/v1/proposals/{proposal_id}/review",
            _parse_proposal,
            content=_json(body),
            idempotency_key=_key(key),
        )

    @staticmethod
    def bulk_accept(
        ledger_id: uuid.UUID | str, ids: Sequence[uuid.UUID | str], key: str | None
    ) -> Call[bookkeeping.BulkAcceptOut]:
        body = bookkeeping.BulkAccept.model_validate({"ids": [str(i) for i in ids]})
        return Call(
            "POST",
            f"/v1/ledgers/{ledger_id}/proposals/bulk-accept",
            _parse_bulk_accept,
            content=_json(body),
            idempotency_key=_key(key),
        )

    @staticmethod
    def create_rule(
        ledger_id: uuid.UUID | str, body: bookkeeping.RuleIn, key: str | None
    ) -> Call[bookkeeping.RuleOut]:
        return Call(
            "POST",
            f"/v1/ledgers/{ledger_id}/categorization-rules",
            _parse_rule,
            content=_json(body),
            idempotency_key=_key(key),
        )

    @staticmethod
    def list_rules(ledger_id: uuid.UUID | str) -> Call[list[bookkeeping.RuleOut]]:
        return Call("GET", f"/v1/ledgers/{ledger_id}/categorization-rules", _parse_rules)

    @staticmethod
    def deactivate_rule(
        ledger_id: uuid.UUID | str, rule_id: uuid.UUID | str, key: str | None
    ) -> Call[bookkeeping.RuleOut]:
        return Call(
            "DELETE",
            f"/v1/ledgers/{ledger_id}/categorization-rules/{rule_id}",
            _parse_rule,
            idempotency_key=_key(key),
        )

    @staticmethod
    def get_settings(ledger_id: uuid.UUID | str) -> Call[bookkeeping.SettingsOut]:
        return Call(
            "GET", f"/v1/ledgers/{ledger_id}/categorization-settings", _parse_bookkeeping_settings
        )

    @staticmethod
    def put_settings(
        ledger_id: uuid.UUID | str, body: bookkeeping.SettingsIn, key: str | None
    ) -> Call[bookkeeping.SettingsOut]:
        return Call(
            "PUT",
            f"/v1/ledgers/{ledger_id}/categorization-settings",
            _parse_bookkeeping_settings,
            content=body.model_dump_json().encode(),  # the whole policy, defaults included
            idempotency_key=_key(key),
        )

    @staticmethod
    def list_models(ledger_id: uuid.UUID | str) -> Call[list[bookkeeping.ModelOut]]:
        return Call("GET", f"/v1/ledgers/{ledger_id}/models", _parse_models)

    @staticmethod
    def retrain(ledger_id: uuid.UUID | str, key: str | None) -> Call[bookkeeping.RetrainOut]:
        return Call(
            "POST",
            f"/v1/ledgers/{ledger_id}/models/retrain",
            _parse_retrain,
            idempotency_key=_key(key),
        )

    @staticmethod
    def promote_model(
        ledger_id: uuid.UUID | str, model_id: uuid.UUID | str, key: str | None
    ) -> Call[bookkeeping.ModelOut]:
        return Call(
            "POST",
            f"/v1/ledgers/{ledger_id}/models/{model_id}/promote",
            _parse_model,
            idempotency_key=_key(key),
        )

    @staticmethod
    def stats(ledger_id: uuid.UUID | str | None) -> Call[bookkeeping.StatsOut]:
        return Call(
            "GET",
            "/v1/bookkeeping/stats",
            _parse_bookkeeping_stats,
            params=_query(ledger_id=ledger_id),
        )


@dataclass(frozen=True, slots=True)
class OpenItemQuery:
    """Filters of ``list_open_items``/``iter_open_items``: ``account`` is an id or code,
    ``counterparty`` an id or name."""

    status: reconcile.OpenItemStatus | None = None
    account: str | None = None
    counterparty: str | None = None
    reference: str | None = None

    def params(self) -> tuple[tuple[str, str], ...]:
        return _query(
            status=self.status,
            account=self.account,
            counterparty=self.counterparty,
            reference=self.reference,
        )


class _ReconcileEndpoints:
    """Reconciliation endpoints (open items, runs and matches, reports and sign-off,
    settings), as :class:`Call`. No I/O here."""

    @staticmethod
    def mark_account(
        ledger_id: uuid.UUID | str,
        account: str,
        role: reconcile.AccountRole,
        key: str | None,
    ) -> Call[reconcile.OpenItemAccountOut]:
        return Call(
            "PUT",
            f"/v1/ledgers/{ledger_id}/open-item-accounts/{account}",
            _parse_open_item_account,
            content=_json(reconcile.OpenItemAccountIn(role=role)),
            idempotency_key=_key(key),
        )

    @staticmethod
    def unmark_account(
        ledger_id: uuid.UUID | str, account: str, key: str | None
    ) -> Call[reconcile.OpenItemAccountOut]:
        return Call(
            "DELETE",
            f"/v1/ledgers/{ledger_id}/open-item-accounts/{account}",
            _parse_open_item_account,
            idempotency_key=_key(key),
        )

    @staticmethod
    def get_account(ledger_id: uuid.UUID | str, account: str) -> Call[reconcile.OpenItemAccountOut]:
        return Call(
            "GET", f"/v1/ledgers/{ledger_id}/open-item-accounts/{account}", _parse_open_item_account
        )

    @staticmethod
    def list_accounts(ledger_id: uuid.UUID | str) -> Call[list[reconcile.OpenItemAccountOut]]:
        return Call("GET", f"/v1/ledgers/{ledger_id}/open-item-accounts", _parse_open_item_accounts)

    @staticmethod
    def list_items(
        ledger_id: uuid.UUID | str, query: OpenItemQuery, cursor: str | None, limit: int
    ) -> Call[OpenItemPage]:
        return Call(
            "GET",
            f"/v1/ledgers/{ledger_id}/open-items",
            _parse_open_item_page,
            params=(*query.params(), *_query(cursor=cursor, limit=limit)),
        )

    @staticmethod
    def get_item(open_item_id: uuid.UUID | str) -> Call[reconcile.OpenItemDetailOut]:
        return Call("GET", f"/v1/open-items/{open_item_id}", _parse_open_item)

    @staticmethod
    def run(bank_account_id: uuid.UUID | str, key: str | None) -> Call[reconcile.RunOut]:
        return Call(
            "POST",
            f"/v1/bank-accounts/{bank_account_id}/reconcile",
            _parse_run,
            idempotency_key=_key(key),
        )

    @staticmethod
    def list_matches(
        bank_account_id: uuid.UUID | str,
        status: reconcile.MatchStatus | None,
        after: str | None,
        limit: int,
    ) -> Call[MatchPage]:
        return Call(
            "GET",
            f"/v1/bank-accounts/{bank_account_id}/matches",
            _parse_match_page,
            params=_query(status=status, after=after, limit=limit),
        )

    @staticmethod
    def get_match(match_id: uuid.UUID | str) -> Call[reconcile.MatchOut]:
        return Call("GET", f"/v1/matches/{match_id}", _parse_match)

    @staticmethod
    def decide(
        match_id: uuid.UUID | str,
        decision: Literal["accept", "reject", "unreconcile"],
        key: str | None,
    ) -> Call[reconcile.MatchOut]:
        return Call(
            "POST", f"/v1/matches/{match_id}/{decision}", _parse_match, idempotency_key=_key(key)
        )

    @staticmethod
    def report(
        bank_account_id: uuid.UUID | str,
        statement_date: date,
        date_from: date | None,
        statement_balance: str | None,
    ) -> Call[reconcile.ReconciliationReportOut]:
        params = _query(statement_date=statement_date, statement_balance=statement_balance)
        return Call(
            "GET",
            f"/v1/bank-accounts/{bank_account_id}/reconciliation-report",
            _parse_reconciliation_report,
            params=params + _query(**{"from": date_from}),
        )

    @staticmethod
    def mark_reconciled(
        bank_account_id: uuid.UUID | str, body: reconcile.BankReconciliationIn, key: str | None
    ) -> Call[reconcile.BankReconciliationOut]:
        return Call(
            "POST",
            f"/v1/bank-accounts/{bank_account_id}/reconciliations",
            _parse_reconciliation,
            content=_json(body),
            idempotency_key=_key(key),
        )

    @staticmethod
    def list_reconciliations(
        bank_account_id: uuid.UUID | str,
    ) -> Call[list[reconcile.BankReconciliationOut]]:
        return Call(
            "GET",
            f"/v1/bank-accounts/{bank_account_id}/reconciliations",
            _parse_reconciliations,
        )

    @staticmethod
    def get_reconciliation(
        bank_account_id: uuid.UUID | str, reconciliation_id: uuid.UUID | str
    ) -> Call[reconcile.BankReconciliationOut]:
        return Call(
            "GET",
            f"/v1/bank-accounts/{bank_account_id}/reconciliations/{reconciliation_id}",
            _parse_reconciliation,
        )

    @staticmethod
    def reopen_reconciliation(
        bank_account_id: uuid.UUID | str, reconciliation_id: uuid.UUID | str, key: str | None
    ) -> Call[reconcile.BankReconciliationOut]:
        return Call(
            "POST",
            f"/v1/bank-accounts/{bank_account_id}/reconciliations/{reconciliation_id}/reopen",
            _parse_reconciliation,
            idempotency_key=_key(key),
        )

    @staticmethod
    def get_settings(ledger_id: uuid.UUID | str) -> Call[reconcile.ReconcileSettingsOut]:
        return Call("GET", f"/v1/ledgers/{ledger_id}/reconcile-settings", _parse_reconcile_settings)

    @staticmethod
    def put_settings(
        ledger_id: uuid.UUID | str, body: reconcile.ReconcileSettingsIn, key: str | None
    ) -> Call[reconcile.ReconcileSettingsOut]:
        return Call(
            "PUT",
            f"/v1/ledgers/{ledger_id}/reconcile-settings",
            _parse_reconcile_settings,
            content=body.model_dump_json().encode(),  # the whole policy, defaults included
            idempotency_key=_key(key),
        )


@dataclass(frozen=True, slots=True)
class EntryQuery:
    """Filters of ``list_entries``/``iter_entries``."""

    account: uuid.UUID | str | None = None
    date_from: date | None = None
    date_to: date | None = None
    status: EntryStatus | str | None = None
    source_type: str | None = None
    source_id: str | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)
    cursor: str | None = None
    limit: int | None = None

    def params(self) -> tuple[tuple[str, str], ...]:
        params = _query(
            account=self.account,
            status=self.status,
            source_type=self.source_type,
            source_id=self.source_id,
            cursor=self.cursor,
            limit=self.limit,
        )
        params += _query(**{"from": self.date_from, "to": self.date_to})
        return params + tuple((f"metadata[{k}]", v) for k, v in self.metadata.items())


ReportKind = Literal[
    "trial-balance", "balance-sheet", "income-statement", "cash-flow", "general-ledger", "aging"
]
ReportFormat = Literal["csv", "xlsx", "html"]


@dataclass(frozen=True, slots=True)
class ReportQuery:
    """What a report covers: ``as_of`` (or ``date_to``) and ``date_from``, a comparison
    column (``previous_period`` or ``previous_year``), chart ``depth``, one ``asset`` or
    every asset converted into a reporting ``currency``; for the cash flow its ``method``,
    for aging its ``kind``, for the general ledger one ``account``. Unset values take the
    server's defaults."""

    as_of: date | None = None
    date_from: date | None = None
    date_to: date | None = None
    compare: Literal["previous_period", "previous_year"] | None = None
    depth: int | None = None
    asset: str | None = None
    currency: str | None = None
    method: Literal["direct", "indirect"] | None = None
    kind: Literal["receivable", "payable"] | None = None
    account: str | None = None

    def params(self) -> tuple[tuple[str, str], ...]:
        params = _query(
            as_of=self.as_of,
            compare=self.compare,
            depth=self.depth,
            asset=self.asset,
            currency=self.currency,
            method=self.method,
            kind=self.kind,
            account=self.account,
        )
        return params + _query(**{"from": self.date_from, "to": self.date_to})


_parse_statement_report = _model(reports.StatementReportOut)
_parse_general_ledger = _model(reports.GeneralLedgerOut)
_parse_aging = _model(reports.AgingOut)


def _content(response: httpx.Response) -> bytes:
    return response.content


class _ReportEndpoints:
    """Report endpoints, as :class:`Call`. No I/O here."""

    @staticmethod
    def statement(
        ledger_id: uuid.UUID | str, kind: ReportKind, query: ReportQuery
    ) -> Call[reports.StatementReportOut]:
        return Call(
            "GET",
            f"/v1/ledgers/{ledger_id}/reports/{kind}",
            _parse_statement_report,
            params=query.params(),
        )

    @staticmethod
    def general_ledger(
        ledger_id: uuid.UUID | str, query: ReportQuery
    ) -> Call[reports.GeneralLedgerOut]:
        return Call(
            "GET",
            f"/v1/ledgers/{ledger_id}/reports/general-ledger",
            _parse_general_ledger,
            params=query.params(),
        )

    @staticmethod
    def aging(ledger_id: uuid.UUID | str, query: ReportQuery) -> Call[reports.AgingOut]:
        return Call(
            "GET", f"/v1/ledgers/{ledger_id}/reports/aging", _parse_aging, params=query.params()
        )

    @staticmethod
    def download(
        ledger_id: uuid.UUID | str, kind: ReportKind, fmt: ReportFormat, query: ReportQuery
    ) -> Call[bytes]:
        return Call(
            "GET",
            f"/v1/ledgers/{ledger_id}/reports/{kind}",
            _content,
            params=(*query.params(), ("format", fmt)),
        )


class _Page(Protocol[T_co]):
    @property
    def data(self) -> Sequence[T_co]: ...

    @property
    def next_cursor(self) -> str | None: ...


def _headers(api_key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {api_key}", "User-Agent": USER_AGENT}


class Client:
    """The synchronous SDK. Use as a context manager, or call :meth:`close`.

    Every POST carries an ``Idempotency-Key`` (the caller's, or a fresh UUID4) that is reused
    on every retry. Errors are :class:`ApiError`; a server that stays unreachable after the
    retries raises the last :class:`httpx.TransportError`.
    """

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: float = 10.0,
        max_retries: int = 3,
        transport: httpx.BaseTransport | None = None,
        backoff: float = 0.5,
    ) -> None:
        self.retry = RetryPolicy(max_retries=max_retries, backoff=backoff)
        self._http = httpx.Client(
            base_url=base_url, headers=_headers(api_key), timeout=timeout, transport=transport
        )

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def send(self, call: Call[T]) -> T:
        """Send one call, retrying per :attr:`retry`; parse the answer or raise ApiError."""
        attempt = 0
        while True:
            outcome: httpx.Response | httpx.TransportError
            try:
                outcome = self._http.send(call.request(self._http))
            except httpx.TransportError as exc:
                outcome = exc
            wait = self.retry.delay(attempt, outcome)
            if wait is None:
                if isinstance(outcome, httpx.TransportError):
                    raise outcome
                return call.result(outcome)
            if isinstance(outcome, httpx.Response):
                outcome.close()
            time.sleep(wait)
            attempt += 1

    def _pages(self, fetch: Callable[[str | None], _Page[T]]) -> Iterator[T]:
        cursor: str | None = None
        while True:
            page = fetch(cursor)
            yield from page.data
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

    # auth
    def whoami(self) -> WhoAmI:
        return self.send(_Endpoints.whoami())

    # assets
    def define_asset(
        self, body: schemas.AssetCreate, *, idempotency_key: str | None = None
    ) -> schemas.AssetOut:
        return self.send(_Endpoints.define_asset(body, idempotency_key))

    def list_assets(self) -> list[schemas.AssetOut]:
        return self.send(_Endpoints.list_assets())

    # ledgers
    def create_ledger(
        self, body: schemas.LedgerCreate, *, idempotency_key: str | None = None
    ) -> schemas.LedgerOut:
        return self.send(_Endpoints.create_ledger(body, idempotency_key))

    def list_ledgers(self) -> list[schemas.LedgerOut]:
        return self.send(_Endpoints.list_ledgers())

    def get_ledger(self, ledger_id: uuid.UUID | str) -> schemas.LedgerOut:
        return self.send(_Endpoints.get_ledger(ledger_id))

    def verify_ledger(self, ledger_id: uuid.UUID | str) -> schemas.VerifyOut:
        return self.send(_Endpoints.verify_ledger(ledger_id))

    # accounts
    def create_account(
        self,
        ledger_id: uuid.UUID | str,
        body: schemas.AccountCreate,
        *,
        idempotency_key: str | None = None,
    ) -> schemas.AccountOut:
        return self.send(_Endpoints.create_account(ledger_id, body, idempotency_key))

    def import_chart(
        self,
        ledger_id: uuid.UUID | str,
        csv_text: str,
        asset: str | None = None,
        *,
        idempotency_key: str | None = None,
    ) -> schemas.ChartImportOut:
        return self.send(_Endpoints.import_chart(ledger_id, csv_text, asset, idempotency_key))

    def list_accounts(
        self,
        ledger_id: uuid.UUID | str,
        *,
        cursor: str | None = None,
        limit: int | None = None,
        status: str | None = None,
        type: str | None = None,
    ) -> schemas.AccountPage:
        return self.send(_Endpoints.list_accounts(ledger_id, cursor, limit, status, type))

    def iter_accounts(
        self,
        ledger_id: uuid.UUID | str,
        *,
        page_size: int = 100,
        status: str | None = None,
        type: str | None = None,
    ) -> Iterator[schemas.AccountOut]:
        """Every account of the ledger, by code, fetching page after page."""
        return self._pages(
            lambda c: self.list_accounts(
                ledger_id, cursor=c, limit=page_size, status=status, type=type
            )
        )

    def get_account(self, account_id: uuid.UUID | str) -> schemas.AccountOut:
        return self.send(_Endpoints.get_account(account_id))

    def update_account(
        self, account_id: uuid.UUID | str, body: schemas.AccountUpdate
    ) -> schemas.AccountOut:
        return self.send(_Endpoints.update_account(account_id, body))

    def get_balance(
        self, account_id: uuid.UUID | str, as_of: date | None = None
    ) -> schemas.AccountBalanceOut:
        return self.send(_Endpoints.get_balance(account_id, as_of))

    def get_statement(
        self,
        account_id: uuid.UUID | str,
        *,
        asset: str | None = None,
        date_from: date | None = None,
        date_to: date | None = None,
        cursor: str | None = None,
        limit: int | None = None,
    ) -> schemas.StatementOut:
        return self.send(
            _Endpoints.get_statement(account_id, asset, date_from, date_to, cursor, limit)
        )

    # entries
    def create_entry(
        self,
        ledger_id: uuid.UUID | str,
        entry: schemas.EntryCreate,
        idempotency_key: str | None = None,
    ) -> schemas.EntryOut:
        return self.send(_Endpoints.create_entry(ledger_id, entry, idempotency_key))

    def create_entries_batch(
        self,
        ledger_id: uuid.UUID | str,
        entries: Sequence[schemas.EntryCreate],
        *,
        atomic: bool = True,
        idempotency_key: str | None = None,
    ) -> schemas.BatchResult:
        return self.send(
            _Endpoints.create_entries_batch(ledger_id, entries, atomic, idempotency_key)
        )

    def list_entries(
        self, ledger_id: uuid.UUID | str, query: EntryQuery | None = None
    ) -> schemas.EntryPage:
        """One page, newest first."""
        return self.send(_Endpoints.list_entries(ledger_id, query or EntryQuery()))

    def iter_entries(
        self, ledger_id: uuid.UUID | str, query: EntryQuery | None = None
    ) -> Iterator[schemas.EntryOut]:
        """Every matching entry, newest first, fetching page after page."""
        base = query or EntryQuery()
        return self._pages(lambda c: self.list_entries(ledger_id, replace(base, cursor=c)))

    def get_entry(self, entry_id: uuid.UUID | str) -> schemas.EntryOut:
        return self.send(_Endpoints.get_entry(entry_id))

    def post_entry(
        self,
        entry_id: uuid.UUID | str,
        amounts: Sequence[str] | None = None,
        *,
        idempotency_key: str | None = None,
    ) -> schemas.EntryOut:
        return self.send(_Endpoints.post_entry(entry_id, amounts, idempotency_key))

    def void_entry(
        self, entry_id: uuid.UUID | str, *, idempotency_key: str | None = None
    ) -> schemas.EntryOut:
        return self.send(_Endpoints.void_entry(entry_id, idempotency_key))

    def reverse_entry(
        self,
        entry_id: uuid.UUID | str,
        body: schemas.EntryReverse | None = None,
        *,
        idempotency_key: str | None = None,
    ) -> schemas.EntryOut:
        return self.send(_Endpoints.reverse_entry(entry_id, body, idempotency_key))

    # periods
    def list_periods(self, ledger_id: uuid.UUID | str) -> list[schemas.PeriodOut]:
        return self.send(_Endpoints.list_periods(ledger_id))

    def create_period(
        self,
        ledger_id: uuid.UUID | str,
        body: schemas.PeriodCreate,
        *,
        idempotency_key: str | None = None,
    ) -> schemas.PeriodOut:
        return self.send(_Endpoints.create_period(ledger_id, body, idempotency_key))

    def get_period(
        self, ledger_id: uuid.UUID | str, period_id: uuid.UUID | str
    ) -> schemas.PeriodOut:
        return self.send(_Endpoints.get_period(ledger_id, period_id))

    def period_checklist(
        self, ledger_id: uuid.UUID | str, period_id: uuid.UUID | str
    ) -> period_close.ChecklistOut:
        """What closing the period checks, item by item, with the evidence (ADR 0018)."""
        return self.send(_Endpoints.period_checklist(ledger_id, period_id))

    def close_period(
        self,
        ledger_id: uuid.UUID | str,
        period_id: uuid.UUID | str,
        body: period_close.PeriodClose | None = None,
        *,
        idempotency_key: str | None = None,
    ) -> schemas.PeriodOut:
        """Close the period; ``body`` acknowledges failing checklist items (with a reason)."""
        return self.send(
            _Endpoints.set_period(ledger_id, period_id, "close", idempotency_key, body)
        )

    def reopen_period(
        self,
        ledger_id: uuid.UUID | str,
        period_id: uuid.UUID | str,
        body: period_close.PeriodReopen | None = None,
        *,
        idempotency_key: str | None = None,
    ) -> schemas.PeriodOut:
        return self.send(
            _Endpoints.set_period(ledger_id, period_id, "reopen", idempotency_key, body)
        )

    def book_closing_entries(
        self,
        ledger_id: uuid.UUID | str,
        period_id: uuid.UUID | str,
        *,
        idempotency_key: str | None = None,
    ) -> period_close.ClosingEntriesOut:
        """Move the fiscal year's profit and loss into retained earnings (idempotent)."""
        return self.send(_Endpoints.book_closing_entries(ledger_id, period_id, idempotency_key))

    # banking
    def create_bank_account(
        self, body: banking.BankAccountCreate, *, idempotency_key: str | None = None
    ) -> banking.BankAccountOut:
        return self.send(_BankingEndpoints.create_bank_account(body, idempotency_key))

    def list_bank_accounts(self) -> list[banking.BankAccountOut]:
        return self.send(_BankingEndpoints.list_bank_accounts())

    def get_bank_account(self, bank_account_id: uuid.UUID | str) -> banking.BankAccountOut:
        return self.send(_BankingEndpoints.get_bank_account(bank_account_id))

    def import_statement(
        self,
        bank_account_id: uuid.UUID | str | None,
        file_name: str,
        content: bytes,
        *,
        profile: str | None = None,
        skip_invalid: bool = False,
        accept_unbalanced: bool = False,
        idempotency_key: str | None = None,
    ) -> banking.ImportOut:
        """Upload a statement file. ``bank_account_id`` None: the account it names. A file
        that fails raises ApiError whose ``body["import"]`` is the import and its report."""
        return self.send(
            _BankingEndpoints.import_statement(
                bank_account_id,
                file_name,
                content,
                profile=profile,
                skip_invalid=skip_invalid,
                accept_unbalanced=accept_unbalanced,
                key=idempotency_key,
            )
        )

    def get_import(self, import_id: uuid.UUID | str) -> banking.ImportOut:
        return self.send(_BankingEndpoints.get_import(import_id))

    def iter_bank_transactions(
        self, bank_account_id: uuid.UUID | str, *, page_size: int = 500
    ) -> Iterator[banking.BankTransactionOut]:
        return self._pages(
            lambda cursor: self.send(
                _BankingEndpoints.list_bank_transactions(bank_account_id, cursor, page_size)
            )
        )

    def put_csv_profile(
        self, name: str, spec: Mapping[str, Any], *, idempotency_key: str | None = None
    ) -> banking.CsvProfileOut:
        return self.send(_BankingEndpoints.put_csv_profile(name, spec, idempotency_key))

    # bookkeeping
    def list_proposals(
        self,
        ledger_id: uuid.UUID | str,
        query: ProposalQuery = ProposalQuery(),
        *,
        cursor: str | None = None,
        limit: int = 100,
    ) -> ProposalPage:
        """One page of proposals, largest amount first."""
        return self.send(_BookkeepingEndpoints.list_proposals(ledger_id, query, cursor, limit))

    def iter_proposals(
        self,
        ledger_id: uuid.UUID | str,
        query: ProposalQuery = ProposalQuery(),
        *,
        page_size: int = 500,
    ) -> Iterator[bookkeeping.ProposalOut]:
        return self._pages(
            lambda cursor: self.send(
                _BookkeepingEndpoints.list_proposals(ledger_id, query, cursor, page_size)
            )
        )

    def get_proposal(self, proposal_id: uuid.UUID | str) -> bookkeeping.ProposalOut:
        return self.send(_BookkeepingEndpoints.get_proposal(proposal_id))

    def review_proposal(
        self,
        proposal_id: uuid.UUID | str,
        body: bookkeeping.Review,
        *,
        idempotency_key: str | None = None,
    ) -> bookkeeping.ProposalOut:
        """Accept or correct a proposal; the same decision again changes nothing."""
        return self.send(_BookkeepingEndpoints.review_proposal(proposal_id, body, idempotency_key))

    def bulk_accept(
        self,
        ledger_id: uuid.UUID | str,
        ids: Sequence[uuid.UUID | str],
        *,
        idempotency_key: str | None = None,
    ) -> bookkeeping.BulkAcceptOut:
        """Accept every proposal of ``ids`` (all or none)."""
        return self.send(_BookkeepingEndpoints.bulk_accept(ledger_id, ids, idempotency_key))

    def create_rule(
        self,
        ledger_id: uuid.UUID | str,
        body: bookkeeping.RuleIn,
        *,
        idempotency_key: str | None = None,
    ) -> bookkeeping.RuleOut:
        return self.send(_BookkeepingEndpoints.create_rule(ledger_id, body, idempotency_key))

    def list_rules(self, ledger_id: uuid.UUID | str) -> list[bookkeeping.RuleOut]:
        return self.send(_BookkeepingEndpoints.list_rules(ledger_id))

    def deactivate_rule(
        self,
        ledger_id: uuid.UUID | str,
        rule_id: uuid.UUID | str,
        *,
        idempotency_key: str | None = None,
    ) -> bookkeeping.RuleOut:
        return self.send(_BookkeepingEndpoints.deactivate_rule(ledger_id, rule_id, idempotency_key))

    def get_bookkeeping_settings(self, ledger_id: uuid.UUID | str) -> bookkeeping.SettingsOut:
        return self.send(_BookkeepingEndpoints.get_settings(ledger_id))

    def put_bookkeeping_settings(
        self,
        ledger_id: uuid.UUID | str,
        body: bookkeeping.SettingsIn,
        *,
        idempotency_key: str | None = None,
    ) -> bookkeeping.SettingsOut:
        return self.send(_BookkeepingEndpoints.put_settings(ledger_id, body, idempotency_key))

    def list_models(self, ledger_id: uuid.UUID | str) -> list[bookkeeping.ModelOut]:
        return self.send(_BookkeepingEndpoints.list_models(ledger_id))

    def retrain(
        self, ledger_id: uuid.UUID | str, *, idempotency_key: str | None = None
    ) -> bookkeeping.RetrainOut:
        """Train a challenger now; it replaces the champion only if it beats it."""
        return self.send(_BookkeepingEndpoints.retrain(ledger_id, idempotency_key))

    def promote_model(
        self,
        ledger_id: uuid.UUID | str,
        model_id: uuid.UUID | str,
        *,
        idempotency_key: str | None = None,
    ) -> bookkeeping.ModelOut:
        """Make a version the champion; promoting an older one rolls back."""
        return self.send(_BookkeepingEndpoints.promote_model(ledger_id, model_id, idempotency_key))

    def bookkeeping_stats(self, ledger_id: uuid.UUID | str | None = None) -> bookkeeping.StatsOut:
        """Automation, its precision and the queue: of one ledger, or all the tenant's."""
        return self.send(_BookkeepingEndpoints.stats(ledger_id))

    # reconciliation: open items
    def mark_open_item_account(
        self,
        ledger_id: uuid.UUID | str,
        account: str,
        role: reconcile.AccountRole,
        *,
        idempotency_key: str | None = None,
    ) -> reconcile.OpenItemAccountOut:
        """Make an account (id or code) open-item managed: its referenced postings from now
        on are open items."""
        return self.send(
            _ReconcileEndpoints.mark_account(ledger_id, account, role, idempotency_key)
        )

    def unmark_open_item_account(
        self, ledger_id: uuid.UUID | str, account: str, *, idempotency_key: str | None = None
    ) -> reconcile.OpenItemAccountOut:
        """Stop managing an account's open items; the items it has are kept."""
        return self.send(_ReconcileEndpoints.unmark_account(ledger_id, account, idempotency_key))

    def get_open_item_account(
        self, ledger_id: uuid.UUID | str, account: str
    ) -> reconcile.OpenItemAccountOut:
        return self.send(_ReconcileEndpoints.get_account(ledger_id, account))

    def list_open_item_accounts(
        self, ledger_id: uuid.UUID | str
    ) -> list[reconcile.OpenItemAccountOut]:
        return self.send(_ReconcileEndpoints.list_accounts(ledger_id))

    def list_open_items(
        self,
        ledger_id: uuid.UUID | str,
        query: OpenItemQuery = OpenItemQuery(),
        *,
        cursor: str | None = None,
        limit: int = 100,
    ) -> OpenItemPage:
        """One page of the ledger's open items, oldest first."""
        return self.send(_ReconcileEndpoints.list_items(ledger_id, query, cursor, limit))

    def iter_open_items(
        self,
        ledger_id: uuid.UUID | str,
        query: OpenItemQuery = OpenItemQuery(),
        *,
        page_size: int = 500,
    ) -> Iterator[reconcile.OpenItemOut]:
        return self._pages(
            lambda cursor: self.send(
                _ReconcileEndpoints.list_items(ledger_id, query, cursor, page_size)
            )
        )

    def get_open_item(self, open_item_id: uuid.UUID | str) -> reconcile.OpenItemDetailOut:
        """An open item with its settlements."""
        return self.send(_ReconcileEndpoints.get_item(open_item_id))

    # reconciliation: runs and matches
    def reconcile_bank_account(
        self, bank_account_id: uuid.UUID | str, *, idempotency_key: str | None = None
    ) -> reconcile.RunOut:
        """Match the account's unreconciled lines; the sure matches are reconciled at once,
        the rest wait as suggestions."""
        return self.send(_ReconcileEndpoints.run(bank_account_id, idempotency_key))

    def list_matches(
        self,
        bank_account_id: uuid.UUID | str,
        status: reconcile.MatchStatus | None = None,
        *,
        after: str | None = None,
        limit: int = 100,
    ) -> MatchPage:
        """One page of the account's matches, oldest first (suggestions: ``"suggested"``)."""
        return self.send(_ReconcileEndpoints.list_matches(bank_account_id, status, after, limit))

    def iter_matches(
        self,
        bank_account_id: uuid.UUID | str,
        status: reconcile.MatchStatus | None = None,
        *,
        page_size: int = 500,
    ) -> Iterator[reconcile.MatchOut]:
        return self._pages(
            lambda after: self.send(
                _ReconcileEndpoints.list_matches(bank_account_id, status, after, page_size)
            )
        )

    def get_match(self, match_id: uuid.UUID | str) -> reconcile.MatchOut:
        return self.send(_ReconcileEndpoints.get_match(match_id))

    def accept_match(
        self, match_id: uuid.UUID | str, *, idempotency_key: str | None = None
    ) -> reconcile.MatchOut:
        """Book the match's settlement, allocate its items and lock its lines."""
        return self.send(_ReconcileEndpoints.decide(match_id, "accept", idempotency_key))

    def reject_match(
        self, match_id: uuid.UUID | str, *, idempotency_key: str | None = None
    ) -> reconcile.MatchOut:
        """Reject a match (unreconciling it first if it was reconciled); the pair is never
        proposed again."""
        return self.send(_ReconcileEndpoints.decide(match_id, "reject", idempotency_key))

    def unreconcile_match(
        self, match_id: uuid.UUID | str, *, idempotency_key: str | None = None
    ) -> reconcile.MatchOut:
        """Reverse a reconciled match's settlement and reopen what it settled."""
        return self.send(_ReconcileEndpoints.decide(match_id, "unreconcile", idempotency_key))

    # reconciliation: reports and sign-off
    def reconciliation_report(
        self,
        bank_account_id: uuid.UUID | str,
        statement_date: date,
        *,
        date_from: date | None = None,
        statement_balance: str | None = None,
    ) -> reconcile.ReconciliationReportOut:
        """Statement against ledger balance at ``statement_date``, the difference explained."""
        return self.send(
            _ReconcileEndpoints.report(
                bank_account_id, statement_date, date_from, statement_balance
            )
        )

    def mark_reconciled(
        self,
        bank_account_id: uuid.UUID | str,
        body: reconcile.BankReconciliationIn,
        *,
        idempotency_key: str | None = None,
    ) -> reconcile.BankReconciliationOut:
        """Sign the account off to a statement date (it must balance); locks its lines."""
        return self.send(
            _ReconcileEndpoints.mark_reconciled(bank_account_id, body, idempotency_key)
        )

    def list_reconciliations(
        self, bank_account_id: uuid.UUID | str
    ) -> list[reconcile.BankReconciliationOut]:
        return self.send(_ReconcileEndpoints.list_reconciliations(bank_account_id))

    def get_reconciliation(
        self, bank_account_id: uuid.UUID | str, reconciliation_id: uuid.UUID | str
    ) -> reconcile.BankReconciliationOut:
        return self.send(_ReconcileEndpoints.get_reconciliation(bank_account_id, reconciliation_id))

    def reopen_reconciliation(
        self,
        bank_account_id: uuid.UUID | str,
        reconciliation_id: uuid.UUID | str,
        *,
        idempotency_key: str | None = None,
    ) -> reconcile.BankReconciliationOut:
        """Reopen the latest reconciliation (admin): its lines are no longer locked."""
        return self.send(
            _ReconcileEndpoints.reopen_reconciliation(
                bank_account_id, reconciliation_id, idempotency_key
            )
        )

    # reconciliation: settings
    def get_reconcile_settings(self, ledger_id: uuid.UUID | str) -> reconcile.ReconcileSettingsOut:
        return self.send(_ReconcileEndpoints.get_settings(ledger_id))

    def put_reconcile_settings(
        self,
        ledger_id: uuid.UUID | str,
        body: reconcile.ReconcileSettingsIn,
        *,
        idempotency_key: str | None = None,
    ) -> reconcile.ReconcileSettingsOut:
        """Replace the ledger's matching policy, tolerances and write-off accounts."""
        return self.send(_ReconcileEndpoints.put_settings(ledger_id, body, idempotency_key))

    # reports
    def report(
        self,
        ledger_id: uuid.UUID | str,
        kind: Literal["trial-balance", "balance-sheet", "income-statement", "cash-flow"],
        query: ReportQuery = ReportQuery(),
    ) -> reports.StatementReportOut:
        """A trial balance, balance sheet, income statement or cash-flow statement."""
        return self.send(_ReportEndpoints.statement(ledger_id, kind, query))

    def general_ledger(
        self, ledger_id: uuid.UUID | str, query: ReportQuery = ReportQuery()
    ) -> reports.GeneralLedgerOut:
        return self.send(_ReportEndpoints.general_ledger(ledger_id, query))

    def aging(
        self, ledger_id: uuid.UUID | str, query: ReportQuery = ReportQuery()
    ) -> reports.AgingOut:
        """Open receivables (or ``kind="payable"``) by counterparty and days past due."""
        return self.send(_ReportEndpoints.aging(ledger_id, query))

    def download_report(
        self,
        ledger_id: uuid.UUID | str,
        kind: ReportKind,
        fmt: ReportFormat,
        query: ReportQuery = ReportQuery(),
    ) -> bytes:
        """A report as a CSV or XLSX file, or a printable HTML page."""
        return self.send(_ReportEndpoints.download(ledger_id, kind, fmt, query))


class AsyncClient:
    """The asynchronous SDK; the same methods as :class:`Client`, awaited.

    Use as ``async with``, or call :meth:`aclose`.
    """

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: float = 10.0,
        max_retries: int = 3,
        transport: httpx.AsyncBaseTransport | None = None,
        backoff: float = 0.5,
    ) -> None:
        self.retry = RetryPolicy(max_retries=max_retries, backoff=backoff)
        self._http = httpx.AsyncClient(
            base_url=base_url, headers=_headers(api_key), timeout=timeout, transport=transport
        )

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def send(self, call: Call[T]) -> T:
        """Send one call, retrying per :attr:`retry`; parse the answer or raise ApiError."""
        attempt = 0
        while True:
            outcome: httpx.Response | httpx.TransportError
            try:
                outcome = await self._http.send(call.request(self._http))
            except httpx.TransportError as exc:
                outcome = exc
            wait = self.retry.delay(attempt, outcome)
            if wait is None:
                if isinstance(outcome, httpx.TransportError):
                    raise outcome
                return call.result(outcome)
            if isinstance(outcome, httpx.Response):
                await outcome.aclose()
            await asyncio.sleep(wait)
            attempt += 1

    async def _pages(self, fetch: Callable[[str | None], Awaitable[_Page[T]]]) -> AsyncIterator[T]:
        cursor: str | None = None
        while True:
            page = await fetch(cursor)
            for item in page.data:
                yield item
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

    # auth
    async def whoami(self) -> WhoAmI:
        return await self.send(_Endpoints.whoami())

    # assets
    async def define_asset(
        self, body: schemas.AssetCreate, *, idempotency_key: str | None = None
    ) -> schemas.AssetOut:
        return await self.send(_Endpoints.define_asset(body, idempotency_key))

    async def list_assets(self) -> list[schemas.AssetOut]:
        return await self.send(_Endpoints.list_assets())

    # ledgers
    async def create_ledger(
        self, body: schemas.LedgerCreate, *, idempotency_key: str | None = None
    ) -> schemas.LedgerOut:
        return await self.send(_Endpoints.create_ledger(body, idempotency_key))

    async def list_ledgers(self) -> list[schemas.LedgerOut]:
        return await self.send(_Endpoints.list_ledgers())

    async def get_ledger(self, ledger_id: uuid.UUID | str) -> schemas.LedgerOut:
        return await self.send(_Endpoints.get_ledger(ledger_id))

    async def verify_ledger(self, ledger_id: uuid.UUID | str) -> schemas.VerifyOut:
        return await self.send(_Endpoints.verify_ledger(ledger_id))

    # accounts
    async def create_account(
        self,
        ledger_id: uuid.UUID | str,
        body: schemas.AccountCreate,
        *,
        idempotency_key: str | None = None,
    ) -> schemas.AccountOut:
        return await self.send(_Endpoints.create_account(ledger_id, body, idempotency_key))

    async def import_chart(
        self,
        ledger_id: uuid.UUID | str,
        csv_text: str,
        asset: str | None = None,
        *,
        idempotency_key: str | None = None,
    ) -> schemas.ChartImportOut:
        return await self.send(_Endpoints.import_chart(ledger_id, csv_text, asset, idempotency_key))

    async def list_accounts(
        self,
        ledger_id: uuid.UUID | str,
        *,
        cursor: str | None = None,
        limit: int | None = None,
        status: str | None = None,
        type: str | None = None,
    ) -> schemas.AccountPage:
        return await self.send(_Endpoints.list_accounts(ledger_id, cursor, limit, status, type))

    def iter_accounts(
        self,
        ledger_id: uuid.UUID | str,
        *,
        page_size: int = 100,
        status: str | None = None,
        type: str | None = None,
    ) -> AsyncIterator[schemas.AccountOut]:
        """Every account of the ledger, by code, fetching page after page."""
        return self._pages(
            lambda c: self.list_accounts(
                ledger_id, cursor=c, limit=page_size, status=status, type=type
            )
        )

    async def get_account(self, account_id: uuid.UUID | str) -> schemas.AccountOut:
        return await self.send(_Endpoints.get_account(account_id))

    async def update_account(
        self, account_id: uuid.UUID | str, body: schemas.AccountUpdate
    ) -> schemas.AccountOut:
        return await self.send(_Endpoints.update_account(account_id, body))

    async def get_balance(
        self, account_id: uuid.UUID | str, as_of: date | None = None
    ) -> schemas.AccountBalanceOut:
        return await self.send(_Endpoints.get_balance(account_id, as_of))

    async def get_statement(
        self,
        account_id: uuid.UUID | str,
        *,
        asset: str | None = None,
        date_from: date | None = None,
        date_to: date | None = None,
        cursor: str | None = None,
        limit: int | None = None,
    ) -> schemas.StatementOut:
        return await self.send(
            _Endpoints.get_statement(account_id, asset, date_from, date_to, cursor, limit)
        )

    # entries
    async def create_entry(
        self,
        ledger_id: uuid.UUID | str,
        entry: schemas.EntryCreate,
        idempotency_key: str | None = None,
    ) -> schemas.EntryOut:
        return await self.send(_Endpoints.create_entry(ledger_id, entry, idempotency_key))

    async def create_entries_batch(
        self,
        ledger_id: uuid.UUID | str,
        entries: Sequence[schemas.EntryCreate],
        *,
        atomic: bool = True,
        idempotency_key: str | None = None,
    ) -> schemas.BatchResult:
        return await self.send(
            _Endpoints.create_entries_batch(ledger_id, entries, atomic, idempotency_key)
        )

    async def list_entries(
        self, ledger_id: uuid.UUID | str, query: EntryQuery | None = None
    ) -> schemas.EntryPage:
        """One page, newest first."""
        return await self.send(_Endpoints.list_entries(ledger_id, query or EntryQuery()))

    def iter_entries(
        self, ledger_id: uuid.UUID | str, query: EntryQuery | None = None
    ) -> AsyncIterator[schemas.EntryOut]:
        """Every matching entry, newest first, fetching page after page."""
        base = query or EntryQuery()
        return self._pages(lambda c: self.list_entries(ledger_id, replace(base, cursor=c)))

    async def get_entry(self, entry_id: uuid.UUID | str) -> schemas.EntryOut:
        return await self.send(_Endpoints.get_entry(entry_id))

    async def post_entry(
        self,
        entry_id: uuid.UUID | str,
        amounts: Sequence[str] | None = None,
        *,
        idempotency_key: str | None = None,
    ) -> schemas.EntryOut:
        return await self.send(_Endpoints.post_entry(entry_id, amounts, idempotency_key))

    async def void_entry(
        self, entry_id: uuid.UUID | str, *, idempotency_key: str | None = None
    ) -> schemas.EntryOut:
        return await self.send(_Endpoints.void_entry(entry_id, idempotency_key))

    async def reverse_entry(
        self,
        entry_id: uuid.UUID | str,
        body: schemas.EntryReverse | None = None,
        *,
        idempotency_key: str | None = None,
    ) -> schemas.EntryOut:
        return await self.send(_Endpoints.reverse_entry(entry_id, body, idempotency_key))

    # periods
    async def list_periods(self, ledger_id: uuid.UUID | str) -> list[schemas.PeriodOut]:
        return await self.send(_Endpoints.list_periods(ledger_id))

    async def create_period(
        self,
        ledger_id: uuid.UUID | str,
        body: schemas.PeriodCreate,
        *,
        idempotency_key: str | None = None,
    ) -> schemas.PeriodOut:
        return await self.send(_Endpoints.create_period(ledger_id, body, idempotency_key))

    async def get_period(
        self, ledger_id: uuid.UUID | str, period_id: uuid.UUID | str
    ) -> schemas.PeriodOut:
        return await self.send(_Endpoints.get_period(ledger_id, period_id))

    async def period_checklist(
        self, ledger_id: uuid.UUID | str, period_id: uuid.UUID | str
    ) -> period_close.ChecklistOut:
        return await self.send(_Endpoints.period_checklist(ledger_id, period_id))

    async def close_period(
        self,
        ledger_id: uuid.UUID | str,
        period_id: uuid.UUID | str,
        body: period_close.PeriodClose | None = None,
        *,
        idempotency_key: str | None = None,
    ) -> schemas.PeriodOut:
        return await self.send(
            _Endpoints.set_period(ledger_id, period_id, "close", idempotency_key, body)
        )

    async def reopen_period(
        self,
        ledger_id: uuid.UUID | str,
        period_id: uuid.UUID | str,
        body: period_close.PeriodReopen | None = None,
        *,
        idempotency_key: str | None = None,
    ) -> schemas.PeriodOut:
        return await self.send(
            _Endpoints.set_period(ledger_id, period_id, "reopen", idempotency_key, body)
        )

    async def book_closing_entries(
        self,
        ledger_id: uuid.UUID | str,
        period_id: uuid.UUID | str,
        *,
        idempotency_key: str | None = None,
    ) -> period_close.ClosingEntriesOut:
        return await self.send(
            _Endpoints.book_closing_entries(ledger_id, period_id, idempotency_key)
        )

    # banking
    async def create_bank_account(
        self, body: banking.BankAccountCreate, *, idempotency_key: str | None = None
    ) -> banking.BankAccountOut:
        return await self.send(_BankingEndpoints.create_bank_account(body, idempotency_key))

    async def list_bank_accounts(self) -> list[banking.BankAccountOut]:
        return await self.send(_BankingEndpoints.list_bank_accounts())

    async def get_bank_account(self, bank_account_id: uuid.UUID | str) -> banking.BankAccountOut:
        return await self.send(_BankingEndpoints.get_bank_account(bank_account_id))

    async def import_statement(
        self,
        bank_account_id: uuid.UUID | str | None,
        file_name: str,
        content: bytes,
        *,
        profile: str | None = None,
        skip_invalid: bool = False,
        accept_unbalanced: bool = False,
        idempotency_key: str | None = None,
    ) -> banking.ImportOut:
        return await self.send(
            _BankingEndpoints.import_statement(
                bank_account_id,
                file_name,
                content,
                profile=profile,
                skip_invalid=skip_invalid,
                accept_unbalanced=accept_unbalanced,
                key=idempotency_key,
            )
        )

    async def get_import(self, import_id: uuid.UUID | str) -> banking.ImportOut:
        return await self.send(_BankingEndpoints.get_import(import_id))

    def iter_bank_transactions(
        self, bank_account_id: uuid.UUID | str, *, page_size: int = 500
    ) -> AsyncIterator[banking.BankTransactionOut]:
        async def fetch(cursor: str | None) -> banking.BankTransactionPage:
            return await self.send(
                _BankingEndpoints.list_bank_transactions(bank_account_id, cursor, page_size)
            )

        return self._pages(fetch)

    async def put_csv_profile(
        self, name: str, spec: Mapping[str, Any], *, idempotency_key: str | None = None
    ) -> banking.CsvProfileOut:
        return await self.send(_BankingEndpoints.put_csv_profile(name, spec, idempotency_key))

    # bookkeeping
    async def list_proposals(
        self,
        ledger_id: uuid.UUID | str,
        query: ProposalQuery = ProposalQuery(),
        *,
        cursor: str | None = None,
        limit: int = 100,
    ) -> ProposalPage:
        """One page of proposals, largest amount first."""
        return await self.send(
            _BookkeepingEndpoints.list_proposals(ledger_id, query, cursor, limit)
        )

    def iter_proposals(
        self,
        ledger_id: uuid.UUID | str,
        query: ProposalQuery = ProposalQuery(),
        *,
        page_size: int = 500,
    ) -> AsyncIterator[bookkeeping.ProposalOut]:
        async def fetch(cursor: str | None) -> ProposalPage:
            return await self.send(
                _BookkeepingEndpoints.list_proposals(ledger_id, query, cursor, page_size)
            )

        return self._pages(fetch)

    async def get_proposal(self, proposal_id: uuid.UUID | str) -> bookkeeping.ProposalOut:
        return await self.send(_BookkeepingEndpoints.get_proposal(proposal_id))

    async def review_proposal(
        self,
        proposal_id: uuid.UUID | str,
        body: bookkeeping.Review,
        *,
        idempotency_key: str | None = None,
    ) -> bookkeeping.ProposalOut:
        """Accept or correct a proposal; the same decision again changes nothing."""
        return await self.send(
            _BookkeepingEndpoints.review_proposal(proposal_id, body, idempotency_key)
        )

    async def bulk_accept(
        self,
        ledger_id: uuid.UUID | str,
        ids: Sequence[uuid.UUID | str],
        *,
        idempotency_key: str | None = None,
    ) -> bookkeeping.BulkAcceptOut:
        """Accept every proposal of ``ids`` (all or none)."""
        return await self.send(_BookkeepingEndpoints.bulk_accept(ledger_id, ids, idempotency_key))

    async def create_rule(
        self,
        ledger_id: uuid.UUID | str,
        body: bookkeeping.RuleIn,
        *,
        idempotency_key: str | None = None,
    ) -> bookkeeping.RuleOut:
        return await self.send(_BookkeepingEndpoints.create_rule(ledger_id, body, idempotency_key))

    async def list_rules(self, ledger_id: uuid.UUID | str) -> list[bookkeeping.RuleOut]:
        return await self.send(_BookkeepingEndpoints.list_rules(ledger_id))

    async def deactivate_rule(
        self,
        ledger_id: uuid.UUID | str,
        rule_id: uuid.UUID | str,
        *,
        idempotency_key: str | None = None,
    ) -> bookkeeping.RuleOut:
        return await self.send(
            _BookkeepingEndpoints.deactivate_rule(ledger_id, rule_id, idempotency_key)
        )

    async def get_bookkeeping_settings(self, ledger_id: uuid.UUID | str) -> bookkeeping.SettingsOut:
        return await self.send(_BookkeepingEndpoints.get_settings(ledger_id))

    async def put_bookkeeping_settings(
        self,
        ledger_id: uuid.UUID | str,
        body: bookkeeping.SettingsIn,
        *,
        idempotency_key: str | None = None,
    ) -> bookkeeping.SettingsOut:
        return await self.send(_BookkeepingEndpoints.put_settings(ledger_id, body, idempotency_key))

    async def list_models(self, ledger_id: uuid.UUID | str) -> list[bookkeeping.ModelOut]:
        return await self.send(_BookkeepingEndpoints.list_models(ledger_id))

    async def retrain(
        self, ledger_id: uuid.UUID | str, *, idempotency_key: str | None = None
    ) -> bookkeeping.RetrainOut:
        """Train a challenger now; it replaces the champion only if it beats it."""
        return await self.send(_BookkeepingEndpoints.retrain(ledger_id, idempotency_key))

    async def promote_model(
        self,
        ledger_id: uuid.UUID | str,
        model_id: uuid.UUID | str,
        *,
        idempotency_key: str | None = None,
    ) -> bookkeeping.ModelOut:
        """Make a version the champion; promoting an older one rolls back."""
        return await self.send(
            _BookkeepingEndpoints.promote_model(ledger_id, model_id, idempotency_key)
        )

    async def bookkeeping_stats(
        self, ledger_id: uuid.UUID | str | None = None
    ) -> bookkeeping.StatsOut:
        """Automation, its precision and the queue: of one ledger, or all the tenant's."""
        return await self.send(_BookkeepingEndpoints.stats(ledger_id))

    # reconciliation: open items
    async def mark_open_item_account(
        self,
        ledger_id: uuid.UUID | str,
        account: str,
        role: reconcile.AccountRole,
        *,
        idempotency_key: str | None = None,
    ) -> reconcile.OpenItemAccountOut:
        """Make an account (id or code) open-item managed: its referenced postings from now
        on are open items."""
        return await self.send(
            _ReconcileEndpoints.mark_account(ledger_id, account, role, idempotency_key)
        )

    async def unmark_open_item_account(
        self, ledger_id: uuid.UUID | str, account: str, *, idempotency_key: str | None = None
    ) -> reconcile.OpenItemAccountOut:
        """Stop managing an account's open items; the items it has are kept."""
        return await self.send(
            _ReconcileEndpoints.unmark_account(ledger_id, account, idempotency_key)
        )

    async def get_open_item_account(
        self, ledger_id: uuid.UUID | str, account: str
    ) -> reconcile.OpenItemAccountOut:
        return await self.send(_ReconcileEndpoints.get_account(ledger_id, account))

    async def list_open_item_accounts(
        self, ledger_id: uuid.UUID | str
    ) -> list[reconcile.OpenItemAccountOut]:
        return await self.send(_ReconcileEndpoints.list_accounts(ledger_id))

    async def list_open_items(
        self,
        ledger_id: uuid.UUID | str,
        query: OpenItemQuery = OpenItemQuery(),
        *,
        cursor: str | None = None,
        limit: int = 100,
    ) -> OpenItemPage:
        """One page of the ledger's open items, oldest first."""
        return await self.send(_ReconcileEndpoints.list_items(ledger_id, query, cursor, limit))

    def iter_open_items(
        self,
        ledger_id: uuid.UUID | str,
        query: OpenItemQuery = OpenItemQuery(),
        *,
        page_size: int = 500,
    ) -> AsyncIterator[reconcile.OpenItemOut]:
        async def fetch(cursor: str | None) -> OpenItemPage:
            return await self.send(
                _ReconcileEndpoints.list_items(ledger_id, query, cursor, page_size)
            )

        return self._pages(fetch)

    async def get_open_item(self, open_item_id: uuid.UUID | str) -> reconcile.OpenItemDetailOut:
        """An open item with its settlements."""
        return await self.send(_ReconcileEndpoints.get_item(open_item_id))

    # reconciliation: runs and matches
    async def reconcile_bank_account(
        self, bank_account_id: uuid.UUID | str, *, idempotency_key: str | None = None
    ) -> reconcile.RunOut:
        """Match the account's unreconciled lines; the sure matches are reconciled at once,
        the rest wait as suggestions."""
        return await self.send(_ReconcileEndpoints.run(bank_account_id, idempotency_key))

    async def list_matches(
        self,
        bank_account_id: uuid.UUID | str,
        status: reconcile.MatchStatus | None = None,
        *,
        after: str | None = None,
        limit: int = 100,
    ) -> MatchPage:
        """One page of the account's matches, oldest first (suggestions: ``"suggested"``)."""
        return await self.send(
            _ReconcileEndpoints.list_matches(bank_account_id, status, after, limit)
        )

    def iter_matches(
        self,
        bank_account_id: uuid.UUID | str,
        status: reconcile.MatchStatus | None = None,
        *,
        page_size: int = 500,
    ) -> AsyncIterator[reconcile.MatchOut]:
        async def fetch(after: str | None) -> MatchPage:
            return await self.send(
                _ReconcileEndpoints.list_matches(bank_account_id, status, after, page_size)
            )

        return self._pages(fetch)

    async def get_match(self, match_id: uuid.UUID | str) -> reconcile.MatchOut:
        return await self.send(_ReconcileEndpoints.get_match(match_id))

    async def accept_match(
        self, match_id: uuid.UUID | str, *, idempotency_key: str | None = None
    ) -> reconcile.MatchOut:
        """Book the match's settlement, allocate its items and lock its lines."""
        return await self.send(_ReconcileEndpoints.decide(match_id, "accept", idempotency_key))

    async def reject_match(
        self, match_id: uuid.UUID | str, *, idempotency_key: str | None = None
    ) -> reconcile.MatchOut:
        """Reject a match (unreconciling it first if it was reconciled); the pair is never
        proposed again."""
        return await self.send(_ReconcileEndpoints.decide(match_id, "reject", idempotency_key))

    async def unreconcile_match(
        self, match_id: uuid.UUID | str, *, idempotency_key: str | None = None
    ) -> reconcile.MatchOut:
        """Reverse a reconciled match's settlement and reopen what it settled."""
        return await self.send(_ReconcileEndpoints.decide(match_id, "unreconcile", idempotency_key))

    # reconciliation: reports and sign-off
    async def reconciliation_report(
        self,
        bank_account_id: uuid.UUID | str,
        statement_date: date,
        *,
        date_from: date | None = None,
        statement_balance: str | None = None,
    ) -> reconcile.ReconciliationReportOut:
        """Statement against ledger balance at ``statement_date``, the difference explained."""
        return await self.send(
            _ReconcileEndpoints.report(
                bank_account_id, statement_date, date_from, statement_balance
            )
        )

    async def mark_reconciled(
        self,
        bank_account_id: uuid.UUID | str,
        body: reconcile.BankReconciliationIn,
        *,
        idempotency_key: str | None = None,
    ) -> reconcile.BankReconciliationOut:
        """Sign the account off to a statement date (it must balance); locks its lines."""
        return await self.send(
            _ReconcileEndpoints.mark_reconciled(bank_account_id, body, idempotency_key)
        )

    async def list_reconciliations(
        self, bank_account_id: uuid.UUID | str
    ) -> list[reconcile.BankReconciliationOut]:
        return await self.send(_ReconcileEndpoints.list_reconciliations(bank_account_id))

    async def get_reconciliation(
        self, bank_account_id: uuid.UUID | str, reconciliation_id: uuid.UUID | str
    ) -> reconcile.BankReconciliationOut:
        return await self.send(
            _ReconcileEndpoints.get_reconciliation(bank_account_id, reconciliation_id)
        )

    async def reopen_reconciliation(
        self,
        bank_account_id: uuid.UUID | str,
        reconciliation_id: uuid.UUID | str,
        *,
        idempotency_key: str | None = None,
    ) -> reconcile.BankReconciliationOut:
        """Reopen the latest reconciliation (admin): its lines are no longer locked."""
        return await self.send(
            _ReconcileEndpoints.reopen_reconciliation(
                bank_account_id, reconciliation_id, idempotency_key
            )
        )

    # reconciliation: settings
    async def get_reconcile_settings(
        self, ledger_id: uuid.UUID | str
    ) -> reconcile.ReconcileSettingsOut:
        return await self.send(_ReconcileEndpoints.get_settings(ledger_id))

    async def put_reconcile_settings(
        self,
        ledger_id: uuid.UUID | str,
        body: reconcile.ReconcileSettingsIn,
        *,
        idempotency_key: str | None = None,
    ) -> reconcile.ReconcileSettingsOut:
        """Replace the ledger's matching policy, tolerances and write-off accounts."""
        return await self.send(_ReconcileEndpoints.put_settings(ledger_id, body, idempotency_key))

    # reports
    async def report(
        self,
        ledger_id: uuid.UUID | str,
        kind: Literal["trial-balance", "balance-sheet", "income-statement", "cash-flow"],
        query: ReportQuery = ReportQuery(),
    ) -> reports.StatementReportOut:
        """A trial balance, balance sheet, income statement or cash-flow statement."""
        return await self.send(_ReportEndpoints.statement(ledger_id, kind, query))

    async def general_ledger(
        self, ledger_id: uuid.UUID | str, query: ReportQuery = ReportQuery()
    ) -> reports.GeneralLedgerOut:
        return await self.send(_ReportEndpoints.general_ledger(ledger_id, query))

    async def aging(
        self, ledger_id: uuid.UUID | str, query: ReportQuery = ReportQuery()
    ) -> reports.AgingOut:
        """Open receivables (or ``kind="payable"``) by counterparty and days past due."""
        return await self.send(_ReportEndpoints.aging(ledger_id, query))

    async def download_report(
        self,
        ledger_id: uuid.UUID | str,
        kind: ReportKind,
        fmt: ReportFormat,
        query: ReportQuery = ReportQuery(),
    ) -> bytes:
        """A report as a CSV or XLSX file, or a printable HTML page."""
        return await self.send(_ReportEndpoints.download(ledger_id, kind, fmt, query))


__all__ = [
    "ApiError",
    "AsyncClient",
    "Call",
    "Client",
    "EntryQuery",
    "FieldProblem",
    "MatchPage",
    "OpenItemPage",
    "OpenItemQuery",
    "ProposalPage",
    "ProposalQuery",
    "ReportQuery",
    "RetryPolicy",
]
