"""The vocabulary of double entry: the five account types and the two sides of a posting."""

from enum import StrEnum


class Direction(StrEnum):
    DEBIT = "debit"
    CREDIT = "credit"


class AccountType(StrEnum):
    ASSET = "asset"
    LIABILITY = "liability"
    EQUITY = "equity"
    REVENUE = "revenue"
    EXPENSE = "expense"

    @property
    def normal_side(self) -> Direction:
        """The side that increases an account of this type.

        Assets = Liabilities + Equity + (Revenue - Expenses): the left-hand terms grow by
        debits, the right-hand ones by credits. A contra account (accumulated depreciation,
        refunds) keeps its type and so carries a balance against its normal side.
        """
        if self in (AccountType.ASSET, AccountType.EXPENSE):
            return Direction.DEBIT
        return Direction.CREDIT
