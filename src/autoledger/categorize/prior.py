"""The cold-start prior: what a line probably is before a tenant has labelled anything.

The prior is a :class:`~autoledger.categorize.model.LinearModel` over **generic categories**
(rent, meals, bank fees, ...), not over any tenant's accounts, built without tenant-specific
features. A category reaches a tenant's chart through :func:`chart_mapping`: the
``small_business`` template has a built-in mapping; any other chart is mapped by keywords in
account names and the account type, and a category the chart has no account for maps to
None (its probability is dropped, never moved to another account).

How it is kept honest: the shipped artifact (``data/prior.json``) is built by
``scripts/build_prior.py`` from its own invented universe of merchant and counterparty names
and its own seed. None of its names shares a counterparty key with the demo simulator's
vendor or customer templates (``autoledger.demo.counterparties``), which the benchmarks use,
and a test checks exactly that; the artifact's metadata says so too.
"""

import functools
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from importlib.resources import files
from typing import Protocol

from autoledger.categorize.features import LineFacts
from autoledger.categorize.model import TOP, LinearModel

ARTIFACT = "prior.json"
HASH_FILE = "prior.json.sha256"


@dataclass(frozen=True, slots=True)
class Category:
    """A generic category: its account in ``small_business``, the account type it needs in
    any chart, and name keywords (most specific first) that find that account."""

    small_business_code: str
    account_type: str
    keywords: tuple[str, ...]


CATEGORIES: dict[str, Category] = {
    "rent": Category("6100", "expense", ("rent", "lease")),
    "utilities": Category("6110", "expense", ("utilit", "electric", "water")),
    "software": Category("6120", "expense", ("software", "saas", "subscription", "computer")),
    "payroll": Category("6200", "expense", ("salar", "wage", "payroll expense", "payroll")),
    "payroll_taxes": Category("6210", "expense", ("payroll tax", "employer tax")),
    "benefits": Category("6220", "expense", ("benefit", "health insurance")),
    "contractors": Category("6300", "expense", ("contractor", "consult", "outside services")),
    "legal_accounting": Category(
        "6310", "expense", ("legal", "accounting", "professional", "audit")
    ),
    "insurance": Category("6600", "expense", ("insurance",)),
    "cogs": Category("5100", "expense", ("cost of products", "cost of goods", "purchases")),
    "shipping": Category("5200", "expense", ("shipping", "freight", "postage", "delivery")),
    "travel": Category("6400", "expense", ("travel",)),
    "meals": Category("6410", "expense", ("meal", "entertainment", "food")),
    "office_supplies": Category("6500", "expense", ("office supplies", "office", "supplies")),
    "advertising": Category("6700", "expense", ("advertis", "marketing", "promotion")),
    "bank_fees": Category("6800", "expense", ("bank fee", "bank charge", "bank service")),
    "processing_fees": Category(
        "6810", "expense", ("processing fee", "merchant fee", "payment processing")
    ),
    "telephone": Category("6820", "expense", ("telephone", "internet", "phone")),
    "repairs": Category("6830", "expense", ("repair", "maintenance")),
    "taxes_licenses": Category("6850", "expense", ("taxes and licenses", "license", "tax")),
    "vehicle": Category("6890", "expense", ("vehicle", "fuel", "auto", "car")),
    "equipment": Category("1520", "asset", ("computer equipment", "equipment")),
    "interest_income": Category("4800", "revenue", ("interest income", "interest")),
    "sales": Category("4100", "revenue", ("product sales", "sales", "revenue")),
    "refunds": Category("4500", "revenue", ("refund", "return", "discount")),
    "customer_payments": Category("1200", "asset", ("accounts receivable", "receivable")),
    "processor_payouts": Category(
        "1150", "asset", ("processor clearing", "clearing", "undeposited")
    ),
}

#: (code, name, type) of the small_business template rows the built-in mapping relies on
_SMALL_BUSINESS_MARKERS = (
    ("6100", "Rent", "expense"),
    ("6410", "Meals", "expense"),
    ("1150", "Payment processor clearing", "asset"),
)


class ChartAccount(Protocol):
    """What the prior reads of a chart's row (``ledger.chart.ChartRow`` fits)."""

    @property
    def code(self) -> str: ...

    @property
    def name(self) -> str: ...

    @property
    def type(self) -> str: ...


def chart_mapping(chart: Sequence[ChartAccount]) -> dict[str, str | None]:
    """Category -> account code in ``chart`` (None where the chart has no such account)."""
    return dict(_mapping(tuple((row.code, row.name, str(row.type)) for row in chart)))


@functools.lru_cache(maxsize=64)
def _mapping(rows: tuple[tuple[str, str, str], ...]) -> tuple[tuple[str, str | None], ...]:
    codes = {code: (name, kind) for code, name, kind in rows}
    small_business = all(
        codes.get(code) == (name, kind) for code, name, kind in _SMALL_BUSINESS_MARKERS
    )
    result: list[tuple[str, str | None]] = []
    for category, spec in CATEGORIES.items():
        if small_business and codes.get(spec.small_business_code, ("", ""))[1] == spec.account_type:
            result.append((category, spec.small_business_code))
            continue
        result.append((category, _by_keywords(rows, spec)))
    return tuple(result)


def _by_keywords(rows: tuple[tuple[str, str, str], ...], spec: Category) -> str | None:
    for keyword in spec.keywords:
        candidates = [
            (len(name), code)
            for code, name, kind in rows
            if kind == spec.account_type and keyword in name.casefold()
        ]
        if candidates:
            # the shortest name is the least qualified match ("Rent" over "Rent deposits")
            return min(candidates)[1]
    return None


class Prior:
    """The shipped prior (or any prior model) with the category-to-chart mapping."""

    def __init__(self, model: LinearModel) -> None:
        unknown = set(model.labels) - set(CATEGORIES)
        if unknown:
            raise ValueError(f"the prior predicts unknown categories: {sorted(unknown)}")
        self.model = model

    @classmethod
    def load(cls) -> "Prior":
        """The prior shipped with autoledger, checked against its recorded sha256."""
        data_dir = files("autoledger.categorize") / "data"
        data = (data_dir / ARTIFACT).read_bytes()
        expected = (data_dir / HASH_FILE).read_text().split()[0]
        actual = hashlib.sha256(data).hexdigest()
        if actual != expected:
            raise ValueError(f"prior artifact hash {actual} is not the recorded {expected}")
        return cls(LinearModel.from_bytes(data))

    @property
    def version(self) -> str:
        return "prior:" + self.model.content_hash[:12]

    def categories(self, facts: LineFacts, k: int = TOP) -> list[tuple[str, float]]:
        return self.model.predict(facts, k)

    def predict(
        self, facts: LineFacts, chart: Sequence[ChartAccount], k: int = TOP
    ) -> list[tuple[str, float]]:
        """The ``k`` most likely account codes of ``chart``, most likely first.

        Categories mapping to the same account add up; categories the chart lacks are
        dropped, so the probabilities may sum to less than 1.
        """
        mapping = chart_mapping(chart)
        probabilities = self.model.probabilities(facts)
        by_code: dict[str, float] = {}
        for label, probability in zip(self.model.labels, probabilities, strict=True):
            code = mapping.get(label)
            if code is not None:
                by_code[code] = by_code.get(code, 0.0) + float(probability)
        ranked = sorted(by_code.items(), key=lambda item: (-item[1], item[0]))
        return ranked[:k]

    def explain(self, facts: LineFacts) -> list[tuple[str, float]]:
        return self.model.explain(facts)
