"""Report errors: each with its stable code and HTTP status."""

from autoledger.kit.errors import InvalidRequest, NotFound


class InvalidPeriod(InvalidRequest):
    code = "reports.invalid_period"
    title = "Invalid reporting period"


class UnknownAccount(NotFound):
    code = "reports.unknown_account"
    title = "No such account in the ledger"


class ReportTooLarge(InvalidRequest):
    code = "reports.too_large"
    title = "The report has more lines than one response may carry"
