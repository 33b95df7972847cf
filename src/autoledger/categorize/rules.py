"""Tenant rules: "lines like this go to that account", written by a person and always obeyed.

A rule matches when **all** its conditions hold; at least one condition is required, so that
no rule swallows every line. Among matching rules the lowest ``priority`` wins, then the
lowest ``id``, so the outcome never depends on the order rules are stored in.

Regexes are user input run on every line: they are compiled once, limited in length, and
patterns with a quantified group that is itself quantified (``(a+)+``, the classic
catastrophic-backtracking shape) are refused. Text is matched case-insensitively, and only
its first :data:`MAX_TEXT` characters are searched.
"""

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from autoledger.categorize.features import LineFacts

MAX_PATTERN = 200
MAX_TEXT = 500
DIRECTIONS = ("in", "out")

# A group containing a quantifier, closed and then quantified again: (x+)+, (x*)*, (x+){2,}.
_NESTED_QUANTIFIER = re.compile(r"\([^()]*[+*][^()]*\)\s*(?:[+*]|\{\d*,\d*\})")


@dataclass(frozen=True, slots=True)
class Rule:
    """Conditions on a line and the account (and optionally counterparty and tags) it gets.

    Amount bounds are inclusive, in minor units, on the absolute amount; ``direction`` is
    ``"in"`` or ``"out"``. Constructing a rule validates it (see :func:`validate_rule`).
    """

    id: str
    priority: int
    account: str
    description_contains: str | None = None
    description_regex: str | None = None
    counterparty_contains: str | None = None
    counterparty_regex: str | None = None
    min_amount: int | None = None
    max_amount: int | None = None
    direction: str | None = None
    bank_account_id: str | None = None
    counterparty: str | None = None
    tags: tuple[str, ...] = ()
    _description_re: re.Pattern[str] | None = field(
        default=None, init=False, repr=False, compare=False
    )
    _counterparty_re: re.Pattern[str] | None = field(
        default=None, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        validate_rule(self)
        if self.description_regex is not None:
            object.__setattr__(self, "_description_re", _compile(self.description_regex))
        if self.counterparty_regex is not None:
            object.__setattr__(self, "_counterparty_re", _compile(self.counterparty_regex))

    def matches(self, facts: LineFacts) -> bool:
        """Whether every condition of the rule holds for the line."""
        if self.direction is not None and facts.direction != self.direction:
            return False
        if self.bank_account_id is not None and facts.bank_account_id != self.bank_account_id:
            return False
        magnitude = abs(facts.amount)
        if self.min_amount is not None and magnitude < self.min_amount:
            return False
        if self.max_amount is not None and magnitude > self.max_amount:
            return False
        description = facts.description[:MAX_TEXT]
        if not _text_holds(description, self.description_contains, self._description_re):
            return False
        counterparty = (facts.counterparty_name or "")[:MAX_TEXT]
        needs_counterparty = (
            self.counterparty_contains is not None or self.counterparty_regex is not None
        )
        if needs_counterparty and not counterparty:
            return False
        return _text_holds(counterparty, self.counterparty_contains, self._counterparty_re)


@dataclass(frozen=True, slots=True)
class RuleHit:
    rule_id: str
    account: str
    counterparty: str | None
    tags: tuple[str, ...]


def validate_rule(rule: Rule) -> None:
    """Raise ``ValueError`` saying what is wrong with a rule, if anything is."""
    if not rule.id:
        raise ValueError("a rule needs an id")
    if not rule.account:
        raise ValueError(f"rule {rule.id}: an account to book to is required")
    conditions = (
        rule.description_contains,
        rule.description_regex,
        rule.counterparty_contains,
        rule.counterparty_regex,
        rule.min_amount,
        rule.max_amount,
        rule.direction,
        rule.bank_account_id,
    )
    if all(condition is None for condition in conditions):
        raise ValueError(f"rule {rule.id}: at least one condition is required")
    for name in ("description_contains", "counterparty_contains"):
        value = getattr(rule, name)
        if value is not None and not value.strip():
            raise ValueError(f"rule {rule.id}: {name} must not be blank")
    if rule.direction is not None and rule.direction not in DIRECTIONS:
        raise ValueError(f"rule {rule.id}: direction must be 'in' or 'out', not {rule.direction!r}")
    for name in ("min_amount", "max_amount"):
        value = getattr(rule, name)
        if value is not None and value < 0:
            raise ValueError(f"rule {rule.id}: {name} is on the absolute amount and must be >= 0")
    if (
        rule.min_amount is not None
        and rule.max_amount is not None
        and rule.min_amount > rule.max_amount
    ):
        raise ValueError(f"rule {rule.id}: min_amount is greater than max_amount")
    for name in ("description_regex", "counterparty_regex"):
        pattern = getattr(rule, name)
        if pattern is None:
            continue
        if not pattern:
            raise ValueError(f"rule {rule.id}: {name} must not be empty")
        if len(pattern) > MAX_PATTERN:
            raise ValueError(f"rule {rule.id}: {name} is longer than {MAX_PATTERN} characters")
        if _NESTED_QUANTIFIER.search(pattern):
            raise ValueError(
                f"rule {rule.id}: {name} repeats a repeated group, which can take "
                "exponential time; rewrite it without nested quantifiers"
            )
        try:
            _compile(pattern)
        except re.error as error:
            raise ValueError(f"rule {rule.id}: {name} is not a valid regex: {error}") from error


def first_match(rules: Iterable[Rule], facts: LineFacts) -> RuleHit | None:
    """The winning rule for a line: lowest priority number, then lowest id; None if none."""
    best: Rule | None = None
    for rule in rules:
        if (best is None or (rule.priority, rule.id) < (best.priority, best.id)) and rule.matches(
            facts
        ):
            best = rule
    if best is None:
        return None
    return RuleHit(
        rule_id=best.id, account=best.account, counterparty=best.counterparty, tags=best.tags
    )


def _compile(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE)


def _text_holds(text: str, contains: str | None, pattern: re.Pattern[str] | None) -> bool:
    if contains is not None and contains.casefold() not in text.casefold():
        return False
    return pattern is None or pattern.search(text) is not None
