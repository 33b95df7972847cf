"""UUIDv7 identifiers: well-formed, unique, increasing, close to the clock."""

import time
import uuid

import pytest

from autoledger.kit import ids
from autoledger.kit.ids import new_id, new_ids


def test_ids_are_rfc_9562_version_7_with_the_current_millisecond() -> None:
    before = time.time_ns() // 1_000_000
    made = new_id()
    after = time.time_ns() // 1_000_000
    assert made.version == 7
    assert made.variant == uuid.RFC_4122
    assert before <= made.int >> 80 <= after + 1
    assert uuid.UUID(str(made)) == made
    assert hash(uuid.UUID(str(made))) == hash(made)


def test_ids_increase_and_never_repeat_across_batches_and_single_calls() -> None:
    made = new_ids(20_000) + [new_id() for _ in range(500)] + new_ids(3)
    assert made == sorted(made)
    assert len(set(made)) == len(made)
    assert new_ids(0) == []


def test_a_burst_beyond_the_counter_moves_the_timestamp_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    frozen = 1_700_000_000_000 * 1_000_000
    monkeypatch.setattr(ids.time, "time_ns", lambda: frozen)
    monkeypatch.setattr(ids, "_last_ms", 0)
    made = new_ids(5_000)  # more than 4,096 counter values in one millisecond
    assert made == sorted(made)
    assert len(set(made)) == 5_000
    stamps = {m.int >> 80 for m in made}
    assert stamps == {frozen // 1_000_000, frozen // 1_000_000 + 1}
    # The clock has not caught up: the next id still follows the last one.
    assert new_id() > made[-1]
