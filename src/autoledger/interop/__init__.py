"""Plaintext-accounting interop: Beancount and hledger/ledger-cli journals in and out."""
