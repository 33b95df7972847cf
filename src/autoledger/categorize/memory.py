"""Counterparty memory: a counterparty consistently booked to one account keeps going there.

For each (counterparty key, direction) the memory keeps the last ``window`` labels in time
order. It answers only when the most frequent account among them has at least
``min_support`` labels **and** a share of at least ``min_share``: one correction away from
that account is enough to silence it until the history is consistent again.
"""

import bisect
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from autoledger.categorize.features import LineFacts, counterparty_key

FORMAT = "autoledger.counterparty-memory/1"


@dataclass(frozen=True, slots=True)
class MemoryLabel:
    """One booked line as the memory sees it: who, which way, where it went, when."""

    counterparty_key: str
    direction: str
    account: str
    when: date

    @classmethod
    def of(cls, facts: LineFacts, account: str) -> "MemoryLabel":
        return cls(counterparty_key(facts), facts.direction, account, facts.booking_date)


@dataclass(frozen=True, slots=True)
class MemoryHit:
    account: str
    support: int  # labels for ``account`` in the window
    share: float  # support / labels in the window
    history: int  # labels in the window


class CounterpartyMemory:
    def __init__(
        self,
        labels: Iterable[MemoryLabel] = (),
        *,
        min_support: int = 3,
        min_share: float = 0.95,
        window: int = 20,
    ) -> None:
        if min_support < 1 or window < min_support or not 0.5 < min_share <= 1.0:
            raise ValueError("need 1 <= min_support <= window and 0.5 < min_share <= 1")
        self.min_support = min_support
        self.min_share = min_share
        self.window = window
        # (key, direction) -> [(when, sequence, account)], sorted; sequence keeps same-day
        # labels in arrival order
        self._history: dict[tuple[str, str], list[tuple[date, int, str]]] = {}
        self._sequence = 0
        for label in labels:
            self.add(label)

    def add(self, label: MemoryLabel) -> None:
        """Record a label; a label without a counterparty key is ignored."""
        if not label.counterparty_key:
            return
        history = self._history.setdefault((label.counterparty_key, label.direction), [])
        bisect.insort(history, (label.when, self._sequence, label.account))
        self._sequence += 1
        if len(history) > self.window:
            del history[: len(history) - self.window]

    def lookup(self, facts: LineFacts) -> MemoryHit | None:
        """The account this line's counterparty is consistently booked to, if any."""
        key = counterparty_key(facts)
        if not key:
            return None
        history = self._history.get((key, facts.direction))
        if not history:
            return None
        counts = Counter(account for _, _, account in history)
        # ties go to the lexically smallest account, so that the answer is deterministic
        account, support = min(counts.items(), key=lambda item: (-item[1], item[0]))
        share = support / len(history)
        if support < self.min_support or share < self.min_share:
            return None
        return MemoryHit(account=account, support=support, share=share, history=len(history))

    def __len__(self) -> int:
        return len(self._history)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe form; :meth:`from_dict` restores an equal memory."""
        return {
            "format": FORMAT,
            "min_support": self.min_support,
            "min_share": self.min_share,
            "window": self.window,
            "history": [
                {
                    "key": key,
                    "direction": direction,
                    "labels": [[when.isoformat(), account] for when, _, account in labels],
                }
                for (key, direction), labels in sorted(self._history.items())
            ],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "CounterpartyMemory":
        if data.get("format") != FORMAT:
            raise ValueError(f"not a counterparty memory: format {data.get('format')!r}")
        memory = cls(
            min_support=int(data["min_support"]),
            min_share=float(data["min_share"]),
            window=int(data["window"]),
        )
        for entry in data["history"]:
            for when, account in entry["labels"]:
                memory.add(
                    MemoryLabel(
                        entry["key"], entry["direction"], str(account), date.fromisoformat(when)
                    )
                )
        return memory
