"""Period-close errors, each with a stable code (ADR 0018)."""

from autoledger.kit.errors import Conflict


class CloseChecklistFailed(Conflict):
    """The period's checklist has failing items the request did not acknowledge; the
    problem lists them (``unacknowledged``) and every failing item (``failing``)."""

    code = "ledger.close_checklist_failed"
    title = "Close checklist failed"


class NotFiscalYearEnd(Conflict):
    code = "ledger.not_fiscal_year_end"
    title = "Period does not end a fiscal year"


class NoRetainedEarningsAccount(Conflict):
    code = "ledger.no_retained_earnings_account"
    title = "No retained earnings account"
