"""Ledger errors, each with a stable code. 409 = refused by the state of the books; 422 = the
request can never succeed as written; 404 = not found in the caller's tenant."""

from autoledger.kit.errors import Conflict, InvalidRequest, NotFound


class LedgerNotFound(NotFound):
    code = "ledger.ledger_not_found"
    title = "Ledger not found"


class AccountNotFound(NotFound):
    code = "ledger.account_not_found"
    title = "Account not found"


class EntryNotFound(NotFound):
    code = "ledger.entry_not_found"
    title = "Journal entry not found"


class PeriodNotFound(NotFound):
    code = "ledger.period_not_found"
    title = "Period not found"


class Unbalanced(InvalidRequest):
    code = "ledger.unbalanced"
    title = "Entry does not balance"


class AssetMismatch(InvalidRequest):
    code = "ledger.asset_mismatch"
    title = "Asset not allowed on account"


class UnknownAsset(InvalidRequest):
    code = "ledger.unknown_asset"
    title = "Unknown asset"


class InvalidEntry(InvalidRequest):
    code = "ledger.invalid_entry"
    title = "Invalid journal entry"


class InvalidAccount(InvalidRequest):
    code = "ledger.invalid_account"
    title = "Invalid account"


class InvalidPeriod(InvalidRequest):
    code = "ledger.invalid_period"
    title = "Invalid period"


class InsufficientFunds(Conflict):
    code = "ledger.insufficient_funds"
    title = "Insufficient funds"


class AccountArchived(Conflict):
    code = "ledger.account_archived"
    title = "Account archived"


class PeriodClosed(Conflict):
    code = "ledger.period_closed"
    title = "Period closed"


class AlreadyReversed(Conflict):
    code = "ledger.already_reversed"
    title = "Entry already reversed"


class EntryNotPending(Conflict):
    code = "ledger.entry_not_pending"
    title = "Entry is not pending"


class EntryNotPosted(Conflict):
    code = "ledger.entry_not_posted"
    title = "Entry is not posted"


class PendingExpired(Conflict):
    code = "ledger.pending_expired"
    title = "Pending entry expired"


class DuplicateAccountCode(Conflict):
    code = "ledger.duplicate_account_code"
    title = "Account code taken"


class DuplicateAsset(Conflict):
    code = "ledger.duplicate_asset"
    title = "Asset already defined"


class PeriodOverlap(Conflict):
    code = "ledger.period_overlap"
    title = "Period overlaps another"


class BatchFailed(InvalidRequest):
    """An atomic batch in which at least one entry failed; nothing was written."""

    code = "ledger.batch_failed"
    title = "Atomic batch failed"


class UnknownAccount(InvalidRequest):
    code = "ledger.unknown_account"
    title = "Unknown account"
