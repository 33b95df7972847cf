"""Builders of bank-line facts and labelled examples for the categorization tests."""

from datetime import date

from autoledger.categorize.features import LineFacts
from autoledger.categorize.model import LabelledExample
from autoledger.demo.simulator import simulate


def line(
    description: str,
    amount: int = -1250,
    *,
    counterparty: str | None = None,
    day: date = date(2025, 3, 14),
    account: str = "operating",
    code: str | None = None,
    currency: str = "USD",
) -> LineFacts:
    return LineFacts(description, counterparty, amount, currency, day, account, code)


def simulated_examples(seed: int = 101, months: int = 12) -> list[LabelledExample]:
    """Every line of a simulated company, labelled with its true GL account."""
    company = simulate(seed, months)
    truth = {t.line_id: t.gl_account for t in company.truths}
    return [
        LabelledExample(
            LineFacts(
                item.description,
                item.counterparty,
                item.amount,
                statement.account.currency,
                item.booking_date,
                statement.account.id,
            ),
            truth[item.id],
            item.booking_date,
        )
        for statement in company.statements
        for item in statement.lines
    ]
