"""Double-entry ledger: chart of accounts, journal entries and balances."""
