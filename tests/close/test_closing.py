"""Closing legs and checklist items as plain functions: every asset balances, zero nets
book nothing, acknowledgements cover only what may be waived."""

import uuid
from datetime import date

from hypothesis import given
from hypothesis import strategies as st

from autoledger.close.checklist import (
    BankFact,
    CheckItem,
    Checklist,
    Item,
    bank_item,
)
from autoledger.close.closing import closing_legs
from autoledger.ledger.types import Direction

ACCOUNTS = [uuid.UUID(int=i) for i in range(1, 6)]
RETAINED = uuid.UUID(int=99)


@given(
    st.dictionaries(
        st.sampled_from(["EUR", "USD", "JPY"]),
        st.dictionaries(st.sampled_from(ACCOUNTS), st.integers(-(10**12), 10**12)),
    )
)
def test_closing_legs_zero_every_closed_account_and_balance_per_asset(
    nets: dict[str, dict[uuid.UUID, int]],
) -> None:
    closed = set(ACCOUNTS[:4])  # the fifth is a balance-sheet account
    legs = closing_legs(nets, closed, RETAINED)
    after: dict[tuple[str, uuid.UUID], int] = {}
    for asset, per_account in nets.items():
        for account, net in per_account.items():
            after[(asset, account)] = net
    sums: dict[str, int] = {}
    for leg in legs:
        assert leg.amount > 0
        signed = leg.amount if leg.direction is Direction.DEBIT else -leg.amount
        after[(leg.asset, leg.account_id)] = after.get((leg.asset, leg.account_id), 0) + signed
        sums[leg.asset] = sums.get(leg.asset, 0) + signed
        assert leg.account_id in closed | {RETAINED}
    assert all(total == 0 for total in sums.values())
    for (asset, account), net in after.items():
        if account in closed:
            assert net == 0, (asset, account)
        elif account != RETAINED:
            assert net == nets[asset][account]
    retained = sum(v for (_, a), v in after.items() if a == RETAINED)
    moved = sum(net for per in nets.values() for a, net in per.items() if a in closed)
    assert retained == moved


def test_nothing_to_close_books_nothing() -> None:
    assert (
        closing_legs({"EUR": {ACCOUNTS[0]: 0, ACCOUNTS[4]: 5}}, set(ACCOUNTS[:4]), RETAINED) == []
    )


def test_a_net_loss_debits_retained_earnings() -> None:
    legs = closing_legs({"EUR": {ACCOUNTS[0]: -100, ACCOUNTS[1]: 130}}, set(ACCOUNTS), RETAINED)
    assert [(leg.account_id, leg.direction, leg.amount) for leg in legs] == [
        (ACCOUNTS[0], Direction.DEBIT, 100),
        (ACCOUNTS[1], Direction.CREDIT, 130),
        (RETAINED, Direction.DEBIT, 30),
    ]


def test_acknowledgements_cover_only_waivable_failing_items() -> None:
    end = date(2026, 1, 31)
    found = Checklist(
        end,
        (
            CheckItem(Item.BANK_RECONCILIATION, False, "bank"),
            CheckItem(Item.REVIEW_QUEUE, True, "queue"),
            CheckItem(Item.SUSPENSE, False, "suspense"),
            CheckItem(Item.FX_REVALUATION, False, "fx"),
        ),
    )
    assert not found.passed
    assert found.unacknowledged([]) == [
        Item.BANK_RECONCILIATION,
        Item.SUSPENSE,
        Item.FX_REVALUATION,
    ]
    everything = list(Item)
    assert found.unacknowledged(everything) == [Item.SUSPENSE]


def test_a_bank_account_reconciled_through_the_end_or_unused_passes() -> None:
    end = date(2026, 1, 31)
    banks = [
        BankFact("a", "A", "EUR", True, date(2026, 1, 31)),
        BankFact("b", "B", "EUR", False, None),
        BankFact("c", "C", "EUR", True, date(2026, 1, 30)),
    ]
    item = bank_item(end, banks)
    assert not item.passed
    assert [b["bank_account_id"] for b in item.evidence["not_reconciled"]] == ["c"]
    assert bank_item(end, banks[:2]).passed
