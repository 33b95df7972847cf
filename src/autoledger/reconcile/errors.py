"""Reconciliation errors: each with its stable code and HTTP status."""

# one error for an unknown bank account, whichever API asks
from autoledger.banking.errors import BankAccountNotFound as BankAccountNotFound
from autoledger.kit.errors import Conflict, InvalidRequest, NotFound


class OpenItemNotFound(NotFound):
    code = "reconcile.open_item_not_found"
    title = "Open item not found"


class OpenItemAccountNotFound(NotFound):
    code = "reconcile.account_not_found"
    title = "No such account in the ledger"


class AccountNotMarked(NotFound):
    code = "reconcile.account_not_marked"
    title = "The account is not open-item managed"


class MatchNotFound(NotFound):
    code = "reconcile.match_not_found"
    title = "Match not found"


class MatchDecided(Conflict):
    code = "reconcile.match_decided"
    title = "The match was already decided"


class MatchStale(Conflict):
    code = "reconcile.match_stale"
    title = "A line or an item of the match changed since it was proposed"


class PeriodLocked(Conflict):
    code = "reconcile.period_locked"
    title = "The line is in a reconciled period"


class ReconciliationNotBalanced(Conflict):
    code = "reconcile.not_balanced"
    title = "The statement and the ledger do not reconcile"


class ReconciliationOutOfOrder(Conflict):
    code = "reconcile.out_of_order"
    title = "Reconciliations go forward: only the latest may change"


class ReconciliationNotFound(NotFound):
    code = "reconcile.reconciliation_not_found"
    title = "Reconciliation not found"


class InvalidSettings(InvalidRequest):
    code = "reconcile.invalid_settings"
    title = "Invalid reconciliation settings"


class WriteOffCurrency(InvalidRequest):
    code = "reconcile.writeoff_currency"
    title = "The write-off account cannot hold the match's currency"
