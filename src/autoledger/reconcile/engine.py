"""The matching engine: bank lines and open items in, a globally consistent set of matches
and the best suggestions per line out. Pure: no I/O, no clock, no database (ADR 0012).

Money is exact: every amount is an integer in minor units, signed like a bank line (money in
is positive), and every candidate obeys ``sum(lines) = sum(allocations) + sum(write-offs)``.

1. **Exact keys** — items whose reference the line names (end-to-end id, remittance
   reference, or a token of the text): the whole set, exact subsets of it, each one alone
   (exactly, within a tolerance, or as a part payment).
2. **Candidates**, blocked by counterparty (parties whose name is close to the line's, or a
   learned alias: 1:1 within tolerances, and 1:N exact subset sums over the party's items
   nearest in date) and by amount (items of exactly the line's amount, whoever they are);
   then **N:1**: two or three lines of one party that together pay one of its items.
3. **Scoring** — one logistic score per candidate (:mod:`scoring`), then the caller's
   calibration.
4. **Global resolution** — candidates better than even odds form a graph of lines and items;
   each connected component is solved exactly: an assignment (Hungarian method) when every
   candidate is 1:1, else a small set-packing integer program (HiGHS) with each line used
   at most once and no item allocated beyond its open amount.
"""

import math
from bisect import bisect_left, bisect_right
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from itertools import combinations
from typing import Literal

import numpy as np
from rapidfuzz import fuzz, process
from scipy.optimize import Bounds, LinearConstraint, linear_sum_assignment, milp
from scipy.sparse import csr_array

from autoledger.kit.money import iso_currency
from autoledger.reconcile.normalize import party_key, reference_key, reference_tokens
from autoledger.reconcile.scoring import FEATURES, Scorer
from autoledger.reconcile.tolerance import Purpose, Tolerances, explain

Kind = Literal["one_to_one", "one_to_many", "many_to_one", "partial"]
Method = Literal["exact_key", "scored"]

NAME_FLOOR = 0.80  # a party is a candidate from this name similarity
COMMON_WORD = 50  # a blocking key of more parties than this blocks only as a last resort
PARTIES_PER_LINE = 5
SUBSET_ITEMS = 12  # 1:N searches the party's items nearest in date, at most this many
SUBSET_SOLUTIONS = 4
PARTIAL_ITEMS = 2  # ... and the part payment of its items nearest in date, at most this many
SUBSET_PARTIES = 2  # ... of the line's best parties, when nothing pays the line exactly
REFERENCED_SUBSET_ITEMS = 12
AMOUNT_CANDIDATES = 12  # items of the line's exact amount considered, nearest in date
GROUP_LINES = 12  # N:1 looks at most this many lines of one party per run
SEARCH_LIMIT = 40  # candidates in one component solved exactly by branch and bound
MILP_LIMIT = 400  # ... by the integer program (HiGHS)
ASSIGNMENT_LIMIT = 3_000  # lines or items in one component solved by the assignment


@dataclass(frozen=True, slots=True)
class Line:
    id: str
    booked: date
    amount: int  # minor units, money in > 0
    currency: str
    text: str = ""  # description and remittance information
    counterparty: str | None = None
    reference: str | None = None  # end-to-end id / structured remittance reference
    bank_account: str | None = None


@dataclass(frozen=True, slots=True)
class Item:
    id: str
    amount: int  # what is still open, signed like the bank line that would settle it
    currency: str
    issued: date  # issued / booked on the ledger
    due_date: date | None = None
    reference: str | None = None
    counterparty: str | None = None
    #: a book item (an entry another system booked on a bank account's ledger account) is
    #: settled only by lines of that bank account
    bank_account: str | None = None


@dataclass(frozen=True, slots=True)
class Allocation:
    item_id: str
    amount: int  # signed like the line


@dataclass(frozen=True, slots=True)
class WriteOff:
    purpose: Purpose
    amount: int  # signed like the line


@dataclass(frozen=True, slots=True)
class Candidate:
    lines: tuple[str, ...]
    allocations: tuple[Allocation, ...]
    writeoffs: tuple[WriteOff, ...]
    kind: Kind
    method: Method
    features: tuple[float, ...]
    score: float  # the scorer's raw probability
    confidence: float  # ``score`` through the ledger's calibration

    @property
    def items(self) -> tuple[str, ...]:
        return tuple(a.item_id for a in self.allocations)

    @property
    def identified(self) -> bool:
        """Whether something names the payer: a reference, a learned alias, or a name at
        least :data:`NAME_FLOOR` alike. An amount alone never reconciles on its own."""
        return _identified(self.features)


@dataclass(frozen=True, slots=True)
class Knowledge:
    """What feedback has taught a ledger's matcher."""

    #: party key of a line's counterparty text -> party key of the items it means
    aliases: Mapping[str, str] = field(default_factory=dict)
    #: party key of items -> matches confirmed with that party
    history: Mapping[str, int] = field(default_factory=dict)
    #: (line id, item id) pairs a person rejected: never proposed again
    rejected: frozenset[tuple[str, str]] = frozenset()


@dataclass(frozen=True, slots=True)
class Outcome:
    matches: tuple[Candidate, ...]  # consistent: no line twice, no item over-allocated
    candidates: tuple[Candidate, ...]  # every candidate considered
    suggestions: Mapping[str, tuple[Candidate, ...]]  # line id -> best candidates, best first
    stats: Mapping[str, int]


def match(
    lines: Sequence[Line],
    items: Sequence[Item],
    *,
    scorer: Scorer,
    knowledge: Knowledge | None = None,
    tolerances: Tolerances | None = None,
    calibrate: Callable[[float], float] | None = None,
    scales: Mapping[str, int] | None = None,
    suggestions: int = 3,
) -> Outcome:
    """Match ``lines`` against the open ``items``; see the module's description."""
    builder = _Builder(
        lines,
        items,
        knowledge or Knowledge(),
        tolerances or Tolerances(),
        dict(scales or {}),
    )
    raws = builder.candidates()
    scores = _scores(raws, scorer)
    candidates = [
        raw.freeze(lines, items, score, score if calibrate is None else calibrate(score))
        for raw, score in zip(raws, scores, strict=True)
    ]
    chosen, stats = _resolve(candidates, raws, len(lines), items)
    stats = {**stats, "candidates": len(candidates), **builder.stats}
    return Outcome(
        matches=tuple(candidates[i] for i in chosen),
        candidates=tuple(candidates),
        suggestions=_suggestions(candidates, raws, chosen, lines, suggestions),
        stats=stats,
    )


# --- candidates ---------------------------------------------------------------------------


@dataclass(slots=True)
class _Raw:
    lines: tuple[int, ...]
    allocations: tuple[tuple[int, int], ...]  # (item index, amount)
    writeoff: tuple[Purpose, int] | None
    kind: Kind
    method: Method
    features: list[float]

    def freeze(
        self, lines: Sequence[Line], items: Sequence[Item], score: float, confidence: float
    ) -> Candidate:
        return Candidate(
            lines=tuple(lines[i].id for i in self.lines),
            allocations=tuple(Allocation(items[j].id, a) for j, a in self.allocations),
            writeoffs=() if self.writeoff is None else (WriteOff(*self.writeoff),),
            kind=self.kind,
            method=self.method,
            features=tuple(self.features),
            score=score,
            confidence=confidence,
        )


_F = {name: i for i, name in enumerate(FEATURES)}


class _Builder:
    def __init__(
        self,
        lines: Sequence[Line],
        items: Sequence[Item],
        knowledge: Knowledge,
        tolerances: Tolerances,
        scales: dict[str, int],
    ) -> None:
        self.lines, self.items = lines, items
        self.knowledge, self.tolerances, self.scales = knowledge, tolerances, scales
        self.stats: dict[str, int] = defaultdict(int)
        self.by_reference: dict[str, list[int]] = defaultdict(list)
        self.by_amount: dict[tuple[str, int], list[int]] = defaultdict(list)
        self.by_party: dict[tuple[str, str, bool], list[int]] = defaultdict(list)
        self.item_party: list[str] = []
        for j, item in enumerate(items):
            key = reference_key(item.reference)
            if key is not None:
                self.by_reference[key].append(j)
            self.by_amount[(item.currency, item.amount)].append(j)
            party = party_key(item.counterparty)
            self.item_party.append(party)
            if party:
                self.by_party[(party, item.currency, item.amount > 0)].append(j)
        self.parties_known = {party for party, _, _ in self.by_party}
        # Blocking keys (each word and its first four letters) shared by many parties find
        # everyone: they still count in the similarity, but only block when nothing rarer does.
        index: dict[str, set[str]] = defaultdict(set)
        for party in self.parties_known:
            for word in party.split():
                index[word].add(party)
                index[word[:4]].add(party)
        self.word_index = dict(index)
        self.similarity_cache: dict[tuple[str, str], float] = {}
        self.party_cache: dict[tuple[str, str], list[tuple[str, float, bool]]] = {}

    # parties ---------------------------------------------------------------------------

    def similarity(self, query: str, party: str) -> float:
        if not query or not party:
            return 0.0
        key = (query, party)
        value = self.similarity_cache.get(key)
        if value is None:
            value = fuzz.token_set_ratio(query, party) / 100.0
            self.similarity_cache[key] = value
        return value

    def pool(self, query: str) -> list[str]:
        """The parties sharing a blocking key with ``query``: the union over its rare keys,
        else the smallest set of a common one."""
        sets = [
            self.word_index[key]
            for word in query.split()
            for key in (word, word[:4])
            if key in self.word_index
        ]
        rare = [found for found in sets if len(found) <= COMMON_WORD]
        if rare:
            return list(set().union(*rare))
        smallest = min(sets, key=len, default=set[str]())
        return list(smallest)

    def parties(self, line: Line) -> list[tuple[str, float, bool]]:
        """(party, similarity, via alias) of the item parties this line may be, best first."""
        named, texted = party_key(line.counterparty), party_key(line.text)
        cache_key = (named, texted)
        found = self.party_cache.get(cache_key)
        if found is not None:
            return found
        best: dict[str, tuple[float, bool]] = {}
        for query in (named, texted):
            if not query:
                continue
            alias = self.knowledge.aliases.get(query)
            if alias is not None and alias in self.parties_known:
                best[alias] = (1.0, True)
            pool = self.pool(query)
            for party, score, _ in process.extract(
                query,
                pool,
                scorer=fuzz.token_set_ratio,
                score_cutoff=NAME_FLOOR * 100,
                limit=PARTIES_PER_LINE,
            ):
                if score / 100.0 > best.get(party, (0.0, False))[0]:
                    best[party] = (score / 100.0, False)
        found = sorted(((p, s, a) for p, (s, a) in best.items()), key=lambda t: (-t[1], t[0]))[
            :PARTIES_PER_LINE
        ]
        self.party_cache[cache_key] = found
        return found

    # the whole run --------------------------------------------------------------------------

    def scale(self, currency: str) -> int:
        scale = self.scales.get(currency)
        if scale is None:
            asset = iso_currency(currency)
            scale = 2 if asset is None else asset.scale
            self.scales[currency] = scale
        return scale

    def candidates(self) -> list[_Raw]:
        out: list[_Raw] = []
        party_lines: dict[tuple[str, str, bool], list[int]] = defaultdict(list)
        for i, line in enumerate(self.lines):
            found = self.for_line(i, line)
            rivals = [raw for raw in found if raw.features[_F["amount_exact"]]]
            exact = len(rivals)
            identified = sum(1 for raw in rivals if _identified(raw.features))
            for raw in found:
                mine = raw.features[_F["amount_exact"]] and _identified(raw.features)
                raw.features[_F["competitors"]] = math.log1p(identified - (1 if mine else 0))
            out.extend(found)
            if not exact:
                parties = self.parties(line)
                if parties:
                    party_lines[(parties[0][0], line.currency, line.amount > 0)].append(i)
        out.extend(self.many_to_one(party_lines))
        return out

    def eligible(self, line: Line, j: int) -> bool:
        item = self.items[j]
        return (
            item.currency == line.currency
            and (item.amount > 0) == (line.amount > 0)
            and item.amount != 0
            and (item.bank_account is None or item.bank_account == line.bank_account)
            and (line.id, item.id) not in self.knowledge.rejected
        )

    def for_line(self, i: int, line: Line) -> list[_Raw]:
        seen: set[tuple[tuple[int, int], ...]] = set()
        found: list[_Raw] = []

        def add(raw: _Raw | None) -> None:
            if raw is not None and raw.allocations not in seen:
                seen.add(raw.allocations)
                found.append(raw)

        referenced = self.referenced(line)
        referenced = [j for j in referenced if self.eligible(line, j)]
        parties = self.parties(line)
        names = {p: (s, a) for p, s, a in parties}
        ref_set = set(referenced)

        # 1. exact keys
        window = self.tolerances.window(line.amount, self.scale(line.currency))
        if len(referenced) > 1:
            add(self.group(i, line, referenced, ref_set, names, "exact_key"))
            pool = sorted(referenced, key=lambda j: self.items[j].issued)[:REFERENCED_SUBSET_ITEMS]
            for subset in _subset_sums(pool, self.items, line.amount, window, SUBSET_SOLUTIONS):
                if len(subset) < len(referenced):
                    add(self.group(i, line, subset, ref_set, names, "exact_key"))
        for j in referenced:
            item = self.items[j]
            if abs(line.amount) < abs(item.amount) and not self.explains(line, item.amount, j):
                add(self.partial(i, line, j, ref_set, names, "exact_key"))
            else:
                add(self.group(i, line, [j], ref_set, names, "exact_key"))

        # 2. by party: 1:1 within tolerances, 1:N subset sums, the part payment of an item
        for rank, (party, _, _) in enumerate(parties):
            pool = [
                j
                for j in self.by_party.get((party, line.currency, line.amount > 0), ())
                if self.eligible(line, j)
            ]
            for j in pool:
                if abs(line.amount - self.items[j].amount) <= window:
                    add(self.group(i, line, [j], ref_set, names, "scored"))
            if rank >= SUBSET_PARTIES or any(raw.features[_F["amount_exact"]] for raw in found):
                continue
            pool.sort(key=lambda j: abs((line.booked - self.due(j)).days))
            smaller = [j for j in pool if abs(self.items[j].amount) < abs(line.amount) + window]
            if len(smaller) > 1:
                nearest = smaller[:SUBSET_ITEMS]
                for subset in _subset_sums(
                    nearest, self.items, line.amount, window, SUBSET_SOLUTIONS
                ):
                    if len(subset) > 1:
                        add(self.group(i, line, subset, ref_set, names, "scored"))
            if found:
                continue  # a part payment without a reference is only a last resort
            larger = [j for j in pool if abs(self.items[j].amount) > abs(line.amount) + window]
            for j in larger[:PARTIAL_ITEMS]:
                add(self.partial(i, line, j, ref_set, names, "scored"))

        # 3. by exact amount, whoever the party
        same = [
            j
            for j in self.by_amount.get((line.currency, line.amount), ())
            if self.eligible(line, j)
        ]
        if len(same) > AMOUNT_CANDIDATES:
            same.sort(key=lambda j: abs((line.booked - self.due(j)).days))
            same = same[:AMOUNT_CANDIDATES]
            self.stats["amount_blocks_capped"] += 1
        for j in same:
            add(self.group(i, line, [j], ref_set, names, "scored"))
        return found

    def referenced(self, line: Line) -> list[int]:
        hits: dict[int, None] = {}
        for token in reference_tokens(line.reference, line.text):
            for j in self.by_reference.get(token, ()):
                hits[j] = None
        return list(hits)

    def due(self, j: int) -> date:
        item = self.items[j]
        return item.due_date or item.issued

    def explains(self, line: Line, allocated: int, j: int) -> Purpose | None:
        return explain(
            line.amount - allocated,
            allocated,
            scale=self.scale(line.currency),
            paid_on=line.booked,
            issued_on=self.items[j].issued,
            tolerances=self.tolerances,
        )

    def group(
        self,
        i: int,
        line: Line,
        members: Sequence[int],
        referenced: set[int],
        names: Mapping[str, tuple[float, bool]],
        method: Method,
    ) -> _Raw | None:
        """A candidate settling ``members`` in full with line ``i``, or None when the
        difference is not explained."""
        total = sum(self.items[j].amount for j in members)
        difference = line.amount - total
        writeoff: tuple[Purpose, int] | None = None
        if difference:
            purpose = explain(
                difference,
                total,
                scale=self.scale(line.currency),
                paid_on=line.booked,
                issued_on=min(self.items[j].issued for j in members),
                tolerances=self.tolerances,
            )
            if purpose is None:
                return None
            writeoff = (purpose, difference)
        kind: Kind = "one_to_one" if len(members) == 1 else "one_to_many"
        allocations = tuple(sorted((j, self.items[j].amount) for j in members))
        return _Raw(
            (i,),
            allocations,
            writeoff,
            kind,
            method,
            self.features(line, members, referenced, names, writeoff, partial=False, lines=1),
        )

    def partial(
        self,
        i: int,
        line: Line,
        j: int,
        referenced: set[int],
        names: Mapping[str, tuple[float, bool]],
        method: Method,
    ) -> _Raw:
        return _Raw(
            (i,),
            ((j, line.amount),),
            None,
            "partial",
            method,
            self.features(line, [j], referenced, names, None, partial=True, lines=1),
        )

    def features(
        self,
        line: Line,
        members: Sequence[int],
        referenced: set[int],
        names: Mapping[str, tuple[float, bool]],
        writeoff: tuple[Purpose, int] | None,
        *,
        partial: bool,
        lines: int,
    ) -> list[float]:
        row = [0.0] * len(FEATURES)
        row[_F["reference"]] = sum(1 for j in members if j in referenced) / len(members)
        row[_F["reference_elsewhere"]] = 1.0 if referenced.difference(members) else 0.0
        row[_F["amount_exact"]] = 0.0 if writeoff or partial else 1.0
        if writeoff is not None:
            row[_F["writeoff"]] = 1.0
            row[_F["writeoff_share"]] = 100.0 * abs(writeoff[1]) / abs(line.amount)
        row[_F["partial"]] = 1.0 if partial else 0.0
        party = self.item_party[members[0]]
        similarity, alias = names.get(party, (0.0, False))
        if not similarity and party:
            similarity = max(
                self.similarity(party_key(line.counterparty), party),
                self.similarity(party_key(line.text), party),
            )
        row[_F["name"]] = similarity
        row[_F["alias"]] = 1.0 if alias else 0.0
        row[_F["history"]] = math.log1p(self.knowledge.history.get(party, 0))
        distance = min(abs((line.booked - self.due(j)).days) for j in members)
        row[_F["due_distance"]] = min(4.0, distance / 30.0)
        row[_F["before_issue"]] = (
            1.0 if line.booked < min(self.items[j].issued for j in members) else 0.0
        )
        row[_F["group"]] = float(min(5, len(members) + lines - 2))
        return row

    def many_to_one(self, party_lines: Mapping[tuple[str, str, bool], list[int]]) -> Iterable[_Raw]:
        """Two or three lines of one party that together pay exactly one of its items."""
        for key, members in party_lines.items():
            if len(members) < 2:
                continue
            members = members[:GROUP_LINES]
            groups: dict[int, list[tuple[int, ...]]] = defaultdict(list)
            for size in (2, 3):
                for combo in combinations(members, size):
                    groups[sum(self.lines[i].amount for i in combo)].append(combo)
            for j in self.by_party.get(key, ()):
                item = self.items[j]
                for combo in groups.get(item.amount, ()):
                    group = [self.lines[i] for i in combo]
                    if not all(self.eligible(g, j) for g in group):
                        continue
                    names = {p: (s, a) for p, s, a in self.parties(group[0])}
                    row = self.features(
                        group[0], [j], set(), names, None, partial=False, lines=len(combo)
                    )
                    row[_F["due_distance"]] = min(
                        4.0, max(abs((g.booked - self.due(j)).days) for g in group) / 30.0
                    )
                    self.stats["many_to_one_candidates"] += 1
                    yield _Raw(combo, ((j, item.amount),), None, "many_to_one", "scored", row)


def _identified(features: Sequence[float]) -> bool:
    return bool(
        features[_F["reference"]] or features[_F["alias"]] or features[_F["name"]] >= NAME_FLOOR
    )


def _subset_sums(
    pool: Sequence[int], items: Sequence[Item], target: int, window: int, limit: int
) -> list[list[int]]:
    """Subsets of ``pool`` whose open amounts sum to ``target`` within ``window`` (meet in
    the middle: 2 x 2^(n/2) sums for n items), closest and smallest first, at most
    ``limit``."""
    if not pool:
        return []
    half = len(pool) // 2

    def sums(part: Sequence[int]) -> list[tuple[int, tuple[int, ...]]]:
        out: list[tuple[int, tuple[int, ...]]] = [(0, ())]
        for j in part:
            amount = items[j].amount
            out += [(total + amount, (*chosen, j)) for total, chosen in out]
        return out

    right = sorted(sums(pool[half:]))
    right_totals = [total for total, _ in right]
    found: list[tuple[int, int, list[int]]] = []
    for total, chosen in sums(pool[:half]):
        low = bisect_left(right_totals, target - total - window)
        high = bisect_right(right_totals, target - total + window)
        for other_total, other in right[low:high]:
            subset = [*chosen, *other]
            if subset:
                found.append((abs(target - total - other_total), len(subset), subset))
    found.sort(key=lambda entry: entry[:2])
    return [subset for _, _, subset in found[:limit]]


# --- scoring and resolution ---------------------------------------------------------------


def _scores(raws: Sequence[_Raw], scorer: Scorer) -> list[float]:
    matrix = np.asarray([raw.features for raw in raws], dtype=np.float64).reshape(
        len(raws), len(FEATURES)
    )
    return [float(s) for s in scorer.score(matrix).tolist()]


def _utility(confidence: float) -> float:
    p = min(max(confidence, 1e-9), 1 - 1e-9)
    return math.log(p / (1 - p))


def _resolve(
    candidates: Sequence[Candidate], raws: Sequence[_Raw], n_lines: int, items: Sequence[Item]
) -> tuple[list[int], dict[str, int]]:
    """The indexes of the chosen candidates, in two tiers. First the candidates whose payer
    is identified (a reference, an alias, a name): per connected component, the set with the
    largest total log-odds that uses no line twice and no item beyond its amount. Then, among
    the lines and what is left of the items, the candidates of amount alone, the same way.
    Amounts collide across parties, so at scale amount-only candidates join most lines into
    one component; kept apart, they cannot push an identified match aside, and the exact
    solvers keep working on the identified tier's small components."""
    useful = [k for k, c in enumerate(candidates) if _utility(c.confidence) > 0]
    first = [k for k in useful if _identified(raws[k].features)]
    chosen, stats = _resolve_tier(first, candidates, raws, n_lines, items)
    used = {i for k in chosen for i in raws[k].lines}
    left = [abs(item.amount) for item in items]
    for k in chosen:
        for j, amount in raws[k].allocations:
            left[j] -= abs(amount)
    second = [
        k
        for k in useful
        if not _identified(raws[k].features)
        and not used.intersection(raws[k].lines)
        and all(abs(amount) <= left[j] for j, amount in raws[k].allocations)
    ]
    rest = [
        replace(item, amount=left[j] if item.amount > 0 else -left[j])
        for j, item in enumerate(items)
    ]
    more, tier = _resolve_tier(second, candidates, raws, n_lines, rest)
    stats = {
        "components": stats["components"] + tier["components"],
        "largest_component": max(stats["largest_component"], tier["largest_component"]),
        "searched": stats["searched"] + tier["searched"],
        "milp": stats["milp"] + tier["milp"],
        "greedy": stats["greedy"],
        "greedy_amount_only": tier["greedy"],
        "largest_identified_component": stats["largest_component"],
    }
    return sorted([*chosen, *more]), stats


def _resolve_tier(
    useful: Sequence[int],
    candidates: Sequence[Candidate],
    raws: Sequence[_Raw],
    n_lines: int,
    items: Sequence[Item],
) -> tuple[list[int], dict[str, int]]:
    parent = list(range(n_lines + len(items)))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for k in useful:
        raw = raws[k]
        nodes = [*raw.lines, *(n_lines + j for j, _ in raw.allocations)]
        root = find(nodes[0])
        for node in nodes[1:]:
            other = find(node)
            if other != root:
                parent[other] = root
    components: dict[int, list[int]] = defaultdict(list)
    for k in useful:
        components[find(raws[k].lines[0])].append(k)
    chosen: list[int] = []
    stats = {
        "components": len(components),
        "largest_component": 0,
        "searched": 0,
        "milp": 0,
        "greedy": 0,
    }
    for members in components.values():
        stats["largest_component"] = max(stats["largest_component"], len(members))
        if len(members) == 1:
            chosen.extend(members)
        elif all(_is_one_to_one(raws[k]) for k in members):
            solved = _assign(members, raws, candidates)
            if solved is None:
                stats["greedy"] += 1
                solved = _greedy(members, raws, candidates)
            chosen.extend(solved)
        elif len(members) <= SEARCH_LIMIT:
            stats["searched"] += 1
            chosen.extend(_search(members, raws, candidates, items))
        elif len(members) <= MILP_LIMIT:
            stats["milp"] += 1
            chosen.extend(_pack(members, raws, candidates, items))
        else:
            stats["greedy"] += 1
            chosen.extend(_greedy(members, raws, candidates))
    chosen.sort()
    return chosen, stats


def _is_one_to_one(raw: _Raw) -> bool:
    return len(raw.lines) == 1 and len(raw.allocations) == 1 and raw.kind != "partial"


def _assign(
    members: Sequence[int], raws: Sequence[_Raw], candidates: Sequence[Candidate]
) -> list[int] | None:
    rows = sorted({raws[k].lines[0] for k in members})
    cols = sorted({raws[k].allocations[0][0] for k in members})
    if len(rows) > ASSIGNMENT_LIMIT or len(cols) > ASSIGNMENT_LIMIT:
        return None
    row_of = {r: n for n, r in enumerate(rows)}
    col_of = {c: n for n, c in enumerate(cols)}
    forbidden = np.inf  # scipy treats it as "no edge"; the own dummy keeps it feasible
    cost = np.full((len(rows), len(cols) + len(rows)), forbidden)
    cost[np.arange(len(rows)), len(cols) + np.arange(len(rows))] = 0.0  # leave unmatched
    pick: dict[tuple[int, int], int] = {}
    for k in members:
        r, c = row_of[raws[k].lines[0]], col_of[raws[k].allocations[0][0]]
        value = -_utility(candidates[k].confidence)
        if value < cost[r, c]:
            cost[r, c] = value
            pick[(r, c)] = k
    assigned_rows, assigned_cols = linear_sum_assignment(cost)
    return [
        pick[(r, c)]
        for r, c in zip(assigned_rows.tolist(), assigned_cols.tolist(), strict=True)
        if c < len(cols) and (r, c) in pick
    ]


def _search(
    members: Sequence[int],
    raws: Sequence[_Raw],
    candidates: Sequence[Candidate],
    items: Sequence[Item],
) -> list[int]:
    """The exact best packing of a small component by branch and bound: candidates by
    utility, each taken or left, pruned when even taking every remaining one cannot beat
    the best found. Same answer as the integer program, without its start-up cost."""
    order = sorted(members, key=lambda k: -_utility(candidates[k].confidence))
    gains = [_utility(candidates[k].confidence) for k in order]
    remaining = [0.0] * (len(order) + 1)
    for n in range(len(order) - 1, -1, -1):
        remaining[n] = remaining[n + 1] + gains[n]
    capacity = {j: abs(items[j].amount) for k in order for j, _ in raws[k].allocations}
    used_lines: set[int] = set()
    best: tuple[float, list[int]] = (0.0, [])
    taken: list[int] = []

    def visit(n: int, total: float) -> None:
        nonlocal best
        if total > best[0]:
            best = (total, list(taken))
        if n == len(order) or total + remaining[n] <= best[0]:
            return
        raw = raws[order[n]]
        fits = not used_lines.intersection(raw.lines) and all(
            abs(amount) <= capacity[j] for j, amount in raw.allocations
        )
        if fits:
            used_lines.update(raw.lines)
            for j, amount in raw.allocations:
                capacity[j] -= abs(amount)
            taken.append(order[n])
            visit(n + 1, total + gains[n])
            taken.pop()
            for j, amount in raw.allocations:
                capacity[j] += abs(amount)
            used_lines.difference_update(raw.lines)
        visit(n + 1, total)

    visit(0, 0.0)
    return best[1]


def _pack(
    members: Sequence[int],
    raws: Sequence[_Raw],
    candidates: Sequence[Candidate],
    items: Sequence[Item],
) -> list[int]:
    lines = sorted({i for k in members for i in raws[k].lines})
    used = sorted({j for k in members for j, _ in raws[k].allocations})
    line_row = {i: n for n, i in enumerate(lines)}
    item_row = {j: len(lines) + n for n, j in enumerate(used)}
    data: list[float] = []
    row_index: list[int] = []
    col_index: list[int] = []
    capacity = np.ones(len(lines) + len(used))
    for column, k in enumerate(members):
        for i in raws[k].lines:
            data.append(1.0)
            row_index.append(line_row[i])
            col_index.append(column)
        for j, amount in raws[k].allocations:
            data.append(float(abs(amount)))
            row_index.append(item_row[j])
            col_index.append(column)
    for j, row in item_row.items():
        capacity[row] = float(abs(items[j].amount))
    matrix = csr_array((data, (row_index, col_index)), shape=(len(lines) + len(used), len(members)))
    objective = np.asarray([-_utility(candidates[k].confidence) for k in members])
    result = milp(
        objective,
        integrality=np.ones(len(members)),
        bounds=Bounds(0, 1),
        constraints=LinearConstraint(matrix, -np.inf, capacity),
    )
    if result.x is None:
        return _greedy(members, raws, candidates)
    return [k for k, x in zip(members, result.x.tolist(), strict=True) if x > 0.5]


def _greedy(
    members: Sequence[int], raws: Sequence[_Raw], candidates: Sequence[Candidate]
) -> list[int]:
    """Best first, skipping conflicts: used only past the exact solvers' size bounds (and
    counted in the run's stats)."""
    used_lines: set[int] = set()
    used_items: set[int] = set()
    chosen = []
    for k in sorted(members, key=lambda k: -candidates[k].confidence):
        raw = raws[k]
        if used_lines.intersection(raw.lines) or used_items.intersection(
            j for j, _ in raw.allocations
        ):
            continue
        used_lines.update(raw.lines)
        used_items.update(j for j, _ in raw.allocations)
        chosen.append(k)
    return chosen


def _suggestions(
    candidates: Sequence[Candidate],
    raws: Sequence[_Raw],
    chosen: Sequence[int],
    lines: Sequence[Line],
    count: int,
) -> dict[str, tuple[Candidate, ...]]:
    picked = set(chosen)
    per_line: dict[int, list[int]] = defaultdict(list)
    for k, raw in enumerate(raws):
        for i in raw.lines:
            per_line[i].append(k)
    out: dict[str, tuple[Candidate, ...]] = {}
    for i, ks in per_line.items():
        ks.sort(key=lambda k: (k not in picked, -candidates[k].confidence))
        out[lines[i].id] = tuple(candidates[k] for k in ks[:count])
    return out
