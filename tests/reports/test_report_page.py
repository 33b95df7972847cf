"""The printable report page in a real browser: ``autoledger serve`` runs as a process, a
small forwarding server started here adds the API key (a browser cannot send a bearer
token from the command line), and headless Chromium renders the balance sheet. The
rendered DOM is checked for its structure — title, header row, one row per account with the
API's amounts, totals, print CSS — and the screenshot for being a real picture of that
structure: a PNG of the window's size, not blank, with a band of ink for every table row.

Needs Debian's ``chromium``; without it the test skips, or fails under
AUTOLEDGER_REQUIRE_SERVICES=1 (``.ci/run`` installs it)."""

import shutil
import struct
import subprocess
import threading
import zlib
from collections.abc import Iterator
from datetime import date
from html.parser import HTMLParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from autoledger.client.sdk import ReportQuery
from autoledger.ledger import schemas
from autoledger.ledger.types import Direction
from tests.cli.test_ledger_cli import Server, ledger_id, server
from tests.conftest import service_unavailable

__all__ = ["ledger_id", "server"]  # module-scoped fixtures shared with the ledger CLI tests

WIDTH, HEIGHT = 1200, 1100
BROWSER_SECONDS = 90


def chromium() -> str:
    found = shutil.which("chromium")
    if found is None:
        service_unavailable("chromium is not installed (apt-get install -y chromium)")
        raise AssertionError  # unreachable: service_unavailable skips or fails
    return found


def browse(browser: str, profile: Path, *args: str) -> str:
    done = subprocess.run(
        [
            browser,
            "--headless",
            "--disable-gpu",
            "--no-sandbox",
            f"--user-data-dir={profile}",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=BROWSER_SECONDS,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


@pytest.fixture
def forwarder(server: Server) -> Iterator[str]:
    """An HTTP server on a free port passing GETs on to ``server`` with its API key."""

    class Forward(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            upstream = httpx.get(
                f"{server.url}{self.path}",
                headers={"Authorization": f"Bearer {server.key}"},
                timeout=30.0,
            )
            self.send_response(upstream.status_code)
            self.send_header("Content-Type", upstream.headers.get("content-type", "text/plain"))
            self.send_header("Content-Length", str(len(upstream.content)))
            self.end_headers()
            self.wfile.write(upstream.content)

        def log_message(self, format: str, *args: object) -> None:  # noqa: ARG002 - quiet
            return

    http = ThreadingHTTPServer(("127.0.0.1", 0), Forward)
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{http.server_address[1]}"
    finally:
        http.shutdown()
        http.server_close()
        thread.join(timeout=10)


class Page(HTMLParser):
    """What the rendered DOM shows: title, header cells, body rows (class, cells), styles."""

    def __init__(self) -> None:
        super().__init__()
        self.title = ""
        self.headers: list[str] = []
        self.rows: list[tuple[str, list[str]]] = []
        self.styles = ""
        self._open: list[str] = []
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._open.append(tag)
        if tag == "tr" and "tbody" in self._open:
            self.rows.append((dict(attrs).get("class") or "", []))
        if tag in ("td", "th", "title", "style"):
            self._text = []

    def handle_data(self, data: str) -> None:
        self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        text = "".join(self._text).strip()
        if tag == "title":
            self.title = text
        elif tag == "style":
            self.styles += text
        elif tag == "th":
            self.headers.append(text)
        elif tag == "td" and self.rows:
            self.rows[-1][1].append(text)
        while self._open and self._open.pop() != tag:
            pass


def png_rows(data: bytes) -> tuple[int, int, list[bytes]]:
    """Width, height and the unfiltered scanlines of an 8-bit RGB or RGBA PNG (stdlib)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, header = 8, b"", b""
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])
        assert zlib.crc32(kind + body) == crc, f"bad CRC in {kind!r}"
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    width, height, depth, color = struct.unpack(">IIBB", header[:10])
    assert depth == 8, depth
    assert color in (2, 6), color  # RGB or RGBA
    pixel = 3 if color == 2 else 4
    raw = zlib.decompress(idat)
    stride = width * pixel
    previous = bytearray(stride)
    rows = []
    for y in range(height):
        kind, line = (
            raw[y * (stride + 1)],
            bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)]),
        )
        for i in range(stride):
            left = line[i - pixel] if i >= pixel else 0
            up = previous[i]
            if kind == 1:
                line[i] = (line[i] + left) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + up) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 0xFF
            elif kind == 4:
                corner = previous[i - pixel] if i >= pixel else 0
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                guess = left if pa <= pb and pa <= pc else up if pb <= pc else corner
                line[i] = (line[i] + guess) & 0xFF
        rows.append(bytes(line[::pixel]))  # the red channel: the page is black on white
        previous = line
    return width, height, rows


def ink_bands(rows: list[bytes]) -> int:
    """Runs of scanlines holding dark pixels (text, rules): one or more per line of text."""
    bands, inside = 0, False
    for row in rows:
        dark = min(row) < 100
        bands += dark and not inside
        inside = dark
    return bands


def test_the_printable_balance_sheet_renders_in_a_browser(
    server: Server, ledger_id: str, forwarder: str, tmp_path: Path
) -> None:
    browser = chromium()
    with server.sdk() as sdk:
        for debit, credit, amount in (("1110", "3100", "5000.00"), ("6100", "1110", "1250.00")):
            sdk.create_entry(
                ledger_id,
                schemas.EntryCreate(
                    postings=[
                        schemas.PostingIn(
                            account=debit, direction=Direction.DEBIT, amount=amount, asset="USD"
                        ),
                        schemas.PostingIn(
                            account=credit, direction=Direction.CREDIT, amount=amount, asset="USD"
                        ),
                    ],
                    effective_date="2026-03-10",  # type: ignore[arg-type]
                ),
            )
        report = sdk.report(ledger_id, "balance-sheet", ReportQuery(as_of=date(2026, 3, 31)))
    url = f"{forwarder}/v1/ledgers/{ledger_id}/reports/balance-sheet?as_of=2026-03-31&format=html"

    page = Page()
    page.feed(browse(browser, tmp_path / "profile", "--dump-dom", url))
    assert page.title == "Balance sheet"
    assert page.headers == ["section", "code", "account", "2026-03-31"]
    assert "@media print" in page.styles
    by_code = {cells[1]: cells for kind, cells in page.rows if kind == "account"}
    expected = [line for s in report.sections for line in s.lines if line.kind == "account"]
    assert len(by_code) == len(expected) == sum(kind == "account" for kind, _ in page.rows)
    for line in expected:
        assert by_code[line.code or ""][2:] == [line.label, *line.amounts]
    assert by_code["1110"][3] == "3750.00"
    assert by_code["3100"][3] == "5000.00"
    items = {cells[2]: cells[3] for kind, cells in page.rows if kind == "item"}
    assert items["Current-year earnings"] == "-1250.00"
    totals = {cells[2]: cells[3] for kind, cells in page.rows if kind == "total"}
    assert totals["Total assets"] == totals["Total liabilities and equity"] == "3750.00"
    assert [cells[2] for kind, cells in page.rows if kind == "heading"] == [
        "Assets",
        "Liabilities",
        "Equity",
    ]

    shot = tmp_path / "balance-sheet.png"
    browse(
        browser,
        tmp_path / "profile",
        f"--screenshot={shot}",
        f"--window-size={WIDTH},{HEIGHT}",
        "--hide-scrollbars",
        url,
    )
    width, height, rows = png_rows(shot.read_bytes())
    assert (width, height) == (WIDTH, HEIGHT)
    values = [v for row in rows for v in row]
    mean = sum(values) / len(values)
    variance = sum((v - mean) ** 2 for v in values) / len(values)
    assert mean > 200, "the page is dark: not the white printable page"
    assert variance > 100, f"the screenshot is blank (variance {variance:.1f})"
    # Title, subtitle, the header row and every table row put ink on their own scanlines.
    assert ink_bands(rows) >= 2 + 1 + len(page.rows)
