"""Financial reports: trial balance, balance sheet, income statement, cash flow, general ledger and aging (ADR 0015)."""
