"""A ledger's reconciliation settings: whether sure matches reconcile on their own, whether a
run follows each import, the precision the threshold keeps, the tolerances and the accounts
each write-off purpose posts to. A ledger without settings uses the defaults.

Services never commit; the request owns the transaction.
"""

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from autoledger.kit.clock import utcnow
from autoledger.ledger import service as ledger_service
from autoledger.reconcile import schemas
from autoledger.reconcile.errors import InvalidSettings, OpenItemAccountNotFound
from autoledger.reconcile.openitems import resolve_account
from autoledger.reconcile.service import settings_of
from autoledger.reconcile.settlement import DEFAULT_WRITEOFF_ACCOUNTS
from autoledger.reconcile.tables import ReconcileSettings
from autoledger.reconcile.tolerance import Tolerances


async def get_settings(
    session: AsyncSession, tenant_id: uuid.UUID, ledger_id: uuid.UUID
) -> ReconcileSettings:
    await ledger_service.get_ledger(session, tenant_id, ledger_id)
    return await settings_of(session, ledger_id)


async def put_settings(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    ledger_id: uuid.UUID,
    body: schemas.ReconcileSettingsIn,
) -> ReconcileSettings:
    """Replace the ledger's settings; every write-off account must be one of the ledger's."""
    await ledger_service.get_ledger(session, tenant_id, ledger_id)
    accounts = dict(DEFAULT_WRITEOFF_ACCOUNTS)
    accounts.update({str(k): v for k, v in body.writeoff_accounts.items()})
    for purpose, ref in body.writeoff_accounts.items():
        try:
            await resolve_account(session, tenant_id, ledger_id, ref)
        except OpenItemAccountNotFound as exc:
            raise InvalidSettings(
                f"writeoff_accounts.{purpose}: the ledger has no account {ref!r}"
            ) from exc
    tolerances = Tolerances(
        rounding=body.tolerances.rounding,
        fee_max_units=body.tolerances.fee_max_units,
        fx_relative_bp=body.tolerances.fx_relative_bp,
        discount_rates_bp=tuple(sorted(set(body.tolerances.discount_rates_bp))),
        discount_days=body.tolerances.discount_days,
    )
    record = await session.scalar(
        select(ReconcileSettings)
        .where(ReconcileSettings.tenant_id == tenant_id, ReconcileSettings.ledger_id == ledger_id)
        .with_for_update()
    )
    now = utcnow()
    if record is None:
        record = ReconcileSettings(tenant_id=tenant_id, ledger_id=ledger_id, created_at=now)
        session.add(record)
    record.auto_reconcile = body.auto_reconcile
    record.run_on_import = body.run_on_import
    record.target_precision = body.target_precision
    record.tolerances = tolerances.to_dict()
    record.writeoff_accounts = accounts
    record.updated_at = now
    await session.flush()
    return record


def settings_out(record: ReconcileSettings) -> schemas.ReconcileSettingsOut:
    return schemas.ReconcileSettingsOut(
        ledger_id=record.ledger_id,
        auto_reconcile=record.auto_reconcile,
        run_on_import=record.run_on_import,
        target_precision=record.target_precision,
        tolerances=schemas.TolerancesIn.model_validate(record.tolerances),
        writeoff_accounts=record.writeoff_accounts,  # type: ignore[arg-type]
        updated_at=record.updated_at,
    )
