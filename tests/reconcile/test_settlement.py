"""Settlement entries balance to the minor unit, and explanations say why."""

from datetime import date

import pytest

from autoledger.ledger.types import Direction
from autoledger.reconcile.engine import Allocation, Candidate, Item, Line, WriteOff
from autoledger.reconcile.scoring import FEATURES
from autoledger.reconcile.settlement import (
    DEFAULT_WRITEOFF_ACCOUNTS,
    UnbalancedSettlement,
    explain,
    settlement_legs,
)

DAY = date(2025, 3, 10)


def candidate(
    lines: tuple[str, ...],
    allocations: list[tuple[str, int]],
    writeoffs: list[tuple[str, int]] = (),  # type: ignore[assignment]
    kind: str = "one_to_one",
    **features: float,
) -> Candidate:
    row = tuple(float(features.get(name, 0.0)) for name in FEATURES)
    return Candidate(
        lines,
        tuple(Allocation(i, a) for i, a in allocations),
        tuple(WriteOff(p, a) for p, a in writeoffs),  # type: ignore[arg-type]
        kind,  # type: ignore[arg-type]
        "scored",
        row,
        0.9,
        0.9,
    )


def legs(c: Candidate, amounts: dict[str, int], scale: int = 2) -> list[tuple[str, str, str]]:
    return [
        (str(leg.account), leg.direction.value, leg.amount)
        for leg in settlement_legs(
            c,
            line_amounts=amounts,
            bank_account="1110",
            item_accounts={"INV-1": "1200", "INV-2": "1200", "BILL-1": "2100"},
            writeoff_accounts=DEFAULT_WRITEOFF_ACCOUNTS,
            asset="USD",
            scale=scale,
        )
    ]


def test_money_in_settles_receivables_and_writes_off_the_fee() -> None:
    c = candidate(("L1",), [("INV-1", 600_00), ("INV-2", 400_00)], [("bank_fee", -15_00)])
    assert legs(c, {"L1": 985_00}) == [
        ("1110", Direction.DEBIT.value, "985.00"),
        ("1200", Direction.CREDIT.value, "1000.00"),
        ("6800", Direction.DEBIT.value, "15.00"),
    ]


def test_money_out_settles_a_payable_with_rounding() -> None:
    c = candidate(("L1",), [("BILL-1", -250_00)], [("rounding", 3)])
    assert legs(c, {"L1": -249_97}) == [
        ("1110", Direction.CREDIT.value, "249.97"),
        ("2100", Direction.DEBIT.value, "250.00"),
        ("7200", Direction.CREDIT.value, "0.03"),
    ]


def test_several_lines_settle_one_item() -> None:
    c = candidate(("L1", "L2"), [("INV-1", 500_00)], kind="many_to_one")
    assert legs(c, {"L1": 300_00, "L2": 200_00}) == [
        ("1110", Direction.DEBIT.value, "500.00"),
        ("1200", Direction.CREDIT.value, "500.00"),
    ]


def test_an_unbalanced_match_is_refused() -> None:
    with pytest.raises(UnbalancedSettlement):
        legs(candidate(("L1",), [("INV-1", 500_00)]), {"L1": 499_00})


def test_every_leg_set_balances() -> None:
    c = candidate(("L1",), [("INV-1", 1_000), ("BILL-1", -3)], [("discount", -20)])
    signed = 0
    for leg in settlement_legs(
        c,
        line_amounts={"L1": 977},
        bank_account="1110",
        item_accounts={"INV-1": "1200", "BILL-1": "2100"},
        writeoff_accounts=DEFAULT_WRITEOFF_ACCOUNTS,
        asset="KWD",
        scale=3,
    ):
        minor = int(leg.amount.replace(".", ""))
        signed += minor if leg.direction == Direction.DEBIT else -minor
    assert signed == 0


def test_the_explanation_names_reference_write_off_and_part_payment() -> None:
    line = Line("L1", DAY, 985_00, "USD", "WIRE IN ACME", "ACME TOOLS", "INV-1")
    item = Item("INV-1", 1_000_00, "USD", DAY, reference="INV-1", counterparty="Acme Tools Inc")
    c = candidate(("L1",), [("INV-1", 1_000_00)], [("bank_fee", -15_00)], reference=1.0, name=0.95)
    words = explain(c, lines={"L1": line}, items={"INV-1": item}, scale=2)
    assert words[0] == "the bank line names INV-1"
    assert "15.00 written off as bank fee" in words
    assert any("name similarity 0.95" in w for w in words)
    part = candidate(("L1",), [("INV-1", 400_00)], kind="partial", reference=1.0)
    words = explain(part, lines={"L1": line}, items={"INV-1": item}, scale=2)
    assert "part payment: 600.00 of INV-1 stays open" in words
