"""The per-process ledger state cache: rebuilt when its stamp changes, memory carried over,
and the model of a champion it already holds kept."""

import asyncio
import uuid
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from autoledger.categorize import service
from autoledger.categorize.learning import Thresholds
from autoledger.categorize.memory import CounterpartyMemory, MemoryLabel
from autoledger.categorize.model import LinearModel, train_model
from autoledger.categorize.schemas import SettingsIn
from autoledger.categorize.tables import ModelVersionRecord
from autoledger.kit.clock import utcnow
from autoledger.ledger import service as ledger_service
from autoledger.platform.auth import service as auth
from tests.categorize.test_model import SMALL


def _state(ledger_id: uuid.UUID, stamp: tuple[Any, ...]) -> service.LedgerState:
    return service.LedgerState(
        ledger_id=ledger_id,
        stamp=stamp,
        settings=SettingsIn(),
        rules=[],
        chart=[],
        codes={},
        memory=CounterpartyMemory(),
        last_label_id=None,
        model=None,
        model_version=None,
        calibrator=None,
        thresholds=Thresholds(),
    )


def _loader(loads: list[tuple[Any, ...]]) -> Any:
    """A ``_load_state`` that builds an empty state at the stamp (recorded in ``loads``),
    letting other coroutines run first as the real one does."""

    async def load(
        _session: object,
        _tenant: uuid.UUID,
        ledger_id: uuid.UUID,
        at: tuple[Any, ...],
        _previous: service.LedgerState | None,
    ) -> service.LedgerState:
        await asyncio.sleep(0)
        loads.append(at)
        return _state(ledger_id, at)

    return load


async def test_a_new_champion_rebuilds_the_state_but_keeps_the_memory(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stamps = iter([("v1",), ("v1",), ("v2",)])
    loads: list[tuple[Any, ...]] = []
    read_after: list[uuid.UUID | None] = []

    async def stamp(
        _session: object, _ledger_id: uuid.UUID, _after: uuid.UUID | None
    ) -> tuple[tuple[Any, ...], None]:
        return next(stamps), None

    async def catch_up(_session: object, state: service.LedgerState, _labels: None) -> None:
        read_after.append(state.last_label_id)  # what the labels query would start after
        state.last_label_id = uuid.uuid4()

    monkeypatch.setattr(service, "_stamp", stamp)
    monkeypatch.setattr(service, "_load_state", _loader(loads))
    monkeypatch.setattr(service, "_catch_up_memory", catch_up)
    cache, tenant, ledger = service.StateCache(), uuid.uuid4(), uuid.uuid4()
    first = await cache.get(None, tenant, ledger)  # type: ignore[arg-type]
    again = await cache.get(None, tenant, ledger)  # type: ignore[arg-type]
    promoted = await cache.get(None, tenant, ledger)  # type: ignore[arg-type]
    assert again is first
    assert loads == [("v1",), ("v2",)]
    assert promoted is not first
    assert promoted.stamp == ("v2",)
    assert promoted.memory is first.memory
    # only the labels after the last one seen are read again, never all of them
    assert read_after[0] is None
    assert None not in read_after[1:]


def _version(
    tenant_id: uuid.UUID, ledger_id: uuid.UUID, version: int, model: LinearModel
) -> ModelVersionRecord:
    return ModelVersionRecord(
        tenant_id=tenant_id,
        ledger_id=ledger_id,
        version=version,
        status="champion",
        artifact=model.to_bytes(),
        artifact_sha256=model.content_hash,
        calibrator=None,
        thresholds=Thresholds(model=0.9).to_dict(),
        metrics={},
        labels=len(SMALL),
        training_seconds=0.0,
        decision="test",
    )


async def test_a_kept_champion_keeps_its_loaded_model(
    session: AsyncSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    tenant = await auth.create_tenant(session, f"t-{uuid.uuid4().hex[:16]}")
    ledger = await ledger_service.create_ledger(
        session,
        tenant.id,
        name="B",
        base_currency="USD",
        metadata={},
        chart_template="small_business",
    )
    first = _version(tenant.id, ledger.id, 1, train_model(SMALL))
    session.add(first)
    await session.flush()
    loads: list[bytes] = []
    from_bytes = LinearModel.from_bytes

    def counted(data: bytes) -> LinearModel:
        loads.append(data)
        return from_bytes(data)

    monkeypatch.setattr(LinearModel, "from_bytes", counted)
    cache = service.StateCache()
    loaded = await cache.get(session, tenant.id, ledger.id)
    assert loaded.model is not None
    assert loaded.model_version == "1"
    # a retrain that keeps the champion moves its thresholds only: a new state, same model
    first.thresholds = Thresholds(memory=0.5, model=0.9).to_dict()
    await session.flush()
    moved = await cache.get(session, tenant.id, ledger.id)
    assert moved is not loaded
    assert moved.thresholds == Thresholds(memory=0.5, model=0.9)
    assert moved.model is loaded.model
    assert len(loads) == 1
    # a new champion is loaded from its own artifact
    first.status, first.promoted_at = "retired", utcnow()
    await session.flush()
    second = _version(tenant.id, ledger.id, 2, train_model(SMALL[:4]))
    session.add(second)
    await session.flush()
    promoted = await cache.get(session, tenant.id, ledger.id)
    assert promoted.model_version == "2"
    assert promoted.model is not loaded.model
    assert loads == [first.artifact, second.artifact]


async def test_concurrent_lines_of_a_ledger_teach_its_memory_each_label_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Two lines of one ledger proposed at once (two bank accounts): the second reads the
    labels after what the first taught, not the same labels again."""
    facts = {
        "description": "ACME supplies",
        "counterparty_name": "ACME",
        "amount": -100,
        "currency": "USD",
        "booking_date": "2026-03-01",
        "bank_account_id": "b",
    }
    labels = [(uuid.UUID(int=n), facts, "6000") for n in (1, 2, 3)]

    async def stamp(
        _session: object, _ledger_id: uuid.UUID, after: uuid.UUID | None
    ) -> tuple[tuple[Any, ...], service.Labels]:
        await asyncio.sleep(0)  # the other line runs meanwhile
        return ("v1",), [label for label in labels if after is None or label[0] > after]

    taught: list[str] = []
    add = CounterpartyMemory.add

    def counted(memory: CounterpartyMemory, label: MemoryLabel) -> None:
        taught.append(label.account)
        add(memory, label)

    monkeypatch.setattr(service, "_stamp", stamp)
    monkeypatch.setattr(service, "_load_state", _loader([]))
    monkeypatch.setattr(CounterpartyMemory, "add", counted)
    cache, tenant, ledger = service.StateCache(), uuid.uuid4(), uuid.uuid4()
    first, second = await asyncio.gather(
        cache.get(None, tenant, ledger),  # type: ignore[arg-type]
        cache.get(None, tenant, ledger),  # type: ignore[arg-type]
    )
    assert first is second
    assert len(taught) == 3
    assert first.last_label_id == uuid.UUID(int=3)
