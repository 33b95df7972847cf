from autoledger.kit.errors import Conflict, InvalidRequest, NotFound


class BankAccountNotFound(NotFound):
    code = "banking.bank_account_not_found"
    title = "Bank account not found"


class ImportNotFound(NotFound):
    code = "banking.import_not_found"
    title = "Import not found"


class ProfileNotFound(NotFound):
    code = "banking.profile_not_found"
    title = "CSV profile not found"


class InvalidGlAccount(InvalidRequest):
    code = "banking.invalid_gl_account"
    title = "Invalid ledger account for a bank account"


class AccountNumberTaken(Conflict):
    code = "banking.account_number_taken"
    title = "Account number already registered"


class WrongAccount(InvalidRequest):
    code = "banking.wrong_account"
    title = "Statement is for another account"


class UnknownStatementAccount(NotFound):
    code = "banking.unknown_statement_account"
    title = "No bank account matches the statement"


class ImportRefused(InvalidRequest):
    """How the API answers an import that failed: 422, carrying the import and its report
    (the problem's ``code`` is the failure's own, e.g. ``banking.lines_rejected``)."""

    code = "banking.import_failed"
    title = "Import failed"
