"""The checks before a parser runs (size, archives, hostile XML, format from content) and the
de-duplication key. Pure: files in a temporary directory, no database."""

import gzip
import io
import zipfile
from datetime import date
from pathlib import Path

import pytest

from autoledger.banking.dedup import DedupKeys, normalize_description, usable_reference
from autoledger.banking.intake import FileTooLarge, detect_format, take_in
from autoledger.banking.statement import BankTransaction, Format, StatementError, to_minor

FIXTURES = Path(__file__).parent.parent / "fixtures" / "statements"


def line(
    description: str = "Coffee", amount: int = -350, day: int = 2, reference: str | None = None
) -> BankTransaction:
    return BankTransaction(
        line_no=1,
        statement_index=0,
        booking_date=date(2026, 1, day),
        amount=amount,
        currency="EUR",
        description=description,
        raw="",
        bank_reference=reference,
    )


class TestDedupKeys:
    def test_identical_lines_of_one_day_stay_distinct_and_a_second_file_agrees(self) -> None:
        first, second = DedupKeys(), DedupKeys()
        a = [first.key(line()), first.key(line())]
        assert a[0] != a[1]
        assert [second.key(line()), second.key(line())] == a
        assert DedupKeys().key(line(day=3)) not in a

    def test_a_description_reexported_with_other_case_spacing_or_accents_is_the_same(
        self,
    ) -> None:
        assert DedupKeys().key(line("Café  Crème, Paris")) == DedupKeys().key(
            line("CAFE CREME PARIS")
        )
        assert normalize_description("  SQ *Blue—Bottle #12 ") == "sq blue bottle 12"

    def test_a_reference_identifies_a_line_whatever_its_text_and_nonref_does_not(
        self,
    ) -> None:
        assert DedupKeys().key(line("a", reference="R1")) == DedupKeys().key(
            line("b", day=5, reference="R1")
        )
        assert DedupKeys().key(line(reference="R1")) != DedupKeys().key(
            line(amount=-351, reference="R1")
        )
        assert usable_reference(" NONREF ") is None
        assert usable_reference("NOTPROVIDED") is None
        assert DedupKeys().key(line(reference="NONREF")) == DedupKeys().key(line())


class TestToMinor:
    @pytest.mark.parametrize(
        ("text", "scale", "minor"),
        [
            ("-1234.5", 2, -123450),
            ("+.50", 2, 50),
            ("12.", 2, 1200),
            ("1.500", 2, 150),
            ("7", 0, 7),
        ],
    )
    def test_exact_amounts(self, text: str, scale: int, minor: int) -> None:
        assert to_minor(text, scale) == minor

    @pytest.mark.parametrize("text", ["1.005", "abc", "", "-", "1e5", "9" * 30])
    def test_refused(self, text: str) -> None:
        with pytest.raises(ValueError, match=r"."):
            to_minor(text, 2)


class TestDetectFormat:
    @pytest.mark.parametrize(
        ("path", "expected"),
        [
            ("actualbudget/camt.053.xml", Format.CAMT053),
            ("actualbudget/html-vals.qfx", Format.OFX),
            ("actualbudget/data.sta", Format.MT940),
            ("mt940-wolph/sberbank/171011_01234945.sta", Format.MT940),
            ("ofxparse/anzcc.ofx", Format.OFX),
        ],
    )
    def test_real_files_by_content(self, path: str, expected: Format) -> None:
        assert detect_format((FIXTURES / path).read_bytes()[:65536]) is expected

    def test_a_csv_in_utf16_is_csv(self) -> None:
        assert detect_format("Date;Amount\n2026-01-02;1,00\n".encode("utf-16")) is Format.CSV

    @pytest.mark.parametrize(
        ("content", "reason"),
        [
            (b"%PDF-1.4 ...", "PDF"),
            (b"\x89PNG\r\n", "PNG"),
            (b"<?xml version='1.0'?><!DOCTYPE x SYSTEM 'http://evil/x.dtd'><x/>", "DOCTYPE"),
            (b"<?xml version='1.0'?><invoice/>", "neither a CAMT.053"),
            (b"\x00\x01\x02\x03binary\x00\x05\x06", "binary"),
        ],
    )
    def test_refused_with_the_reason(self, content: bytes, reason: str) -> None:
        with pytest.raises(StatementError, match=reason):
            detect_format(content)


class TestTakeIn:
    def test_a_file_over_the_limit_is_refused_by_size(self, tmp_path: Path) -> None:
        upload = tmp_path / "big"
        upload.write_bytes(b"x" * 2048)
        with pytest.raises(FileTooLarge, match="limit is 1024"):
            take_in(upload, workdir=tmp_path, max_bytes=1024)

    def test_gzip_and_zip_are_opened(self, tmp_path: Path) -> None:
        statement = (FIXTURES / "actualbudget/data.sta").read_bytes()
        gz = tmp_path / "a.gz"
        gz.write_bytes(gzip.compress(statement))
        taken = take_in(gz, workdir=tmp_path, max_bytes=1 << 20)
        assert (taken.format, taken.compressed) == (Format.MT940, True)
        assert taken.path.read_bytes() == statement
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("x.sta", statement)
        (tmp_path / "z").mkdir()
        zipped = tmp_path / "z" / "a.zip"
        zipped.write_bytes(buffer.getvalue())
        assert take_in(zipped, workdir=tmp_path / "z", max_bytes=1 << 20).format is Format.MT940

    def test_a_bomb_a_nested_archive_and_a_damaged_one_are_refused(self, tmp_path: Path) -> None:
        bomb = tmp_path / "bomb.gz"
        bomb.write_bytes(gzip.compress(b"\x00" * 20_000_000))
        with pytest.raises(FileTooLarge, match="zip bomb"):
            take_in(bomb, workdir=tmp_path, max_bytes=100 << 20)
        nested = tmp_path / "nested.gz"
        nested.write_bytes(gzip.compress(gzip.compress(b"Date,Amount\n")))
        (tmp_path / "n").mkdir()
        with pytest.raises(StatementError, match="archive inside an archive"):
            take_in(nested, workdir=tmp_path / "n", max_bytes=1 << 20)
        damaged = tmp_path / "damaged.gz"
        damaged.write_bytes(gzip.compress(b"Date,Amount\n" * 100)[:30])
        (tmp_path / "d").mkdir()
        with pytest.raises(StatementError, match="damaged"):
            take_in(damaged, workdir=tmp_path / "d", max_bytes=1 << 20)


def test_a_client_given_file_name_cannot_break_the_download_header() -> None:
    from autoledger.banking.api import content_disposition

    assert (
        content_disposition("jan.csv")
        == "attachment; filename=\"jan.csv\"; filename*=utf-8''jan.csv"
    )
    header = content_disposition('Kontoauszug "März"\r\nX-Evil: 1.csv')
    assert "\r" not in header
    assert "\n" not in header
    assert header.startswith('attachment; filename="Kontoauszug Mrz')
    assert "filename*=utf-8''Kontoauszug%20%22M%C3%A4rz%22%0D%0AX-Evil%3A%201.csv" in header
