import json
from datetime import date, timedelta

from autoledger.categorize.memory import CounterpartyMemory, MemoryLabel
from tests.categorize.support import line

START = date(2025, 1, 1)


def labels(
    account: str, count: int, *, key: str = "blue bottle", offset: int = 0
) -> list[MemoryLabel]:
    return [
        MemoryLabel(key, "out", account, START + timedelta(days=offset + i)) for i in range(count)
    ]


def test_a_counterparty_is_remembered_after_enough_consistent_labels() -> None:
    memory = CounterpartyMemory(labels("6410", 2))
    facts = line("SQ *BLUE BOTTLE 0423")
    assert memory.lookup(facts) is None
    memory.add(MemoryLabel.of(facts, "6410"))
    hit = memory.lookup(facts)
    assert hit is not None
    assert (hit.account, hit.support, hit.share, hit.history) == ("6410", 3, 1.0, 3)


def test_direction_is_part_of_the_memory() -> None:
    memory = CounterpartyMemory(labels("6410", 5))
    assert memory.lookup(line("SQ *BLUE BOTTLE 0423", 1250)) is None


def test_a_correction_silences_the_memory_until_history_is_consistent_again() -> None:
    memory = CounterpartyMemory(labels("6410", 10), window=20)
    memory.add(MemoryLabel("blue bottle", "out", "6400", START + timedelta(days=30)))
    facts = line("POS BLUE BOTTLE 14514910")
    assert memory.lookup(facts) is None  # 10 of 11 is below 95%
    for label in labels("6400", 20, offset=40):
        memory.add(label)
    hit = memory.lookup(facts)
    assert hit is not None
    assert hit.account == "6400"  # only the last 20 labels count


def test_labels_arriving_out_of_order_are_kept_in_time_order() -> None:
    memory = CounterpartyMemory(window=3)
    for label in labels("6400", 3, offset=100):
        memory.add(label)
    for label in labels("6410", 3):  # older: pushed out at once
        memory.add(label)
    hit = memory.lookup(line("SQ *BLUE BOTTLE"))
    assert hit is not None
    assert hit.account == "6400"


def test_a_line_without_a_counterparty_is_never_remembered() -> None:
    memory = CounterpartyMemory(labels("6800", 5, key=""))
    assert len(memory) == 0
    assert memory.lookup(line("12345678")) is None


def test_memory_survives_a_json_round_trip() -> None:
    memory = CounterpartyMemory(
        labels("6410", 4) + labels("6120", 3, key="adobe"), min_support=2, window=10
    )
    restored = CounterpartyMemory.from_dict(json.loads(json.dumps(memory.to_dict())))
    assert restored.to_dict() == memory.to_dict()
    assert restored.lookup(line("PAYPAL *ADOBE 8539")) == memory.lookup(line("PAYPAL *ADOBE 8539"))
    assert restored.min_support == 2
