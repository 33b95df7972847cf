"""The official ISO 20022 camt.053.001.02 schema (see tests/fixtures/schemas/README.md)."""

from pathlib import Path

from lxml import etree

SCHEMA = etree.XMLSchema(
    etree.parse(str(Path(__file__).parent.parent / "fixtures" / "schemas" / "camt.053.001.02.xsd"))
)


def assert_camt053_valid(data: bytes) -> None:
    assert SCHEMA.validate(etree.fromstring(data)), SCHEMA.error_log.last_error
