"""``autoledger demo load``: what it books for each open item, read back from the files."""

from pathlib import Path

import pytest

from autoledger.demo.export import write_company
from autoledger.demo.loader import DemoDataError, _open_item_entries, _read
from autoledger.demo.simulator import simulate


def _same_currency(code: str, currency: str) -> str:
    return code if currency == "USD" else f"{code}-{currency}"


def test_open_items_carry_their_counterparty_name_for_matching(tmp_path: Path) -> None:
    company = simulate(11, 2)
    write_company(company, tmp_path, formats=["csv"])
    record, items, _ = _read(tmp_path)
    names = {c["id"]: c["name"] for c in record["counterparties"]}
    entries = list(_open_item_entries(items, names, _same_currency))
    assert len(entries) == len(company.open_items)
    parties = {c.id: c.name for c in company.counterparties}
    for entry, item in zip(entries, company.open_items, strict=True):
        assert entry.metadata["counterparty_id"] == item.counterparty_id
        assert entry.metadata["counterparty"] == parties[item.counterparty_id]


def test_an_open_item_of_an_unknown_counterparty_is_refused(tmp_path: Path) -> None:
    write_company(simulate(11, 1), tmp_path, formats=["csv"])
    _, items, _ = _read(tmp_path)
    with pytest.raises(DemoDataError, match="unknown counterparty"):
        list(_open_item_entries(items, {}, _same_currency))
