"""Year-end closing entries (ADR 0018). Pure: balances in, legs out.

A closing entry takes every revenue and expense account's movement of the fiscal year to
zero and books the sum into retained earnings, per asset: debit-positive nets ``n`` become
a credit of ``n`` (a debit of ``-n``) on each account, and retained earnings takes ``Σ n``
the other way round. Each asset's legs balance by construction, so the entry does.
"""

import uuid
from collections.abc import Collection, Mapping
from dataclasses import dataclass

from autoledger.ledger.types import Direction


@dataclass(frozen=True, slots=True)
class Leg:
    account_id: uuid.UUID
    direction: Direction
    amount: int  # minor units, > 0
    asset: str


def closing_legs(
    nets: Mapping[str, Mapping[uuid.UUID, int]],
    profit_and_loss: Collection[uuid.UUID],
    retained_earnings: uuid.UUID,
) -> list[Leg]:
    """The legs that close ``profit_and_loss`` accounts' ``nets`` (asset → account → Σ
    debits - Σ credits) into ``retained_earnings``; empty when every net is zero."""
    legs: list[Leg] = []
    for asset in sorted(nets):
        closed = sorted(
            (account, net)
            for account, net in nets[asset].items()
            if account in profit_and_loss and net
        )
        for account, net in closed:
            side = Direction.CREDIT if net > 0 else Direction.DEBIT
            legs.append(Leg(account, side, abs(net), asset))
        total = sum(net for _, net in closed)
        if total:
            side = Direction.DEBIT if total > 0 else Direction.CREDIT
            legs.append(Leg(retained_earnings, side, abs(total), asset))
    return legs
