"""One proposal per bank line: rules, then counterparty memory, then the model, then the prior.

The first source that answers wins:

1. a tenant **rule** (a person said so): confidence 1.0;
2. **counterparty memory**: confidence ``share * support / (support + 1)``, a Laplace-style
   discount so that three agreeing labels give 0.75 and twenty give 0.95;
3. the tenant **model**, when one is trained (explained by its strongest features and the
   nearest past lines it was trained on);
4. the cold-start **prior**, mapped onto the tenant's chart.

Calibration is the caller's choice: pass ``calibrator`` (fitted on the feedback of the source
it is for) and the model's or prior's top probability is replaced by the calibrated one, the
runners-up scaled so that the top-3 still sum to at most 1. Rule and memory confidences are
not calibrated here. What holds for every proposal: at most three accounts, distinct,
probabilities descending and summing to at most 1, and ``confidence`` equal to the first
probability (0 when there is nothing to propose).
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from autoledger.categorize.features import LineFacts, counterparty_key
from autoledger.categorize.memory import CounterpartyMemory
from autoledger.categorize.model import TOP, LinearModel
from autoledger.categorize.prior import ChartAccount, Prior
from autoledger.categorize.rules import Rule, first_match
from autoledger.ml.calibration import Calibrator


@dataclass(frozen=True, slots=True)
class Proposal:
    top: list[tuple[str, float]]  # (account code, probability), most likely first
    confidence: float
    source: str  # "rule" | "memory" | "model" | "prior" | "none"
    explanation: dict[str, Any] = field(default_factory=dict)
    model_version: str | None = None
    counterparty: str | None = None  # from a rule's action
    tags: tuple[str, ...] = ()

    @property
    def account(self) -> str | None:
        return self.top[0][0] if self.top else None


def propose(
    facts: LineFacts,
    *,
    rules: Sequence[Rule] = (),
    memory: CounterpartyMemory | None = None,
    model: LinearModel | None = None,
    prior: Prior | None = None,
    chart: Sequence[ChartAccount] = (),
    calibrator: Calibrator | None = None,
) -> Proposal:
    """The proposal for one line; see the module docstring for the order and what holds."""
    hit = first_match(rules, facts)
    if hit is not None:
        return Proposal(
            top=[(hit.account, 1.0)],
            confidence=1.0,
            source="rule",
            explanation={"rule_id": hit.rule_id, "tags": list(hit.tags)},
            counterparty=hit.counterparty,
            tags=hit.tags,
        )
    remembered = memory.lookup(facts) if memory is not None else None
    if remembered is not None:
        confidence = remembered.share * remembered.support / (remembered.support + 1)
        top = [(remembered.account, confidence)]
        alternatives = _ranked(facts, model, prior, chart)
        if alternatives is not None:
            # the rest of the probability goes to the learned runners-up, in their proportions
            others = [(a, p) for a, p in alternatives[1] if a != remembered.account]
            mass = sum(p for _, p in others)
            if mass > 0:
                top += [
                    (a, min(confidence, (1 - confidence) * p / mass)) for a, p in others[: TOP - 1]
                ]
        return Proposal(
            top=top,
            confidence=confidence,
            source="memory",
            explanation={
                "counterparty": counterparty_key(facts),
                "direction": facts.direction,
                "support": remembered.support,
                "history": remembered.history,
                "share": round(remembered.share, 4),
            },
        )
    ranked = _ranked(facts, model, prior, chart)
    if ranked is None or not ranked[1]:
        return Proposal(top=[], confidence=0.0, source="none")
    source, top, version = ranked
    if calibrator is not None:
        top = _calibrated(top, calibrator)
    explanation: dict[str, Any]
    if source == "model" and model is not None:
        explanation = {
            "features": [[name, weight] for name, weight in model.explain(facts)],
            "nearest": [
                {
                    "description": past.description,
                    "account": past.account,
                    "date": past.when,
                    "similarity": past.similarity,
                }
                for past in model.nearest(facts)
            ],
        }
    else:
        strongest = prior.explain(facts) if prior is not None else []
        explanation = {"features": [[name, weight] for name, weight in strongest]}
    return Proposal(
        top=top,
        confidence=top[0][1],
        source=source,
        explanation=explanation,
        model_version=version,
    )


def _ranked(
    facts: LineFacts,
    model: LinearModel | None,
    prior: Prior | None,
    chart: Sequence[ChartAccount],
) -> tuple[str, list[tuple[str, float]], str] | None:
    if model is not None:
        return "model", model.predict(facts), model.content_hash
    if prior is not None and chart:
        return "prior", prior.predict(facts, chart), prior.version
    return None


def _calibrated(top: list[tuple[str, float]], calibrator: Calibrator) -> list[tuple[str, float]]:
    account, raw = top[0]
    calibrated = calibrator.calibrate(raw)
    rest = top[1:]
    mass = sum(p for _, p in rest)
    if mass <= 0:
        return [(account, calibrated)]
    scale = min(1.0, (1 - calibrated) / mass)
    # a runner-up never overtakes the calibrated top: the order is the model's
    return [(account, calibrated), *((a, min(calibrated, p * scale)) for a, p in rest)]
