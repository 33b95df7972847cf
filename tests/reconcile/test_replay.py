"""The Simulator company as matching inputs: the truth is exact and complete."""

from autoledger.demo.simulator import simulate
from autoledger.reconcile.engine import Allocation, Candidate
from autoledger.reconcile.replay import OpenBooks, is_correct, scenario


def test_every_settling_line_is_its_allocations_plus_write_offs() -> None:
    data = scenario(simulate(2024, 6, scale=1))
    amounts = {line.id: line.amount for line in data.lines}
    shapes = {truth.shape for truth in data.truth.values()}
    assert {"one_to_one", "partial", "with_writeoff"} <= shapes
    for line_id, truth in data.truth.items():
        allocated = sum(a for _, a in truth.allocations) + sum(w for _, w in truth.writeoffs)
        assert allocated == amounts[line_id]


def test_settling_every_week_leaves_only_unpaid_items_open() -> None:
    data = scenario(simulate(2024, 6, scale=1))
    books = OpenBooks(data)
    for _, _, week in data.weeks():
        books.settle(week)
    by_id = {item.id: item for item in data.items}
    for item_id, left in books.open.items():
        assert abs(left) <= abs(by_id[item_id].amount)
        assert (left == 0) or (left > 0) == (by_id[item_id].amount > 0)


def test_a_candidate_is_right_only_when_it_settles_exactly_the_truth() -> None:
    data = scenario(simulate(2024, 3, scale=1))
    line_id, truth = next(iter(data.truth.items()))
    exact = Candidate(
        (line_id,),
        tuple(Allocation(i, a) for i, a in truth.allocations),
        (),
        "one_to_one",
        "scored",
        (),
        0.9,
        0.9,
    )
    assert is_correct(exact, data.truth)
    item_id, amount = next(iter(truth.allocations))
    short = Candidate(
        (line_id,), (Allocation(item_id, amount - 1),), (), "one_to_one", "scored", (), 0.9, 0.9
    )
    assert not is_correct(short, data.truth)
    unknown = Candidate(("no-such-line",), (), (), "one_to_one", "scored", (), 0.9, 0.9)
    assert not is_correct(unknown, data.truth)
