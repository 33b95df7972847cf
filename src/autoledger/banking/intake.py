"""Taking a file in: size limits, archives, hostile content, and the format from the bytes.

Everything here runs before a parser sees the file, on a local temporary copy, and refuses
with one clear :class:`StatementError`:

- a file larger than the limit (also while decompressing: declared sizes in archives lie);
- a gzip or zip archive is opened (banks send zipped CAMT files) if it holds exactly one
  file, expands at most ``MAX_RATIO`` times, stays under the limit and is not itself an
  archive (zip bombs, nested bombs);
- XML with a document type declaration (external entities, billion laughs) is refused here
  for every XML format, whatever the parser would do;
- the format is read from the content, never from the file name.
"""

import gzip
import re
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from autoledger.banking.statement import Format, StatementError

MAX_RATIO = 100  # a real statement compresses 5-20x; a bomb compresses thousands of times
SNIFF_BYTES = 64 * 1024

_ZIP = b"PK\x03\x04"
_ZIP_METHODS = {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA}
_GZIP = b"\x1f\x8b"
_MT940_TAGS = re.compile(r"^:(?:20|25|28C?|60[FM]|61|62[FM]|34F|13D?):", re.MULTILINE)
_XML_DECL = re.compile(r"<!(?:DOCTYPE|ENTITY)", re.IGNORECASE)
_FOREIGN = {
    b"%PDF": "a PDF document (export the statement as CSV, OFX, CAMT.053 or MT940)",
    b"\x89PNG": "a PNG image",
    b"\xff\xd8\xff": "a JPEG image",
    b"\xd0\xcf\x11\xe0": "an old Excel/Word document (export the statement as CSV)",
    b"Rar!": "a RAR archive (only gzip and zip are opened)",
    b"7z\xbc\xaf": "a 7-Zip archive (only gzip and zip are opened)",
}


class FileTooLarge(StatementError):
    code = "banking.file_too_large"
    status = 413
    title = "Statement file too large"


@dataclass(frozen=True, slots=True)
class Intake:
    path: Path  # the statement itself (decompressed when the upload was an archive)
    format: Format
    size_bytes: int
    compressed: bool


def take_in(upload: Path, *, workdir: Path, max_bytes: int) -> Intake:
    """Check ``upload`` and tell its format; an archive is expanded into ``workdir``."""
    size = upload.stat().st_size
    if size > max_bytes:
        raise FileTooLarge(f"the file is {size} bytes; the limit is {max_bytes}")
    if size == 0:
        raise StatementError("the file is empty")
    head = _head(upload)
    compressed = head.startswith((_ZIP, _GZIP))
    path = upload
    if head.startswith(_ZIP):
        path = _unzip(upload, workdir / "expanded", max_bytes, size)
    elif head.startswith(_GZIP):
        path = _gunzip(upload, workdir / "expanded", max_bytes, size)
    if compressed:
        head = _head(path)
        if head.startswith((_ZIP, _GZIP)):
            raise StatementError("an archive inside an archive is refused")
        if not head:
            raise StatementError("the archive holds an empty file")
    return Intake(path, detect_format(head), path.stat().st_size, compressed)


def detect_format(head: bytes) -> Format:
    """The statement format of a file from its first bytes (up to :data:`SNIFF_BYTES`)."""
    for magic, what in _FOREIGN.items():
        if head.startswith(magic):
            raise StatementError(f"not a bank statement: the file is {what}")
    text = _text(head)
    stripped = text.lstrip("\ufeff \t\r\n\x00")
    upper = stripped[:4096].upper()
    if upper.startswith("OFXHEADER") or "<OFX>" in upper or "<?OFX" in upper:
        if _XML_DECL.search(stripped):
            raise StatementError("XML with a DOCTYPE or ENTITY declaration is refused")
        return Format.OFX
    if stripped.startswith("<"):
        if _XML_DECL.search(stripped):
            raise StatementError("XML with a DOCTYPE or ENTITY declaration is refused")
        if "camt.05" in stripped or "BkToCstmr" in stripped:
            return Format.CAMT053
        raise StatementError("an XML document that is neither a CAMT.053 statement nor OFX")
    if stripped.startswith("{1:") or len(_MT940_TAGS.findall(stripped)) >= 3:
        return Format.MT940
    if "\x00" in text.replace("\x00\x00", ""):
        raise StatementError("not a bank statement: the file is binary")
    return Format.CSV


def _head(path: Path) -> bytes:
    with path.open("rb") as stream:
        return stream.read(SNIFF_BYTES)


def _text(head: bytes) -> str:
    """Enough of a decoding to look for markers: UTF-16 by its BOM or its NUL pattern."""
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return head.decode("utf-16", errors="replace")
    sample = head[:1024]
    if sample and sample.count(0) * 3 > len(sample):
        even_nuls = sample[0::2].count(0)
        return head.decode(
            "utf-16-be" if even_nuls > sample[1::2].count(0) else "utf-16-le", errors="replace"
        )
    return head.decode("latin-1")


class _Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


def _write_capped(read: _Readable, target: Path, limit: int) -> int:
    written = 0
    with target.open("wb") as out:
        while chunk := read.read(1 << 20):
            written += len(chunk)
            if written > limit:
                raise FileTooLarge(
                    f"the archive expands beyond {limit} bytes (refused as a possible zip bomb)"
                )
            out.write(chunk)
    return written


def _limit(max_bytes: int, compressed_size: int) -> int:
    return min(max_bytes, max(compressed_size, 1) * MAX_RATIO)


def _unzip(upload: Path, target: Path, max_bytes: int, size: int) -> Path:
    try:
        with zipfile.ZipFile(upload) as archive:
            members = [m for m in archive.infolist() if not m.is_dir()]
            if len(members) != 1:
                raise StatementError(
                    f"a zip must hold exactly one statement file; this one holds {len(members)}"
                )
            member = members[0]
            if member.flag_bits & 0x1:
                raise StatementError("encrypted zip files are refused")
            if member.compress_type not in _ZIP_METHODS:
                raise StatementError(
                    f"the zip uses compression method {member.compress_type}; only stored,"
                    " deflate, bzip2 and LZMA are opened"
                )
            limit = _limit(max_bytes, size)
            if member.file_size > limit:
                raise FileTooLarge(
                    f"the zip declares {member.file_size} bytes uncompressed; the limit is {limit}"
                )
            with archive.open(member) as read:
                _write_capped(read, target, limit)
    except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
        raise StatementError(f"the zip file is damaged: {exc}") from None
    return target


def _gunzip(upload: Path, target: Path, max_bytes: int, size: int) -> Path:
    try:
        with gzip.open(upload, "rb") as read:
            _write_capped(read, target, _limit(max_bytes, size))
    except (OSError, EOFError, zlib.error) as exc:
        raise StatementError(f"the gzip file is damaged: {exc}") from None
    return target
