"""Load shedding on outbox lag: writes get 503 + Retry-After while the bus is too far behind,
reads keep working, and writes come back by themselves once the relay catches up."""

import uuid

import httpx
from asgi_lifespan import LifespanManager

from autoledger.api.app import create_app
from autoledger.platform.auth.roles import Role
from autoledger.platform.events import outbox
from autoledger.platform.events.inprocess import InProcessBus
from autoledger.platform.events.relay import Relay
from tests.conftest import make_tenant
from tests.platform.events.conftest import OwnDatabase
from tests.platform.events.support import ping_event


async def test_writes_are_shed_while_the_outbox_lags_and_recover(own_db: OwnDatabase) -> None:
    settings = own_db.settings.model_copy(update={"outbox_max_lag": 5, "embedded_worker": False})
    tenant = await make_tenant(own_db.sessionmaker)
    async with own_db.sessionmaker() as session:
        await outbox.append(session, [ping_event(uuid.uuid4(), "k", n) for n in range(10)])
        await session.commit()
    app = create_app(settings)
    async with (
        LifespanManager(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://testserver"
        ) as http,
    ):
        shedder = app.state.shedder
        await shedder.sample()
        body = {"name": "Books", "base_currency": "USD"}
        refused = await http.post("/v1/ledgers", json=body, headers=tenant.headers())
        assert refused.status_code == 503
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert int(refused.headers["Retry-After"]) >= 1
        assert refused.json()["code"] == "service.events_backlogged"
        assert (await http.get("/v1/ledgers", headers=tenant.headers())).status_code == 200
        metrics = (await http.get("/metrics")).text
        assert "autoledger_outbox_unsent_events 10.0" in metrics
        assert "autoledger_write_shedding 1.0" in metrics

        relay = Relay(own_db.sessionmaker, InProcessBus())
        while await relay.run_once():
            pass
        await shedder.sample()
        accepted = await http.post("/v1/ledgers", json=body, headers=tenant.headers(Role.ADMIN))
        assert accepted.status_code == 201, accepted.text
        assert "autoledger_write_shedding 0.0" in (await http.get("/metrics")).text
