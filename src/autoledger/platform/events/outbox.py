"""The transactional outbox: events are rows written in the same transaction as the change.

:func:`append` is all a producer calls. The relay side (:func:`claim`, :func:`expand`,
:func:`mark_sent`, :func:`release`) lives here too, so every query on the table is in one
place.

A bulk producer may queue a **bundle** instead: one row standing for many events that an
expander it registered (:func:`register_expander`) builds from the producer's own committed
rows when the relay publishes it. A statement import of 100,000 lines then writes 20 outbox
rows, not 100,000 (ADR 0020). An expander must build the same events every time it is asked
(same ids, same bodies): a bundle published twice is deduplicated like any event.
"""

import functools
import importlib
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import orjson
from pydantic import TypeAdapter
from sqlalchemy import ColumnElement, Table, and_, delete, func, insert, select, text, update
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncSession

from autoledger.db import sqlite_driver
from autoledger.kit.clock import utcnow
from autoledger.platform.events.envelope import Event
from autoledger.platform.events.tables import OutboxRecord

_T: Table = OutboxRecord.__table__  # type: ignore[assignment]

# A transaction-scoped advisory lock serializes claims on PostgreSQL (they are short), which
# is what keeps per-key order with several relays: see claim().
_CLAIM_LOCK = 0x6175746F6C656467  # "autoledg"


def rows(events: Sequence[Event], *, now: datetime | None = None) -> list[dict[str, object]]:
    at = now or utcnow()
    return [
        {
            "event_id": e.id,
            "dedup_id": str(e.id),
            "tenant_id": e.tenant,
            "type": e.type,
            "ordering_key": e.partitionkey,
            "body": e.to_json(),
            "created_at": at,
            "attempts": 0,
        }
        for e in events
    ]


# PostgreSQL: one INSERT of column arrays, whatever the number of events (a group commit
# appends hundreds); one statement to prepare instead of an executemany of one row each.
_PG_APPEND = text(
    "INSERT INTO event_outbox"
    " (event_id, dedup_id, tenant_id, type, ordering_key, body, created_at, attempts)"
    " SELECT e.*, CAST(:created_at AS timestamptz), 0 FROM unnest("
    "CAST(:event_id AS uuid[]), CAST(:dedup_id AS text[]), CAST(:tenant_id AS uuid[]),"
    " CAST(:type AS text[]), CAST(:ordering_key AS text[]), CAST(:body AS bytea[])) AS e"
)


@functools.cache
def _sqlite_insert(dialect: Dialect, keys: tuple[str, ...]) -> sqlite_driver.Prepared:
    return sqlite_driver.prepare(insert(_T), dialect, keys)


def append_in(statements: sqlite_driver.Statements, events: Sequence[Event]) -> None:
    """:func:`append` on SQLite among other statements of one round trip
    (:func:`autoledger.db.sqlite_driver.run`; the journal sends its events with its rows)."""
    if events:
        queued = rows(events)
        statements.execute(_sqlite_insert(statements.dialect, tuple(queued[0])), queued)


async def append(session: AsyncSession, events: Sequence[Event]) -> None:
    """Add ``events`` to the caller's transaction (set-based; nothing if empty)."""
    if not events:
        return
    if session.bind is not None and session.bind.dialect.name == "postgresql":
        await session.execute(
            _PG_APPEND,
            {
                "created_at": utcnow(),
                "event_id": [e.id for e in events],
                "dedup_id": [str(e.id) for e in events],
                "tenant_id": [e.tenant for e in events],
                "type": [e.type for e in events],
                "ordering_key": [e.partitionkey for e in events],
                "body": [e.to_json() for e in events],
            },
        )
        return
    # SQLite: one round trip to the driver, none of SQLAlchemy's per-statement work
    await sqlite_driver.run(session, functools.partial(append_in, events=events))


def event_body_sql(*, id_sql: str, subject_sql: str, data_sql: str) -> str:
    """PostgreSQL: the CloudEvent JSON (bytea) :meth:`Event.to_json` would give, built by the
    database from SQL expressions for the event id (a uuid), the subject (text) and the
    ``data`` object (json text): the same members in the same order. What every event of a
    batch shares is encoded once, by :func:`announce_params`, and the database only splices
    the per-row members in (a bulk producer's rows are already in the database's hands, so
    building 100,000 bodies there costs the producer nothing)."""
    return (
        f"convert_to(CAST(:event_head AS text) || to_json(CAST({id_sql} AS text))::text"
        f" || CAST(:event_middle AS text) || to_json(CAST({subject_sql} AS text))::text"
        f" || CAST(:event_tail AS text) || CAST({data_sql} AS text) || '}}', 'UTF8')"
    )


def json_object_sql(members: Sequence[tuple[str, str, str]]) -> str:
    """A SQL text expression: the JSON object of ``(name, sql expression, kind)`` members, in
    order, a NULL value as ``null``. Kinds: ``"string"`` (any text, escaped by ``to_json``),
    ``"quoted"`` (text that needs no escaping: a uuid, an ISO date, a decimal), ``"json"``
    (a number or a json/jsonb value, as it is). Concatenation is about twice as fast as
    ``json_build_object`` in PostgreSQL 15, which counts at 100,000 events an import."""
    parts = []
    for index, (name, expression, kind) in enumerate(members):
        if "'" in name:
            raise ValueError(f"member name {name!r} cannot hold a quote")
        if kind == "string":
            value = f"coalesce(to_json(CAST({expression} AS text))::text, 'null')"
        elif kind == "quoted":
            value = f"coalesce('\"' || CAST({expression} AS text) || '\"', 'null')"
        elif kind == "json":
            value = f"coalesce(CAST({expression} AS text), 'null')"
        else:
            raise ValueError(f"unknown kind {kind!r}")
        opening = "{" if index == 0 else ","
        parts.append(f"'{opening}{orjson.dumps(name).decode()}:' || {value}")
    return "(" + " || ".join(parts) + " || '}')"


def announce_params(
    *, source: str, event_type: str, tenant_id: uuid.UUID, partitionkey: str, at: datetime
) -> dict[str, object]:
    """The binds of :func:`event_body_sql`: what every event of the batch shares, the envelope's
    shared members already encoded (between them go the id, the subject and the data)."""

    def members(**values: object) -> str:
        return orjson.dumps(values).decode()[1:-1]

    time = _TIME.dump_python(at, mode="json")
    return {
        "event_head": '{"specversion":"1.0","id":',
        "event_middle": "," + members(source=source, type=event_type) + ',"subject":',
        "event_tail": ","
        + members(
            time=time,
            datacontenttype="application/json",
            tenant=str(tenant_id),
            partitionkey=partitionkey,
        )
        + ',"data":',
        "event_type": event_type,
        "event_tenant": str(tenant_id),
        "event_partitionkey": partitionkey,
        "event_created_at": at,
    }


_TIME: TypeAdapter[datetime] = TypeAdapter(datetime)  # the envelope's own time format


async def append_replay(session: AsyncSession, event: Event, dedup_id: str) -> None:
    """Queue ``event`` again under a new broker dedup id (a dead-letter replay)."""
    row = rows([event])[0]
    row["dedup_id"] = dedup_id
    await session.execute(insert(_T).values(**row))


async def append_bundle(
    session: AsyncSession,
    *,
    expander: str,
    bundle_id: uuid.UUID,
    tenant_id: uuid.UUID,
    type_: str,
    partitionkey: str,
    weight: int,
    body: bytes,
) -> None:
    """Queue, in the caller's transaction, one row standing for ``weight`` events of
    ``type_`` that the expander named ``expander`` builds from ``body`` when the relay
    publishes it. ``bundle_id`` names the row, never an event. (A producer whose rows are
    inserted by one SQL statement may write the same row in that statement instead.)"""
    if weight < 1:
        raise ValueError("a bundle stands for at least one event")
    await session.execute(
        insert(_T).values(
            event_id=bundle_id,
            dedup_id=str(bundle_id),
            tenant_id=tenant_id,
            type=type_,
            ordering_key=partitionkey,
            body=body,
            created_at=utcnow(),
            attempts=0,
            expander=expander,
            weight=weight,
        )
    )


@dataclass(frozen=True, slots=True)
class Claimed:
    seq: int
    dedup_id: str
    type: str
    ordering_key: str
    body: bytes
    expander: str | None = None  # a bundle: ``body`` is what its expander reads
    weight: int = 1  # the number of events the row stands for


# the columns of a Claimed, in its fields' order
_CLAIMED = (
    _T.c.seq,
    _T.c.dedup_id,
    _T.c.type,
    _T.c.ordering_key,
    _T.c.body,
    _T.c.expander,
    _T.c.weight,
)

#: An expander: the ``(dedup id, CloudEvent JSON)`` of each event a bundle stands for, in
#: publishing order, from the bundle's body; it reads the producer's rows through the session.
Expander = Callable[[AsyncSession, bytes], Awaitable[list[tuple[str, bytes]]]]

_EXPANDERS: dict[str, Expander] = {}


def register_expander(name: str, expander: Expander) -> None:
    """Make bundles named ``name`` publishable (a domain module calls this at import)."""
    if _EXPANDERS.get(name, expander) is not expander:
        raise ValueError(f"outbox expander {name!r} is registered twice")
    _EXPANDERS[name] = expander


class UnknownExpander(LookupError):
    pass


class BundleMismatch(RuntimeError):
    """A bundle's expansion gave another number of events than its weight."""


def _expander(name: str) -> Expander:
    if name not in _EXPANDERS:
        # a relay process may not have imported the producing domain yet
        from autoledger.platform.events.catalog import EVENT_MODULES

        for module in EVENT_MODULES:
            importlib.import_module(module)
    try:
        return _EXPANDERS[name]
    except KeyError:
        raise UnknownExpander(f"no outbox expander {name!r} is registered") from None


async def expand(session: AsyncSession, row: Claimed) -> list[tuple[str, bytes]]:
    """The ``(dedup id, body)`` of every event ``row`` stands for (itself, unless a bundle)."""
    if row.expander is None:
        return [(row.dedup_id, row.body)]
    return await _expander(row.expander)(session, row.body)


async def queued(
    session: AsyncSession, *, tenant_id: uuid.UUID | None = None, type_: str | None = None
) -> list[tuple[bytes, bool]]:
    """Every queued event's ``(body, sent)``, in publishing order, bundles expanded: what the
    outbox holds, for tests, checks and tools (not a hot path)."""
    query = select(*_CLAIMED[:-1], _T.c.published_at.is_not(None)).order_by(_T.c.seq)
    if tenant_id is not None:
        query = query.where(_T.c.tenant_id == tenant_id)
    if type_ is not None:
        query = query.where(_T.c.type == type_)
    events: list[tuple[bytes, bool]] = []
    for *row, sent in (await session.execute(query)).all():
        events.extend((body, sent) for _, body in await expand(session, Claimed(*row)))
    return events


async def event_bodies(
    session: AsyncSession, *, tenant_id: uuid.UUID | None = None, type_: str | None = None
) -> list[bytes]:
    """The bodies of :func:`queued`."""
    return [body for body, _ in await queued(session, tenant_id=tenant_id, type_=type_)]


async def claim(
    session: AsyncSession, owner: str, limit: int, lease: float, now: datetime | None = None
) -> list[Claimed]:
    """Lease up to ``limit`` unsent events to ``owner``, oldest first, and commit the lease
    (a bundle counts as the events it stands for; one row is leased whatever it weighs).

    A row is claimable when it is unsent and no unsent row of its ordering key is leased by
    another live relay or waiting out a failed publish: so two relays never publish the same
    key at once, and each key goes out in ``seq`` order (a claim takes a prefix of each key).
    On PostgreSQL the claim takes a transaction advisory lock so that claims run one at a
    time; ``FOR UPDATE SKIP LOCKED`` keeps it from waiting on rows a ``mark_sent`` still
    holds. On SQLite the leasing UPDATE re-checks the candidates itself.
    """
    at = now or utcnow()
    until = at + timedelta(seconds=lease)
    pg = session.bind.dialect.name == "postgresql" if session.bind is not None else False
    if pg:
        await session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _CLAIM_LOCK})
    # Keys another relay holds, or that wait out a failed publish: none of their rows may go
    # out now (a later row would overtake the held one). Few rows are ever leased, and the
    # partial index on unsent rows keeps this small.
    blocked = select(_T.c.ordering_key).where(
        _T.c.published_at.is_(None),
        _T.c.lease_until > at,
        func.coalesce(_T.c.lease_owner, "") != owner,
    )
    candidates = (
        select(_T.c.seq, _T.c.weight)
        .where(
            _T.c.published_at.is_(None),
            # free rows only: rows this relay holds are being published right now
            (_T.c.lease_until.is_(None)) | (_T.c.lease_until <= at),
            _T.c.ordering_key.not_in(blocked.scalar_subquery()),
        )
        .order_by(_T.c.seq)
        .limit(limit)
    )
    if pg:
        candidates = candidates.with_for_update(skip_locked=True)
    # ``limit`` counts events: a bundle weighs what it stands for. The first row is taken
    # whatever it weighs; a prefix in seq order is a prefix of every key.
    chosen: list[int] = []
    events = 0
    for seq, weight in (await session.execute(candidates)).all():
        if chosen and events + weight > limit:
            break
        chosen.append(seq)
        events += weight
    if not chosen:
        await session.commit()
        return []
    claimable: ColumnElement[bool] = _T.c.seq.in_(chosen)
    if not pg:
        # SQLite has no row locks: another relay may have leased some of ``chosen`` since the
        # SELECT, so the UPDATE (one writer at a time) asks again which rows are claimable.
        # Each key's share of the answer is still a prefix of that key.
        claimable &= _T.c.seq.in_(candidates.with_only_columns(_T.c.seq).scalar_subquery())
    result = await session.execute(
        update(_T)
        .where(claimable)
        .values(lease_owner=owner, lease_until=until, attempts=_T.c.attempts + 1)
        .returning(*_CLAIMED)
    )
    claimed = [Claimed(*r) for r in result.all()]
    await session.commit()
    claimed.sort(key=lambda c: c.seq)
    return claimed


async def mark_sent(session: AsyncSession, owner: str, seqs: Sequence[int]) -> None:
    if seqs:
        await session.execute(
            update(_T)
            .where(_T.c.seq.in_(list(seqs)), _T.c.lease_owner == owner)
            .values(published_at=utcnow(), lease_owner=None, lease_until=None, last_error=None)
        )


async def release(
    session: AsyncSession, owner: str, failed: Sequence[tuple[int, str]], *, retry_in: float
) -> None:
    """Give rows back after a failed publish: claimable again after ``retry_in`` seconds."""
    until = utcnow() + timedelta(seconds=retry_in)
    for seq, error in failed:
        await session.execute(
            update(_T)
            .where(_T.c.seq == seq, _T.c.lease_owner == owner)
            .values(lease_owner=None, lease_until=until, last_error=error[:2000])
        )


async def release_all(session: AsyncSession, owner: str) -> int:
    """Drop every lease of ``owner`` (graceful shutdown): another relay may take over now."""
    result = await session.execute(
        update(_T)
        .where(_T.c.lease_owner == owner, _T.c.published_at.is_(None))
        .values(lease_owner=None, lease_until=None)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class Lag:
    unsent: int
    oldest_age_seconds: float


async def lag(session: AsyncSession, now: datetime | None = None) -> Lag:
    result = await session.execute(
        select(func.coalesce(func.sum(_T.c.weight), 0), func.min(_T.c.created_at)).where(
            _T.c.published_at.is_(None)
        )
    )
    count, oldest = result.one()
    if oldest is None:
        return Lag(0, 0.0)
    if oldest.tzinfo is None:  # SQLite aggregates bypass the column type
        oldest = datetime.fromisoformat(str(oldest)).replace(tzinfo=(now or utcnow()).tzinfo)
    return Lag(int(count), max(((now or utcnow()) - oldest).total_seconds(), 0.0))


async def purge_published(session: AsyncSession, older_than: timedelta) -> int:
    result = await session.execute(
        delete(_T).where(
            and_(_T.c.published_at.is_not(None), _T.c.published_at < utcnow() - older_than)
        )
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def requeue_published_since(session: AsyncSession, since: datetime) -> int:
    """Make rows published after ``since`` unsent again (the in-process bus's restart: its
    queues died with the process; consumers' inbox drops what they had applied); how many
    events that is."""
    result = await session.execute(
        update(_T)
        .where(_T.c.published_at.is_not(None), _T.c.published_at >= since)
        .values(published_at=None, lease_owner=None, lease_until=None)
        .returning(_T.c.weight)
    )
    return sum(result.scalars())
