import hashlib
import random
from dataclasses import dataclass
from datetime import date
from importlib.resources import files

import pytest
from bench.categorize import DEVELOPMENT_SEED, simulated
from bench.categorize import SEED as BENCH_SEED
from scripts.build_prior import (
    HELD_OUT_SEED,
    SEED,
    TARGET_PRECISION,
    build,
    merchant_names,
    training_examples,
)

from autoledger.categorize import service
from autoledger.categorize.features import counterparty_key
from autoledger.categorize.learning import prior_default_threshold
from autoledger.categorize.model import LabelledExample, train_model
from autoledger.categorize.prior import ARTIFACT, CATEGORIES, HASH_FILE, Prior, chart_mapping
from autoledger.demo.counterparties import VENDOR_TEMPLATES, build_customers, build_vendors
from autoledger.ledger.chart import load_template
from tests.categorize.support import line, simulated_examples

SMALL_BUSINESS = load_template("small_business")


def test_the_prior_ships_the_threshold_measured_on_lines_it_never_saw() -> None:
    prior = Prior.load()
    metadata = prior.model.metadata
    assert metadata["held_out_seed"] == HELD_OUT_SEED != SEED
    held_out = training_examples(HELD_OUT_SEED)
    measured = prior_default_threshold(
        prior, held_out, SMALL_BUSINESS, target_precision=TARGET_PRECISION
    )
    assert measured is not None
    assert metadata["default_threshold"] == measured
    assert service.prior_default_threshold() == measured
    assert metadata["held_out_auto_precision"] >= TARGET_PRECISION
    assert 0 < metadata["held_out_auto"] <= metadata["held_out_lines"] == len(held_out)


@dataclass(frozen=True)
class Row:
    code: str
    name: str
    type: str


def test_the_shipped_prior_is_exactly_what_the_script_builds() -> None:
    data_dir = files("autoledger.categorize") / "data"
    shipped = (data_dir / ARTIFACT).read_bytes()
    recorded = (data_dir / HASH_FILE).read_text().split()[0]
    rebuilt = build().to_bytes()
    assert rebuilt == shipped
    assert hashlib.sha256(shipped).hexdigest() == recorded
    assert len(shipped) < 2_000_000
    prior = Prior.load()
    assert set(prior.model.labels) == set(CATEGORIES)
    assert prior.model.metadata["seed"] == SEED
    assert "disjoint" in prior.model.metadata["training_universe"]


def _simulator_keys() -> set[str]:
    keys: set[str] = set()
    names = [template[0] for template in VENDOR_TEMPLATES]
    descriptors: list[str] = []
    for seed in (1, 7, 101):
        for vendor, _ in build_vendors(random.Random(seed), 4, "USD"):
            names.append(vendor.name)
            descriptors.extend(vendor.descriptors)
        for customer, _ in build_customers(random.Random(seed), 4, "USD", "EUR"):
            names.append(customer.name)
            descriptors.extend(customer.descriptors)
    for name in names:
        keys.add(counterparty_key(line(name, counterparty=name)))
        keys.add(counterparty_key(line(name)))
    for descriptor in descriptors:
        keys.add(counterparty_key(line(descriptor.replace("#", "12345678"))))
    keys.discard("")
    return keys


def test_the_prior_never_saw_a_simulator_counterparty() -> None:
    simulator = _simulator_keys()
    assert {"blue bottle", "harbor point properties"} <= simulator  # the check can see a clash
    ours = {
        counterparty_key(line(name, counterparty=name))
        for names in merchant_names(random.Random(SEED)).values()
        for name in names
    }
    ours |= {counterparty_key(line(name)) for name in ours}
    ours |= {counterparty_key(example.facts) for example in training_examples()}
    ours.discard("")
    assert ours
    assert not ours & simulator


def test_small_business_gets_the_built_in_mapping() -> None:
    mapping = chart_mapping(SMALL_BUSINESS)
    assert mapping == {name: spec.small_business_code for name, spec in CATEGORIES.items()}


def test_another_chart_is_mapped_by_names_and_types() -> None:
    chart = [
        Row("100", "Bank", "asset"),
        Row("400", "Sales revenue", "revenue"),
        Row("410", "Interest received", "revenue"),
        Row("610", "Office rent", "expense"),
        Row("611", "Rent deposits paid", "expense"),
        Row("620", "Meals and entertainment", "expense"),
        Row("630", "Bank charges", "expense"),
        Row("640", "Interest paid", "expense"),
    ]
    mapping = chart_mapping(chart)
    assert mapping["rent"] == "610"  # the shorter of two matching names
    assert mapping["meals"] == "620"
    assert mapping["bank_fees"] == "630"
    assert mapping["interest_income"] == "410"  # a revenue account, not the expense
    assert mapping["sales"] == "400"
    assert mapping["insurance"] is None
    assert mapping["customer_payments"] is None


def test_the_prior_predicts_accounts_of_the_chart_it_is_given() -> None:
    prior = Prior.load()
    fee = prior.predict(line("MONTHLY MAINTENANCE FEE", -1_500), SMALL_BUSINESS)
    assert fee[0][0] == "6800"
    interest = prior.predict(line("INTEREST EARNED", 4_211, account="savings"), SMALL_BUSINESS)
    assert interest[0][0] == "4800"
    assert len(fee) == 3
    assert sum(p for _, p in fee) <= 1.0 + 1e-6
    chart = [Row("630", "Bank charges", "expense"), Row("620", "Meals", "expense")]
    narrow = prior.predict(line("MONTHLY MAINTENANCE FEE", -1_500), chart)
    assert next(code for code, _ in narrow) == "630"
    assert {code for code, _ in narrow} <= {"630", "620"}


def test_a_prior_over_unknown_categories_is_refused() -> None:
    when = date(2025, 1, 1)
    model = train_model(
        [
            LabelledExample(line("ACME", day=when), "rent", when),
            LabelledExample(line("ZENITH", day=when), "astrology", when),
        ]
    )
    with pytest.raises(ValueError, match="astrology"):
        Prior(model)


def test_never_trained_on_the_simulator_the_prior_gets_most_of_it_right() -> None:
    prior = Prior.load()
    predictions = [
        (prior.predict(e.facts, SMALL_BUSINESS)[0], e.account) for e in simulated_examples()
    ]
    accuracy = sum(code == truth for (code, _), truth in predictions) / len(predictions)
    confident = [code == truth for (code, probability), truth in predictions if probability >= 0.95]
    assert accuracy > 0.65
    assert len(confident) > 0.2 * len(predictions)
    assert sum(confident) / len(confident) > 0.99


def test_the_development_company_shares_no_counterparty_with_the_benchmark() -> None:
    """Model changes are chosen on ``bench.categorize --company development``: another seed,
    and names from another universe, so what is tuned there is not tuned on the benchmark."""
    assert DEVELOPMENT_SEED != BENCH_SEED
    development = simulated("development")
    assert development.seed == DEVELOPMENT_SEED
    names = {party.name for party in development.counterparties}
    keys = {counterparty_key(line(name, counterparty=name)) for name in names} - {""}
    assert len(keys) > 50
    assert not keys & _simulator_keys()
    benchmark = {party.name for party in simulated("benchmark").counterparties}
    assert not names & benchmark
