"""Banking routes: bank accounts, CSV profiles, statement imports and bank lines.

An import is a multipart upload. A file up to ``import_inline_max_bytes`` is imported within
the request (201 with the finished import); a larger one is stored and handed to the import
worker (202 with the queued import and a ``Location`` to poll). Either way the response is
the import resource; ``Idempotency-Key`` is honoured, recognizing a retry by the file's
digest and the options (a retry of an inline import that broke off replays the 202 stored
with the import row; ADR 0010).
"""

import asyncio
import shutil
import tempfile
import uuid
from datetime import date
from pathlib import Path
from typing import Annotated
from urllib.parse import quote

import orjson
from fastapi import APIRouter, File, Form, Query, Request, Response, UploadFile
from fastapi import Path as PathParam
from fastapi.responses import StreamingResponse
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from autoledger.api.deps import AppSettings, BankingReader, BankingWriter, Session
from autoledger.api.idempotency import Slot, idempotent, json_response
from autoledger.api.problems import from_error, problem_type, responses
from autoledger.api.writes import audit_request, request_id_of, write
from autoledger.banking import schemas, service
from autoledger.banking.errors import (
    AccountNumberTaken,
    BankAccountNotFound,
    ImportNotFound,
    ImportRefused,
    InvalidGlAccount,
    ProfileNotFound,
    UnknownStatementAccount,
    WrongAccount,
)
from autoledger.banking.intake import FileTooLarge, take_in
from autoledger.banking.pipeline import Importer, parser_for
from autoledger.banking.statement import Format, StatementError, StatementStart, currency_scale
from autoledger.banking.tables import BankAccount
from autoledger.banking.worker import owner_id
from autoledger.kit.clock import utcnow
from autoledger.kit.errors import InvalidRequest
from autoledger.kit.money import parse_amount
from autoledger.kit.settings import Settings
from autoledger.ledger.errors import LedgerNotFound
from autoledger.platform import audit
from autoledger.platform.auth.service import Principal
from autoledger.platform.storage import chunks, sha256_of

router = APIRouter(prefix="/v1", tags=["banking"])

Limit = Annotated[int, Query(ge=1, le=1000)]
SkipInvalid = Annotated[
    bool,
    Form(
        description="Import the valid lines and report the rejected ones (default: all or nothing)"
    ),
]
AcceptUnbalanced = Annotated[
    bool,
    Form(description="Import a statement whose lines do not add up to its closing balance"),
]
ProfileField = Annotated[
    str | None,
    Form(description="CSV only: a saved profile's name, or a profile as JSON"),
]
StatementFile = Annotated[
    UploadFile, File(description="CSV, OFX/QFX, CAMT.053 or MT940/MT942; gzip or zip")
]


# bank accounts
@router.post(
    "/bank-accounts",
    status_code=201,
    response_model=schemas.BankAccountOut,
    summary="Register a bank account booked on a ledger account",
    responses=responses(LedgerNotFound, InvalidGlAccount, AccountNumberTaken),
)
async def create_bank_account(
    body: schemas.BankAccountCreate, principal: BankingWriter, session: Session, request: Request
) -> Response:
    async def work() -> BaseModel:
        account = await service.create_bank_account(session, principal.tenant_id, body)
        return await service.bank_account_out(session, account)

    return await write(request, principal, session, 201, work)


@router.get("/bank-accounts", response_model=list[schemas.BankAccountOut])
async def list_bank_accounts(
    principal: BankingReader, session: Session
) -> list[schemas.BankAccountOut]:
    return [
        await service.bank_account_out(session, a)
        for a in await service.list_bank_accounts(session, principal.tenant_id)
    ]


@router.get(
    "/bank-accounts/{bank_account_id}",
    response_model=schemas.BankAccountOut,
    responses=responses(BankAccountNotFound),
)
async def get_bank_account(
    bank_account_id: uuid.UUID, principal: BankingReader, session: Session
) -> schemas.BankAccountOut:
    account = await service.get_bank_account(session, principal.tenant_id, bank_account_id)
    return await service.bank_account_out(session, account)


# CSV profiles
@router.put(
    "/csv-profiles/{name}",
    response_model=schemas.CsvProfileOut,
    summary="Save a named CSV profile (how to read one bank's files)",
)
async def put_csv_profile(
    name: Annotated[str, PathParam(pattern=schemas.PROFILE_NAME)],
    body: schemas.CsvProfileIn,
    principal: BankingWriter,
    session: Session,
    request: Request,
) -> Response:
    async def work() -> BaseModel:
        record = await service.put_profile(session, principal.tenant_id, name, body.spec)
        return schemas.CsvProfileOut.model_validate(record)

    return await write(request, principal, session, 200, work, target_type="csv_profile")


@router.get("/csv-profiles", response_model=list[schemas.CsvProfileOut])
async def list_csv_profiles(
    principal: BankingReader, session: Session
) -> list[schemas.CsvProfileOut]:
    return [
        schemas.CsvProfileOut.model_validate(r)
        for r in await service.list_profiles(session, principal.tenant_id)
    ]


@router.get(
    "/csv-profiles/{name}",
    response_model=schemas.CsvProfileOut,
    responses=responses(ProfileNotFound),
)
async def get_csv_profile(
    name: str, principal: BankingReader, session: Session
) -> schemas.CsvProfileOut:
    return schemas.CsvProfileOut.model_validate(
        await service.get_profile(session, principal.tenant_id, name)
    )


# imports
_IMPORT_ERRORS = responses(
    BankAccountNotFound, StatementError, FileTooLarge, ProfileNotFound, WrongAccount
)


@router.post(
    "/bank-accounts/{bank_account_id}/imports",
    status_code=201,
    response_model=schemas.ImportOut,
    summary="Import a statement file into a bank account (202 when a worker takes it)",
    responses={202: {"model": schemas.ImportOut}, **_IMPORT_ERRORS},
)
async def create_import(
    bank_account_id: uuid.UUID,
    file: StatementFile,
    principal: BankingWriter,
    session: Session,
    settings: AppSettings,
    request: Request,
    profile: ProfileField = None,
    skip_invalid: SkipInvalid = False,
    accept_unbalanced: AcceptUnbalanced = False,
) -> Response:
    return await _import(
        request,
        principal,
        session,
        settings,
        file,
        bank_account_id,
        profile,
        skip_invalid,
        accept_unbalanced,
    )


@router.post(
    "/imports",
    status_code=201,
    response_model=schemas.ImportOut,
    summary="Import a statement file into the bank account it names (by account number)",
    responses={
        202: {"model": schemas.ImportOut},
        **_IMPORT_ERRORS,
        **responses(UnknownStatementAccount),
    },
)
async def create_import_by_account_number(
    file: StatementFile,
    principal: BankingWriter,
    session: Session,
    settings: AppSettings,
    request: Request,
    profile: ProfileField = None,
    skip_invalid: SkipInvalid = False,
    accept_unbalanced: AcceptUnbalanced = False,
) -> Response:
    return await _import(
        request, principal, session, settings, file, None, profile, skip_invalid, accept_unbalanced
    )


async def _import(
    request: Request,
    principal: Principal,
    session: AsyncSession,
    settings: Settings,
    file: UploadFile,
    bank_account_id: uuid.UUID | None,
    profile: str | None,
    skip_invalid: bool,
    accept_unbalanced: bool,
) -> Response:
    importer: Importer = request.app.state.importer
    importer.workdir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=importer.workdir) as tmp:
        upload = Path(tmp) / "upload"
        await asyncio.to_thread(_save, file, upload)
        digest = await asyncio.to_thread(sha256_of, upload)
        content = f"{digest}|{bank_account_id}|{profile}|{skip_invalid}|{accept_unbalanced}"

        async def run(slot: Slot | None) -> Response:
            intake = await asyncio.to_thread(
                take_in, upload, workdir=Path(tmp), max_bytes=settings.import_max_bytes
            )
            tenant_id = principal.tenant_id
            if bank_account_id is None:
                account = await _named_account(session, tenant_id, intake.path, intake.format)
            else:
                account = await service.get_bank_account(session, tenant_id, bank_account_id)
            profile_name, spec = await service.resolve_profile(session, tenant_id, profile)
            key = await asyncio.to_thread(importer.store.put, upload, digest)
            inline = intake.size_bytes <= settings.import_inline_max_bytes
            owner = owner_id()
            record = await service.create_import(
                session,
                tenant_id,
                account,
                intake=intake,
                filename=(file.filename or None) and file.filename[:255],
                sha256=digest,
                storage_key=key,
                size_bytes=upload.stat().st_size,
                options=service.ImportOptions(skip_invalid, accept_unbalanced, profile_name, spec),
                actor=principal.actor,
                status="processing" if inline else "queued",
                lease_owner=owner if inline else None,
                lease_until=utcnow() + importer.lease if inline else None,
            )
            import_id = record.id
            audit.mark_request_audited(session)
            await audit_request(
                request,
                principal,
                session,
                content.encode(),
                target_id=str(import_id),
                action="banking.import.create",
                target_type="import",
            )
            # An answer (202, the import as queued or processing) is known now: it is stored
            # with the import row, in one commit, so a retry after a crash or a failed
            # request replays it (the import finishes on a worker) rather than taking the
            # file in a second time. An inline import replaces it with its outcome.
            accepted = service.import_out(await service.get_import(session, tenant_id, import_id))
            body = accepted.model_dump_json().encode()
            if slot is not None:
                await slot.store(session, 202, body)
            await session.commit()
            if not inline:
                request.app.state.runtime.imports.wake()
                response = json_response(202, body)
                response.headers["Location"] = f"/v1/imports/{import_id}"
                return response
            await importer.run(tenant_id, import_id, owner)
            session.expire_all()
            out = service.import_out(await service.get_import(session, tenant_id, import_id))
            if out.status == "failed" and out.error is not None:
                # Nothing was imported: a problem, carrying the import and its report.
                status, body = 422, _failure(request, out)
            else:
                status, body = 201, out.model_dump_json().encode()
            if slot is not None:
                await slot.store(session, status, body)
                await session.commit()
            response = json_response(status, body)
            response.headers["Location"] = f"/v1/imports/{import_id}"
            return response

        return await idempotent(request, principal, run, content=content.encode())


def _failure(request: Request, out: schemas.ImportOut) -> bytes:
    """The problem document of a failed import: its own code, the import with its report."""
    code = out.error.code if out.error is not None else ImportRefused.code
    detail = out.error.detail if out.error is not None else "the import failed"
    error = ImportRefused(detail, extra={"import": out.model_dump(mode="json")})
    body: dict[str, object] = orjson.loads(bytes(from_error(error, request_id_of(request)).body))
    body["code"], body["type"] = code, problem_type(code)
    return orjson.dumps(body)


def _save(file: UploadFile, target: Path) -> None:
    with target.open("wb") as out:
        file.file.seek(0)
        shutil.copyfileobj(file.file, out, 1 << 20)


async def _named_account(
    session: AsyncSession, tenant_id: uuid.UUID, path: Path, format_: Format
) -> BankAccount:
    """The bank account the statement's first account number names."""
    start = await asyncio.to_thread(_first_start, path, format_)
    if start is None or not start.account:
        raise UnknownStatementAccount(
            "the file names no account number; import it into a bank account by id"
        )
    account = await service.find_bank_account(session, tenant_id, start.account)
    if account is None:
        raise UnknownStatementAccount(
            "no bank account has the account number this statement names; register it first"
        )
    return account


def _first_start(path: Path, format_: Format) -> StatementStart | None:
    if format_ is Format.CSV:
        return None  # a CSV export names no account
    with path.open("rb") as stream:
        # Only the statement's header is read, before any amount needs a currency.
        for item in parser_for(format_)(stream, currency="EUR"):
            if isinstance(item, StatementStart):
                return item
    return None


@router.get(
    "/bank-accounts/{bank_account_id}/imports",
    response_model=list[schemas.ImportOut],
    summary="The bank account's imports, newest first",
    responses=responses(BankAccountNotFound),
)
async def list_imports(
    bank_account_id: uuid.UUID, principal: BankingReader, session: Session, limit: Limit = 100
) -> list[schemas.ImportOut]:
    account = await service.get_bank_account(session, principal.tenant_id, bank_account_id)
    return [
        service.import_out(r)
        for r in await service.list_imports(session, principal.tenant_id, account.id, limit)
    ]


@router.get(
    "/imports/{import_id}",
    response_model=schemas.ImportOut,
    summary="An import: status, progress, counts and its report",
    responses=responses(ImportNotFound),
)
async def get_import(
    import_id: uuid.UUID, principal: BankingReader, session: Session
) -> schemas.ImportOut:
    return service.import_out(await service.get_import(session, principal.tenant_id, import_id))


@router.get(
    "/imports/{import_id}/file",
    response_class=StreamingResponse,
    summary="The original file, byte for byte",
    responses=responses(ImportNotFound),
)
async def get_import_file(
    import_id: uuid.UUID, principal: BankingReader, session: Session, request: Request
) -> Response:
    record = await service.get_import(session, principal.tenant_id, import_id)
    importer: Importer = request.app.state.importer
    name = record.filename or f"{record.id}.{record.format}"
    return StreamingResponse(
        chunks(importer.store, record.storage_key),  # a sync iterator: read in the threadpool
        media_type="application/octet-stream",
        headers={"Content-Disposition": content_disposition(name)},
    )


def content_disposition(name: str) -> str:
    """An attachment header for a client-given file name: a plain ASCII fallback (no quotes,
    backslashes or control characters) and the exact name per RFC 6266/5987."""
    fallback = "".join(c for c in name if " " <= c <= "~" and c not in '"\\') or "statement"
    return f"attachment; filename=\"{fallback}\"; filename*=utf-8''{quote(name)}"


# lines
@router.get(
    "/bank-accounts/{bank_account_id}/transactions",
    response_model=schemas.BankTransactionPage,
    summary="Bank lines of an account, by booking date",
    responses=responses(BankAccountNotFound),
)
async def list_transactions(
    bank_account_id: uuid.UUID,
    principal: BankingReader,
    session: Session,
    date_from: Annotated[date | None, Query(alias="from")] = None,
    date_to: Annotated[date | None, Query(alias="to")] = None,
    min_amount: Annotated[str | None, Query(description="Signed decimal, e.g. -100.00")] = None,
    max_amount: Annotated[str | None, Query()] = None,
    q: Annotated[
        str | None, Query(max_length=200, description="Text in description or name")
    ] = None,
    import_id: uuid.UUID | None = None,
    include_raw: bool = False,
    cursor: Annotated[str | None, Query(description="`next_cursor` of the last page")] = None,
    limit: Limit = 100,
) -> schemas.BankTransactionPage:
    account = await service.get_bank_account(session, principal.tenant_id, bank_account_id)
    scale = currency_scale(account.currency)
    lines = await service.list_lines(
        session,
        principal.tenant_id,
        account,
        after=_cursor(cursor),
        limit=limit + 1,
        include_raw=include_raw,
        date_from=date_from,
        date_to=date_to,
        min_amount=_bound(min_amount, scale, "min_amount"),
        max_amount=_bound(max_amount, scale, "max_amount"),
        text_query=q,
        import_id=import_id,
    )
    page = lines[:limit]
    more = len(lines) > limit
    return schemas.BankTransactionPage(
        data=page,
        next_cursor=f"{page[-1].booking_date.isoformat()}_{page[-1].id}" if more else None,
    )


def _bound(value: str | None, scale: int, name: str) -> int | None:
    if value is None:
        return None
    return parse_amount(value, scale, field=f"query.{name}", allow_zero=True, allow_negative=True)


def _cursor(value: str | None) -> tuple[date, uuid.UUID] | None:
    if value is None:
        return None
    try:
        day, _, ident = value.partition("_")
        return date.fromisoformat(day), uuid.UUID(ident)
    except ValueError:
        raise InvalidRequest("cursor is not a next_cursor this API returned") from None
