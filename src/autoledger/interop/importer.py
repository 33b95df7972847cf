"""Migrate a Beancount or hledger / ledger-cli journal into a ledger, all or nothing.

The whole journal is read and planned (:mod:`autoledger.interop.planner`) before anything is
written; a journal with any error is rejected with every problem by line. Then the assets,
the accounts (parents first) and the entries are written through the ledger's own service
and journal inside the caller's transaction, so the usual invariants hold (balanced per
asset, hash chain, audit, outbox) and a failure anywhere rolls everything back.

Re-running the same file against the same ledger adds nothing: each entry carries a client
id made of the file's digest and the entry's position, which the journal replays.
"""

import hashlib
import uuid
from collections import Counter
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from autoledger.interop.beancount_io import read_beancount
from autoledger.interop.journal_parser import parse_journal
from autoledger.interop.model import Journal, Problem, Severity
from autoledger.interop.planner import JOURNAL_ACCOUNT, ImportPlan, plan_import
from autoledger.kit.errors import FieldError, InvalidRequest
from autoledger.kit.money import format_amount, iso_currency
from autoledger.ledger import journal as ledger_journal
from autoledger.ledger import service
from autoledger.ledger.commands import CreateEntry, PostingInput
from autoledger.ledger.tables import Account
from autoledger.ledger.types import Direction
from autoledger.ledger.views import EntryView

ACTOR = "system:import-journal"
SOURCE_TYPE = "journal_import"
_BATCH = 500
_ACCOUNTS_PAGE = 1000
_REPORTED = 50  # problems named in the error detail; every one is in ``errors``


class JournalFormat(StrEnum):
    BEANCOUNT = "beancount"
    LEDGER = "ledger"  # hledger and ledger-cli journals


class JournalRejected(InvalidRequest):
    code = "interop.journal_rejected"
    title = "Journal not imported"


@dataclass(slots=True)
class ImportReport:
    ledger_id: uuid.UUID
    ledger_created: bool
    assets_created: list[str] = field(default_factory=list)
    accounts_created: int = 0
    entries_created: int = 0
    entries_replayed: int = 0
    assertions_checked: int = 0
    ignored: list[Problem] = field(default_factory=list)


async def all_accounts(
    session: AsyncSession, tenant_id: uuid.UUID, ledger_id: uuid.UUID
) -> list[Account]:
    out: list[Account] = []
    while True:
        page = await service.list_accounts(
            session, tenant_id, ledger_id, after=out[-1].code if out else None, limit=_ACCOUNTS_PAGE
        )
        out.extend(page)
        if len(page) < _ACCOUNTS_PAGE:
            return out


def read_journal(path: Path, fmt: JournalFormat) -> Journal:
    """Read ``path`` in ``fmt``; problems are in the journal, not raised."""
    if fmt is JournalFormat.BEANCOUNT:
        return read_beancount(path)
    return parse_journal(path.read_text(encoding="utf-8"), source=str(path))


def fingerprint(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


async def import_journal(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    journal: Journal,
    *,
    digest: str,
    ledger_id: uuid.UUID | None = None,
    ledger_name: str | None = None,
) -> ImportReport:
    """Write ``journal`` into ``ledger_id`` (or a new ledger); raises :class:`JournalRejected`
    naming every problem before writing anything."""
    custom = await service.asset_scales(session, tenant_id)
    existing: dict[str, str] = {}
    taken: set[str] = set()
    if ledger_id is not None:
        await service.get_ledger(session, tenant_id, ledger_id)
        for account in await all_accounts(session, tenant_id, ledger_id):
            taken.add(account.code)
            name = account.meta.get(JOURNAL_ACCOUNT)
            if isinstance(name, str):
                existing[name] = account.code
    plan = plan_import(journal, custom, existing, taken)
    if plan.errors:
        raise _rejected(journal.source, plan.errors)

    created = ledger_id is None
    if ledger_id is None:
        ledger = await service.create_ledger(
            session,
            tenant_id,
            name=(ledger_name or journal.title or Path(journal.source).stem or "Imported")[:200],
            base_currency=_base_currency(journal, plan),
            metadata={"imported_from": Path(journal.source).name[:200]},
        )
        ledger_id = ledger.id
    report = ImportReport(ledger_id=ledger_id, ledger_created=created)
    for asset in plan.assets:
        await service.define_asset(session, tenant_id, asset.code, asset.scale, asset.name[:200])
        report.assets_created.append(asset.code)
    ids: dict[str, uuid.UUID] = {}
    for planned in plan.accounts:
        if planned.exists:
            continue
        row = await service.create_account(
            session,
            tenant_id,
            ledger_id,
            code=planned.code,
            name=planned.name[:200],
            type=planned.type,
            parent=ids.get(planned.parent) if planned.parent else None,
            asset=planned.asset,
            metadata=planned.metadata,
        )
        ids[planned.name] = row.id
        report.accounts_created += 1
    codes = {a.name: a.code for a in plan.accounts}
    commands = [
        CreateEntry(
            tenant_id=tenant_id,
            ledger_id=ledger_id,
            postings=tuple(
                PostingInput(
                    account=ids.get(p.account) or codes[p.account],
                    direction=Direction.DEBIT if p.amount > 0 else Direction.CREDIT,
                    amount=format_amount(abs(p.amount), plan.scales[p.asset]),
                    asset=p.asset,
                )
                for p in entry.postings
            ),
            actor=ACTOR,
            effective_date=entry.date,
            description=entry.description[:1000],
            metadata=entry.metadata,
            source_type=SOURCE_TYPE,
            source_id=f"{Path(journal.source).name}:{entry.line}"[:200],
            client_id=f"journal:{digest[:40]}:{index}",
        )
        for index, entry in enumerate(plan.entries)
    ]
    for start in range(0, len(commands), _BATCH):
        outcomes = await ledger_journal.execute(
            session, commands[start : start + _BATCH], atomic=True
        )
        for outcome in outcomes:
            if isinstance(outcome, EntryView) and outcome.replayed:
                report.entries_replayed += 1
            else:
                report.entries_created += 1
    report.assertions_checked = plan.assertions_checked
    report.ignored = [p for p in plan.problems if p.severity is Severity.IGNORED]
    return report


def _base_currency(journal: Journal, plan: ImportPlan) -> str:
    if journal.operating_currency and journal.operating_currency in plan.scales:
        return journal.operating_currency
    counts = Counter(
        p.asset for e in plan.entries for p in e.postings if iso_currency(p.asset) is not None
    )
    return counts.most_common(1)[0][0] if counts else "USD"


def _rejected(source: str, problems: list[Problem]) -> JournalRejected:
    name = Path(source).name
    shown = "; ".join(p.render(name) for p in problems[:_REPORTED])
    more = f"; and {len(problems) - _REPORTED} more" if len(problems) > _REPORTED else ""
    return JournalRejected(
        f"{len(problems)} problem(s), nothing imported: {shown}{more}",
        errors=[FieldError(f"line {p.line}", p.message) for p in problems],
    )
