"""Bank accounts, CSV profiles and imports: the domain logic. Takes a session, never commits.

Running an import (reading the file into bank lines) is :mod:`autoledger.banking.pipeline`.
"""

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncSession

from autoledger.banking import schemas
from autoledger.banking.errors import (
    AccountNumberTaken,
    BankAccountNotFound,
    ImportNotFound,
    InvalidGlAccount,
    ProfileNotFound,
)
from autoledger.banking.intake import Intake
from autoledger.banking.parsers.delimited import CsvProfile
from autoledger.banking.repository import BankingRepository
from autoledger.banking.statement import StatementError, currency_scale
from autoledger.banking.tables import (
    BankAccount,
    BankTransactionRecord,
    CsvProfileRecord,
    StatementImport,
)
from autoledger.kit.clock import utcnow
from autoledger.kit.errors import InvalidRequest
from autoledger.kit.ids import new_id
from autoledger.kit.money import format_amount
from autoledger.kit.sensitive import reveal_sensitive
from autoledger.ledger.errors import LedgerNotFound
from autoledger.ledger.repository import LedgerRepository
from autoledger.ledger.tables import Account
from autoledger.platform.crypto.service import (
    blind_index,
    decrypt_field,
    encrypt_field,
    field_opener,
)

BANK_ACCOUNTS = "bank_accounts"
LINES = "bank_transactions"
_NOT_ALNUM = re.compile(r"[^0-9A-Z]")
_BOOKABLE = {"asset", "liability"}  # a bank account, or a card / overdraft facility


# account numbers
def normalize_account_number(value: str) -> str:
    """``NL91 ABNA 0417-1643 00`` → ``NL91ABNA0417164300``: how banks may write one number."""
    return _NOT_ALNUM.sub("", value.upper())


def same_account(a: str, b: str) -> bool:
    """Whether two renderings name one account: equal once normalized, or one is the other
    with a prefix (an IBAN holds the domestic number; MT940 ``:25:`` may prefix a bank code).
    A suffix shorter than 6 characters proves nothing and is not accepted."""
    x, y = normalize_account_number(a), normalize_account_number(b)
    if x == y:
        return True
    short, long_ = (x, y) if len(x) < len(y) else (y, x)
    return len(short) >= 6 and long_.endswith(short)


# bank accounts
async def create_bank_account(
    session: AsyncSession, tenant_id: uuid.UUID, body: schemas.BankAccountCreate
) -> BankAccount:
    ledgers = LedgerRepository(session)
    ledger = await ledgers.ledger(tenant_id, body.ledger_id)
    if ledger is None:
        raise LedgerNotFound(f"no ledger {body.ledger_id}")
    gl = await _gl_account(ledgers, tenant_id, ledger.id, body.gl_account)
    if gl.type not in _BOOKABLE:
        raise InvalidGlAccount(
            f"ledger account {gl.code} is {gl.type}; a bank account books to an asset"
            " (or, for a card, a liability) account"
        )
    try:
        currency_scale(body.currency)
    except ValueError:
        raise InvalidRequest(f"unknown currency {body.currency!r}") from None
    if gl.asset is not None and gl.asset != body.currency:
        raise InvalidGlAccount(
            f"ledger account {gl.code} holds {gl.asset}, the bank account {body.currency}"
        )
    now = utcnow()
    account = BankAccount(
        id=new_id(),
        tenant_id=tenant_id,
        ledger_id=ledger.id,
        gl_account_id=gl.id,
        name=body.name,
        currency=body.currency,
        institution=body.institution,
        created_at=now,
        updated_at=now,
    )
    repository = BankingRepository(session)
    if body.account_number is not None:
        number = normalize_account_number(body.account_number)
        if len(number) < 4:
            raise InvalidRequest("account_number must have at least 4 letters or digits")
        index = await blind_index(session, tenant_id, BANK_ACCOUNTS, "account_number", number)
        if await repository.bank_account_by_number(tenant_id, index) is not None:
            raise AccountNumberTaken("a bank account with this account number already exists")
        account.account_number_enc = await encrypt_field(
            session, tenant_id, BANK_ACCOUNTS, "account_number", number
        )
        account.account_number_index = index
        account.account_number_last4 = number[-4:]
    await repository.add(account)
    return account


async def _gl_account(
    ledgers: LedgerRepository, tenant_id: uuid.UUID, ledger_id: uuid.UUID, ref: str
) -> Account:
    account = await ledgers.account_by_ref(tenant_id, ledger_id, ref)
    if account is None:
        raise InvalidGlAccount(f"the ledger has no account {ref!r}")
    return account


async def get_bank_account(
    session: AsyncSession, tenant_id: uuid.UUID, bank_account_id: uuid.UUID
) -> BankAccount:
    account = await BankingRepository(session).bank_account(tenant_id, bank_account_id)
    if account is None:
        raise BankAccountNotFound(f"no bank account {bank_account_id}")
    return account


async def find_bank_account(
    session: AsyncSession, tenant_id: uuid.UUID, account_number: str
) -> BankAccount | None:
    """The bank account a statement names, by the blind index of its number."""
    number = normalize_account_number(account_number)
    index = await blind_index(session, tenant_id, BANK_ACCOUNTS, "account_number", number)
    return await BankingRepository(session).bank_account_by_number(tenant_id, index)


async def list_bank_accounts(session: AsyncSession, tenant_id: uuid.UUID) -> Sequence[BankAccount]:
    return await BankingRepository(session).bank_accounts(tenant_id)


async def account_number(session: AsyncSession, account: BankAccount) -> str | None:
    if account.account_number_enc is None:
        return None
    return await decrypt_field(
        session, account.tenant_id, BANK_ACCOUNTS, "account_number", account.account_number_enc
    )


async def bank_account_out(session: AsyncSession, account: BankAccount) -> schemas.BankAccountOut:
    """The API shape. The number is decrypted only for a caller who may see it; others get
    the last four characters, which is all a mask would show."""
    number = None
    if account.account_number_last4 is not None:
        number = (
            await account_number(session, account)
            if reveal_sensitive.get()
            else "*" * 8 + account.account_number_last4
        )
    return schemas.BankAccountOut(
        id=account.id,
        ledger_id=account.ledger_id,
        gl_account_id=account.gl_account_id,
        name=account.name,
        currency=account.currency,
        institution=account.institution,
        account_number=number,
        csv_profile=account.csv_profile,
        created_at=account.created_at,
    )


# profiles
def checked_profile(spec: dict[str, Any]) -> CsvProfile:
    try:
        return CsvProfile.from_dict(spec)
    except StatementError as exc:
        raise InvalidRequest(f"invalid CSV profile: {exc.detail}") from None


async def put_profile(
    session: AsyncSession, tenant_id: uuid.UUID, name: str, spec: dict[str, Any]
) -> CsvProfileRecord:
    normalized = checked_profile(spec).to_dict()
    repository = BankingRepository(session)
    now = utcnow()
    record = await repository.profile(tenant_id, name)
    if record is None:
        record = CsvProfileRecord(
            id=new_id(), tenant_id=tenant_id, name=name, spec=normalized, created_at=now
        )
        record.updated_at = now
        await repository.add(record)
    else:
        record.spec, record.updated_at = normalized, now
        await session.flush()
    return record


async def get_profile(session: AsyncSession, tenant_id: uuid.UUID, name: str) -> CsvProfileRecord:
    record = await BankingRepository(session).profile(tenant_id, name)
    if record is None:
        raise ProfileNotFound(f"no CSV profile named {name!r}")
    return record


async def list_profiles(session: AsyncSession, tenant_id: uuid.UUID) -> Sequence[CsvProfileRecord]:
    return await BankingRepository(session).profiles(tenant_id)


# imports
@dataclass(frozen=True, slots=True)
class ImportOptions:
    skip_invalid: bool = False
    accept_unbalanced: bool = False
    profile_name: str | None = None
    profile: dict[str, Any] | None = None  # explicit, as given or looked up by name


async def resolve_profile(
    session: AsyncSession, tenant_id: uuid.UUID, profile: str | None
) -> tuple[str | None, dict[str, Any] | None]:
    """``profile`` as given on an import: a saved profile's name, or a profile as JSON."""
    if profile is None or not profile.strip():
        return None, None
    if profile.lstrip().startswith("{"):
        try:
            spec = orjson.loads(profile)
        except orjson.JSONDecodeError as exc:
            raise InvalidRequest(
                f"profile is neither a saved profile's name nor JSON: {exc}"
            ) from None
        if not isinstance(spec, dict):
            raise InvalidRequest("profile JSON must be an object")
        return None, checked_profile(spec).to_dict()
    record = await get_profile(session, tenant_id, profile)
    return record.name, record.spec


async def create_import(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    account: BankAccount,
    *,
    intake: Intake,
    filename: str | None,
    sha256: str,
    storage_key: str,
    size_bytes: int,
    options: ImportOptions,
    actor: str,
    status: str,
    lease_owner: str | None = None,
    lease_until: Any = None,
) -> StatementImport:
    now = utcnow()
    record = StatementImport(
        id=new_id(),
        tenant_id=tenant_id,
        bank_account_id=account.id,
        status=status,
        format=intake.format.value,
        filename=filename,
        size_bytes=size_bytes,
        sha256=sha256,
        storage_key=storage_key,
        skip_invalid=options.skip_invalid,
        accept_unbalanced=options.accept_unbalanced,
        profile=options.profile,
        profile_name=options.profile_name,
        lines_total=0,
        lines_new=0,
        lines_duplicate=0,
        lines_rejected=0,
        progress_lines=0,
        report={},
        created_by=actor,
        attempts=1 if status == "processing" else 0,
        lease_owner=lease_owner,
        lease_until=lease_until,
        started_at=now if status == "processing" else None,
        created_at=now,
    )
    await BankingRepository(session).add(record)
    return record


async def get_import(
    session: AsyncSession, tenant_id: uuid.UUID, import_id: uuid.UUID
) -> StatementImport:
    record = await BankingRepository(session).statement_import(tenant_id, import_id)
    if record is None:
        raise ImportNotFound(f"no import {import_id}")
    return record


async def list_imports(
    session: AsyncSession, tenant_id: uuid.UUID, bank_account_id: uuid.UUID, limit: int
) -> Sequence[StatementImport]:
    return await BankingRepository(session).imports(tenant_id, bank_account_id, limit=limit)


def import_out(record: StatementImport) -> schemas.ImportOut:
    report = record.report or {}
    error = None
    if record.error_code is not None:
        error = schemas.ImportFailure(code=record.error_code, detail=record.error_detail or "")
    return schemas.ImportOut(
        id=record.id,
        bank_account_id=record.bank_account_id,
        status=record.status,  # type: ignore[arg-type]  # one of ImportStatus by construction
        format=record.format,
        filename=record.filename,
        size_bytes=record.size_bytes,
        sha256=record.sha256,
        skip_invalid=record.skip_invalid,
        accept_unbalanced=record.accept_unbalanced,
        profile_name=record.profile_name,
        profile=record.profile,
        counts=schemas.ImportCounts(
            total=record.lines_total,
            new=record.lines_new,
            duplicate=record.lines_duplicate,
            rejected=record.lines_rejected,
        ),
        processed_lines=record.progress_lines,
        statements=[schemas.StatementCheck(**s) for s in report.get("statements", [])],
        rejected=[schemas.RejectedLine(**r) for r in report.get("rejected", [])],
        rejected_truncated=bool(report.get("rejected_truncated", False)),
        warnings=list(report.get("warnings", [])),
        error=error,
        created_by=record.created_by,
        created_at=record.created_at,
        started_at=record.started_at,
        finished_at=record.finished_at,
    )


# lines
async def list_lines(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    account: BankAccount,
    *,
    after: tuple[Any, uuid.UUID] | None,
    limit: int,
    include_raw: bool,
    **filters: Any,
) -> list[schemas.BankTransactionOut]:
    rows = await BankingRepository(session).lines(
        tenant_id, account.id, after=after, limit=limit, **filters
    )
    opener = await field_opener(session, tenant_id, LINES, "counterparty_account")
    scale = currency_scale(account.currency)
    out = []
    for row in rows:
        counterparty = (
            await opener(row.counterparty_account_enc) if row.counterparty_account_enc else None
        )
        out.append(line_out(row, scale, counterparty, include_raw=include_raw))
    return out


def line_out(
    row: BankTransactionRecord, scale: int, counterparty_account: str | None, *, include_raw: bool
) -> schemas.BankTransactionOut:
    return schemas.BankTransactionOut(
        id=row.id,
        bank_account_id=row.bank_account_id,
        import_id=row.import_id,
        line=row.line_no,
        booking_date=row.booking_date,
        value_date=row.value_date,
        amount=format_amount(row.amount, scale),
        currency=row.currency,
        description=row.description,
        counterparty_name=row.counterparty_name,
        counterparty_account=counterparty_account,
        bank_reference=row.bank_reference,
        end_to_end_id=row.end_to_end_id,
        transaction_code=row.transaction_code,
        running_balance=(
            None if row.running_balance is None else format_amount(row.running_balance, scale)
        ),
        extra=dict(row.extra or {}),
        raw=row.raw if include_raw else None,
    )
