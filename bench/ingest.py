"""Statement ingestion throughput on PostgreSQL (``make bench-ingest``).

A 100,000-line CSV and a 100,000-entry CAMT.053 are generated, then each is uploaded to the
API (in-process ASGI app on a throw-away PostgreSQL database, request path as the RLS role),
queued to the import worker and imported into a bank account: parse, de-duplicate, encrypt
counterparty accounts, insert the lines and queue one ``banking.transaction.imported.v1``
event per line (one outbox bundle per 5,000-line chunk, ADR 0020), all in one transaction.
Timed from the upload to the completed import. No relay runs in the process
(``embedded_worker=False``, as when workers are separate processes; the event backbone has
its own benchmark), so the outbox keeps every event and the load shedder's limit is raised
for the run. Then a relay publishes all of them to a fresh NATS JetStream stream (timed
apart: ``relay_to_nats``), expanding the bundles from the committed lines. Memory: the
process's peak RSS after a 10,000-line import and after the 100,000-line one (flat when the
pipeline streams). Targets: CSV >= 20,000 lines/s, CAMT >= 10,000 lines/s. Progress on
stderr; the last stdout line is one JSON object.
"""

import argparse
import asyncio
import json
import random
import resource
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
from asgi_lifespan import LifespanManager

from autoledger.api.app import create_app
from autoledger.db.engine import create_engine, create_sessionmaker
from autoledger.db.migrate import upgrade
from autoledger.kit.settings import Settings
from autoledger.platform.auth import service as auth
from autoledger.platform.auth.roles import Role
from autoledger.platform.crypto.keyring import Keyring, install_keyring
from autoledger.platform.events import outbox
from autoledger.platform.events.relay import Relay
from bench.common import machine_info, say, throwaway_database
from bench.events import bus_settings, connected

CSV_TARGET = 20_000.0
CAMT_TARGET = 10_000.0
WORDS = ["AMAZON MKTPL", "SQ *BLUE BOTTLE", "PAYPAL *GITHUB", "UBER TRIP", "ACME GMBH",
         "STADTWERKE", "SEPA LASTSCHRIFT", "GEHALT", "MIETE", "TELEKOM", "ADOBE", "AWS EMEA"]  # fmt: skip


def log(message: str) -> None:
    say("bench.ingest", message)


def csv_file(path: Path, lines: int, seed: int) -> None:
    """A signed-amount CSV with a running balance, oldest first."""
    rng = random.Random(seed)
    balance = 1_000_000_00
    day = date(2024, 1, 1)
    with path.open("w", encoding="utf-8") as out:
        out.write("Booking date,Value date,Description,Counterparty,IBAN,Amount,Balance\n")
        for i in range(lines):
            if i % 150 == 0:
                day += timedelta(days=1)
            amount = rng.randint(-50_000, 60_000) or 1
            balance += amount
            word = rng.choice(WORDS)
            out.write(
                f"{day.isoformat()},{day.isoformat()},{word} ref {i:07d},{word.title()},"
                f"DE{rng.randint(10**19, 10**20 - 1)},{amount / 100:.2f},{balance / 100:.2f}\n"
            )


def camt_file(path: Path, lines: int, seed: int, iban: str) -> None:
    """One CAMT.053.001.02 statement with ``lines`` booked entries and its balances."""
    rng = random.Random(seed)
    amounts = [rng.randint(-50_000, 60_000) or 1 for _ in range(lines)]
    opening = 1_000_000_00
    closing = opening + sum(amounts)

    def bal(code: str, value: int, day: str) -> str:
        indicator = "CRDT" if value >= 0 else "DBIT"
        return (
            f"<Bal><Tp><CdOrPrtry><Cd>{code}</Cd></CdOrPrtry></Tp>"
            f'<Amt Ccy="EUR">{abs(value) / 100:.2f}</Amt><CdtDbtInd>{indicator}</CdtDbtInd>'
            f"<Dt><Dt>{day}</Dt></Dt></Bal>"
        )

    with path.open("w", encoding="utf-8") as out:
        out.write(
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            '<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"><BkToCstmrStmt>'
            "<GrpHdr><MsgId>BENCH</MsgId><CreDtTm>2024-12-31T00:00:00</CreDtTm></GrpHdr>"
            f"<Stmt><Id>S1</Id><CreDtTm>2024-12-31T00:00:00</CreDtTm><Acct><Id><IBAN>{iban}</IBAN>"
            "</Id><Ccy>EUR</Ccy></Acct>"
            + bal("OPBD", opening, "2024-01-01")
            + bal("CLBD", closing, "2024-12-31")
            + "\n"
        )
        day = date(2024, 1, 1)
        for i, amount in enumerate(amounts):
            if i % 300 == 0:
                day += timedelta(days=1)
            indicator = "CRDT" if amount >= 0 else "DBIT"
            party = "Dbtr" if amount >= 0 else "Cdtr"
            word = rng.choice(WORDS)
            out.write(
                f'<Ntry><Amt Ccy="EUR">{abs(amount) / 100:.2f}</Amt><CdtDbtInd>{indicator}</CdtDbtInd>'
                f"<Sts>BOOK</Sts><BookgDt><Dt>{day}</Dt></BookgDt><ValDt><Dt>{day}</Dt></ValDt>"
                f"<AcctSvcrRef>REF{i:09d}</AcctSvcrRef><BkTxCd><Domn><Cd>PMNT</Cd><Fmly><Cd>RCDT</Cd>"
                "<SubFmlyCd>ESCT</SubFmlyCd></Fmly></Domn></BkTxCd><NtryDtls><TxDtls><Refs>"
                f"<EndToEndId>E2E{i:09d}</EndToEndId></Refs><RltdPties><{party}><Nm>{word}</Nm>"
                f"</{party}><{party}Acct><Id><IBAN>DE{rng.randint(10**19, 10**20 - 1)}</IBAN></Id>"
                f"</{party}Acct></RltdPties><RmtInf><Ustrd>{word} invoice {i}</Ustrd></RmtInf>"
                "</TxDtls></NtryDtls></Ntry>\n"
            )
        out.write("</Stmt></BkToCstmrStmt></Document>\n")


def peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


async def run_import(
    client: httpx.AsyncClient, headers: dict[str, str], account: str, path: Path
) -> tuple[float, dict[str, Any]]:
    started = time.perf_counter()
    with path.open("rb") as stream:
        response = await client.post(
            f"/v1/bank-accounts/{account}/imports",
            files={"file": (path.name, stream, "application/octet-stream")},
            headers=headers,
        )
    assert response.status_code in (201, 202), response.text
    body: dict[str, Any] = response.json()
    while body["status"] in ("queued", "processing"):
        await asyncio.sleep(0.2)
        body = (await client.get(f"/v1/imports/{body['id']}", headers=headers)).json()
    elapsed = time.perf_counter() - started
    assert body["status"] == "completed", body
    return elapsed, body


async def relay_to_nats(url: str) -> dict[str, Any]:
    """Publish everything the imports queued (their line events are outbox bundles, expanded
    by the relay from the committed lines: ADR 0020) to a fresh JetStream stream."""
    engine = create_engine(Settings(database_url=url))
    try:
        sm = create_sessionmaker(engine)
        async with sm() as session:
            queued = (await outbox.lag(session)).unsent
        settings = bus_settings("nats", url)
        async with connected(settings) as bus:
            relay = Relay(sm, bus, batch_size=settings.relay_batch_size)
            log(f"relaying {queued} events to NATS")
            started = time.perf_counter()
            while await relay.run_once():
                pass
            seconds = time.perf_counter() - started
        async with sm() as session:
            left = (await outbox.lag(session)).unsent
    finally:
        await engine.dispose()
    if relay.published != queued or left:
        raise RuntimeError(f"relayed {relay.published} of {queued} events, {left} left")
    return {"events": queued, "seconds": round(seconds, 2), "events_per_s": round(queued / seconds)}


async def main(args: argparse.Namespace) -> dict[str, Any]:
    async with throwaway_database("autoledger_bench_ingest") as (url, version):
        with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp:
            root = Path(tmp)
            settings = Settings(
                database_url=url, data_dir=root / "data", log_level="warning",
                import_inline_max_bytes=0, request_timeout_seconds=600, embedded_worker=False,
                outbox_max_lag=10_000_000,
            )  # fmt: skip
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
            headers = {"Authorization": f"Bearer {key}"}
            log(f"generating {args.lines} CSV lines and {args.lines} CAMT entries")
            warm, big_csv, big_camt = root / "warm.csv", root / "big.csv", root / "big.xml"
            csv_file(warm, args.lines // 10, 1)
            csv_file(big_csv, args.lines, 2)
            iban = "DE02120300000000202051"
            camt_file(big_camt, args.lines, 3, iban)
            sizes = {"csv": big_csv.stat().st_size, "camt053": big_camt.stat().st_size}
            app = create_app(settings)
            async with LifespanManager(app):
                transport = httpx.ASGITransport(app=app)
                async with httpx.AsyncClient(
                    transport=transport, base_url="http://bench", timeout=600
                ) as client:
                    ledger = await client.post(
                        "/v1/ledgers",
                        json={"name": "Bench", "base_currency": "EUR", "chart_template": "small_business"},
                        headers=headers,
                    )  # fmt: skip
                    accounts = []
                    for number, gl in ((None, "1110"), (iban, "1120")):
                        created = await client.post(
                            "/v1/bank-accounts",
                            json={"ledger_id": ledger.json()["id"], "gl_account": gl,
                                  "name": gl, "currency": "EUR", "account_number": number},
                            headers=headers,
                        )  # fmt: skip
                        accounts.append(created.json()["id"])
                    log("warm-up: a 10% CSV")
                    await run_import(client, headers, accounts[0], warm)
                    rss_small = peak_rss_mb()
                    log("CSV")
                    csv_seconds, csv_body = await run_import(client, headers, accounts[0], big_csv)
                    rss_csv = peak_rss_mb()
                    log("CAMT.053")
                    camt_seconds, camt_body = await run_import(
                        client, headers, accounts[1], big_camt
                    )
                    rss_camt = peak_rss_mb()
            relayed = await relay_to_nats(url)
    csv_rate = csv_body["counts"]["new"] / csv_seconds
    camt_rate = camt_body["counts"]["new"] / camt_seconds
    return {
        "bench": "ingest",
        "machine": machine_info(version),
        "lines": args.lines,
        "csv": {
            "bytes": sizes["csv"],
            "seconds": round(csv_seconds, 2),
            "lines_per_s": round(csv_rate),
            "new": csv_body["counts"]["new"],
            "target_lines_per_s": CSV_TARGET,
            "meets_target": csv_rate >= CSV_TARGET,
        },
        "camt053": {
            "bytes": sizes["camt053"],
            "seconds": round(camt_seconds, 2),
            "lines_per_s": round(camt_rate),
            "new": camt_body["counts"]["new"],
            "balanced": camt_body["statements"][0]["balanced"],
            "target_lines_per_s": CAMT_TARGET,
            "meets_target": camt_rate >= CAMT_TARGET,
        },
        "relay_to_nats": relayed,
        "peak_rss_mb": {
            "after_10pct_csv": rss_small,
            "after_full_csv": rss_csv,
            "after_full_camt": rss_camt,
        },
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lines", type=int, default=100_000)
    result = asyncio.run(main(parser.parse_args()))
    print(json.dumps(result))
