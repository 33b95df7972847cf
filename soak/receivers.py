"""Webhook receivers: tiny HTTP/1.1 servers on 127.0.0.1 that verify each message's
Standard Webhooks signature and remember every ``webhook-id`` they accepted.

A receiver's ``mode`` is the fault knob: ``ok`` answers 204, ``error`` answers 500,
``timeout`` holds the request longer than the service's send timeout and then drops it.
"""

import asyncio
import contextlib
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Literal

from autoledger.platform.webhooks import signing

Mode = Literal["ok", "error", "timeout"]
MAX_BODY = 1_000_000


@dataclass
class Receiver:
    name: str
    mode: Mode = "ok"
    hold_seconds: float = 5.0  # > AUTOLEDGER_WEBHOOK_TIMEOUT_SECONDS of the cluster
    secret: str = ""
    port: int = 0
    accepted: Counter[str] = field(default_factory=Counter)  # webhook-id -> times accepted
    refused: int = 0  # answered 500 or timed out on purpose
    bad_signatures: int = 0
    accepted_at: list[float] = field(default_factory=list)  # monotonic, per acceptance
    _server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/{self.name}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 5)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while await self._one(reader, writer):
                pass
        except (asyncio.IncompleteReadError, ConnectionError, ValueError):
            pass
        finally:
            writer.transport.abort()

    async def _one(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        """Serve one request; False when the connection should close."""
        request_line = await reader.readline()
        if not request_line:
            return False
        headers: dict[str, str] = {}
        while (line := await reader.readline()) not in (b"\r\n", b"\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0"))
        if length > MAX_BODY:
            raise ValueError("body too large")
        body = await reader.readexactly(length)
        mode = self.mode
        if mode == "timeout":
            self.refused += 1
            await asyncio.sleep(self.hold_seconds)
            return False
        if mode == "error":
            self.refused += 1
            status = "500 Internal Server Error"
        else:
            try:
                signing.verify(
                    self.secret,
                    headers.get("webhook-id", ""),
                    headers.get("webhook-timestamp", ""),
                    body,
                    headers.get("webhook-signature", ""),
                )
            except signing.InvalidSignature:
                self.bad_signatures += 1
                status = "401 Unauthorized"
            else:
                self.accepted[headers["webhook-id"]] += 1
                self.accepted_at.append(time.monotonic())
                status = "204 No Content"
        writer.write(f"HTTP/1.1 {status}\r\ncontent-length: 0\r\n\r\n".encode())
        await writer.drain()
        return headers.get("connection", "").lower() != "close"
