"""The matching engine, without I/O: keys, candidates, groups, tolerances, global choice."""

from collections import Counter
from datetime import date, timedelta

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from autoledger.reconcile.engine import Item, Knowledge, Line, Outcome, match
from autoledger.reconcile.scoring import FEATURES, Scorer

#: weights for these tests only (the shipped ones are built by scripts/build_match_prior.py)
WEIGHTS = {
    "reference": 5.0,
    "reference_elsewhere": -4.0,
    "amount_exact": 2.0,
    "writeoff": 0.5,
    "writeoff_share": -0.5,
    "partial": -1.0,
    "name": 4.0,
    "alias": 2.0,
    "history": 0.3,
    "due_distance": -1.0,
    "before_issue": -4.0,
    "group": -0.5,
    "competitors": -1.0,
}
SCORER = Scorer(tuple(WEIGHTS[f] for f in FEATURES), -4.0, {})
DAY = date(2025, 3, 10)


def item(
    item_id: str,
    amount: int,
    party: str = "Blue Bottle Coffee Inc.",
    reference: str | None = None,
    *,
    currency: str = "USD",
    issued: date = DAY - timedelta(days=30),
    bank_account: str | None = None,
) -> Item:
    return Item(
        id=item_id,
        amount=amount,
        currency=currency,
        issued=issued,
        due_date=issued + timedelta(days=30),
        reference=reference,
        counterparty=party,
        bank_account=bank_account,
    )


def line(
    line_id: str,
    amount: int,
    counterparty: str | None = "BLUE BOTTLE COFFEE",
    reference: str | None = None,
    *,
    text: str = "ACH CREDIT",
    currency: str = "USD",
    booked: date = DAY,
    bank_account: str = "operating",
) -> Line:
    return Line(
        id=line_id,
        booked=booked,
        amount=amount,
        currency=currency,
        text=text,
        counterparty=counterparty,
        reference=reference,
        bank_account=bank_account,
    )


def run(lines: list[Line], items: list[Item], **kwargs: object) -> Outcome:
    return match(lines, items, scorer=SCORER, **kwargs)  # type: ignore[arg-type]


def settled(outcome: Outcome) -> dict[str, set[tuple[str, int]]]:
    return {
        line_id: {(a.item_id, a.amount) for a in m.allocations}
        for m in outcome.matches
        for line_id in m.lines
    }


def test_a_reference_in_the_remittance_text_matches_exactly() -> None:
    outcome = run(
        [line("L1", 500_00, counterparty=None, text="PAYMENT inv 00042 THANK YOU")],
        [item("I1", 500_00, reference="INV-00042"), item("I2", 500_00, "Other Party LLC")],
    )
    (found,) = outcome.matches
    assert found.items == ("I1",)
    assert found.method == "exact_key"
    assert found.kind == "one_to_one"


def test_conflicts_are_resolved_globally_not_first_come() -> None:
    # L1 likes both items equally; L2 names I1 by reference. First-match-wins would give I1
    # to L1 and leave L2 with a worse match; the global choice gives each its own.
    items = [item("I1", 100_00, reference="INV-11111"), item("I2", 100_00)]
    outcome = run([line("L1", 100_00), line("L2", 100_00, reference="INV-11111")], items)
    assert settled(outcome) == {"L1": {("I2", 100_00)}, "L2": {("I1", 100_00)}}


def test_the_total_is_maximized_even_when_one_line_would_lose_its_favourite() -> None:
    # L1 prefers I1 (due nearer) but can live with I2; L2 (another bank account) can only
    # take I1, and less happily. Best-first would give I1 to L1 and leave L2 unmatched.
    items = [
        item("I1", 100_00),
        item("I2", 100_00, issued=DAY - timedelta(days=50), bank_account="operating"),
    ]
    l1 = line("L1", 100_00)
    l2 = line("L2", 100_00, booked=DAY + timedelta(days=30), bank_account="savings")
    outcome = run([l1, l2], items)
    by_pair = {(c.lines, c.items): c.confidence for c in outcome.candidates}
    assert by_pair[(("L1",), ("I1",))] > by_pair[(("L1",), ("I2",))]
    assert by_pair[(("L1",), ("I1",))] > by_pair[(("L2",), ("I1",))]
    assert settled(outcome) == {"L1": {("I2", 100_00)}, "L2": {("I1", 100_00)}}


def test_one_line_settles_several_items_of_one_party() -> None:
    items = [item("I1", 120_00), item("I2", 80_50), item("I3", 45_25), item("I4", 999_00)]
    outcome = run([line("L1", 245_75)], items)
    (found,) = outcome.matches
    assert found.kind == "one_to_many"
    assert set(found.items) == {"I1", "I2", "I3"}
    assert sum(a.amount for a in found.allocations) == 245_75


def test_several_lines_settle_one_item() -> None:
    outcome = run([line("L1", 300_00), line("L2", 200_00)], [item("I1", 500_00)])
    (found,) = outcome.matches
    assert found.kind == "many_to_one"
    assert set(found.lines) == {"L1", "L2"}
    assert found.allocations[0].amount == 500_00


def test_a_part_payment_named_by_reference_leaves_the_rest_open() -> None:
    outcome = run(
        [line("L1", 200_00, reference="INV-77777")], [item("I1", 500_00, reference="INV-77777")]
    )
    (found,) = outcome.matches
    assert found.kind == "partial"
    assert [(a.item_id, a.amount) for a in found.allocations] == [("I1", 200_00)]
    assert found.writeoffs == ()


def test_a_fee_deducted_in_transit_is_written_off() -> None:
    outcome = run(
        [line("L1", 985_00, reference="INV-55555")], [item("I1", 1_000_00, reference="INV-55555")]
    )
    (found,) = outcome.matches
    assert [(w.purpose, w.amount) for w in found.writeoffs] == [("bank_fee", -15_00)]
    assert found.allocations[0].amount == 1_000_00


def test_an_unexplained_difference_is_never_a_match() -> None:
    outcome = run(
        [line("L1", 700_00, reference="INV-55555")], [item("I1", 1_000_00, reference="INV-55555")]
    )
    assert all(m.kind == "partial" for m in outcome.matches)  # only as a part payment
    outcome = run(
        [line("L1", 1_300_00, reference="INV-55555")], [item("I1", 1_000_00, reference="INV-55555")]
    )
    assert outcome.matches == ()
    assert outcome.candidates == ()


def test_currency_sign_and_bank_account_must_agree() -> None:
    items = [
        item("EUR", 100_00, currency="EUR"),
        item("OUT", -100_00),
        item("BOOK", 100_00, bank_account="savings"),
    ]
    assert run([line("L1", 100_00)], items).candidates == ()


def test_a_rejected_pair_is_not_proposed_again() -> None:
    items = [item("I1", 100_00)]
    assert run([line("L1", 100_00)], items).matches
    outcome = run(
        [line("L1", 100_00)], items, knowledge=Knowledge(rejected=frozenset({("L1", "I1")}))
    )
    assert outcome.candidates == ()


def test_a_learned_alias_finds_the_party_a_bank_misnames() -> None:
    items = [item("I1", 123_45, "Northwind Traders Ltd"), item("I2", 123_45, "Contoso Ltd")]
    plain = run([line("L1", 123_45, counterparty="NWT PAYMENTS DEPT")], items)
    taught = run(
        [line("L1", 123_45, counterparty="NWT PAYMENTS DEPT")],
        items,
        knowledge=Knowledge(aliases={"NWT DEPT": "NORTHWIND TRADERS"}),
    )
    assert settled(taught) == {"L1": {("I1", 123_45)}}
    assert max(c.confidence for c in taught.candidates) > max(
        c.confidence for c in plain.candidates
    )


def test_suggestions_keep_the_best_three_per_line() -> None:
    items = [item(f"I{k}", 100_00, f"Party {k} Inc") for k in range(6)]
    outcome = run([line("L1", 100_00, counterparty="SOMEONE")], items)
    assert 1 <= len(outcome.suggestions["L1"]) <= 3
    confidences = [c.confidence for c in outcome.suggestions["L1"]]
    assert confidences == sorted(confidences, reverse=True) or outcome.matches


amounts = st.integers(min_value=1, max_value=50_000)


@st.composite
def books(draw: st.DrawFn) -> tuple[list[Line], list[Item]]:
    parties = ["Acme Tools Inc", "Blue Bottle Coffee", "Cobalt Labs LLC"]
    items = [
        item(
            f"I{k}",
            draw(amounts) * draw(st.sampled_from((1, -1))),
            draw(st.sampled_from(parties)),
            draw(st.sampled_from((None, f"INV-{k:05d}"))),
        )
        for k in range(draw(st.integers(0, 12)))
    ]
    lines = []
    for k in range(draw(st.integers(0, 12))):
        if items and draw(st.booleans()):
            target = draw(st.sampled_from(items))
            amount = target.amount + draw(st.sampled_from((0, 0, -3, -1500, 7)))
            reference = target.reference if draw(st.booleans()) else None
            party = target.counterparty
        else:
            amount, reference, party = draw(amounts) * draw(st.sampled_from((1, -1))), None, None
        if amount == 0:
            amount = 1
        lines.append(line(f"L{k}", amount, (party or "NOBODY").upper(), reference))
    return lines, items


@settings(max_examples=150, deadline=None)
@given(books())
def test_every_match_balances_and_the_choice_is_consistent(
    case: tuple[list[Line], list[Item]],
) -> None:
    lines, items = case
    outcome = run(lines, items)
    amount_of = {ln.id: ln.amount for ln in lines}
    open_of = {it.id: it.amount for it in items}
    for candidate in outcome.candidates:
        total = sum(amount_of[i] for i in candidate.lines)
        assert total == sum(a.amount for a in candidate.allocations) + sum(
            w.amount for w in candidate.writeoffs
        )
        for allocation in candidate.allocations:
            assert (allocation.amount > 0) == (open_of[allocation.item_id] > 0)
            assert abs(allocation.amount) <= abs(open_of[allocation.item_id])
    used_lines = Counter(i for m in outcome.matches for i in m.lines)
    assert all(n == 1 for n in used_lines.values())
    allocated: Counter[str] = Counter()
    for m in outcome.matches:
        for a in m.allocations:
            allocated[a.item_id] += abs(a.amount)
    assert all(allocated[i] <= abs(open_of[i]) for i in allocated)


@settings(max_examples=60, deadline=None)
@given(books())
def test_branch_and_bound_agrees_with_the_integer_program(
    case: tuple[list[Line], list[Item]],
) -> None:
    from autoledger.reconcile import engine

    lines, items = case
    builder = engine._Builder(lines, items, Knowledge(), engine.Tolerances(), {})
    raws = builder.candidates()
    scores = engine._scores(raws, SCORER)
    candidates = [raw.freeze(lines, items, s, s) for raw, s in zip(raws, scores, strict=True)]
    members = [k for k, c in enumerate(candidates) if engine._utility(c.confidence) > 0]
    assume(members)

    def total(chosen: list[int]) -> float:
        return sum(engine._utility(candidates[k].confidence) for k in chosen)

    searched = engine._search(members, raws, candidates, items)
    packed = engine._pack(members, raws, candidates, items)
    assert abs(total(searched) - total(packed)) < 1e-6
