"""The per-process ledger state cache: rebuilt when its stamp changes, memory carried over."""

import uuid
from typing import Any

import pytest

from autoledger.categorize import service
from autoledger.categorize.learning import Thresholds
from autoledger.categorize.memory import CounterpartyMemory
from autoledger.categorize.schemas import SettingsIn


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


async def test_a_new_champion_rebuilds_the_state_but_keeps_the_memory(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stamps = iter([("v1",), ("v1",), ("v2",)])
    loads: list[tuple[Any, ...]] = []
    read_after: list[uuid.UUID | None] = []

    async def stamp(_session: object, _ledger_id: uuid.UUID) -> tuple[Any, ...]:
        return next(stamps)

    async def load(
        _session: object, _tenant: uuid.UUID, ledger_id: uuid.UUID, at: tuple[Any, ...]
    ) -> service.LedgerState:
        loads.append(at)
        return _state(ledger_id, at)

    async def catch_up(_session: object, state: service.LedgerState) -> None:
        read_after.append(state.last_label_id)  # what the labels query would start after
        state.last_label_id = uuid.uuid4()

    monkeypatch.setattr(service, "_stamp", stamp)
    monkeypatch.setattr(service, "_load_state", load)
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
