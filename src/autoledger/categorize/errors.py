"""Categorization errors: each with its stable code and HTTP status."""

from autoledger.kit.errors import Conflict, InvalidRequest, NotFound


class ProposalNotFound(NotFound):
    code = "categorize.proposal_not_found"
    title = "Proposal not found"


class RuleNotFound(NotFound):
    code = "categorize.rule_not_found"
    title = "Rule not found"


class ModelNotFound(NotFound):
    code = "categorize.model_not_found"
    title = "Model version not found"


class InvalidRule(InvalidRequest):
    code = "categorize.invalid_rule"
    title = "Invalid rule"


class UnknownAccount(InvalidRequest):
    code = "categorize.unknown_account"
    title = "No such account in the ledger"


class AlreadyReviewed(Conflict):
    code = "categorize.already_reviewed"
    title = "Proposal already reviewed"


class LineReconciled(Conflict):
    code = "categorize.line_reconciled"
    title = "The bank line is reconciled"
