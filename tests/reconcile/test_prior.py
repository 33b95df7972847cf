"""The matcher's shipped prior: what the script builds, from a universe no benchmark uses."""

import math
from importlib.resources import files

from bench.reconcile import SEED as BENCH_SEED
from scripts.build_match_prior import HELD_OUT_SEED, MONTHS, TRAIN_SEEDS, build, company

from autoledger.demo.simulator import simulate
from autoledger.reconcile.normalize import party_key
from autoledger.reconcile.replay import PAYROLL_PROVIDER, PROCESSOR, scenario
from autoledger.reconcile.scoring import FEATURES, PRIOR_RESOURCE, Scorer, canonical, prior


def test_the_shipped_prior_is_exactly_what_the_script_builds() -> None:
    shipped = (files("autoledger.reconcile") / "data" / PRIOR_RESOURCE).read_bytes()
    assert canonical(build()) + b"\n" == shipped
    scorer = prior()
    assert len(scorer.weights) == len(FEATURES)
    assert all(math.isfinite(w) for w in scorer.weights)
    assert 0 < scorer.metadata["default_threshold"] < 1
    assert scorer.metadata["held_out_auto_precision"] >= scorer.metadata["target_precision"]


def test_the_prior_never_saw_the_benchmark_company() -> None:
    assert BENCH_SEED not in (*TRAIN_SEEDS, HELD_OUT_SEED)
    bench = scenario(simulate(BENCH_SEED, MONTHS, scale=2))
    bench_parties = {party_key(i.counterparty) for i in bench.items}
    assert {party_key(PROCESSOR), party_key(PAYROLL_PROVIDER)} <= bench_parties
    for seed in (*TRAIN_SEEDS, HELD_OUT_SEED):
        trained_on = {party_key(i.counterparty) for i in company(seed).items}
        assert not trained_on & bench_parties


def test_the_reference_and_the_amount_weigh_for_a_match() -> None:
    weights = dict(zip(FEATURES, prior().weights, strict=True))
    assert weights["reference"] > 0
    assert weights["amount_exact"] > 0
    assert weights["before_issue"] <= 0


def test_a_scorer_refuses_foreign_features_and_bad_weights() -> None:
    data = prior().to_dict()
    assert Scorer.from_dict(data).weights == prior().weights
    wrong = {**data, "features": list(reversed(data["features"]))}
    for bad in (wrong, {**data, "weights": [math.inf] * len(FEATURES)}):
        try:
            Scorer.from_dict(bad)
        except ValueError:
            continue
        raise AssertionError("accepted a scorer it should refuse")
