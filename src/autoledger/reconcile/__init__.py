"""Reconciliation: bank lines matched to the open items and entries they settle."""
